use crate::{
    auth::AuthUser, error::ApiError, error::ApiResult, extract::JsonBody, state::AppState,
};
use axum::{extract::State, Json};
use seatline_domain::Amount;
use seatline_storage::balance::{self, ChargeError};
use serde::Deserialize;
use serde_json::{json, Value};

pub async fn get_balance(
    State(state): State<AppState>,
    AuthUser(user): AuthUser,
) -> ApiResult<Json<Value>> {
    let balance = balance::get_balance(&state.pool, user)
        .await?
        .ok_or(ApiError::Unauthorized)?;
    Ok(Json(json!({ "balance": balance })))
}

#[derive(Deserialize)]
pub struct Charge {
    amount: i64,
}

pub async fn charge(
    State(state): State<AppState>,
    AuthUser(user): AuthUser,
    JsonBody(body): JsonBody<Charge>,
) -> ApiResult<Json<Value>> {
    let amount = Amount::parse_charge(body.amount)?;
    let balance = balance::charge(&state.pool, user, amount)
        .await
        .map_err(|e| match e {
            ChargeError::NoBalance => ApiError::Unauthorized,
            ChargeError::LimitExceeded => ApiError::BalanceLimitExceeded,
            ChargeError::Database(err) => err.into(),
        })?;
    Ok(Json(json!({ "balance": balance })))
}

pub async fn history(
    State(state): State<AppState>,
    AuthUser(user): AuthUser,
) -> ApiResult<Json<Value>> {
    let entries = balance::history(&state.pool, user).await?;
    Ok(Json(json!({ "entries": entries })))
}
