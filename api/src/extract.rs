//! Extractors that reject with our error shape instead of axum's plain text.

use crate::error::ApiError;
use axum::{
    extract::{rejection::JsonRejection, FromRequest, FromRequestParts, Path, Request},
    http::request::Parts,
};
use serde::de::DeserializeOwned;

pub struct JsonBody<T>(pub T);

impl<S, T> FromRequest<S> for JsonBody<T>
where
    T: DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        match axum::Json::<T>::from_request(req, state).await {
            Ok(axum::Json(value)) => Ok(Self(value)),
            Err(JsonRejection::JsonDataError(e)) => Err(ApiError::Validation(e.body_text())),
            Err(JsonRejection::MissingJsonContentType(_)) => Err(ApiError::MalformedJson(
                "expected Content-Type: application/json".into(),
            )),
            Err(e) => Err(ApiError::MalformedJson(e.body_text())),
        }
    }
}

/// A path segment that must be a UUID; anything else is a 404, like an unknown id.
pub struct IdPath(pub uuid::Uuid);

impl<S: Send + Sync> FromRequestParts<S> for IdPath {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let Path(raw) = Path::<String>::from_request_parts(parts, state)
            .await
            .map_err(|_| ApiError::NotFound("resource"))?;
        uuid::Uuid::parse_str(&raw)
            .map(Self)
            .map_err(|_| ApiError::NotFound("resource"))
    }
}
