use crate::{error::ApiResult, extract::JsonBody, state::AppState};
use axum::{extract::State, http::StatusCode, Json};
use seatline_domain::{UserId, UserName};
use serde::Deserialize;
use serde_json::{json, Value};

#[derive(Deserialize)]
pub struct NewUser {
    name: String,
}

#[tracing::instrument(skip_all, fields(user_id))]
pub async fn create_user(
    State(state): State<AppState>,
    JsonBody(body): JsonBody<NewUser>,
) -> ApiResult<(StatusCode, Json<Value>)> {
    let name = UserName::parse(&body.name)?;
    let id = UserId::new();
    tracing::Span::current().record("user_id", tracing::field::display(id));
    seatline_storage::users::create_user(&state.pool, id, &name).await?;
    let token = state.tokens.issue(id);
    Ok((
        StatusCode::CREATED,
        Json(json!({ "user_id": id, "name": name.as_str(), "token": token })),
    ))
}
