use crate::{
    auth::AuthUser,
    dto::{Balance, BalanceHistory, ChargeBalance, ErrorBody},
    error::{ApiError, ApiResult},
    extract::JsonBody,
    state::AppState,
};
use axum::{extract::State, Json};
use seatline_domain::Amount;
use seatline_storage::balance::{self, ChargeError};

/// The caller's balance.
#[utoipa::path(get, path = "/users/me/balance", tag = "balance", security(("bearer" = [])),
    responses(
        (status = 200, description = "the balance", body = Balance),
        (status = 401, description = "UNAUTHORIZED", body = ErrorBody),
    ))]
pub async fn get_balance(
    State(state): State<AppState>,
    AuthUser(user): AuthUser,
) -> ApiResult<Json<Balance>> {
    let balance = balance::get_balance(&state.pool, user)
        .await?
        .ok_or(ApiError::Unauthorized)?;
    Ok(Json(Balance { balance }))
}

/// Top the balance up (development mode: free money).
#[utoipa::path(post, path = "/users/me/balance/charges", tag = "balance",
    security(("bearer" = [])), request_body = ChargeBalance,
    params(("Idempotency-Key" = Option<String>, Header, description = "replays return the first answer")),
    responses(
        (status = 200, description = "the new balance", body = Balance),
        (status = 400, description = "MALFORMED_JSON", body = ErrorBody),
        (status = 401, description = "UNAUTHORIZED", body = ErrorBody),
        (status = 403, description = "FORBIDDEN: production mode has no free top-ups", body = ErrorBody),
        (status = 409, description = "IDEMPOTENCY_IN_PROGRESS · IDEMPOTENCY_KEY_REUSED", body = ErrorBody),
        (status = 422, description = "VALIDATION_FAILED · BALANCE_LIMIT_EXCEEDED", body = ErrorBody),
    ))]
pub async fn charge(
    State(state): State<AppState>,
    AuthUser(user): AuthUser,
    JsonBody(body): JsonBody<ChargeBalance>,
) -> ApiResult<Json<Balance>> {
    if state.settings.accounts.is_production() {
        return Err(ApiError::Forbidden(
            "free top-ups are off in production; pay by card at checkout",
        ));
    }
    let amount = Amount::parse_charge(body.amount)?;
    let balance = balance::charge(&state.pool, user, amount)
        .await
        .map_err(|e| match e {
            ChargeError::NoBalance => ApiError::Unauthorized,
            ChargeError::LimitExceeded => ApiError::BalanceLimitExceeded,
            ChargeError::Database(err) => err.into(),
        })?;
    Ok(Json(Balance { balance }))
}

/// CHARGE / USE / REFUND entries, newest first.
#[utoipa::path(get, path = "/users/me/balance/history", tag = "balance",
    security(("bearer" = [])),
    responses(
        (status = 200, description = "entries", body = BalanceHistory),
        (status = 401, description = "UNAUTHORIZED", body = ErrorBody),
    ))]
pub async fn history(
    State(state): State<AppState>,
    AuthUser(user): AuthUser,
) -> ApiResult<Json<BalanceHistory>> {
    let entries = balance::history(&state.pool, user).await?;
    Ok(Json(BalanceHistory {
        entries: entries.into_iter().map(Into::into).collect(),
    }))
}
