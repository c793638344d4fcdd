//! The worker: one process that polls the reservation task queue. Run as many as you like;
//! Temporal hands each task to one of them.

use anyhow::Context;
use seatline_activities::ReservationActivities;
use seatline_config::Settings;
use seatline_workflows::{AdmissionWorkflow, ReservationWorkflow};
use std::{str::FromStr, time::Duration};
use temporalio_client::{Client, ClientOptions, Connection, ConnectionOptions, Url};
use temporalio_sdk::{Runtime, Worker, WorkerOptions};

pub struct SeatlineWorker {
    worker: Worker,
    // The SDK runtime must outlive the worker it drives.
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
        let redis = redis::Client::open(settings.redis_url.as_str()).context("REDIS_URL")?;
        let redis = redis::aio::ConnectionManager::new(redis)
            .await
            .context("connecting to Redis")?;
        let runtime = Runtime::from_current_tokio(Default::default())
            .map_err(|e| anyhow::anyhow!("starting the Temporal runtime: {e}"))?;
        let client = connect_temporal(settings).await?;
        let options = WorkerOptions::new(settings.task_queue.clone())
            // A worker that dies hands its workflows on after this, not the 10 s default.
            .sticky_queue_schedule_to_start_timeout(Duration::from_secs(3))
            .register_workflow::<ReservationWorkflow>()
            .context("registering ReservationWorkflow")?
            .register_workflow::<AdmissionWorkflow>()
            .context("registering AdmissionWorkflow")?
            .register_activities(ReservationActivities::new(pool, redis))
            .build();
        let worker = Worker::new(&runtime, client, options)
            .map_err(|e| anyhow::anyhow!("creating the worker: {e}"))?;
        Ok(Self {
            worker,
            _runtime: runtime,
        })
    }

    /// Stops polling and lets running tasks finish; `run` returns after that.
    pub fn shutdown_handle(&self) -> impl Fn() + Send + Sync + 'static {
        self.worker.shutdown_handle()
    }

    pub async fn run(mut self) -> anyhow::Result<()> {
        tracing::info!(task_queue = self.worker.task_queue(), "worker polling");
        self.worker
            .run()
            .await
            .map_err(|e| anyhow::anyhow!("worker stopped: {e}"))
    }
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
