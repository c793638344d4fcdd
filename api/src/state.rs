use redis::aio::ConnectionManager;
use seatline_config::Settings;
use seatline_storage::Pool;
use std::sync::Arc;
use temporalio_client::Client;

use crate::{auth::TokenSigner, queue_token::QueueTokenSigner};
use seatline_domain::ScheduleId;
use std::{collections::HashMap, sync::Mutex};

#[derive(Clone)]
pub struct AppState {
    pub pool: Pool,
    pub redis: ConnectionManager,
    pub temporal: Client,
    pub settings: Arc<Settings>,
    pub tokens: TokenSigner,
    pub seat_maps: crate::seat_map::SeatMaps,
    /// For calls to the payment provider.
    pub http: reqwest::Client,
    /// How the provider and browsers reach this API.
    pub public_url: Arc<String>,
    pub queue_tokens: QueueTokenSigner,
    /// When this process last made sure each schedule's admission controller runs.
    pub admission_started: Arc<Mutex<HashMap<ScheduleId, std::time::Instant>>>,
}
