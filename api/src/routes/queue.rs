use crate::{
    auth::AuthUser,
    dto::{ErrorBody, JoinQueue, QueueStanding, QueueTicket},
    error::{ApiError, ApiResult},
    extract::JsonBody,
    queue_token::QueueClaims,
    state::AppState,
    waiting_room::{ensure_admission, verify_token, QueueTokenHeader},
};
use axum::{extract::State, http::StatusCode, Json};
use chrono::{DateTime, Utc};
use seatline_domain::{QueueStatus, ScheduleId};
use seatline_storage::{
    catalog,
    waiting_room::{self, Standing},
};

/// Join a schedule's waiting line; joining again returns the same place (and token). From
/// `PRE_QUEUE_SECONDS` before booking opens, places are drawn at random, ahead of everyone
/// who joins after opening.
#[utoipa::path(post, path = "/queue/tokens", tag = "waiting room",
    security(("bearer" = [])), request_body = JoinQueue,
    params(("Idempotency-Key" = Option<String>, Header, description = "replays return the first answer")),
    responses(
        (status = 201, description = "a place in line", body = QueueTicket),
        (status = 400, description = "MALFORMED_JSON", body = ErrorBody),
        (status = 401, description = "UNAUTHORIZED", body = ErrorBody),
        (status = 404, description = "NOT_FOUND (unknown schedule)", body = ErrorBody),
        (status = 409, description = "BOOKING_CLOSED · IDEMPOTENCY_IN_PROGRESS", body = ErrorBody),
        (status = 422, description = "VALIDATION_FAILED · IDEMPOTENCY_KEY_REUSED", body = ErrorBody),
    ))]
#[tracing::instrument(skip_all, fields(user_id = %user))]
pub async fn join(
    State(state): State<AppState>,
    AuthUser(user): AuthUser,
    JsonBody(body): JsonBody<JoinQueue>,
) -> ApiResult<(StatusCode, Json<QueueTicket>)> {
    let schedule =
        ScheduleId::parse(&body.schedule_id).map_err(|_| ApiError::NotFound("schedule"))?;
    let window = catalog::booking_window(&state.pool, schedule)
        .await?
        .ok_or(ApiError::NotFound("schedule"))?;
    let now = Utc::now();
    let pre_queue_from = window.opens_at
        - chrono::Duration::seconds(state.settings.waiting_room.pre_queue_seconds as i64);
    let pre_queue = now < window.opens_at && now >= pre_queue_from;
    if !window.is_open(now) && !pre_queue {
        return Err(ApiError::BookingClosed);
    }
    ensure_admission(&state, schedule).await?;
    let mut redis = state.redis.clone();
    let now_ms = now.timestamp_millis();
    // Before opening, clicking first wins nothing: the place is drawn.
    let drawn = pre_queue.then(waiting_room::draw_pre_queue_place);
    let seq = waiting_room::join(&mut redis, &state.pool, schedule, user, drawn)
        .await
        .map_err(|e| match e {
            waiting_room::JoinError::Redis(e) => ApiError::from(e),
            waiting_room::JoinError::Database(e) => ApiError::from(e),
        })?;
    let ttl_ms = (state.settings.waiting_room.token_ttl_seconds as i64) * 1000;
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
    Ok((
        StatusCode::CREATED,
        Json(QueueTicket {
            token,
            standing: standing_of(&state, &claims, standing),
        }),
    ))
}

/// Tokens expire on a fixed grid, so joining twice within a period returns one token.
fn token_expiry(now_ms: i64, ttl_ms: i64) -> i64 {
    let grid = (ttl_ms / 6).max(1);
    (now_ms + ttl_ms) / grid * grid + grid
}

/// Where the caller stands in line: one Redis script, nothing else.
#[utoipa::path(get, path = "/queue/tokens/current", tag = "waiting room",
    security(("bearer" = [])),
    params(("X-Queue-Token" = String, Header, description = "the token of the place in line")),
    responses(
        (status = 200, description = "WAITING, ACTIVE, EXPIRED or SOLD_OUT", body = QueueStanding),
        (status = 401, description = "UNAUTHORIZED · TOKEN_NOT_FOUND", body = ErrorBody),
    ))]
pub async fn current(
    State(state): State<AppState>,
    AuthUser(user): AuthUser,
    QueueTokenHeader(token): QueueTokenHeader,
) -> ApiResult<Json<QueueStanding>> {
    let claims = match verify_token(&state, user, token.as_deref()) {
        Err(ApiError::TokenExpired) => {
            return Ok(Json(QueueStanding {
                status: QueueStatus::Expired,
                schedule_id: None,
                position: 0,
                eta_seconds: 0,
                expires_at: None,
            }))
        }
        other => other?,
    };
    let mut redis = state.redis.clone();
    let standing = waiting_room::standing(&mut redis, claims.schedule, user, claims.seq).await?;
    Ok(Json(standing_of(&state, &claims, standing)))
}

/// Leave the line or give the turn up, so the next in line is admitted.
#[utoipa::path(delete, path = "/queue/tokens/current", tag = "waiting room",
    security(("bearer" = [])),
    params(("X-Queue-Token" = String, Header, description = "the token of the place in line")),
    responses(
        (status = 204, description = "left"),
        (status = 401, description = "UNAUTHORIZED · TOKEN_NOT_FOUND · TOKEN_EXPIRED", body = ErrorBody),
    ))]
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

fn standing_of(state: &AppState, claims: &QueueClaims, standing: Standing) -> QueueStanding {
    let at = |ms: i64| DateTime::<Utc>::from_timestamp_millis(ms);
    let schedule_id = Some(claims.schedule.as_uuid());
    match standing {
        Standing::Active { expires_at_ms } => QueueStanding {
            status: QueueStatus::Active,
            schedule_id,
            position: 0,
            eta_seconds: 0,
            expires_at: at(expires_at_ms),
        },
        Standing::Expired => QueueStanding {
            status: QueueStatus::Expired,
            schedule_id,
            position: 0,
            eta_seconds: 0,
            expires_at: None,
        },
        Standing::Waiting {
            position,
            sold_out,
            rate_per_second,
        } => {
            let rate = rate_per_second
                .filter(|r| *r > 0.01)
                .unwrap_or(state.settings.waiting_room.admission_rate)
                .max(0.01);
            QueueStanding {
                status: if sold_out {
                    QueueStatus::SoldOut
                } else {
                    QueueStatus::Waiting
                },
                schedule_id,
                position,
                eta_seconds: if sold_out {
                    0
                } else {
                    (position as f64 / rate).ceil() as u64
                },
                expires_at: at(claims.expires_at_ms),
            }
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
