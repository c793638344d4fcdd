//! `CheckoutWorkflow` (`checkout-<provider payment id>`): one per card checkout, so that a
//! payment the provider took always ends applied or refunded, and one the buyer abandoned ends
//! FAILED, whatever was down when the webhook came.
//!
//! It waits for the verified webhook (`provider_reported`, sent by the API once the event is
//! recorded) and, if none comes, asks the provider itself: after `reconcile_after_seconds`,
//! then backing off. Once the hold is over and the payment is still pending, it cancels the
//! payment at the provider. A success goes to the reservation's workflow, which applies or
//! refunds it; if that workflow has finished, the payment is refunded here.

use crate::{
    activities::ReservationActivities,
    reservation::{business_failure, now_ms, refund_options, retried_forever},
    ReservationWorkflow,
};
use seatline_domain::{ProviderOutcome, RefundReason};
use seatline_proto::{
    failure, CardPaymentSignal, CheckCardPaymentInput, CheckoutInput, CheckoutOutcome,
    ProviderReport, RefundCardPaymentInput,
};
use std::time::Duration;
use temporalio_common::error::ActivityExecutionError;
use temporalio_macros::{workflow, workflow_methods};
use temporalio_sdk::{
    SignalWorkflowOptions, SyncWorkflowContext, WorkflowContext, WorkflowContextView,
    WorkflowResult,
};

/// The longest wait between two questions to the provider.
const MAX_RECONCILE_WAIT: Duration = Duration::from_secs(600);

pub fn checkout_workflow_id(provider_payment_id: &str) -> String {
    format!("checkout-{provider_payment_id}")
}

#[workflow]
pub struct CheckoutWorkflow {
    input: CheckoutInput,
    /// Succeeded, Abandoned or Unknown once known: the end of the checkout.
    outcome: Option<ProviderOutcome>,
    /// Declines reported since the reservation last heard of one.
    declines: u32,
    /// The sweeper asked for a check now.
    check_now: bool,
}

#[workflow_methods]
impl CheckoutWorkflow {
    #[init]
    pub fn new(_ctx: &WorkflowContextView, input: CheckoutInput) -> Self {
        Self {
            input,
            outcome: None,
            declines: 0,
            check_now: false,
        }
    }

    #[run]
    pub async fn run(ctx: &mut WorkflowContext<Self>) -> WorkflowResult<CheckoutOutcome> {
        let input = ctx.state(|s| s.input.clone());
        let mut wait = Duration::from_secs(input.reconcile_after_seconds.max(1));
        loop {
            let until_abandon = (input.abandon_at_ms - now_ms(ctx)).max(0) as u64;
            let nap = if until_abandon > 0 {
                wait.min(Duration::from_millis(until_abandon))
            } else {
                wait
            };
            let timer_fired = temporalio_sdk::workflows::select! {
                _ = ctx.timer(nap) => true,
                _ = ctx.wait_condition(|s: &Self| s.outcome.is_some() || s.check_now || s.declines > 0) => false,
            };
            if ctx.state(|s| s.declines > 0) {
                ctx.state_mut(|s| s.declines = 0);
                Self::pass_on_decline(ctx, &input).await;
            }
            if ctx.state(|s| s.outcome.is_some()) {
                break;
            }
            if !timer_fired && !ctx.state(|s| s.check_now) {
                continue; // woken for a decline only
            }
            let due = now_ms(ctx) >= input.abandon_at_ms;
            ctx.state_mut(|s| s.check_now = false);
            let check = CheckCardPaymentInput {
                reservation_id: input.reservation_id.clone(),
                payment_id: input.payment_id.clone(),
                abandon: due,
            };
            let mut options = retried_forever(Duration::from_secs(15), Duration::from_secs(30));
            options.task_queue = Some(input.payment_task_queue.clone());
            match ctx
                .execute_activity(ReservationActivities::check_card_payment, check, options)
                .await
            {
                Ok(found) => {
                    let found = found.outcome();
                    if matches!(
                        found,
                        ProviderOutcome::Succeeded | ProviderOutcome::Abandoned
                    ) && ctx.state(|s| s.outcome.is_none())
                    {
                        ctx.state_mut(|s| s.outcome = Some(found));
                    }
                }
                Err(err) if is_unknown_payment(&err) => {
                    ctx.state_mut(|s| s.outcome = Some(ProviderOutcome::Unknown));
                }
                Err(_) => {}
            }
            if ctx.state(|s| s.outcome.is_some()) {
                break;
            }
            wait = (wait * 2).min(MAX_RECONCILE_WAIT);
        }
        let status = ctx.state(|s| s.outcome.unwrap_or(ProviderOutcome::Unknown));
        let handled = if status == ProviderOutcome::Succeeded {
            Self::hand_over(ctx, &input).await
        } else {
            "IGNORED"
        };
        Ok(CheckoutOutcome {
            status: status.as_str().to_owned(),
            handled: handled.to_owned(),
        })
    }

    /// A verified outcome (the webhook recorded it), or a request to check now.
    #[signal]
    pub fn provider_reported(
        &mut self,
        _ctx: &mut SyncWorkflowContext<Self>,
        report: ProviderReport,
    ) {
        match report.outcome() {
            Some(ProviderOutcome::Succeeded) if self.outcome.is_none() => {
                self.outcome = Some(ProviderOutcome::Succeeded)
            }
            Some(ProviderOutcome::Failed) => self.declines += 1,
            _ => self.check_now = true,
        }
    }

    #[query]
    pub fn outcome(&self, _ctx: &WorkflowContextView) -> String {
        self.outcome
            .unwrap_or(ProviderOutcome::Pending)
            .as_str()
            .to_owned()
    }
}

impl CheckoutWorkflow {
    /// The buyer may try another card; the reservation's workflow keeps count.
    async fn pass_on_decline(ctx: &mut WorkflowContext<Self>, input: &CheckoutInput) {
        let signal = CardPaymentSignal {
            payment_id: input.payment_id.clone(),
            amount: input.amount,
        };
        let _ = ctx
            .external_workflow(format!("reservation-{}", input.reservation_id), None)
            .signal(
                ReservationWorkflow::payment_failed,
                signal,
                SignalWorkflowOptions::default(),
            )
            .await;
    }

    /// Gives a success to the reservation's workflow, which applies or refunds it; if that
    /// workflow has finished, the payment is refunded here (once: the provider's idempotency
    /// key and the payment row see to it).
    async fn hand_over(ctx: &mut WorkflowContext<Self>, input: &CheckoutInput) -> &'static str {
        let signal = CardPaymentSignal {
            payment_id: input.payment_id.clone(),
            amount: input.amount,
        };
        let sent = ctx
            .external_workflow(format!("reservation-{}", input.reservation_id), None)
            .signal(
                ReservationWorkflow::payment_succeeded,
                signal,
                SignalWorkflowOptions::default(),
            )
            .await;
        if sent.is_ok() {
            return "FORWARDED";
        }
        let refund = RefundCardPaymentInput {
            reservation_id: input.reservation_id.clone(),
            payment_id: input.payment_id.clone(),
            amount: input.amount,
            reason: RefundReason::LatePayment.as_str().to_owned(),
            payment_task_queue: input.payment_task_queue.clone(),
        };
        let options = refund_options(&input.payment_task_queue);
        match ctx
            .execute_activity(ReservationActivities::refund_card_payment, refund, options)
            .await
        {
            Ok(_) => "REFUNDED",
            Err(_) => "IGNORED",
        }
    }
}

fn is_unknown_payment(err: &ActivityExecutionError) -> bool {
    business_failure(err).is_some_and(|(kind, _)| kind == failure::UNKNOWN_PAYMENT)
}
