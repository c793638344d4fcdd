//! Placing a hold, step by step: check the request against the schedule and the buyer's turn,
//! find a retried hold, claim the seats in Redis (the pre-check that turns losers away before
//! any workflow exists), take a slot, run the reservation's workflow, and answer. PostgreSQL,
//! through the workflow's activity, stays the final guard.

use crate::{
    dto::{HoldSeats, Reservation, ReservedSeat},
    error::{ApiError, ApiResult},
    state::AppState,
    temporal::bounded,
    waiting_room::require_turn,
};
use chrono::{DateTime, Utc};
use seatline_domain::{
    HoldResult, ReservationId, ReservationStatus, ScheduleId, SeatSelection, UserId,
};
use seatline_proto::{HoldOutcome, ReservationInput};
use seatline_storage::{catalog, reservations, seat_cache, waiting_room};
use seatline_workflows::{ReservationWorkflow, RESERVATION_STATUS, SCHEDULE_ID, USER_ID};
use sha2::{Digest, Sha256};
use temporalio_client::{
    WorkflowIdConflictPolicy, WorkflowIdReusePolicy, WorkflowUpdateWithStartOptions,
};
use temporalio_common::search_attributes::SearchAttributes;

/// How long a pre-check claim keeps a seat for a hold that is still being decided.
const CLAIM_MS: i64 = 15_000;
/// How long a pre-check winner waits for one of the `HOLDS_IN_FLIGHT` slots.
const HOLD_SLOT_WAIT: std::time::Duration = std::time::Duration::from_secs(1);
/// How long past its hold a buyer's turn lasts, to pay.
const TURN_AFTER_HOLD_MS: i64 = 60_000;

/// A hold asked for by a buyer, parsed.
pub struct HoldAsk {
    pub user: UserId,
    pub schedule: ScheduleId,
    pub seats: SeatSelection,
    pub reservation: ReservationId,
}

/// A schedule's own hold duration and seats per buyer, or the deployment's.
#[derive(Clone, Copy)]
struct SaleTerms {
    hold_seconds: u64,
    seats_per_buyer: u32,
}

impl SaleTerms {
    fn of(state: &AppState, window: &catalog::BookingWindow) -> Self {
        Self {
            hold_seconds: window
                .hold_seconds
                .map_or(state.settings.hold.as_secs(), |s| s as u64),
            seats_per_buyer: window
                .seats_per_buyer
                .map_or(state.settings.limits.max_seats_per_buyer, |n| n as u32),
        }
    }
}

impl HoldAsk {
    pub fn parse(user: UserId, body: &HoldSeats, idempotency_key: Option<&str>) -> ApiResult<Self> {
        let schedule =
            ScheduleId::parse(&body.schedule_id).map_err(|_| ApiError::NotFound("schedule"))?;
        let seats = SeatSelection::parse(&body.seat_ids)?;
        let reservation = reservation_id_for(user, idempotency_key, schedule, &seats);
        Ok(Self {
            user,
            schedule,
            seats,
            reservation,
        })
    }
}

/// Places the hold and says what the buyer is told: 201 with the reservation, or why not.
pub async fn place_hold(
    state: &AppState,
    ask: &HoldAsk,
    queue_token: Option<&str>,
    retried: bool,
) -> ApiResult<Reservation> {
    let terms = check_allowed(state, ask, queue_token).await?;
    if retried {
        // A retry of a hold whose first answer was lost (a 5xx, a timeout): the hold may
        // have been made all the same, and it is the buyer's.
        if let Some(existing) = reservations::get_reservation(&state.pool, ask.reservation).await? {
            return answer_existing(existing, ask.user);
        }
    }
    let claim = PreCheckClaim::take(state, ask).await?;
    let held = match claim.slot(state).await {
        Ok(_slot) => start_hold(state, ask, terms).await,
        Err(busy) => Err(busy),
    };
    // The hold is decided (or the buyer will ask again): the seat map now says HELD (written
    // by the hold activity) or the seats are someone else's. Either way the claims have done
    // their job, and a hold still deciding publishes its seats when it commits.
    claim.give_back(state).await;
    answer(state, ask, held?, terms).await
}

/// The booking window is open, it is the buyer's turn, and every seat is the schedule's.
async fn check_allowed(
    state: &AppState,
    ask: &HoldAsk,
    queue_token: Option<&str>,
) -> ApiResult<SaleTerms> {
    let window = catalog::booking_window(&state.pool, ask.schedule)
        .await?
        .ok_or(ApiError::NotFound("schedule"))?;
    if !window.is_open(Utc::now()) {
        return Err(ApiError::BookingClosed);
    }
    let terms = SaleTerms::of(state, &window);
    require_turn(state, ask.user, queue_token, ask.schedule).await?;
    let map = state
        .seat_maps
        .get(ask.schedule)
        .await
        .map_err(ApiError::Unavailable)?
        .ok_or(ApiError::NotFound("schedule"))?;
    let unknown: Vec<i64> = ask
        .seats
        .raw()
        .into_iter()
        .filter(|s| !map.contains(*s))
        .collect();
    if !unknown.is_empty() {
        return Err(ApiError::UnknownSeats { seat_ids: unknown });
    }
    // Turned away early; the hold activity checks again under the buyer's lock.
    let limit = terms.seats_per_buyer;
    let owned = reservations::seats_of_buyer(&state.pool, ask.user, ask.schedule).await?;
    if owned + ask.seats.raw().len() as u32 > limit {
        return Err(ApiError::PurchaseLimitReached { limit, owned });
    }
    Ok(terms)
}

/// The seats claimed in Redis, all or nothing, for `CLAIM_MS`.
struct PreCheckClaim {
    schedule: ScheduleId,
    seats: Vec<i64>,
    reservation: ReservationId,
}

impl PreCheckClaim {
    async fn take(state: &AppState, ask: &HoldAsk) -> ApiResult<Self> {
        let mut redis = state.redis.clone();
        seat_cache::ensure_ready(&mut redis, &state.pool, ask.schedule)
            .await
            .map_err(|e| ApiError::Unavailable(e.into()))?;
        let seats = ask.seats.raw();
        let reservation = ask.reservation;
        let taken = seat_cache::claim(
            &mut redis,
            ask.schedule,
            &seats,
            reservation.as_uuid(),
            CLAIM_MS,
        )
        .await?;
        if !taken.is_empty() {
            metrics::counter!("holds_rejected_total", "stage" => "precheck").increment(1);
            return Err(ApiError::SeatUnavailable { seat_ids: taken });
        }
        Ok(Self {
            schedule: ask.schedule,
            seats,
            reservation,
        })
    }

    /// A winner of the pre-check needs a workflow. Temporal decides only so many holds a
    /// second; more in flight would only make every buyer wait longer, so past the limit the
    /// buyer is told to try again (and the claim is given back).
    async fn slot<'a>(&self, state: &'a AppState) -> ApiResult<tokio::sync::SemaphorePermit<'a>> {
        match tokio::time::timeout(HOLD_SLOT_WAIT, state.hold_slots.acquire()).await {
            Ok(Ok(permit)) => Ok(permit),
            _ => {
                metrics::counter!("holds_rejected_total", "stage" => "busy").increment(1);
                Err(ApiError::Busy)
            }
        }
    }

    /// Drops the claims; if Redis can't be reached they lapse after `CLAIM_MS`.
    async fn give_back(self, state: &AppState) {
        let mut redis = state.redis.clone();
        if let Err(err) = seat_cache::release_claims(
            &mut redis,
            self.schedule,
            &self.seats,
            self.reservation.as_uuid(),
        )
        .await
        {
            tracing::warn!(error = %err, "could not release pre-check claims; they lapse by themselves");
        }
    }
}

/// Starts the reservation's workflow and waits, at most `TEMPORAL_CALL_TIMEOUT_MS`, for its
/// `hold` update to answer. A retry under the same id joins the running workflow; a closed
/// one is never started again.
async fn start_hold(state: &AppState, ask: &HoldAsk, terms: SaleTerms) -> ApiResult<HoldOutcome> {
    let input = ReservationInput {
        reservation_id: ask.reservation.to_string(),
        user_id: ask.user.to_string(),
        schedule_id: ask.schedule.to_string(),
        seat_ids: ask.seats.raw(),
        hold_seconds: terms.hold_seconds,
        payment_task_queue: state.settings.temporal.payment_task_queue.clone(),
        max_seats_per_buyer: terms.seats_per_buyer,
    };
    let options = WorkflowUpdateWithStartOptions::new(
        state.settings.temporal.task_queue.clone(),
        ask.reservation.workflow_id(),
        WorkflowIdConflictPolicy::UseExisting,
    )
    .id_reuse_policy(WorkflowIdReusePolicy::RejectDuplicate)
    .search_attributes(SearchAttributes::new([
        USER_ID.value_set(ask.user.to_string()),
        SCHEDULE_ID.value_set(ask.schedule.to_string()),
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

/// What the workflow decided, as the buyer hears it.
async fn answer(
    state: &AppState,
    ask: &HoldAsk,
    held: HoldOutcome,
    terms: SaleTerms,
) -> ApiResult<Reservation> {
    match held.result() {
        HoldResult::Held => {
            metrics::counter!("holds_won_total").increment(1);
            // The buyer's turn lasts at least as long as the hold, plus a minute to pay. The
            // hold itself lets them pay, so a failure here costs nothing.
            let mut redis = state.redis.clone();
            let turn_ends = held.expires_at_ms + TURN_AFTER_HOLD_MS;
            if let Err(err) =
                waiting_room::extend_turn(&mut redis, ask.schedule, ask.user, turn_ends).await
            {
                tracing::warn!(error = %err, "could not extend the buyer's turn; the hold stands");
            }
            Ok(Reservation {
                reservation_id: ask.reservation.as_uuid(),
                schedule_id: ask.schedule.as_uuid(),
                status: ReservationStatus::Held,
                seats: held
                    .seats
                    .iter()
                    .map(|s| ReservedSeat {
                        seat_id: s.seat_id,
                        row: s.row_number,
                        number: s.seat_number,
                        grade: s.grade.clone(),
                        price: s.price,
                    })
                    .collect(),
                amount: held.amount,
                expires_at: DateTime::<Utc>::from_timestamp_millis(held.expires_at_ms),
                created_at: None,
                updated_at: None,
            })
        }
        HoldResult::SeatUnavailable => {
            metrics::counter!("holds_rejected_total", "stage" => "database").increment(1);
            Err(ApiError::SeatUnavailable {
                seat_ids: held.unavailable_seat_ids,
            })
        }
        HoldResult::PurchaseLimitReached => {
            let limit = terms.seats_per_buyer;
            let owned = reservations::seats_of_buyer(&state.pool, ask.user, ask.schedule).await?;
            Err(ApiError::PurchaseLimitReached { limit, owned })
        }
        HoldResult::HoldFailed => Err(ApiError::Unavailable(anyhow::anyhow!(
            "the hold failed; nothing is held"
        ))),
    }
}

/// What a retried hold answers when its reservation already exists.
fn answer_existing(existing: reservations::Reservation, user: UserId) -> ApiResult<Reservation> {
    if existing.user_id != user.as_uuid() {
        return Err(ApiError::NotFound("reservation"));
    }
    match existing.status {
        ReservationStatus::Held | ReservationStatus::Confirmed => Ok(existing.into()),
        _ => Err(ApiError::ReservationExpired),
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
