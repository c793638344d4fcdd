//! `SweeperWorkflow` (`sweeper-<task queue>`): the safety net behind the reservation and
//! checkout workflows. Every `interval_seconds` one activity releases holds whose workflow
//! is gone (closed or never started) once they are past expiry, wakes the checkout workflow
//! of any card payment still unsettled long after its hold, and corrects seat statuses that
//! Redis has older than PostgreSQL. What it finds should be nothing: its counts are metrics.
//! Each worker makes sure it runs; Temporal keeps it unique by id.

use crate::{activities::ReservationActivities, reservation::retried_forever};
use seatline_proto::{SweepOutcome, SweeperInput};
use std::time::Duration;
use temporalio_macros::{workflow, workflow_methods};
use temporalio_sdk::{ContinueAsNewOptions, WorkflowContext, WorkflowContextView, WorkflowResult};

/// Sweeps per run before continuing as new.
const SWEEPS_PER_RUN: u32 = 200;

pub fn sweeper_workflow_id(task_queue: &str) -> String {
    format!("sweeper-{task_queue}")
}

#[workflow]
pub struct SweeperWorkflow {
    input: SweeperInput,
    /// Totals of this run, for the `totals` query.
    totals: SweepOutcome,
}

#[workflow_methods]
impl SweeperWorkflow {
    #[init]
    pub fn new(_ctx: &WorkflowContextView, input: SweeperInput) -> Self {
        Self {
            input,
            totals: SweepOutcome::default(),
        }
    }

    #[run]
    pub async fn run(ctx: &mut WorkflowContext<Self>) -> WorkflowResult<SweepOutcome> {
        let input = ctx.state(|s| s.input.clone());
        let every = Duration::from_secs(input.interval_seconds.max(1));
        for _ in 0..SWEEPS_PER_RUN {
            let options = retried_forever(Duration::from_secs(60), Duration::from_secs(10));
            if let Ok(swept) = ctx
                .execute_activity(ReservationActivities::sweep, input.clone(), options)
                .await
            {
                ctx.state_mut(|s| {
                    s.totals.seats_released += swept.seats_released;
                    s.totals.holds_released += swept.holds_released;
                    s.totals.payments_nudged += swept.payments_nudged;
                    s.totals.seat_statuses_repaired += swept.seat_statuses_repaired;
                });
            }
            ctx.timer(every).await;
        }
        ctx.continue_as_new(input, ContinueAsNewOptions::default())?;
        unreachable!("continue_as_new does not return")
    }

    #[query]
    pub fn totals(&self, _ctx: &WorkflowContextView) -> SweepOutcome {
        self.totals
    }
}
