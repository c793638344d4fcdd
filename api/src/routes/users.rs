use crate::{
    dto::{CreatedUser, ErrorBody, NewUser},
    error::ApiResult,
    extract::JsonBody,
    state::AppState,
};
use axum::{extract::State, http::StatusCode, Json};
use seatline_domain::{UserId, UserName};

/// Create a demo user (a name, no password) and its bearer token.
#[utoipa::path(post, path = "/users", tag = "accounts",
    request_body = NewUser,
    params(("Idempotency-Key" = Option<String>, Header, description = "replays return the first answer")),
    responses(
        (status = 201, description = "created", body = CreatedUser),
        (status = 400, description = "MALFORMED_JSON", body = ErrorBody),
        (status = 409, description = "IDEMPOTENCY_IN_PROGRESS", body = ErrorBody),
        (status = 422, description = "VALIDATION_FAILED · IDEMPOTENCY_KEY_REUSED", body = ErrorBody),
    ))]
#[tracing::instrument(skip_all, fields(user_id))]
pub async fn create_user(
    State(state): State<AppState>,
    JsonBody(body): JsonBody<NewUser>,
) -> ApiResult<(StatusCode, Json<CreatedUser>)> {
    let name = UserName::parse(&body.name)?;
    let id = UserId::new();
    tracing::Span::current().record("user_id", tracing::field::display(id));
    seatline_storage::users::create_user(&state.pool, id, &name).await?;
    let token = state.tokens.issue(id);
    Ok((
        StatusCode::CREATED,
        Json(CreatedUser {
            user_id: id.as_uuid(),
            name: name.as_str().to_owned(),
            token,
        }),
    ))
}
