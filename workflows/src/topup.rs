//! `TopupWorkflow` (`topup-<provider payment id>`): one per balance top-up paid by card, so a
//! top-up the provider took is credited exactly once and one the buyer never paid ends FAILED,
//! whatever was down when the webhook came.
//!
//! The webhook credits the balance itself (one transaction) and then tells this workflow,
//! which ends. If no webhook comes, the workflow asks the provider: after
//! `reconcile_after_seconds`, then backing off; from `abandon_at_ms` on, a payment still
//! pending is cancelled at the provider. The `check_topup_payment` activity settles what it
//! finds exactly as the webhook would have.

use crate::{
    activities::ReservationActivities,
    reservation::{now_ms, retried_forever},
};
use seatline_domain::{PaymentStatus, ProviderOutcome};
use seatline_proto::{CheckTopupPaymentInput, ProviderReport, TopupInput, TopupOutcome};
use std::time::Duration;
use temporalio_macros::{workflow, workflow_methods};
use temporalio_sdk::{SyncWorkflowContext, WorkflowContext, WorkflowContextView, WorkflowResult};

/// The longest wait between two questions to the provider.
const MAX_RECONCILE_WAIT: Duration = Duration::from_secs(600);

pub fn topup_workflow_id(provider_payment_id: &str) -> String {
    format!("topup-{provider_payment_id}")
}

#[workflow]
pub struct TopupWorkflow {
    input: TopupInput,
    /// APPLIED or FAILED once settled.
    settled: Option<PaymentStatus>,
    /// The sweeper asked for a check now.
    check_now: bool,
}

#[workflow_methods]
impl TopupWorkflow {
    #[init]
    pub fn new(_ctx: &WorkflowContextView, input: TopupInput) -> Self {
        Self {
            input,
            settled: None,
            check_now: false,
        }
    }

    #[run]
    pub async fn run(ctx: &mut WorkflowContext<Self>) -> WorkflowResult<TopupOutcome> {
        let input = ctx.state(|s| s.input.clone());
        let mut wait = Duration::from_secs(input.reconcile_after_seconds.max(1));
        loop {
            let until_abandon = (input.abandon_at_ms - now_ms(ctx)).max(0) as u64;
            let nap = if until_abandon > 0 {
                wait.min(Duration::from_millis(until_abandon))
            } else {
                wait
            };
            temporalio_sdk::workflows::select! {
                _ = ctx.timer(nap) => {},
                _ = ctx.wait_condition(|s: &Self| s.settled.is_some() || s.check_now) => {},
            };
            if ctx.state(|s| s.settled.is_some()) {
                break;
            }
            ctx.state_mut(|s| s.check_now = false);
            let check = CheckTopupPaymentInput {
                topup_id: input.topup_id.clone(),
                payment_id: input.payment_id.clone(),
                abandon: now_ms(ctx) >= input.abandon_at_ms,
            };
            let mut options = retried_forever(Duration::from_secs(15), Duration::from_secs(30));
            options.task_queue = Some(input.payment_task_queue.clone());
            // Retried until it answers: a top-up the provider took is never left uncredited.
            if let Ok(found) = ctx
                .execute_activity(ReservationActivities::check_topup_payment, check, options)
                .await
            {
                let status = found.status.parse::<PaymentStatus>();
                if let Ok(status @ (PaymentStatus::Applied | PaymentStatus::Failed)) = status {
                    ctx.state_mut(|s| s.settled = Some(status));
                    break;
                }
            }
            wait = (wait * 2).min(MAX_RECONCILE_WAIT);
        }
        let status = ctx.state(|s| s.settled.unwrap_or(PaymentStatus::Pending));
        Ok(TopupOutcome {
            status: status.as_str().to_owned(),
        })
    }

    /// The webhook settled the top-up (SUCCEEDED: credited), or, empty, the sweeper asks for
    /// a check now. A decline is not final: the buyer may try another card.
    #[signal]
    pub fn provider_reported(
        &mut self,
        _ctx: &mut SyncWorkflowContext<Self>,
        report: ProviderReport,
    ) {
        match report.outcome() {
            Some(ProviderOutcome::Succeeded) => self.settled = Some(PaymentStatus::Applied),
            Some(ProviderOutcome::Failed) => {}
            _ => self.check_now = true,
        }
    }

    #[query]
    pub fn status(&self, _ctx: &WorkflowContextView) -> String {
        self.settled
            .unwrap_or(PaymentStatus::Pending)
            .as_str()
            .to_owned()
    }
}
