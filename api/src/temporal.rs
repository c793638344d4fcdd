use anyhow::Context;
use seatline_config::Settings;
use std::str::FromStr;
use temporalio_client::{Client, ClientOptions, Connection, ConnectionOptions, Url};

pub async fn connect(settings: &Settings) -> anyhow::Result<Client> {
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

/// Every call the API makes to Temporal is bounded (`TEMPORAL_CALL_TIMEOUT_MS`): with no
/// workers or no server, a request answers 503 instead of waiting forever and holding its
/// slot. What Temporal accepted still happens; a retry finds it.
pub async fn bounded<F: std::future::Future>(
    state: &crate::state::AppState,
    call: F,
) -> Result<F::Output, tokio::time::error::Elapsed> {
    tokio::time::timeout(state.settings.temporal_call_timeout(), call).await
}
