//! The worker process. It polls the seat task queue (reservation and admission workflows, and
//! their database and Redis activities) and the payment task queue (activities that talk to
//! the payment provider), or one of them (`WORKER_ROLES`), so payment workers can scale and
//! fail apart from seat workers. Run as many processes as you like: Temporal hands each task
//! to one of them.

use anyhow::Context;
use seatline_activities::{PaymentActivities, ReservationActivities, SweeperActivities};
use seatline_config::Settings;
use seatline_proto::SweeperInput;
use seatline_storage::DatabaseLimits;
use seatline_workflows::{
    sweeper_workflow_id, AdmissionWorkflow, CheckoutWorkflow, RefundWorkflow, ReservationWorkflow,
    SweeperWorkflow, TopupWorkflow,
};
use std::time::Duration;
use temporalio_client::{Client, WorkflowIdConflictPolicy, WorkflowStartOptions};
use temporalio_sdk::{Runtime, Worker, WorkerOptions};

pub struct SeatlineWorker {
    workers: Vec<Worker>,
    // The SDK runtime must outlive the workers it drives.
    _runtime: Runtime,
}

impl SeatlineWorker {
    pub async fn build(settings: &Settings) -> anyhow::Result<Self> {
        let (statement_timeout, lock_timeout) = settings.database.limits();
        let pool = seatline_storage::connect_bounded(
            &settings.database.url,
            settings.database.max_connections,
            DatabaseLimits {
                statement_timeout,
                lock_timeout,
            },
        )
        .await
        .context("connecting to PostgreSQL")?;
        seatline_storage::migrate(&pool)
            .await
            .context("running migrations")?;
        let runtime = Runtime::from_current_tokio(Default::default())
            .map_err(|e| anyhow::anyhow!("starting the Temporal runtime: {e}"))?;
        let client = connect_temporal(settings).await?;
        let roles = settings.worker.roles;
        let mut workers = Vec::new();
        if roles.seats {
            let redis = seatline_storage::connect_redis(&settings.redis.url)
                .await
                .context("connecting to Redis (REDIS_URL)")?;
            let options = WorkerOptions::new(settings.temporal.task_queue.clone())
                // A worker that dies hands its workflows on after this, not the 10 s default.
                .sticky_queue_schedule_to_start_timeout(Duration::from_secs(3))
                .register_workflow::<ReservationWorkflow>()
                .context("registering ReservationWorkflow")?
                .register_workflow::<AdmissionWorkflow>()
                .context("registering AdmissionWorkflow")?
                .register_workflow::<RefundWorkflow>()
                .context("registering RefundWorkflow")?
                .register_workflow::<CheckoutWorkflow>()
                .context("registering CheckoutWorkflow")?
                .register_workflow::<TopupWorkflow>()
                .context("registering TopupWorkflow")?
                .register_workflow::<SweeperWorkflow>()
                .context("registering SweeperWorkflow")?
                .register_activities(ReservationActivities::new(pool.clone(), redis.clone()))
                .register_activities(SweeperActivities::new(pool.clone(), redis, client.clone()))
                .build();
            workers.push(new_worker(&runtime, client.clone(), options)?);
            ensure_sweeper(&client, settings).await?;
        }
        if roles.payments {
            let options = WorkerOptions::new(settings.temporal.payment_task_queue.clone())
                .register_activities(PaymentActivities::new(
                    pool,
                    settings.payments.provider_url.clone(),
                ))
                .build();
            workers.push(new_worker(&runtime, client, options)?);
        }
        Ok(Self {
            workers,
            _runtime: runtime,
        })
    }

    /// Stops polling and lets running tasks finish; `run` returns after that.
    pub fn shutdown_handle(&self) -> impl Fn() + Send + Sync + 'static {
        let handles: Vec<_> = self.workers.iter().map(|w| w.shutdown_handle()).collect();
        move || handles.iter().for_each(|stop| stop())
    }

    pub async fn run(self) -> anyhow::Result<()> {
        let runs = self.workers.into_iter().map(|mut worker| async move {
            tracing::info!(task_queue = worker.task_queue(), "worker polling");
            worker
                .run()
                .await
                .map_err(|e| anyhow::anyhow!("worker stopped: {e}"))
        });
        futures::future::try_join_all(runs).await.map(|_| ())
    }
}

/// Makes sure the deployment's one sweeper runs; Temporal keeps it unique by workflow id
/// however many workers start.
async fn ensure_sweeper(client: &Client, settings: &Settings) -> anyhow::Result<()> {
    let input = SweeperInput {
        interval_seconds: settings.worker.sweep_interval_seconds,
        grace_seconds: settings.worker.sweep_grace_seconds,
        reconcile_after_seconds: settings.payments.reconcile_after_seconds,
        task_queue: settings.temporal.task_queue.clone(),
        payment_task_queue: settings.temporal.payment_task_queue.clone(),
        topup_checkout_seconds: settings.payments.topup_checkout_seconds,
    };
    let options = WorkflowStartOptions::new(
        settings.temporal.task_queue.clone(),
        sweeper_workflow_id(&settings.temporal.task_queue),
    )
    .id_conflict_policy(WorkflowIdConflictPolicy::UseExisting)
    .build();
    client
        .start_workflow(SweeperWorkflow::run, input, options)
        .await
        .map(|_| ())
        .context("starting the sweeper workflow")
}

/// Serves the worker's Prometheus metrics (`seats_swept_total`, …) on `WORKER_METRICS_PORT`.
pub fn serve_metrics(port: u16) -> anyhow::Result<()> {
    metrics_exporter_prometheus::PrometheusBuilder::new()
        .with_http_listener(([127, 0, 0, 1], port))
        .install()
        .context("starting the worker's metrics listener")
}

fn new_worker(runtime: &Runtime, client: Client, options: WorkerOptions) -> anyhow::Result<Worker> {
    Worker::new(runtime, client, options).map_err(|e| anyhow::anyhow!("creating a worker: {e}"))
}

pub use seatline_config::connect_temporal;
