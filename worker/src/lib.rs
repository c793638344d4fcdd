//! The worker process. It polls the seat task queue (reservation and admission workflows, and
//! their database and Redis activities) and the payment task queue (activities that talk to
//! the payment provider), or one of them (`WORKER_ROLES`), so payment workers can scale and
//! fail apart from seat workers. Run as many processes as you like: Temporal hands each task
//! to one of them.

use anyhow::Context;
use seatline_activities::{PaymentActivities, ReservationActivities};
use seatline_config::Settings;
use seatline_workflows::{AdmissionWorkflow, RefundWorkflow, ReservationWorkflow};
use std::{str::FromStr, time::Duration};
use temporalio_client::{Client, ClientOptions, Connection, ConnectionOptions, Url};
use temporalio_sdk::{Runtime, Worker, WorkerOptions};

pub struct SeatlineWorker {
    workers: Vec<Worker>,
    // The SDK runtime must outlive the workers it drives.
    _runtime: Runtime,
}

impl SeatlineWorker {
    pub async fn build(settings: &Settings) -> anyhow::Result<Self> {
        let pool =
            seatline_storage::connect(&settings.database_url, settings.database_max_connections)
                .await
                .context("connecting to PostgreSQL")?;
        seatline_storage::migrate(&pool)
            .await
            .context("running migrations")?;
        let runtime = Runtime::from_current_tokio(Default::default())
            .map_err(|e| anyhow::anyhow!("starting the Temporal runtime: {e}"))?;
        let client = connect_temporal(settings).await?;
        let roles: Vec<&str> = settings.worker_roles.split(',').map(str::trim).collect();
        let mut workers = Vec::new();
        if roles.contains(&"seats") {
            let redis = redis::Client::open(settings.redis_url.as_str()).context("REDIS_URL")?;
            let redis = redis::aio::ConnectionManager::new(redis)
                .await
                .context("connecting to Redis")?;
            let options = WorkerOptions::new(settings.task_queue.clone())
                // A worker that dies hands its workflows on after this, not the 10 s default.
                .sticky_queue_schedule_to_start_timeout(Duration::from_secs(3))
                .register_workflow::<ReservationWorkflow>()
                .context("registering ReservationWorkflow")?
                .register_workflow::<AdmissionWorkflow>()
                .context("registering AdmissionWorkflow")?
                .register_workflow::<RefundWorkflow>()
                .context("registering RefundWorkflow")?
                .register_activities(ReservationActivities::new(pool.clone(), redis))
                .build();
            workers.push(new_worker(&runtime, client.clone(), options)?);
        }
        if roles.contains(&"payments") {
            let options = WorkerOptions::new(settings.payment_task_queue.clone())
                .register_activities(PaymentActivities::new(pool, settings.provider_url.clone()))
                .build();
            workers.push(new_worker(&runtime, client, options)?);
        }
        anyhow::ensure!(
            !workers.is_empty(),
            "WORKER_ROLES names no role: use seats, payments"
        );
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

fn new_worker(runtime: &Runtime, client: Client, options: WorkerOptions) -> anyhow::Result<Worker> {
    Worker::new(runtime, client, options).map_err(|e| anyhow::anyhow!("creating a worker: {e}"))
}

pub async fn connect_temporal(settings: &Settings) -> anyhow::Result<Client> {
    let url = Url::from_str(&settings.temporal_address).context("TEMPORAL_ADDRESS")?;
    let connection = Connection::connect(ConnectionOptions::new(url).build())
        .await
        .context("connecting to Temporal")?;
    Client::new(
        connection,
        ClientOptions::new(settings.temporal_namespace.clone()).build(),
    )
    .context("creating the Temporal client")
}
