use crate::{
    auth,
    dto::{CreatedUser, ErrorBody, NewUser},
    error::{ApiError, ApiResult},
    extract::JsonBody,
    rate_limit::{self, ClientIp, Rate},
    state::AppState,
};
use axum::{extract::State, http::StatusCode, Json};
use seatline_domain::{Role, UserId, UserName};

/// Development mode only: a demo user (a name, no password) and its tokens.
#[utoipa::path(post, path = "/users", tag = "accounts",
    request_body = NewUser,
    responses(
        (status = 201, description = "created", body = CreatedUser),
        (status = 400, description = "MALFORMED_JSON", body = ErrorBody),
        (status = 403, description = "FORBIDDEN: production mode has no demo login", body = ErrorBody),
        (status = 422, description = "VALIDATION_FAILED", body = ErrorBody),
        (status = 429, description = "RATE_LIMITED: too many accounts from this address (`Retry-After`)", body = ErrorBody),
    ))]
#[tracing::instrument(skip_all, fields(user_id))]
pub async fn create_user(
    State(state): State<AppState>,
    ClientIp(ip): ClientIp,
    JsonBody(body): JsonBody<NewUser>,
) -> ApiResult<(StatusCode, Json<CreatedUser>)> {
    if state.settings.accounts.is_production() {
        return Err(ApiError::Forbidden(
            "the name-only demo login is off in production; sign up with an email",
        ));
    }
    let name = UserName::parse(&body.name)?;
    rate_limit::check(&state, Rate::accounts(&state.settings.limits), &ip).await?;
    let id = UserId::new();
    tracing::Span::current().record("user_id", tracing::field::display(id));
    seatline_storage::users::create_user(&state.pool, id, &name).await?;
    let issued = auth::open_session(&state, id, Role::Buyer).await?;
    Ok((
        StatusCode::CREATED,
        Json(CreatedUser {
            user_id: id.as_uuid(),
            name: name.as_str().to_owned(),
            token: issued.access_token,
            refresh_token: issued.refresh_token,
            expires_in: issued.expires_in,
        }),
    ))
}
