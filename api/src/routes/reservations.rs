//! Holds, payments and cancellations go through the reservation's workflow; reads come from
//! PostgreSQL, which the workflow's activities keep current.

use crate::waiting_room::{require_hold_token, require_turn, QueueTokenHeader};
use crate::{
    auth::AuthUser,
    error::{ApiError, ApiResult},
    extract::{IdPath, JsonBody},
    idempotency,
    state::AppState,
    temporal::bounded,
};
use axum::{
    extract::State,
    http::{HeaderMap, StatusCode},
    Json,
};
use chrono::{DateTime, Utc};
use seatline_domain::{
    HoldResult, ReservationId, ReservationStatus, ScheduleId, SeatSelection, Settlement, UserId,
};
use seatline_proto::{
    CancelRequest, HoldOutcome, PayWithBalanceRequest, ReservationInput, SettlementOutcome,
};
use seatline_storage::{
    catalog,
    reservations::{self, Reservation},
    seat_cache, waiting_room,
};
use sha2::{Digest, Sha256};

/// How long a pre-check claim keeps a seat for a hold that is still being decided.
const CLAIM_MS: i64 = 15_000;
/// How long a pre-check winner waits for one of the `HOLDS_IN_FLIGHT` slots.
const HOLD_SLOT_WAIT: std::time::Duration = std::time::Duration::from_secs(1);
use seatline_workflows::{ReservationWorkflow, RESERVATION_STATUS, SCHEDULE_ID, USER_ID};
use serde::Deserialize;
use serde_json::{json, Value};
use temporalio_client::{
    errors::WorkflowUpdateError, WorkflowExecuteUpdateOptions, WorkflowIdConflictPolicy,
    WorkflowIdReusePolicy, WorkflowUpdateWithStartOptions,
};
use temporalio_common::search_attributes::SearchAttributes;

#[derive(Deserialize)]
pub struct HoldBody {
    schedule_id: String,
    seat_ids: Vec<i64>,
}

#[tracing::instrument(skip_all, fields(user_id = %user, reservation_id))]
pub async fn hold(
    State(state): State<AppState>,
    AuthUser(user): AuthUser,
    QueueTokenHeader(token): QueueTokenHeader,
    headers: HeaderMap,
    JsonBody(body): JsonBody<HoldBody>,
) -> ApiResult<(StatusCode, Json<Value>)> {
    let schedule =
        ScheduleId::parse(&body.schedule_id).map_err(|_| ApiError::NotFound("schedule"))?;
    let seats = SeatSelection::parse(&body.seat_ids)?;
    let window = catalog::booking_window(&state.pool, schedule)
        .await?
        .ok_or(ApiError::NotFound("schedule"))?;
    if !window.is_open(Utc::now()) {
        return Err(ApiError::BookingClosed);
    }
    require_turn(&state, user, token.as_deref(), schedule).await?;
    let map = state
        .seat_maps
        .get(schedule)
        .await
        .map_err(ApiError::Unavailable)?
        .ok_or(ApiError::NotFound("schedule"))?;
    let wanted = seats.raw();
    let unknown: Vec<i64> = wanted
        .iter()
        .copied()
        .filter(|s| !map.contains(*s))
        .collect();
    if !unknown.is_empty() {
        return Err(ApiError::UnknownSeats { seat_ids: unknown });
    }

    let key = headers
        .get(idempotency::HEADER)
        .and_then(|v| v.to_str().ok());
    let reservation = reservation_id_for(user, key, schedule, &seats);
    tracing::Span::current().record("reservation_id", tracing::field::display(reservation));
    if key.is_some() {
        // A retry of a hold whose first answer was lost (a 5xx, a timeout): the hold may have
        // been made all the same, and it is the buyer's.
        if let Some(existing) = reservations::get_reservation(&state.pool, reservation).await? {
            return answer_existing_hold(&existing, user);
        }
    }

    // The pre-check: claim the seats in Redis, all or nothing. Losers are turned away here,
    // before any workflow exists; PostgreSQL stays the final guard.
    let mut redis = state.redis.clone();
    seat_cache::ensure_ready(&mut redis, &state.pool, schedule)
        .await
        .map_err(|e| ApiError::Unavailable(e.into()))?;
    let taken = seat_cache::claim(
        &mut redis,
        schedule,
        &wanted,
        reservation.as_uuid(),
        CLAIM_MS,
    )
    .await?;
    if !taken.is_empty() {
        metrics::counter!("holds_rejected_total", "stage" => "precheck").increment(1);
        return Err(ApiError::SeatUnavailable { seat_ids: taken });
    }
    // A winner of the pre-check needs a workflow. Temporal decides only so many holds a
    // second; more in flight would only make every buyer wait longer, so past the limit the
    // claim is given back and the buyer told to try again.
    let slot = tokio::time::timeout(HOLD_SLOT_WAIT, state.hold_slots.acquire()).await;
    let Ok(Ok(_slot)) = slot else {
        give_back_claims(&state, schedule, &wanted, reservation).await;
        metrics::counter!("holds_rejected_total", "stage" => "busy").increment(1);
        return Err(ApiError::Busy);
    };

    let held = start_hold(&state, user, schedule, reservation, &seats).await;
    // The hold is decided (or the buyer will ask again): the seat map now says HELD (written
    // by the hold activity) or the seats are someone else's. Either way the claims have done
    // their job, and a hold still deciding publishes its seats when it commits.
    give_back_claims(&state, schedule, &wanted, reservation).await;
    let held = held?;
    match held.result() {
        HoldResult::Held => {
            metrics::counter!("holds_won_total").increment(1);
            // The buyer's turn lasts at least as long as the hold, plus a minute to pay. The
            // hold itself lets them pay, so a failure here costs nothing.
            let mut redis = state.redis.clone();
            if let Err(err) =
                waiting_room::extend_turn(&mut redis, schedule, user, held.expires_at_ms + 60_000)
                    .await
            {
                tracing::warn!(error = %err, "could not extend the buyer's turn; the hold stands");
            }
            let expires_at = DateTime::<Utc>::from_timestamp_millis(held.expires_at_ms);
            let seats: Vec<Value> = held
                .seats
                .iter()
                .map(|s| {
                    json!({ "seat_id": s.seat_id, "row": s.row_number, "number": s.seat_number,
                            "grade": s.grade, "price": s.price })
                })
                .collect();
            Ok((
                StatusCode::CREATED,
                Json(json!({
                    "reservation_id": reservation,
                    "schedule_id": schedule,
                    "status": ReservationStatus::Held,
                    "seats": seats,
                    "amount": held.amount,
                    "expires_at": expires_at,
                })),
            ))
        }
        HoldResult::SeatUnavailable => {
            metrics::counter!("holds_rejected_total", "stage" => "database").increment(1);
            Err(ApiError::SeatUnavailable {
                seat_ids: held.unavailable_seat_ids,
            })
        }
        HoldResult::HoldFailed => Err(ApiError::Unavailable(anyhow::anyhow!(
            "the hold failed; nothing is held"
        ))),
    }
}

/// The reservation id of a hold. With an `Idempotency-Key` it is derived from the buyer, the
/// key and what is asked (schedule and seats), so a retry of a hold whose answer was lost
/// reaches the same reservation (and its workflow) instead of racing the buyer's own seats,
/// while the same key reused for other seats (after its record expired) is another hold.
fn reservation_id_for(
    user: UserId,
    idempotency_key: Option<&str>,
    schedule: ScheduleId,
    seats: &SeatSelection,
) -> ReservationId {
    let Some(key) = idempotency_key else {
        return ReservationId::new();
    };
    let mut digest = Sha256::new()
        .chain_update(b"hold\n")
        .chain_update(user.to_string())
        .chain_update(b"\n")
        .chain_update(key)
        .chain_update(b"\n")
        .chain_update(schedule.to_string());
    for seat in seats.raw() {
        digest.update(seat.to_be_bytes());
    }
    let digest = digest.finalize();
    let mut bytes = [0u8; 16];
    bytes.copy_from_slice(&digest[..16]);
    ReservationId::from(uuid::Builder::from_custom_bytes(bytes).into_uuid())
}

/// What a retried hold answers when its reservation already exists.
fn answer_existing_hold(
    existing: &Reservation,
    user: UserId,
) -> ApiResult<(StatusCode, Json<Value>)> {
    if existing.user_id != user.as_uuid() {
        return Err(ApiError::NotFound("reservation"));
    }
    match existing.status {
        ReservationStatus::Held | ReservationStatus::Confirmed => {
            Ok((StatusCode::CREATED, Json(reservation_json(existing))))
        }
        _ => Err(ApiError::ReservationExpired),
    }
}

/// Starts the reservation's workflow and waits, at most `TEMPORAL_CALL_TIMEOUT_MS`, for its
/// `hold` update to answer. A retry under the same id joins the running workflow; a closed
/// one is never started again.
async fn start_hold(
    state: &AppState,
    user: UserId,
    schedule: ScheduleId,
    reservation: ReservationId,
    seats: &SeatSelection,
) -> ApiResult<HoldOutcome> {
    let input = ReservationInput {
        reservation_id: reservation.to_string(),
        user_id: user.to_string(),
        schedule_id: schedule.to_string(),
        seat_ids: seats.raw(),
        hold_seconds: state.settings.hold.as_secs(),
        payment_task_queue: state.settings.payment_task_queue.clone(),
    };
    let options = WorkflowUpdateWithStartOptions::new(
        state.settings.task_queue.clone(),
        reservation.workflow_id(),
        WorkflowIdConflictPolicy::UseExisting,
    )
    .id_reuse_policy(WorkflowIdReusePolicy::RejectDuplicate)
    .search_attributes(SearchAttributes::new([
        USER_ID.value_set(user.to_string()),
        SCHEDULE_ID.value_set(schedule.to_string()),
        RESERVATION_STATUS.value_set("PENDING".to_owned()),
    ]))
    .build();
    metrics::counter!("reservation_workflows_started_total").increment(1);
    let held = bounded(
        state,
        state.temporal.execute_update_with_start_workflow(
            ReservationWorkflow::run,
            input,
            ReservationWorkflow::hold,
            (),
            options,
        ),
    )
    .await;
    match held {
        Ok(Ok(held)) => Ok(held),
        Ok(Err(err)) => Err(ApiError::Unavailable(anyhow::anyhow!("hold update: {err}"))),
        Err(elapsed) => Err(ApiError::Unavailable(anyhow::anyhow!(
            "hold update: {elapsed}; a retry with the same Idempotency-Key finds the hold"
        ))),
    }
}

/// Drops the pre-check claims; if Redis can't be reached they lapse after `CLAIM_MS`.
async fn give_back_claims(
    state: &AppState,
    schedule: ScheduleId,
    seats: &[i64],
    reservation: ReservationId,
) {
    let mut redis = state.redis.clone();
    if let Err(err) =
        seat_cache::release_claims(&mut redis, schedule, seats, reservation.as_uuid()).await
    {
        tracing::warn!(error = %err, "could not release pre-check claims; they lapse by themselves");
    }
}

/// The caller's reservation, or 404: someone else's reservation is indistinguishable from none.
async fn owned(state: &AppState, user: UserId, id: ReservationId) -> ApiResult<Reservation> {
    tracing::Span::current().record("reservation_id", tracing::field::display(id));
    reservations::get_reservation(&state.pool, id)
        .await?
        .filter(|r| r.user_id == user.as_uuid())
        .ok_or(ApiError::NotFound("reservation"))
}

fn reservation_json(r: &Reservation) -> Value {
    json!({
        "reservation_id": r.id,
        "schedule_id": r.schedule_id,
        "status": r.status,
        "seats": r.seats,
        "amount": r.amount,
        "expires_at": r.expires_at,
        "created_at": r.created_at,
        "updated_at": r.updated_at,
    })
}

pub async fn get_one(
    State(state): State<AppState>,
    AuthUser(user): AuthUser,
    IdPath(id): IdPath,
) -> ApiResult<Json<Value>> {
    let reservation = owned(&state, user, id.into()).await?;
    Ok(Json(reservation_json(&reservation)))
}

pub async fn list_mine(
    State(state): State<AppState>,
    AuthUser(user): AuthUser,
) -> ApiResult<Json<Value>> {
    let list = reservations::list_for_user(&state.pool, user).await?;
    let list: Vec<Value> = list.iter().map(reservation_json).collect();
    Ok(Json(json!({ "reservations": list })))
}

pub async fn events(
    State(state): State<AppState>,
    AuthUser(user): AuthUser,
    IdPath(id): IdPath,
) -> ApiResult<Json<Value>> {
    let id = ReservationId::from(id);
    owned(&state, user, id).await?;
    let events = reservations::events(&state.pool, id).await?;
    Ok(Json(json!({ "reservation_id": id, "events": events })))
}

/// A reservation that is no longer HELD can't be paid or cancelled; say why.
fn refuse_if_settled(r: &Reservation) -> ApiResult<()> {
    match r.status {
        ReservationStatus::Held => Ok(()),
        ReservationStatus::Confirmed => Err(ApiError::AlreadyConfirmed),
        _ => Err(ApiError::ReservationExpired),
    }
}

#[tracing::instrument(skip_all, fields(user_id = %user, reservation_id = %id))]
pub async fn pay(
    State(state): State<AppState>,
    AuthUser(user): AuthUser,
    QueueTokenHeader(token): QueueTokenHeader,
    IdPath(id): IdPath,
) -> ApiResult<Json<Value>> {
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
            Ok(Json(json!({
            "reservation_id": id,
            "status": ReservationStatus::Confirmed,
            "amount": answer.amount,
            "balance": answer.balance,
            })))
        }
        Settlement::InsufficientBalance => Err(ApiError::InsufficientBalance {
            balance: answer.balance,
            amount: answer.amount,
        }),
        other => Err(outcome_error(other)),
    }
}

#[tracing::instrument(skip_all, fields(user_id = %user, reservation_id = %id))]
pub async fn cancel(
    State(state): State<AppState>,
    AuthUser(user): AuthUser,
    IdPath(id): IdPath,
) -> ApiResult<Json<Value>> {
    let id = ReservationId::from(id);
    let reservation = owned(&state, user, id).await?;
    if reservation.status == ReservationStatus::Cancelled {
        return Ok(Json(
            json!({ "reservation_id": id, "status": ReservationStatus::Cancelled }),
        ));
    }
    refuse_if_settled(&reservation)?;
    let handle = state
        .temporal
        .get_workflow_handle::<ReservationWorkflow>(id.workflow_id());
    let request = CancelRequest {
        user_id: user.to_string(),
    };
    let answer = settle_through_workflow(&state, id, |options| {
        handle.execute_update(ReservationWorkflow::cancel, request.clone(), options)
    })
    .await?;
    match answer.settlement() {
        Settlement::Cancelled => Ok(Json(
            json!({ "reservation_id": id, "status": ReservationStatus::Cancelled }),
        )),
        other => Err(outcome_error(other)),
    }
}

/// Sends a settling update to the reservation's workflow. The workflow may finish between our
/// read and the update, or fail the task that carries it (a signal raced its last step): then
/// the database answers, or, while the reservation is still HELD, the update is sent again
/// under the same update id, which Temporal runs at most once.
async fn settle_through_workflow<F, Fut>(
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

fn outcome_error(settlement: Settlement) -> ApiError {
    match settlement {
        Settlement::AlreadyConfirmed => ApiError::AlreadyConfirmed,
        Settlement::ReservationExpired => ApiError::ReservationExpired,
        Settlement::NotHeld => ApiError::NotFound("reservation"),
        other => ApiError::Unavailable(anyhow::anyhow!("settlement ended {other}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_retried_hold_reaches_the_same_reservation_and_nothing_else_does() {
        let (user, schedule) = (UserId::new(), ScheduleId::new());
        let seats = SeatSelection::parse(&[3, 1]).unwrap();
        let same_seats = SeatSelection::parse(&[1, 3]).unwrap();
        let other_seats = SeatSelection::parse(&[1, 4]).unwrap();
        let id = |u, k, s, seats| reservation_id_for(u, Some(k), s, seats);
        let first = id(user, "key", schedule, &seats);
        assert_eq!(first, id(user, "key", schedule, &same_seats));
        assert_ne!(first, id(user, "key", schedule, &other_seats));
        assert_ne!(first, id(user, "other key", schedule, &seats));
        assert_ne!(first, id(UserId::new(), "key", schedule, &seats));
        assert_ne!(first, id(user, "key", ScheduleId::new(), &seats));
        assert_ne!(
            reservation_id_for(user, None, schedule, &seats),
            reservation_id_for(user, None, schedule, &seats)
        );
    }
}
