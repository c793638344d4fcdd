use crate::{
    auth::AuthUser,
    error::{ApiError, ApiResult},
    extract::JsonBody,
    queue_token::QueueClaims,
    state::AppState,
    waiting_room::{ensure_admission, verify_token, QueueTokenHeader},
};
use axum::{extract::State, http::StatusCode, Json};
use chrono::{DateTime, Utc};
use seatline_domain::ScheduleId;
use seatline_storage::{
    catalog,
    waiting_room::{self, Standing},
};
use serde::Deserialize;
use serde_json::{json, Value};

#[derive(Deserialize)]
pub struct Join {
    schedule_id: String,
}

/// Joins a schedule's queue; joining again returns the same place (and token).
#[tracing::instrument(skip_all, fields(user_id = %user))]
pub async fn join(
    State(state): State<AppState>,
    AuthUser(user): AuthUser,
    JsonBody(body): JsonBody<Join>,
) -> ApiResult<(StatusCode, Json<Value>)> {
    let schedule =
        ScheduleId::parse(&body.schedule_id).map_err(|_| ApiError::NotFound("schedule"))?;
    let window = catalog::booking_window(&state.pool, schedule)
        .await?
        .ok_or(ApiError::NotFound("schedule"))?;
    let now = Utc::now();
    if !window.is_open(now) {
        return Err(ApiError::BookingClosed);
    }
    ensure_admission(&state, schedule).await?;
    let mut redis = state.redis.clone();
    let now_ms = now.timestamp_millis();
    let seq = waiting_room::join(&mut redis, &state.pool, schedule, user)
        .await
        .map_err(|e| match e {
            waiting_room::JoinError::Redis(e) => ApiError::from(e),
            waiting_room::JoinError::Database(e) => ApiError::from(e),
        })?;
    let ttl_ms = (state.settings.queue_token_ttl_seconds as i64) * 1000;
    // The same place always gets the same token: its expiry is pinned to the place.
    let claims = QueueClaims {
        user,
        schedule,
        seq,
        expires_at_ms: token_expiry(now_ms, ttl_ms),
    };
    let token = state.queue_tokens.issue(&claims);
    let standing = waiting_room::standing(&mut redis, schedule, user, seq).await?;
    metrics::counter!("queue_joins_total").increment(1);
    let mut body = standing_json(&state, &claims, standing);
    body["token"] = json!(token);
    Ok((StatusCode::CREATED, Json(body)))
}

/// Tokens expire on a fixed grid, so joining twice within a period returns one token.
fn token_expiry(now_ms: i64, ttl_ms: i64) -> i64 {
    let grid = (ttl_ms / 6).max(1);
    (now_ms + ttl_ms) / grid * grid + grid
}

/// Where the caller stands: one Redis script, nothing else.
pub async fn current(
    State(state): State<AppState>,
    AuthUser(user): AuthUser,
    QueueTokenHeader(token): QueueTokenHeader,
) -> ApiResult<Json<Value>> {
    let claims = match verify_token(&state, user, token.as_deref()) {
        Err(ApiError::TokenExpired) => {
            return Ok(Json(
                json!({ "status": "EXPIRED", "position": 0, "eta_seconds": 0,
                                    "expires_at": null }),
            ))
        }
        other => other?,
    };
    let mut redis = state.redis.clone();
    let standing = waiting_room::standing(&mut redis, claims.schedule, user, claims.seq).await?;
    Ok(Json(standing_json(&state, &claims, standing)))
}

/// Leaves the queue or gives the turn up, so the next in line is admitted.
pub async fn leave(
    State(state): State<AppState>,
    AuthUser(user): AuthUser,
    QueueTokenHeader(token): QueueTokenHeader,
) -> ApiResult<StatusCode> {
    let claims = verify_token(&state, user, token.as_deref())?;
    let mut redis = state.redis.clone();
    waiting_room::end_turn(&mut redis, claims.schedule, user).await?;
    Ok(StatusCode::NO_CONTENT)
}

fn standing_json(state: &AppState, claims: &QueueClaims, standing: Standing) -> Value {
    let at = |ms: i64| DateTime::<Utc>::from_timestamp_millis(ms);
    match standing {
        Standing::Active { expires_at_ms } => json!({
            "status": "ACTIVE", "schedule_id": claims.schedule, "position": 0, "eta_seconds": 0,
            "expires_at": at(expires_at_ms),
        }),
        Standing::Expired => json!({
            "status": "EXPIRED", "schedule_id": claims.schedule, "position": 0, "eta_seconds": 0,
            "expires_at": null,
        }),
        Standing::Waiting {
            position,
            sold_out,
            rate_per_second,
        } => {
            let rate = rate_per_second
                .filter(|r| *r > 0.01)
                .unwrap_or(state.settings.admission_rate)
                .max(0.01);
            json!({
                "status": if sold_out { "SOLD_OUT" } else { "WAITING" },
                "schedule_id": claims.schedule,
                "position": position,
                "eta_seconds": if sold_out { 0 } else { (position as f64 / rate).ceil() as u64 },
                "expires_at": at(claims.expires_at_ms),
            })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::token_expiry;

    #[test]
    fn token_expiry_is_stable_within_a_period_and_after_the_ttl() {
        let ttl = 6 * 3_600_000;
        let a = token_expiry(1_000_000, ttl);
        assert_eq!(a, token_expiry(1_000_500, ttl));
        assert!(a >= 1_000_000 + ttl);
        assert!(a <= 1_000_000 + ttl + ttl / 6);
    }
}
