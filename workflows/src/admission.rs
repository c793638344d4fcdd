//! `AdmissionWorkflow`: the one admission controller of a schedule (`admission-<task queue>-<uuid>`).
//!
//! Every tick it admits the next users in line while fewer than the cap are active, at the
//! configured rate, until the schedule is sold out. Operators pause and resume it with the
//! `pause` / `resume` signals (Temporal UI or CLI). It continues as new to keep its history short.

use crate::{
    activities::ReservationActivities,
    reservation::{retried_forever, retry_forever},
};
use seatline_proto::{
    AdmissionInput, AdmissionStatus, AdmissionTuning, AdmitBatchInput, AdmitBatchOutcome,
};
use std::time::Duration;
use temporalio_macros::{workflow, workflow_methods};
use temporalio_sdk::{
    ContinueAsNewOptions, LocalActivityOptions, SyncWorkflowContext, WorkflowContext,
    WorkflowContextView, WorkflowResult,
};

/// Ticks per run before continuing as new.
const TICKS_PER_RUN: u32 = 500;

/// Runs from before this marker keep their activity steps when they replay.
const LOCAL_ADMISSION_STEP: &str = "local-admission-step";

/// The admission step (one Redis script, milliseconds) runs as a local activity: inside the
/// workflow task, so a tick costs the Temporal server one workflow task instead of a workflow
/// task, an activity task and another workflow task. Retried until it succeeds.
fn local_step_options() -> LocalActivityOptions {
    LocalActivityOptions::builder()
        .start_to_close_timeout(Duration::from_secs(5))
        .retry_policy(retry_forever(Duration::from_secs(5)))
        .build()
}

#[workflow]
pub struct AdmissionWorkflow {
    input: AdmissionInput,
    last: AdmitBatchOutcome,
}

#[workflow_methods]
impl AdmissionWorkflow {
    #[init]
    pub fn new(_ctx: &WorkflowContextView, input: AdmissionInput) -> Self {
        Self {
            input,
            last: AdmitBatchOutcome::default(),
        }
    }

    #[run]
    pub async fn run(ctx: &mut WorkflowContext<Self>) -> WorkflowResult<AdmissionStatus> {
        let tick = Duration::from_millis(ctx.state(|s| s.input.tick_ms.max(50)));
        for _ in 0..TICKS_PER_RUN {
            if ctx.state(|s| s.input.paused) {
                let _ = ctx.wait_condition(|s: &Self| !s.input.paused).await;
                continue;
            }
            let request = ctx.state(|s| AdmitBatchInput {
                schedule_id: s.input.schedule_id.clone(),
                max_batch: ((s.input.admit_per_second * tick.as_secs_f64()).ceil() as u64).max(1),
                active_cap: s.input.active_cap,
                turn_seconds: s.input.turn_seconds,
                measured_rate: s.input.measured_rate,
            });
            let step = if ctx.patched(LOCAL_ADMISSION_STEP) {
                ctx.execute_local_activity(
                    ReservationActivities::admit_batch,
                    request,
                    local_step_options(),
                )
                .await
            } else {
                let options = retried_forever(Duration::from_secs(5), Duration::from_secs(5));
                ctx.execute_activity(ReservationActivities::admit_batch, request, options)
                    .await
            };
            if let Ok(step) = step {
                let rate = step.admitted as f64 / tick.as_secs_f64();
                ctx.state_mut(|s| {
                    if step.waiting > 0 || step.admitted > 0 {
                        // An exponentially weighted rate, so the ETA follows what happens.
                        s.input.measured_rate = if s.input.measured_rate == 0.0 {
                            rate
                        } else {
                            0.8 * s.input.measured_rate + 0.2 * rate
                        };
                    }
                    s.last = step;
                });
                if step.sold_out {
                    return Ok(ctx.state(Self::status_of));
                }
            }
            ctx.timer(tick).await;
        }
        let next = ctx.state(|s| s.input.clone());
        ctx.continue_as_new(next, ContinueAsNewOptions::default())?;
        unreachable!("continue_as_new does not return")
    }

    #[signal]
    pub fn pause(&mut self, _ctx: &mut SyncWorkflowContext<Self>, _request: ()) {
        self.input.paused = true;
    }

    #[signal]
    pub fn resume(&mut self, _ctx: &mut SyncWorkflowContext<Self>, _request: ()) {
        self.input.paused = false;
    }

    /// An operator's new rate and/or cap; it applies from the next tick.
    #[signal]
    pub fn retune(&mut self, _ctx: &mut SyncWorkflowContext<Self>, tuning: AdmissionTuning) {
        if tuning.admit_per_second > 0.0 {
            self.input.admit_per_second = tuning.admit_per_second;
        }
        if tuning.active_cap > 0 {
            self.input.active_cap = tuning.active_cap;
        }
    }

    #[query]
    pub fn status(&self, _ctx: &WorkflowContextView) -> AdmissionStatus {
        self.status_of()
    }
}

impl AdmissionWorkflow {
    fn status_of(&self) -> AdmissionStatus {
        AdmissionStatus {
            schedule_id: self.input.schedule_id.clone(),
            paused: self.input.paused,
            sold_out: self.last.sold_out,
            served: self.last.served,
            active: self.last.active,
            waiting: self.last.waiting,
            measured_rate: self.input.measured_rate,
        }
    }
}
