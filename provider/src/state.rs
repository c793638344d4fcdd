//! The provider's memory: payments, refunds and idempotency keys behind one mutex.

use crate::payment::{PaymentStatus, WebhookEvent};
use axum::body::Bytes;
use chrono::{DateTime, Utc};
use std::{
    collections::HashMap,
    sync::{Arc, Mutex, MutexGuard},
};

/// What a `POST /v1/payments` asked for, normalised: a replayed idempotency key must carry
/// the same request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct PaymentRequest {
    pub reservation_id: String,
    pub amount: i64,
    pub currency: String,
    pub callback_url: String,
    pub return_url: Option<String>,
}

#[derive(Debug, Clone)]
pub(crate) struct Refund {
    pub refund_id: String,
    pub amount: i64,
    pub reason: String,
    pub created_at: DateTime<Utc>,
}

#[derive(Debug, Clone)]
pub(crate) struct SentEvent {
    pub event: WebhookEvent,
    /// True for the deliberately stale event of the `out_of_order` mode.
    pub stale: bool,
}

/// The latest real (not stale) event as sent, for redelivery.
#[derive(Debug, Clone)]
pub(crate) struct LatestEvent {
    pub event_id: String,
    /// The exact body bytes.
    pub body: Bytes,
    /// Seconds added to the signing time of each delivery of it.
    pub sign_skew_seconds: i64,
}

#[derive(Debug, Clone)]
pub(crate) struct Payment {
    pub payment_id: String,
    pub request: PaymentRequest,
    pub status: PaymentStatus,
    pub created_at: DateTime<Utc>,
    /// When it was canceled (PENDING→CANCELED).
    pub canceled_at: Option<DateTime<Utc>>,
    pub refunds: Vec<Refund>,
    pub events: Vec<SentEvent>,
    pub latest_event: Option<LatestEvent>,
    /// HTTP delivery attempts, retries included.
    pub webhook_deliveries: u64,
    /// Attempts the receiver answered with 2xx.
    pub webhook_acknowledged: u64,
    /// Deliveries dispatched and not yet settled (waiting, sending or between retries).
    pub webhook_in_flight: u64,
    /// Deliveries given up: rejected for good by the receiver (a final 4xx), or never
    /// acknowledged within the retry window.
    pub webhook_abandoned: u64,
    /// Why the latest failed attempt failed (`HTTP 503`, a connection error, ...).
    pub webhook_last_failure: Option<String>,
}

impl Payment {
    pub fn refunded_amount(&self) -> i64 {
        self.refunds.iter().map(|r| r.amount).sum()
    }
}

#[derive(Debug, Default)]
pub(crate) struct Store {
    pub payments: HashMap<String, Payment>,
    /// `Idempotency-Key` of `POST /v1/payments` → payment id.
    pub payment_keys: HashMap<String, String>,
    /// `Idempotency-Key` of `POST /v1/refunds` → (payment id, refund id).
    pub refund_keys: HashMap<String, (String, String)>,
}

#[derive(Debug, Clone, Default)]
pub(crate) struct SharedStore(Arc<Mutex<Store>>);

impl SharedStore {
    /// The lock is never held across an await; a poisoned lock still holds usable data.
    pub fn lock(&self) -> MutexGuard<'_, Store> {
        self.0
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}
