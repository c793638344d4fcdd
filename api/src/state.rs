use crate::{queue_token::QueueTokenSigner, sessions::SessionRevocations, signing::TokenSigner};
use redis::aio::ConnectionManager;
use seatline_config::Settings;
use seatline_domain::ScheduleId;
use seatline_storage::Pool;
use std::{
    collections::HashMap,
    ops::Deref,
    sync::{Arc, Mutex},
};
use temporalio_client::Client;

/// What every handler shares. Handlers clone it once or more per request, so it is one `Arc`:
/// a clone is one reference count, not one per field.
#[derive(Clone)]
pub struct AppState(Arc<Shared>);

impl AppState {
    pub fn new(shared: Shared) -> Self {
        Self(Arc::new(shared))
    }
}

impl Deref for AppState {
    type Target = Shared;

    fn deref(&self) -> &Shared {
        &self.0
    }
}

pub struct Shared {
    pub pool: Pool,
    pub redis: ConnectionManager,
    pub temporal: Client,
    pub settings: Arc<Settings>,
    pub tokens: TokenSigner,
    /// Sessions ended recently: their access tokens are refused.
    pub revocations: SessionRevocations,
    pub stream_tickets: crate::signing::StreamTickets,
    /// Seat-change streams open on this process, per account (`MAX_STREAMS_PER_ACCOUNT`).
    pub open_streams: Mutex<HashMap<seatline_domain::UserId, usize>>,
    pub seat_maps: crate::seat_map::SeatMaps,
    pub catalog: Arc<crate::catalog_cache::CatalogCache>,
    /// For calls to the payment provider.
    pub http: reqwest::Client,
    /// How the provider and browsers reach this API.
    pub public_url: Arc<String>,
    pub queue_tokens: QueueTokenSigner,
    /// When this process last made sure each schedule's admission controller runs.
    pub admission_started: Mutex<HashMap<ScheduleId, std::time::Instant>>,
    /// Slots for holds waiting on Temporal (`HOLDS_IN_FLIGHT`).
    pub hold_slots: tokio::sync::Semaphore,
}
