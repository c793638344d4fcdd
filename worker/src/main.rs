use seatline_config::Settings;
use seatline_worker::SeatlineWorker;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    seatline_config::init_tracing("info,temporalio_sdk_core=warn");
    let settings = Settings::from_env()?;
    if let Some(port) = settings.worker.metrics_port {
        seatline_worker::serve_metrics(port)?;
    }
    let worker = SeatlineWorker::build(&settings).await?;
    let shutdown = worker.shutdown_handle();
    tokio::spawn(async move {
        let _ = tokio::signal::ctrl_c().await;
        tracing::info!("shutting down");
        shutdown();
    });
    worker.run().await
}
