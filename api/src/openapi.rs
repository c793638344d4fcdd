//! The OpenAPI 3.1 description of the API, served at `/openapi.json` and rendered at `/docs`.
//! Paths come from the handlers' `#[utoipa::path]` as the router adds them
//! (`routes::api`); this module adds what is shared by all of them.

use crate::dto::ErrorBody;
use utoipa::{
    openapi::{
        security::{HttpAuthScheme, HttpBuilder, SecurityScheme},
        ContentBuilder, OpenApi as Document, RefOr, ResponseBuilder,
    },
    Modify, OpenApi, PartialSchema,
};

#[derive(OpenApi)]
#[openapi(
    info(
        title = "Seatline API",
        description = "Concert seat reservations. Errors have the shape \
            `{\"error\": {code, message, details}}`; each response lists the codes it can carry. \
            Money is an integer in KRW. Every operation under /api/v1 may also answer 503 \
            SERVICE_UNAVAILABLE when a dependency is down or slow: retry."
    ),
    components(schemas(ErrorBody)),
    modifiers(&BearerAuth),
    tags(
        (name = "accounts"), (name = "catalog"), (name = "waiting room"),
        (name = "reservations"), (name = "payments"), (name = "balance"), (name = "operations"),
    )
)]
pub struct ApiDoc;

struct BearerAuth;

impl Modify for BearerAuth {
    fn modify(&self, doc: &mut Document) {
        let components = doc.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).build()),
        );
    }
}

/// The answer every operation under /api/v1 may give when PostgreSQL, Redis or Temporal is
/// down or slow, or the request ran past `HTTP_REQUEST_TIMEOUT_SECONDS`.
const UNAVAILABLE: &str = "SERVICE_UNAVAILABLE";

/// Adds the answers every operation under /api/v1 shares: 503 SERVICE_UNAVAILABLE, and for
/// those that take a bearer token, the per-account 429 RATE_LIMITED.
pub fn finish(mut doc: Document) -> Document {
    for (path, item) in doc.paths.paths.iter_mut() {
        if !path.starts_with("/api/v1/") {
            continue;
        }
        for operation in operations_mut(item) {
            let mut takes_key = false;
            for parameter in operation.parameters.iter_mut().flatten() {
                if parameter.name == "Idempotency-Key" {
                    parameter.schema = Some(idempotency_key_schema());
                    takes_key = true;
                }
            }
            let authenticated = operation.security.as_ref().is_some_and(|s| !s.is_empty());
            let responses = &mut operation.responses.responses;
            if takes_key {
                add_code(
                    responses,
                    "422",
                    "VALIDATION_FAILED",
                    "VALIDATION_FAILED: a malformed Idempotency-Key",
                );
            }
            add_code(
                responses,
                "503",
                UNAVAILABLE,
                "SERVICE_UNAVAILABLE: a dependency is down or slow; retry",
            );
            if authenticated {
                add_code(
                    responses,
                    "429",
                    "RATE_LIMITED",
                    "RATE_LIMITED: too many requests from this account; retry after `Retry-After`",
                );
            }
        }
    }
    doc
}

/// Names `code` under `status`, adding the response if the operation has none.
fn add_code(
    responses: &mut std::collections::BTreeMap<String, RefOr<utoipa::openapi::Response>>,
    status: &str,
    code: &str,
    description: &str,
) {
    match responses.get_mut(status) {
        Some(RefOr::T(response)) if !response.description.contains(code) => {
            response.description.push_str(&format!(" · {code}"));
        }
        Some(_) => {}
        None => {
            let response = ResponseBuilder::new()
                .description(description)
                .content(
                    "application/json",
                    ContentBuilder::new().schema(Some(error_schema())).build(),
                )
                .build();
            responses.insert(status.to_owned(), RefOr::T(response));
        }
    }
}

/// What `Idempotency-Key` accepts: 1 to 255 visible ASCII characters.
fn idempotency_key_schema() -> RefOr<utoipa::openapi::schema::Schema> {
    use utoipa::openapi::schema::{ObjectBuilder, Type};
    RefOr::T(
        ObjectBuilder::new()
            .schema_type(Type::String)
            .min_length(Some(1))
            .max_length(Some(255))
            .pattern(Some("^[!-~]{1,255}$"))
            .into(),
    )
}

fn error_schema() -> RefOr<utoipa::openapi::schema::Schema> {
    let _ = ErrorBody::schema;
    RefOr::Ref(utoipa::openapi::Ref::from_schema_name("ErrorBody"))
}

fn operations_mut(
    item: &mut utoipa::openapi::PathItem,
) -> impl Iterator<Item = &mut utoipa::openapi::path::Operation> {
    [
        item.get.as_mut(),
        item.put.as_mut(),
        item.post.as_mut(),
        item.delete.as_mut(),
        item.patch.as_mut(),
    ]
    .into_iter()
    .flatten()
}

/// Every operation of the document: method, path, and the statuses it lists with their
/// descriptions.
#[cfg(test)]
struct Documented {
    method: &'static str,
    path: String,
    /// Status and description of each listed answer.
    responses: Vec<(String, String)>,
}

#[cfg(test)]
fn operations(doc: &Document) -> Vec<Documented> {
    let mut all = Vec::new();
    for (path, item) in &doc.paths.paths {
        let methods = [
            ("GET", &item.get),
            ("PUT", &item.put),
            ("POST", &item.post),
            ("DELETE", &item.delete),
            ("PATCH", &item.patch),
        ];
        for (method, operation) in methods {
            let Some(operation) = operation else { continue };
            let responses = operation
                .responses
                .responses
                .iter()
                .map(|(status, response)| {
                    let description = match response {
                        RefOr::T(r) => r.description.clone(),
                        RefOr::Ref(_) => String::new(),
                    };
                    (status.clone(), description)
                })
                .collect();
            all.push(Documented {
                method,
                path: path.clone(),
                responses,
            });
        }
    }
    all
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::ApiError;
    use std::collections::{BTreeMap, BTreeSet};

    /// The error codes a description names: its words in CAPITALS_WITH_UNDERSCORES.
    fn codes_in(description: &str) -> Vec<&str> {
        description
            .split(|c: char| !(c.is_ascii_uppercase() || c == '_'))
            .filter(|w| w.len() >= 4 && w.contains(|c: char| c.is_ascii_uppercase()))
            .collect()
    }

    fn known_codes() -> BTreeMap<&'static str, u16> {
        ApiError::one_of_each()
            .iter()
            .map(|e| {
                let (status, code) = e.status_and_code();
                (code, status.as_u16())
            })
            .collect()
    }

    #[test]
    fn every_operation_has_a_summary_and_a_success_answer() {
        let (_, doc) = crate::routes::api();
        for Documented {
            method,
            path,
            responses,
        } in operations(&doc)
        {
            let item = &doc.paths.paths[&path];
            let operation = match method {
                "GET" => item.get.as_ref(),
                "POST" => item.post.as_ref(),
                "DELETE" => item.delete.as_ref(),
                "PATCH" => item.patch.as_ref(),
                _ => None,
            }
            .unwrap();
            assert!(
                operation.summary.is_some(),
                "{method} {path} has no summary"
            );
            assert!(
                responses.iter().any(|(s, _)| s.starts_with('2')),
                "{method} {path} lists no success"
            );
        }
    }

    #[test]
    fn every_error_answer_names_codes_the_api_gives_with_that_status() {
        let known = known_codes();
        let (_, doc) = crate::routes::api();
        for Documented {
            method,
            path,
            responses,
        } in operations(&doc)
        {
            for (status, description) in responses {
                let Ok(status) = status.parse::<u16>() else {
                    continue;
                };
                if status < 400 || (path.starts_with("/readyz") && status == 503) {
                    continue;
                }
                let codes = codes_in(&description);
                assert!(!codes.is_empty(), "{method} {path} {status} names no code");
                for code in codes {
                    assert_eq!(
                        known.get(code),
                        Some(&status),
                        "{method} {path} lists {code} under {status}"
                    );
                }
            }
        }
    }

    #[test]
    fn every_code_a_client_can_meet_is_documented() {
        let (_, doc) = crate::routes::api();
        let documented: BTreeSet<String> = operations(&doc)
            .into_iter()
            .flat_map(|op| op.responses)
            .flat_map(|(_, d)| {
                codes_in(&d)
                    .into_iter()
                    .map(str::to_owned)
                    .collect::<Vec<_>>()
            })
            .collect();
        // Not an operation's answer: no route, a wrong method, a bug.
        let outside = ["ROUTE_NOT_FOUND", "METHOD_NOT_ALLOWED", "INTERNAL"];
        for code in known_codes().keys() {
            if !outside.contains(code) {
                assert!(documented.contains(*code), "{code} is in no response");
            }
        }
    }

    #[test]
    fn every_operation_under_v1_may_answer_service_unavailable() {
        let (_, doc) = crate::routes::api();
        for Documented {
            method,
            path,
            responses,
        } in operations(&doc)
        {
            if path.starts_with("/api/v1/") {
                assert!(
                    responses
                        .iter()
                        .any(|(s, d)| s == "503" && d.contains(UNAVAILABLE)),
                    "{method} {path}"
                );
            }
        }
    }
}
