//! Holds, payments and cancellations go through the reservation's workflow; reads come from
//! PostgreSQL, which the workflow's activities keep current.

use crate::{
    auth::AuthUser,
    dto::{Cancelled, ErrorBody, HoldSeats, Paid, Reservation, ReservationEvents, ReservationList},
    error::{ApiError, ApiResult},
    extract::{IdPath, JsonBody},
    holds::{place_hold, HoldAsk},
    idempotency,
    state::AppState,
    temporal::bounded,
    waiting_room::{require_hold_token, QueueTokenHeader},
};
use axum::{
    extract::State,
    http::{HeaderMap, StatusCode},
    Json,
};
use chrono::Utc;
use seatline_domain::{ReservationId, ReservationStatus, ScheduleId, Settlement, UserId};
use seatline_proto::{CancelRequest, PayWithBalanceRequest, SettlementOutcome};
use seatline_storage::{reservations, waiting_room};
use seatline_workflows::ReservationWorkflow;
use temporalio_client::{errors::WorkflowUpdateError, WorkflowExecuteUpdateOptions};

/// Hold 1 to 4 seats of one schedule, all or nothing, for `HOLD_SECONDS`.
#[utoipa::path(post, path = "/reservations", tag = "reservations",
    security(("bearer" = [])), request_body = HoldSeats,
    params(("X-Queue-Token" = Option<String>, Header, description = "an ACTIVE place in line; without it: 401 TOKEN_NOT_FOUND"),
           ("Idempotency-Key" = Option<String>, Header, description = "a retry reaches the same hold")),
    responses(
        (status = 201, description = "held until expires_at", body = Reservation),
        (status = 400, description = "MALFORMED_JSON", body = ErrorBody),
        (status = 401, description = "UNAUTHORIZED · TOKEN_NOT_FOUND · TOKEN_EXPIRED", body = ErrorBody),
        (status = 403, description = "WRONG_TOKEN_TURN (details.position)", body = ErrorBody),
        (status = 404, description = "NOT_FOUND (unknown schedule)", body = ErrorBody),
        (status = 409, description = "SEAT_UNAVAILABLE (details.seat_ids) · PURCHASE_LIMIT_REACHED (details.limit, details.owned) · BOOKING_CLOSED · RESERVATION_EXPIRED · IDEMPOTENCY_IN_PROGRESS · IDEMPOTENCY_KEY_REUSED", body = ErrorBody),
        (status = 422, description = "VALIDATION_FAILED · UNKNOWN_SEATS (details.seat_ids)", body = ErrorBody),
        (status = 503, description = "BUSY: nothing was held, retry after `Retry-After` · SERVICE_UNAVAILABLE", body = ErrorBody),
    ))]
#[tracing::instrument(skip_all, fields(user_id = %user, reservation_id))]
pub async fn hold(
    State(state): State<AppState>,
    AuthUser(user): AuthUser,
    QueueTokenHeader(token): QueueTokenHeader,
    headers: HeaderMap,
    JsonBody(body): JsonBody<HoldSeats>,
) -> ApiResult<(StatusCode, Json<Reservation>)> {
    let key = headers
        .get(idempotency::HEADER)
        .and_then(|v| v.to_str().ok());
    let ask = HoldAsk::parse(user, &body, key)?;
    tracing::Span::current().record("reservation_id", tracing::field::display(ask.reservation));
    let held = place_hold(&state, &ask, token.as_deref(), key.is_some()).await?;
    Ok((StatusCode::CREATED, Json(held)))
}

/// The caller's reservation, or 404: someone else's reservation is indistinguishable from none.
async fn owned(
    state: &AppState,
    user: UserId,
    id: ReservationId,
) -> ApiResult<reservations::Reservation> {
    tracing::Span::current().record("reservation_id", tracing::field::display(id));
    reservations::get_reservation(&state.pool, id)
        .await?
        .filter(|r| r.user_id == user.as_uuid())
        .ok_or(ApiError::NotFound("reservation"))
}

/// A reservation of the caller.
#[utoipa::path(get, path = "/reservations/{id}", tag = "reservations",
    security(("bearer" = [])), params(("id" = Uuid, Path)),
    responses(
        (status = 200, description = "HELD, CONFIRMED, EXPIRED, CANCELLED or REFUNDED", body = Reservation),
        (status = 401, description = "UNAUTHORIZED", body = ErrorBody),
        (status = 404, description = "NOT_FOUND: unknown, or someone else's", body = ErrorBody),
    ))]
pub async fn get_one(
    State(state): State<AppState>,
    AuthUser(user): AuthUser,
    IdPath(id): IdPath,
) -> ApiResult<Json<Reservation>> {
    let reservation = owned(&state, user, id.into()).await?;
    Ok(Json(reservation.into()))
}

/// The caller's booking history, newest first.
#[utoipa::path(get, path = "/users/me/reservations", tag = "reservations",
    security(("bearer" = [])),
    responses(
        (status = 200, description = "reservations", body = ReservationList),
        (status = 401, description = "UNAUTHORIZED", body = ErrorBody),
    ))]
pub async fn list_mine(
    State(state): State<AppState>,
    AuthUser(user): AuthUser,
) -> ApiResult<Json<ReservationList>> {
    let list = reservations::list_for_user(&state.pool, user).await?;
    Ok(Json(ReservationList {
        reservations: list.into_iter().map(Into::into).collect(),
    }))
}

/// The audit log of a reservation of the caller.
#[utoipa::path(get, path = "/reservations/{id}/events", tag = "reservations",
    security(("bearer" = [])), params(("id" = Uuid, Path)),
    responses(
        (status = 200, description = "every step, oldest first", body = ReservationEvents),
        (status = 401, description = "UNAUTHORIZED", body = ErrorBody),
        (status = 404, description = "NOT_FOUND: unknown, or someone else's", body = ErrorBody),
    ))]
pub async fn events(
    State(state): State<AppState>,
    AuthUser(user): AuthUser,
    IdPath(id): IdPath,
) -> ApiResult<Json<ReservationEvents>> {
    let id = ReservationId::from(id);
    owned(&state, user, id).await?;
    let events = reservations::events(&state.pool, id).await?;
    Ok(Json(ReservationEvents {
        reservation_id: id.as_uuid(),
        events: events.into_iter().map(Into::into).collect(),
    }))
}

/// A reservation that is no longer HELD can't be paid or cancelled; say why.
fn refuse_if_settled(r: &reservations::Reservation) -> ApiResult<()> {
    match r.status {
        ReservationStatus::Held => Ok(()),
        ReservationStatus::Confirmed => Err(ApiError::AlreadyConfirmed),
        _ => Err(ApiError::ReservationExpired),
    }
}

/// Pay a held reservation from the balance.
#[utoipa::path(post, path = "/reservations/{id}/payment", tag = "reservations",
    security(("bearer" = [])),
    params(("id" = Uuid, Path),
           ("X-Queue-Token" = Option<String>, Header, description = "the token of the turn the hold was made in; without it: 401 TOKEN_NOT_FOUND"),
           ("Idempotency-Key" = Option<String>, Header, description = "replays return the first answer")),
    responses(
        (status = 200, description = "CONFIRMED", body = Paid),
        (status = 401, description = "UNAUTHORIZED · TOKEN_NOT_FOUND", body = ErrorBody),
        (status = 402, description = "INSUFFICIENT_BALANCE (details.balance, details.amount)", body = ErrorBody),
        (status = 404, description = "NOT_FOUND: unknown, or someone else's", body = ErrorBody),
        (status = 409, description = "RESERVATION_EXPIRED · ALREADY_CONFIRMED · IDEMPOTENCY_IN_PROGRESS · IDEMPOTENCY_KEY_REUSED", body = ErrorBody),
    ))]
#[tracing::instrument(skip_all, fields(user_id = %user, reservation_id = %id))]
pub async fn pay(
    State(state): State<AppState>,
    AuthUser(user): AuthUser,
    QueueTokenHeader(token): QueueTokenHeader,
    IdPath(id): IdPath,
) -> ApiResult<Json<Paid>> {
    let id = ReservationId::from(id);
    let reservation = owned(&state, user, id).await?;
    refuse_if_settled(&reservation)?;
    let schedule = ScheduleId::from(reservation.schedule_id);
    // A live hold is proof of a turn: paying needs no Redis, and a turn that ended under the
    // hold does not matter.
    require_hold_token(&state, user, token.as_deref(), schedule)?;
    let handle = state
        .temporal
        .get_workflow_handle::<ReservationWorkflow>(id.workflow_id());
    let request = PayWithBalanceRequest {
        user_id: user.to_string(),
        requested_at_ms: Utc::now().timestamp_millis(),
    };
    let answer = settle_through_workflow(&state, id, |options| {
        handle.execute_update(
            ReservationWorkflow::pay_with_balance,
            request.clone(),
            options,
        )
    })
    .await?;
    match answer.settlement() {
        Settlement::Confirmed => {
            // Paid: the turn is over and the next buyer in line may come in.
            let mut redis = state.redis.clone();
            if let Err(err) = waiting_room::end_turn(&mut redis, schedule, user).await {
                tracing::warn!(error = %err, "could not end the buyer's turn; it times out");
            }
            Ok(Json(Paid {
                reservation_id: id.as_uuid(),
                status: ReservationStatus::Confirmed,
                amount: answer.amount,
                balance: answer.balance,
            }))
        }
        Settlement::InsufficientBalance => Err(ApiError::InsufficientBalance {
            balance: answer.balance,
            amount: answer.amount,
        }),
        other => Err(outcome_error(other)),
    }
}

/// Release a hold early; cancelling a cancelled hold answers the same.
#[utoipa::path(post, path = "/reservations/{id}/cancel", tag = "reservations",
    security(("bearer" = [])),
    params(("id" = Uuid, Path),
           ("Idempotency-Key" = Option<String>, Header, description = "replays return the first answer")),
    responses(
        (status = 200, description = "CANCELLED", body = Cancelled),
        (status = 401, description = "UNAUTHORIZED", body = ErrorBody),
        (status = 404, description = "NOT_FOUND: unknown, or someone else's", body = ErrorBody),
        (status = 409, description = "RESERVATION_EXPIRED · ALREADY_CONFIRMED · IDEMPOTENCY_IN_PROGRESS · IDEMPOTENCY_KEY_REUSED", body = ErrorBody),
    ))]
#[tracing::instrument(skip_all, fields(user_id = %user, reservation_id = %id))]
pub async fn cancel(
    State(state): State<AppState>,
    AuthUser(user): AuthUser,
    IdPath(id): IdPath,
) -> ApiResult<Json<Cancelled>> {
    let id = ReservationId::from(id);
    let cancelled = Cancelled {
        reservation_id: id.as_uuid(),
        status: ReservationStatus::Cancelled,
    };
    let reservation = owned(&state, user, id).await?;
    if reservation.status == ReservationStatus::Cancelled {
        return Ok(Json(cancelled));
    }
    refuse_if_settled(&reservation)?;
    let handle = state
        .temporal
        .get_workflow_handle::<ReservationWorkflow>(id.workflow_id());
    let request = CancelRequest {
        user_id: user.to_string(),
        ..Default::default()
    };
    let answer = settle_through_workflow(&state, id, |options| {
        handle.execute_update(ReservationWorkflow::cancel, request.clone(), options)
    })
    .await?;
    match answer.settlement() {
        Settlement::Cancelled => Ok(Json(cancelled)),
        other => Err(outcome_error(other)),
    }
}

/// Sends a settling update to the reservation's workflow. The workflow may finish between our
/// read and the update, or fail the task that carries it (a signal raced its last step): then
/// the database answers, or, while the reservation is still HELD, the update is sent again
/// under the same update id, which Temporal runs at most once.
pub(crate) async fn settle_through_workflow<F, Fut>(
    state: &AppState,
    id: ReservationId,
    send: F,
) -> ApiResult<SettlementOutcome>
where
    F: Fn(WorkflowExecuteUpdateOptions) -> Fut,
    Fut: std::future::Future<Output = Result<SettlementOutcome, WorkflowUpdateError>>,
{
    let update_id = uuid::Uuid::new_v4().to_string();
    let mut attempt = 0;
    loop {
        attempt += 1;
        let options = WorkflowExecuteUpdateOptions::builder()
            .update_id(update_id.clone())
            .build();
        let err = match bounded(state, send(options)).await {
            Ok(Ok(answer)) => return Ok(answer),
            Ok(Err(err)) => err.to_string(),
            Err(elapsed) => {
                // Temporal or the workers are down: the update may still run when they are
                // back (it was stamped in time); the buyer hears now and may ask again.
                if let Some(r) = reservations::get_reservation(&state.pool, id).await? {
                    refuse_if_settled(&r)?;
                }
                return Err(ApiError::Unavailable(anyhow::anyhow!("update: {elapsed}")));
            }
        };
        let r = reservations::get_reservation(&state.pool, id)
            .await?
            .ok_or(ApiError::NotFound("reservation"))?;
        refuse_if_settled(&r)?;
        if attempt == 3 {
            return Err(ApiError::Unavailable(anyhow::anyhow!("update: {err}")));
        }
        tracing::info!(error = %err, attempt, "update did not complete; sending it again");
        tokio::time::sleep(std::time::Duration::from_millis(200 * attempt)).await;
    }
}

pub(crate) fn outcome_error(settlement: Settlement) -> ApiError {
    match settlement {
        Settlement::AlreadyConfirmed => ApiError::AlreadyConfirmed,
        Settlement::ReservationExpired => ApiError::ReservationExpired,
        Settlement::NotHeld => ApiError::NotFound("reservation"),
        other => ApiError::Unavailable(anyhow::anyhow!("settlement ended {other}")),
    }
}
