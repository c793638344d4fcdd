use redis::aio::ConnectionManager;
use seatline_config::Settings;
use seatline_storage::Pool;
use std::sync::Arc;
use temporalio_client::Client;

use crate::auth::TokenSigner;

#[derive(Clone)]
pub struct AppState {
    pub pool: Pool,
    pub redis: ConnectionManager,
    pub temporal: Client,
    pub settings: Arc<Settings>,
    pub tokens: TokenSigner,
}
