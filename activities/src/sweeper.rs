//! The sweeper's one activity: the safety net behind the workflows. What it finds should be
//! nothing; each find is logged, counted in a metric and, for seats, in the audit log.

use crate::{publish_seats, retryable, retryable_cache};
use redis::aio::ConnectionManager;
use seatline_proto::{CheckoutInput, ProviderReport, SweepOutcome, SweeperInput, TopupInput};
use seatline_storage::{catalog, payments, reservations, seat_cache, topups, Pool};
use seatline_workflows::{
    activity_definitions, checkout_workflow_id, topup_workflow_id, CheckoutWorkflow, TopupWorkflow,
};
use std::sync::Arc;
use temporalio_client::{
    errors::WorkflowInteractionError, Client, UntypedWorkflow, WorkflowDescribeOptions,
    WorkflowExecutionStatus, WorkflowIdConflictPolicy, WorkflowStartOptions,
};
use temporalio_common::error::ApplicationFailure;
use temporalio_macros::activities;
use temporalio_sdk::activities::{ActivityContext, ActivityError};
use tracing::Instrument;

/// At most this many holds and payments are looked at per sweep; the next sweep takes the rest.
const BATCH: i64 = 500;

pub struct SweeperActivities {
    pool: Pool,
    redis: ConnectionManager,
    temporal: Client,
}

impl SweeperActivities {
    pub fn new(pool: Pool, redis: ConnectionManager, temporal: Client) -> Self {
        Self {
            pool,
            redis,
            temporal,
        }
    }
}

#[activities]
impl SweeperActivities {
    #[activity(definition = activity_definitions::Sweep)]
    pub async fn sweep(
        self: Arc<Self>,
        _ctx: ActivityContext,
        input: SweeperInput,
    ) -> Result<SweepOutcome, ActivityError> {
        let span = tracing::info_span!("sweep", task_queue = %input.task_queue);
        async move {
            // Each step runs even if another failed (Temporal down must not stop a Redis
            // repair); the sweep retries if any did.
            let mut outcome = SweepOutcome::default();
            let holds = self.release_stranded_holds(&input, &mut outcome).await;
            let payments = self.nudge_unsettled_payments(&input, &mut outcome).await;
            let topups = self.nudge_unsettled_topups(&input, &mut outcome).await;
            let seat_maps = self.repair_seat_maps(&mut outcome).await;
            holds
                .and(payments)
                .and(topups)
                .and(seat_maps)
                .map(|()| outcome)
        }
        .instrument(span)
        .await
    }
}

/// Whether a workflow is running: `None` when it does not exist.
async fn running(client: &Client, workflow_id: String) -> Result<Option<bool>, ActivityError> {
    let handle = client.get_workflow_handle::<UntypedWorkflow>(workflow_id);
    match handle.describe(WorkflowDescribeOptions::default()).await {
        Ok(described) => Ok(Some(described.status() == WorkflowExecutionStatus::Running)),
        Err(WorkflowInteractionError::NotFound(_)) => Ok(None),
        Err(err) => Err(temporal_unreachable(err)),
    }
}

fn temporal_unreachable(err: impl std::fmt::Display) -> ActivityError {
    tracing::warn!(error = %err, "Temporal unreachable; the sweep will retry");
    ActivityError::application(ApplicationFailure::new(err.to_string()))
}

impl SweeperActivities {
    /// Holds past expiry whose workflow has closed or never started: nothing else will ever
    /// release them. A hold whose workflow still runs is left to it (a payment may be running).
    async fn release_stranded_holds(
        &self,
        input: &SweeperInput,
        outcome: &mut SweepOutcome,
    ) -> Result<(), ActivityError> {
        let stale = reservations::stale_holds(&self.pool, input.grace_seconds as i64, BATCH)
            .await
            .map_err(retryable)?;
        for reservation in stale {
            if running(&self.temporal, reservation.workflow_id()).await? == Some(true) {
                continue;
            }
            let seats = reservations::sweep_hold(&self.pool, reservation)
                .await
                .map_err(retryable)?;
            publish_seats(&self.pool, &self.redis, reservation).await?;
            if seats > 0 {
                tracing::warn!(reservation_id = %reservation, seats, "released a hold its workflow left behind");
                outcome.holds_released += 1;
                outcome.seats_released += seats as u64;
                metrics::counter!("seats_swept_total").increment(seats as u64);
            }
        }
        Ok(())
    }

    /// Card payments unsettled long after their hold ended whose checkout workflow is gone
    /// (closed, terminated, never started): a new one asks the provider and settles them.
    async fn nudge_unsettled_payments(
        &self,
        input: &SweeperInput,
        outcome: &mut SweepOutcome,
    ) -> Result<(), ActivityError> {
        let unsettled = payments::unsettled_card_payments(
            &self.pool,
            input.reconcile_after_seconds as i64 * 2,
            BATCH,
        )
        .await
        .map_err(retryable)?;
        for payment in unsettled {
            let workflow_id = checkout_workflow_id(&payment.provider_payment_id);
            if running(&self.temporal, workflow_id.clone()).await? == Some(true) {
                continue; // still working on it (the provider may be down)
            }
            let checkout = CheckoutInput {
                reservation_id: payment.reservation_id.to_string(),
                payment_id: payment.provider_payment_id.clone(),
                amount: payment.amount,
                payment_task_queue: input.payment_task_queue.clone(),
                reconcile_after_seconds: input.reconcile_after_seconds,
                abandon_at_ms: payment.hold_expires_at.timestamp_millis()
                    + input.reconcile_after_seconds as i64 * 1000,
            };
            let options = WorkflowStartOptions::new(input.task_queue.clone(), workflow_id)
                .id_conflict_policy(WorkflowIdConflictPolicy::UseExisting)
                .build();
            self.temporal
                .signal_with_start_workflow(
                    CheckoutWorkflow::run,
                    checkout,
                    CheckoutWorkflow::provider_reported,
                    ProviderReport::default(),
                    options,
                )
                .await
                .map_err(temporal_unreachable)?;
            tracing::warn!(payment_id = %payment.provider_payment_id, "card payment still pending after its hold; asked its checkout to settle it");
            outcome.payments_nudged += 1;
            metrics::counter!("card_payments_nudged_total").increment(1);
        }
        Ok(())
    }

    /// Card top-ups still pending well after they were due to be abandoned whose workflow is
    /// gone: a new one asks the provider and settles them.
    async fn nudge_unsettled_topups(
        &self,
        input: &SweeperInput,
        outcome: &mut SweepOutcome,
    ) -> Result<(), ActivityError> {
        let due_after = input.topup_checkout_seconds + input.reconcile_after_seconds * 2;
        let unsettled =
            topups::unsettled_topups(&self.pool, &input.task_queue, due_after as i64, BATCH)
                .await
                .map_err(retryable)?;
        for topup in unsettled {
            let workflow_id = topup_workflow_id(&topup.provider_payment_id);
            if running(&self.temporal, workflow_id.clone()).await? == Some(true) {
                continue;
            }
            let start = TopupInput {
                topup_id: topup.id.to_string(),
                payment_id: topup.provider_payment_id.clone(),
                amount: topup.amount,
                payment_task_queue: input.payment_task_queue.clone(),
                reconcile_after_seconds: input.reconcile_after_seconds,
                abandon_at_ms: topup.created_at.timestamp_millis()
                    + input.topup_checkout_seconds as i64 * 1000,
            };
            let options = WorkflowStartOptions::new(input.task_queue.clone(), workflow_id)
                .id_conflict_policy(WorkflowIdConflictPolicy::UseExisting)
                .build();
            self.temporal
                .signal_with_start_workflow(
                    TopupWorkflow::run,
                    start,
                    TopupWorkflow::provider_reported,
                    ProviderReport::default(),
                    options,
                )
                .await
                .map_err(temporal_unreachable)?;
            tracing::warn!(payment_id = %topup.provider_payment_id, "card top-up still pending; asked its workflow to settle it");
            outcome.topups_nudged += 1;
            metrics::counter!("topups_nudged_total").increment(1);
        }
        Ok(())
    }

    /// Seat statuses Redis has older than PostgreSQL (an old snapshot, a lost write) are
    /// corrected, so a stale pre-check can't keep a released seat unavailable.
    async fn repair_seat_maps(&self, outcome: &mut SweepOutcome) -> Result<(), ActivityError> {
        let schedules = catalog::schedules_on_sale(&self.pool)
            .await
            .map_err(retryable)?;
        let mut redis = self.redis.clone();
        for schedule in schedules {
            let repaired = seat_cache::repair(&mut redis, &self.pool, schedule)
                .await
                .map_err(retryable_cache)?;
            if repaired > 0 {
                outcome.seat_statuses_repaired += repaired as u64;
                metrics::counter!("seat_statuses_repaired_total").increment(repaired as u64);
            }
        }
        Ok(())
    }
}
