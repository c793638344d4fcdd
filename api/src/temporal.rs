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
