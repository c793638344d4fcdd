//! `RefundWorkflow` (`refund-<provider payment id>`): refunds a card payment whose
//! reservation's workflow had already finished when the provider reported it. The workflow id
//! makes it happen once however often the webhook is delivered.

use crate::{activities::ReservationActivities, reservation::refund_options};
use seatline_domain::RefundResult;
use seatline_proto::{RefundCardPaymentInput, RefundOutcome};
use temporalio_macros::{workflow, workflow_methods};
use temporalio_sdk::{WorkflowContext, WorkflowContextView, WorkflowResult};

#[workflow]
pub struct RefundWorkflow {
    input: RefundCardPaymentInput,
}

#[workflow_methods]
impl RefundWorkflow {
    #[init]
    pub fn new(_ctx: &WorkflowContextView, input: RefundCardPaymentInput) -> Self {
        Self { input }
    }

    #[run]
    pub async fn run(ctx: &mut WorkflowContext<Self>) -> WorkflowResult<RefundOutcome> {
        let input = ctx.state(|s| s.input.clone());
        let options = refund_options(&input.payment_task_queue);
        Ok(ctx
            .execute_activity(ReservationActivities::refund_card_payment, input, options)
            .await
            .unwrap_or_else(|_| RefundOutcome {
                outcome: RefundResult::NotRefundable.as_str().to_owned(),
                refund_id: String::new(),
            }))
    }
}
