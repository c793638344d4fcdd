use crate::{
    auth::AuthUser,
    catalog_cache::Listing,
    dto::{ErrorBody, JoinQueue, PreQueueDraw, QueueReceipt, QueueStanding, QueueTicket},
    error::{ApiError, ApiResult},
    extract::IdPath,
    extract::JsonBody,
    queue_token::QueueClaims,
    state::AppState,
    waiting_room::{ensure_admission, verify_token, QueueTokenHeader},
};
use axum::{
    extract::State,
    http::{header, StatusCode},
    response::{IntoResponse, Response},
    Json,
};
use bytes::Bytes;
use chrono::{DateTime, Utc};
use seatline_domain::{QueueStatus, ScheduleId};
use seatline_storage::{
    catalog, pre_queue,
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
        (status = 409, description = "BOOKING_CLOSED · IDEMPOTENCY_IN_PROGRESS · IDEMPOTENCY_KEY_REUSED", body = ErrorBody),
        (status = 422, description = "VALIDATION_FAILED", body = ErrorBody),
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
    ensure_admission(&state, schedule, &window).await?;
    let mut redis = state.redis.clone();
    let now_ms = now.timestamp_millis();
    // Before opening, clicking first wins nothing: the place is drawn from the schedule's
    // committed seed, and recorded for the draw to be checked once the seed is revealed.
    let drawn = if pre_queue {
        let seed = pre_queue::seed(&state.pool, schedule).await?;
        Some(pre_queue::place(
            &seed,
            &pre_queue::entry_id(schedule, user),
        ))
    } else {
        None
    };
    let seq = waiting_room::join(&mut redis, &state.pool, schedule, user, drawn)
        .await
        .map_err(|e| match e {
            waiting_room::JoinError::Redis(e) => ApiError::from(e),
            waiting_room::JoinError::Database(e) => ApiError::from(e),
        })?;
    if drawn.is_some() {
        pre_queue::record_entry(&state.pool, schedule, user, seq).await?;
    }
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
    params(("X-Queue-Token" = Option<String>, Header, description = "the token of the place in line; without it: 401 TOKEN_NOT_FOUND")),
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
    params(("X-Queue-Token" = Option<String>, Header, description = "the token of the place in line; without it: 401 TOKEN_NOT_FOUND")),
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

/// The caller's receipt for their place: when they joined, whether by the pre-queue draw
/// (then its entry id and, once booking has opened, their rank in the draw) and when they were
/// admitted.
#[utoipa::path(get, path = "/queue/tokens/current/receipt", tag = "waiting room",
    security(("bearer" = [])),
    params(("X-Queue-Token" = Option<String>, Header, description = "the token of the place in line; without it: 401 TOKEN_NOT_FOUND")),
    responses(
        (status = 200, description = "the receipt", body = QueueReceipt),
        (status = 401, description = "UNAUTHORIZED · TOKEN_NOT_FOUND · TOKEN_EXPIRED", body = ErrorBody),
    ))]
pub async fn receipt(
    State(state): State<AppState>,
    AuthUser(user): AuthUser,
    QueueTokenHeader(token): QueueTokenHeader,
) -> ApiResult<Json<QueueReceipt>> {
    let claims = verify_token(&state, user, token.as_deref())?;
    let entry = pre_queue::receipt(&state.pool, claims.schedule, user).await?;
    let mut redis = state.redis.clone();
    let admitted_at = waiting_room::admitted_at(&mut redis, claims.schedule, user).await?;
    Ok(Json(QueueReceipt {
        schedule_id: claims.schedule.as_uuid(),
        place: claims.seq,
        pre_queue: entry.is_some(),
        entry_id: entry.as_ref().map(|e| e.entry_id.clone()),
        joined_at: entry.as_ref().map(|e| e.joined_at),
        rank: entry.as_ref().and_then(|e| e.rank),
        admitted_at: admitted_at.and_then(DateTime::<Utc>::from_timestamp_millis),
    }))
}

/// The schedule's pre-queue draw: before booking opens, the commitment (SHA-256 of the secret
/// seed); after, the seed and every entry, so anyone can recompute each place and the order.
#[utoipa::path(get, path = "/schedules/{schedule_id}/pre-queue", tag = "waiting room",
    params(("schedule_id" = Uuid, Path)),
    responses(
        (status = 200, description = "the draw", body = PreQueueDraw),
        (status = 404, description = "NOT_FOUND (unknown schedule)", body = ErrorBody),
    ))]
pub async fn pre_queue_draw(
    State(state): State<AppState>,
    IdPath(id): IdPath,
) -> ApiResult<Response> {
    let schedule = ScheduleId::from(id);
    // Anyone may ask, and after opening the answer lists every entry: it is read once a
    // second per process, however many ask.
    let body = state
        .catalog
        .get(Listing::PreQueue(schedule), || async {
            let Some(window) = catalog::booking_window(&state.pool, schedule).await? else {
                return Ok::<_, ApiError>(None);
            };
            if Utc::now() < window.opens_at {
                // Committed from the first look on, before anyone can have joined.
                pre_queue::seed(&state.pool, schedule).await?;
            }
            let Some(draw) = pre_queue::draw(&state.pool, schedule).await? else {
                return Ok(None);
            };
            let answer = PreQueueDraw {
                schedule_id: schedule.as_uuid(),
                opens_at: draw.opens_at,
                opened: draw.opened,
                commitment: draw.commitment,
                seed: draw.seed.map(hex::encode),
                entry_count: draw.entry_count,
                entries: draw.entries,
                places: PRE_QUEUE_RULE,
            };
            Ok(Some(Bytes::from(
                serde_json::to_vec(&answer).expect("a DTO serializes"),
            )))
        })
        .await?
        .ok_or(ApiError::NotFound("schedule"))?;
    Ok(([(header::CONTENT_TYPE, "application/json")], body).into_response())
}

/// How a place follows from the seed, for whoever checks the draw.
const PRE_QUEUE_RULE: &str = "place = 1 + (the first 8 bytes of HMAC-SHA256(key = seed, \
    message = entry_id), big-endian) mod (2^46 - 2^20); admission goes by ascending place; \
    should two places meet, the later joiner takes the next free one; everyone who joins after \
    opening comes after every drawn place, in arrival order";

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
