//! `ReservationWorkflow`: hold → wait for payment, cancel or the hold timer → confirm or release.
//!
//! One workflow per reservation (`reservation-<uuid>`). The API starts it with update-with-start
//! on `hold`, so the buyer learns within the request whether the seats are theirs. Updates that
//! change the reservation (`pay_with_balance`, `cancel`) and the expiry timer take turns through
//! the `settling` flag: at most one settlement activity runs at a time, so a payment that is
//! being applied can't be released under it, and two payments can't both debit.

use crate::activities::ReservationActivities;
use seatline_domain::{Actor, HoldResult, RefundReason, ReservationStatus, Settlement};
use seatline_proto::{
    failure, CancelRequest, CardPaymentSignal, ConfirmOutcome, ConfirmWithBalanceInput,
    ConfirmWithCardInput, HoldOutcome, HoldSeatsInput, PayWithBalanceRequest,
    RefundCardPaymentInput, ReleaseHoldInput, ReservationInput, ReservationState,
    SettlementOutcome,
};
use std::time::{Duration, UNIX_EPOCH};
use temporalio_common::{
    error::{ActivityExecutionError, IncomingError},
    search_attributes::SearchAttributeKey,
    ActivityCloseTimeouts, RetryPolicy,
};
use temporalio_macros::{workflow, workflow_methods};
use temporalio_sdk::{
    ActivityOptions, SyncWorkflowContext, WorkflowContext, WorkflowContextView, WorkflowResult,
};

pub const USER_ID: SearchAttributeKey<String> = SearchAttributeKey::keyword("UserId");
pub const SCHEDULE_ID: SearchAttributeKey<String> = SearchAttributeKey::keyword("ScheduleId");
pub const RESERVATION_STATUS: SearchAttributeKey<String> =
    SearchAttributeKey::keyword("ReservationStatus");

/// Where the workflow is: before the hold is decided, refused, or a reservation status.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Phase {
    Pending,
    Rejected,
    Is(ReservationStatus),
}

impl Phase {
    const HELD: Phase = Phase::Is(ReservationStatus::Held);

    /// The word of the `ReservationStatus` search attribute and the `state` query.
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Phase::Pending => "PENDING",
            Phase::Rejected => "REJECTED",
            Phase::Is(status) => status.as_str(),
        }
    }
}

/// Runs from before this marker end a refused hold without a release step when they replay.
const RELEASE_AFTER_REFUSED_HOLD: &str = "release-after-refused-hold";

/// Runs from before this marker refund a card report that arrives after the deadline at once.
const LATE_REPORT_WAITS_FOR_DEADLINE: &str = "late-report-waits-for-deadline";

#[workflow]
pub struct ReservationWorkflow {
    input: ReservationInput,
    status: Phase,
    hold: Option<HoldOutcome>,
    expires_at_ms: i64,
    /// A settlement activity (confirm or release) is running.
    settling: bool,
    /// Update handlers still running; the workflow finishes only after they answer.
    open_handlers: u32,
    /// Card payments the provider reported successful, each handled once.
    card_payments: Vec<String>,
    /// Card payments the provider reported failed (the buyer may try again).
    failed_card_payments: u32,
}

#[workflow_methods]
impl ReservationWorkflow {
    #[init]
    pub fn new(_ctx: &WorkflowContextView, input: ReservationInput) -> Self {
        Self {
            input,
            status: Phase::Pending,
            hold: None,
            expires_at_ms: 0,
            settling: false,
            open_handlers: 0,
            card_payments: Vec::new(),
            failed_card_payments: 0,
        }
    }

    #[run]
    pub async fn run(ctx: &mut WorkflowContext<Self>) -> WorkflowResult<ReservationState> {
        let input = ctx.state(|s| s.input.clone());
        let hold_ms = (input.hold_seconds.max(1) * 1000) as i64;
        let expires_at_ms = now_ms(ctx) + hold_ms;
        ctx.state_mut(|s| s.expires_at_ms = expires_at_ms);

        let hold = Self::hold_seats(ctx, &input, expires_at_ms).await;
        let held = hold.result() == HoldResult::Held;
        // The hold runs from when it committed (the database says when), so the buyer gets
        // the whole of it however long the hold took to decide.
        let expires_at_ms = if held && hold.expires_at_ms > 0 {
            hold.expires_at_ms
        } else {
            expires_at_ms
        };
        ctx.state_mut(|s| {
            s.status = if held { Phase::HELD } else { Phase::Rejected };
            s.expires_at_ms = expires_at_ms;
            s.hold = Some(hold);
        });
        set_status_attribute(ctx);

        if held {
            let remaining = Duration::from_millis((expires_at_ms - now_ms(ctx)).max(0) as u64);
            temporalio_sdk::workflows::select! {
                _ = ctx.timer(remaining) => {}
                _ = ctx.wait_condition(|s: &Self| s.status != Phase::HELD) => {}
            };
            // A payment or cancel that began before the deadline finishes first.
            let _ = ctx.wait_condition(|s: &Self| !s.settling).await;
            if ctx.state(|s| s.status == Phase::HELD) {
                ctx.state_mut(|s| s.settling = true);
                let status = release(ctx, ReservationStatus::Expired, Actor::Timer).await;
                ctx.state_mut(|s| {
                    s.status = status;
                    s.settling = false;
                });
                set_status_attribute(ctx);
            }
        }
        let _ = ctx.wait_condition(|s: &Self| s.open_handlers == 0).await;
        Ok(ctx.state(Self::snapshot))
    }

    /// Answers once the hold activity has: HELD with the seats, or why not.
    #[update]
    pub async fn hold(ctx: &mut WorkflowContext<Self>, _request: ()) -> HoldOutcome {
        ctx.state_mut(|s| s.open_handlers += 1);
        let _ = ctx.wait_condition(|s: &Self| s.hold.is_some()).await;
        ctx.state_mut(|s| {
            s.open_handlers -= 1;
            s.hold.clone().unwrap_or_default()
        })
    }

    #[update]
    pub async fn pay_with_balance(
        ctx: &mut WorkflowContext<Self>,
        request: PayWithBalanceRequest,
    ) -> SettlementOutcome {
        ctx.state_mut(|s| s.open_handlers += 1);
        let answer = Self::settle(
            ctx,
            &request.user_id,
            request.requested_at_ms,
            Ask::PayWithBalance,
        )
        .await;
        ctx.state_mut(|s| s.open_handlers -= 1);
        answer
    }

    #[update]
    pub async fn cancel(
        ctx: &mut WorkflowContext<Self>,
        request: CancelRequest,
    ) -> SettlementOutcome {
        ctx.state_mut(|s| s.open_handlers += 1);
        // An operator cancels any buyer's hold; the release records who and why.
        let kind = if request.operator_id.is_empty() {
            Ask::Cancel
        } else {
            Ask::OperatorCancel(request.reason.clone())
        };
        let answer = Self::settle(ctx, &request.user_id, 0, kind).await;
        ctx.state_mut(|s| s.open_handlers -= 1);
        answer
    }

    /// The provider took the buyer's money. Applied if the hold still stands, refunded
    /// otherwise: a payment is never lost and never both.
    #[signal]
    pub async fn payment_succeeded(ctx: &mut WorkflowContext<Self>, payment: CardPaymentSignal) {
        let fresh = ctx.state_mut(|s| {
            if s.card_payments.contains(&payment.payment_id) {
                return false;
            }
            s.card_payments.push(payment.payment_id.clone());
            s.open_handlers += 1;
            true
        });
        if fresh {
            Self::apply_or_refund(ctx, payment).await;
            ctx.state_mut(|s| s.open_handlers -= 1);
        }
    }

    /// The provider declined the card; the hold stands and the buyer may try again.
    #[signal]
    pub fn payment_failed(
        &mut self,
        _ctx: &mut SyncWorkflowContext<Self>,
        _payment: CardPaymentSignal,
    ) {
        self.failed_card_payments += 1;
    }

    #[query]
    pub fn state(&self, _ctx: &WorkflowContextView) -> ReservationState {
        self.snapshot()
    }
}

/// What the buyer asked of a held reservation.
#[derive(Clone, PartialEq, Eq)]
enum Ask {
    PayWithBalance,
    Cancel,
    /// With the operator's reason.
    OperatorCancel(String),
}

impl Ask {
    fn is_cancel(&self) -> bool {
        matches!(self, Ask::Cancel | Ask::OperatorCancel(_))
    }
}

impl ReservationWorkflow {
    fn snapshot(&self) -> ReservationState {
        ReservationState {
            reservation_id: self.input.reservation_id.clone(),
            status: self.status.as_str().to_owned(),
            seat_ids: self.input.seat_ids.clone(),
            amount: self.hold.as_ref().map(|h| h.amount).unwrap_or_default(),
            expires_at_ms: self.expires_at_ms,
        }
    }

    fn answer(&self, settlement: Settlement) -> SettlementOutcome {
        SettlementOutcome::new(
            settlement,
            self.status.as_str(),
            self.hold.as_ref().map(|h| h.amount).unwrap_or_default(),
        )
    }

    async fn hold_seats(
        ctx: &mut WorkflowContext<Self>,
        input: &ReservationInput,
        expires_at_ms: i64,
    ) -> HoldOutcome {
        let request = HoldSeatsInput {
            reservation_id: input.reservation_id.clone(),
            user_id: input.user_id.clone(),
            schedule_id: input.schedule_id.clone(),
            seat_ids: input.seat_ids.clone(),
            expires_at_ms,
            hold_seconds: input.hold_seconds.max(1),
            max_seats_per_buyer: input.max_seats_per_buyer,
        };
        let options = bounded_options(Duration::from_secs(20), Duration::from_secs(5));
        match ctx
            .execute_activity(ReservationActivities::hold_seats, request, options)
            .await
        {
            Ok(held) => held,
            Err(err) => match business_failure(&err) {
                Some((kind, app)) if kind == failure::SEAT_UNAVAILABLE => {
                    let unavailable_seat_ids =
                        app.details::<Vec<i64>>().ok().flatten().unwrap_or_default();
                    // An earlier attempt that Temporal gave up on may still commit a claim;
                    // a reservation that ends without HELD gives back whatever it may hold.
                    if ctx.patched(RELEASE_AFTER_REFUSED_HOLD) {
                        release(ctx, ReservationStatus::Cancelled, Actor::System).await;
                    }
                    HoldOutcome::refused(HoldResult::SeatUnavailable, unavailable_seat_ids)
                }
                Some((kind, _)) if kind == failure::PURCHASE_LIMIT_REACHED => {
                    // Refused before it claimed anything, but an earlier attempt may have.
                    release(ctx, ReservationStatus::Cancelled, Actor::System).await;
                    HoldOutcome::refused(HoldResult::PurchaseLimitReached, vec![])
                }
                _ => {
                    // The hold may have committed before its answer was lost: give back anything
                    // it claimed, so no seat stays held without a workflow to release it.
                    release(ctx, ReservationStatus::Cancelled, Actor::System).await;
                    HoldOutcome::refused(HoldResult::HoldFailed, vec![])
                }
            },
        }
    }

    /// Runs one payment or cancellation. A payment counts as in time when the buyer asked
    /// before the deadline (`requested_at_ms`, stamped by the API), even if a worker restart
    /// delayed it.
    async fn settle(
        ctx: &mut WorkflowContext<Self>,
        user_id: &str,
        requested_at_ms: i64,
        kind: Ask,
    ) -> SettlementOutcome {
        let _ = ctx.wait_condition(|s: &Self| !s.settling).await;
        let (status, owner, expires_at_ms) =
            ctx.state(|s| (s.status, s.input.user_id.clone(), s.expires_at_ms));
        if owner != user_id && !matches!(kind, Ask::OperatorCancel(_)) {
            return ctx.state(|s| s.answer(Settlement::NotHeld));
        }
        let asked_at = match requested_at_ms {
            0 => now_ms(ctx),
            stamped => stamped.min(now_ms(ctx)),
        };
        use ReservationStatus::*;
        match status {
            Phase::Is(Held) if kind.is_cancel() || asked_at < expires_at_ms => {}
            Phase::Is(Held | Expired) => {
                return ctx.state(|s| s.answer(Settlement::ReservationExpired))
            }
            Phase::Is(Confirmed) => return ctx.state(|s| s.answer(Settlement::AlreadyConfirmed)),
            Phase::Is(Cancelled) if kind.is_cancel() => {
                return ctx.state(|s| s.answer(Settlement::Cancelled))
            }
            Phase::Is(Cancelled) => return ctx.state(|s| s.answer(Settlement::ReservationExpired)),
            _ => return ctx.state(|s| s.answer(Settlement::NotHeld)),
        }
        ctx.state_mut(|s| s.settling = true);
        let answer = match kind {
            Ask::PayWithBalance => Self::confirm_with_balance(ctx).await,
            Ask::Cancel | Ask::OperatorCancel(_) => {
                let status = match kind {
                    Ask::OperatorCancel(reason) => {
                        release_noted(ctx, ReservationStatus::Cancelled, Actor::Operator, reason)
                            .await
                    }
                    _ => release(ctx, ReservationStatus::Cancelled, Actor::User).await,
                };
                ctx.state_mut(|s| s.status = status);
                let word = ctx.state(|s| match s.status {
                    Phase::Is(ReservationStatus::Confirmed) => Settlement::AlreadyConfirmed,
                    Phase::Is(ReservationStatus::Cancelled) => Settlement::Cancelled,
                    _ => Settlement::ReservationExpired,
                });
                ctx.state(|s| s.answer(word))
            }
        };
        ctx.state_mut(|s| s.settling = false);
        set_status_attribute(ctx);
        answer
    }

    async fn apply_or_refund(ctx: &mut WorkflowContext<Self>, payment: CardPaymentSignal) {
        let _ = ctx.wait_condition(|s: &Self| !s.settling).await;
        let late =
            ctx.state(|s| s.status == Phase::HELD) && now_ms(ctx) >= ctx.state(|s| s.expires_at_ms);
        if late && ctx.patched(LATE_REPORT_WAITS_FOR_DEADLINE) {
            // Past the deadline but not yet released: the release decides (it applies a
            // payment whose success was recorded in time), and this report follows it, so a
            // payment is never both applied there and refunded here.
            let _ = ctx
                .wait_condition(|s: &Self| s.status != Phase::HELD && !s.settling)
                .await;
        }
        let (status, expires_at_ms) = ctx.state(|s| (s.status, s.expires_at_ms));
        let reason = if status == Phase::HELD && now_ms(ctx) < expires_at_ms {
            ctx.state_mut(|s| s.settling = true);
            let input = ConfirmWithCardInput {
                reservation_id: ctx.state(|s| s.input.reservation_id.clone()),
                payment_id: payment.payment_id.clone(),
            };
            let applied = ctx
                .execute_activity(
                    ReservationActivities::confirm_with_card,
                    input,
                    until_done(),
                )
                .await;
            ctx.state_mut(|s| s.settling = false);
            match applied {
                Ok(_) => {
                    ctx.state_mut(|s| s.status = Phase::Is(ReservationStatus::Confirmed));
                    set_status_attribute(ctx);
                    return;
                }
                Err(err) if is_unverified(&err) => {
                    // No verified provider event behind this signal: it moves no money, and
                    // the genuine report of the same payment id must still count later.
                    ctx.state_mut(|s| s.card_payments.retain(|p| *p != payment.payment_id));
                    return;
                }
                Err(_) => RefundReason::HoldNotAvailable,
            }
        } else if status == Phase::Is(ReservationStatus::Confirmed) {
            RefundReason::AlreadyPaid
        } else {
            RefundReason::LatePayment
        };
        let input = ctx.state(|s| RefundCardPaymentInput {
            reservation_id: s.input.reservation_id.clone(),
            payment_id: payment.payment_id.clone(),
            amount: payment.amount,
            reason: reason.as_str().to_owned(),
            payment_task_queue: s.input.payment_task_queue.clone(),
        });
        let refunded = ctx
            .execute_activity(
                ReservationActivities::refund_card_payment,
                input.clone(),
                refund_options(&input.payment_task_queue),
            )
            .await;
        if refunded.as_ref().is_err_and(is_unverified) {
            ctx.state_mut(|s| s.card_payments.retain(|p| *p != payment.payment_id));
        }
    }

    async fn confirm_with_balance(ctx: &mut WorkflowContext<Self>) -> SettlementOutcome {
        let input = ctx.state(|s| ConfirmWithBalanceInput {
            reservation_id: s.input.reservation_id.clone(),
            user_id: s.input.user_id.clone(),
        });
        let options = bounded_options(Duration::from_secs(30), Duration::from_secs(10));
        match ctx
            .execute_activity(ReservationActivities::confirm_with_balance, input, options)
            .await
        {
            Ok(done) => {
                ctx.state_mut(|s| s.status = Phase::Is(ReservationStatus::Confirmed));
                let mut answer = ctx.state(|s| s.answer(Settlement::Confirmed));
                answer.balance = done.balance;
                answer
            }
            Err(err) => match business_failure(&err) {
                Some((kind, app)) if kind == failure::INSUFFICIENT_BALANCE => {
                    let details: ConfirmOutcome = app.details().ok().flatten().unwrap_or_default();
                    let mut answer = ctx.state(|s| s.answer(Settlement::InsufficientBalance));
                    answer.balance = details.balance;
                    answer
                }
                Some((kind, _)) if kind == failure::NOT_HELD => {
                    ctx.state(|s| s.answer(Settlement::NotHeld))
                }
                // Retries ran out (database down): the hold stays, the buyer may try again. If
                // the debit did commit, the release at expiry finds CONFIRMED and keeps it.
                _ => ctx.state(|s| s.answer(Settlement::PaymentFailed)),
            },
        }
    }
}

/// Gives the seats back; retried until it succeeds, because a seat must never stay held.
/// Returns the status the reservation ended with, which may be CONFIRMED if a payment won.
async fn release(
    ctx: &mut WorkflowContext<ReservationWorkflow>,
    to: ReservationStatus,
    actor: Actor,
) -> Phase {
    release_noted(ctx, to, actor, String::new()).await
}

/// `release`, with a note (an operator's reason) for the audit log.
async fn release_noted(
    ctx: &mut WorkflowContext<ReservationWorkflow>,
    to: ReservationStatus,
    actor: Actor,
    note: String,
) -> Phase {
    let mut input = ctx.state(|s| ReleaseHoldInput::new(&s.input.reservation_id, to, actor));
    input.note = note;
    let options = retried_forever(Duration::from_secs(10), Duration::from_secs(5));
    match ctx
        .execute_activity(ReservationActivities::release_hold, input, options)
        .await
    {
        Ok(status) => Phase::Is(status.parse().unwrap_or(to)),
        Err(_) => Phase::Is(to),
    }
}

/// For steps that must finish whatever happens (a payment is applied or refunded): retried
/// until they succeed or fail for a business reason.
fn until_done() -> ActivityOptions {
    retried_forever(Duration::from_secs(10), Duration::from_secs(10))
}

/// Each attempt may take `attempt`; retries start at 200 ms and back off to `max_backoff`,
/// with no limit on their number.
pub(crate) fn retried_forever(attempt: Duration, max_backoff: Duration) -> ActivityOptions {
    ActivityOptions::with_start_to_close_timeout(attempt)
        .retry_policy(retry_forever(max_backoff))
        .build()
}

/// Retries from 200 ms, backing off to `max_backoff`, with no limit on their number.
pub(crate) fn retry_forever(max_backoff: Duration) -> RetryPolicy {
    RetryPolicy::builder()
        .initial_interval(Duration::from_millis(200))
        .maximum_interval(max_backoff)
        .build()
}

/// Refunds talk to the provider, on the payment workers' own task queue.
pub(crate) fn refund_options(payment_task_queue: &str) -> ActivityOptions {
    let mut options = until_done();
    if !payment_task_queue.is_empty() {
        options.task_queue = Some(payment_task_queue.to_owned());
    }
    options
}

fn bounded_options(total: Duration, attempt: Duration) -> ActivityOptions {
    ActivityOptions::with_close_timeouts(ActivityCloseTimeouts::ScheduleAndStartToClose {
        schedule_to_close: total,
        start_to_close: attempt,
    })
    .retry_policy(
        RetryPolicy::builder()
            .initial_interval(Duration::from_millis(100))
            .maximum_interval(Duration::from_secs(2))
            .build(),
    )
    .build()
}

fn is_unverified(err: &ActivityExecutionError) -> bool {
    business_failure(err).is_some_and(|(kind, _)| kind == failure::PAYMENT_UNVERIFIED)
}

/// The type and failure of a non-retryable business outcome raised by an activity.
pub(crate) fn business_failure(
    err: &ActivityExecutionError,
) -> Option<(&str, &temporalio_common::error::ApplicationFailure)> {
    match err {
        ActivityExecutionError::Failed(failed) => match failed.cause() {
            Some(IncomingError::Application(app)) => app.type_name().map(|t| (t, app)),
            _ => None,
        },
        _ => None,
    }
}

/// The workflow clock, in Unix ms.
pub(crate) fn now_ms<W>(ctx: &WorkflowContext<W>) -> i64 {
    ctx.workflow_time()
        .and_then(|t| t.duration_since(UNIX_EPOCH).ok())
        .map(|d| d.as_millis() as i64)
        .unwrap_or_default()
}

fn set_status_attribute(ctx: &WorkflowContext<ReservationWorkflow>) {
    let status = ctx.state(|s| s.status.as_str().to_owned());
    ctx.upsert_search_attributes([RESERVATION_STATUS.value_set(status)]);
}
