use seatline_provider::{DeliveryPolicy, MockProvider, ProviderConfig};

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    init_tracing("info");
    let config = ProviderConfig::from_env()?;
    if config.webhook_secret == seatline_provider::DEV_WEBHOOK_SECRET {
        tracing::warn!("WEBHOOK_SECRET is not set: using the development secret");
    }
    let policy = DeliveryPolicy::from_env()?;
    tracing::info!(
        retry_seconds = policy.retry_for.as_secs(),
        max_backoff_ms = policy.max_backoff.as_millis() as u64,
        "webhooks are retried with backoff until acknowledged, for at most retry_seconds"
    );
    MockProvider::build_with(config, policy)
        .await?
        .run_until_stopped()
        .await
}

/// Logs to stdout; `RUST_LOG` filters, `LOG_FORMAT=json` for JSON (as the other services).
fn init_tracing(default_filter: &str) {
    use tracing_subscriber::{fmt, EnvFilter};
    let filter =
        EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(default_filter));
    let builder = fmt().with_env_filter(filter).with_target(false);
    if std::env::var("LOG_FORMAT").is_ok_and(|v| v == "json") {
        builder.json().init();
    } else {
        builder.init();
    }
}
