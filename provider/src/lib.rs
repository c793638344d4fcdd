//! # Seatline mock payment provider
//!
//! A simulated card payment provider. Buyers pay on its checkout page; it then calls
//! Seatline's webhook with real, HMAC-signed HTTP, and it takes refunds back to the card.
//! State lives in memory: restart it and every payment is gone.
//!
//! ## Configuration ([`ProviderConfig::from_env`], [`DeliveryPolicy::from_env`])
//!
//! | variable | default | meaning |
//! | --- | --- | --- |
//! | `PROVIDER_HOST` | `127.0.0.1` | where it listens |
//! | `PROVIDER_PORT` | `8090` | `0` picks a free port |
//! | `PROVIDER_PUBLIC_URL` | `http://<host>:<port>` | base of the checkout links given out |
//! | `WEBHOOK_SECRET` | a dev-only value | signs webhooks; the API verifies with the same value |
//! | `PROVIDER_WEBHOOK_RETRY_SECONDS` | `86400` | how long an unacknowledged webhook is retried, from its first attempt (0 to 2592000; 0: one attempt) |
//! | `PROVIDER_WEBHOOK_MAX_BACKOFF_MS` | `60000` | the longest wait between two attempts (1 to 3600000) |
//!
//! ## HTTP API (JSON; errors are `{"error":{"code":"...","message":"..."}}` with a 4xx)
//!
//! | method and path | what |
//! | --- | --- |
//! | `POST /v1/payments` `{reservation_id, amount, currency?="KRW", callback_url, return_url?}` | 201 `{payment_id, status: "PENDING", amount, checkout_url, ...}`; an optional `Idempotency-Key` replays the same payment with 200 (a different body under the key: 422 `IDEMPOTENCY_KEY_REUSED`) |
//! | `GET /v1/payments/{payment_id}` | `{payment_id, reservation_id, amount, currency, status: PENDING \| SUCCEEDED \| FAILED \| CANCELED, checkout_url, created_at, canceled_at, refunded_amount, refunds: [{refund_id, amount, reason, created_at}], events: [{event_id, status, occurred_at, stale}], webhook_deliveries, webhook_acknowledged, webhook_in_flight, webhook_abandoned, webhook_last_failure}`; 404 `PAYMENT_NOT_FOUND` |
//! | `GET /v1/payments?reservation_id=...` | `{payments: [...]}`, each as `GET /v1/payments/{payment_id}` shows it, oldest first; without `reservation_id` every payment in memory; 400 `INVALID_RESERVATION_ID` for an empty one |
//! | `POST /v1/payments/{payment_id}/cancel` | abandons a PENDING payment: 200 with the payment, now `CANCELED` (final: the checkout page, its buttons and `/complete` answer 409 `PAYMENT_CANCELED`); a CANCELED one again: 200, unchanged; SUCCEEDED or FAILED: 409 `PAYMENT_ALREADY_COMPLETED` with `error.details: {payment_id, reservation_id, status, amount, refunded_amount}`; 404 `PAYMENT_NOT_FOUND`. No webhook is sent |
//! | `GET /checkout/{payment_id}` | the checkout page (Korean and English): amount, reservation, buttons `data-testid="provider-succeed"` (Pay / 결제) and `data-testid="provider-fail"` (Decline / 거절) |
//! | `POST /checkout/{payment_id}/succeed`, `.../fail` | the page's forms: complete (mode `normal`), then 303 to `return_url` (or to `/checkout/{payment_id}/done`); pressing the same button twice is harmless |
//! | `POST /v1/payments/{payment_id}/complete` `{status, mode?, deliveries?, delay_ms?, sign_skew_seconds?}` | the automation hook for tests; 200 with the payment as `GET` shows it. `sign_skew_seconds` (default 0, within ±86400, else 400 `INVALID_SIGN_SKEW`) signs every delivery of this completion's event (retries, duplicates, the stale event, redeliveries) at `now + sign_skew_seconds`: a provider whose clock is off |
//! | `POST /v1/payments/{payment_id}/redeliver` | 202: sends the latest (non-stale) event again, same `event_id`, same body bytes; 409 `NO_EVENT_YET` before completion |
//! | `POST /v1/refunds` `{payment_id, amount, reason}` + `Idempotency-Key` (required) | 200 `{refund_id, payment_id, amount, status: "SUCCEEDED", ...}`; the same key again returns the same refund; 400 `REFUND_EXCEEDS_PAYMENT` past the captured amount, 409 `PAYMENT_NOT_SUCCEEDED`, 404 `PAYMENT_NOT_FOUND`, 400 `IDEMPOTENCY_KEY_REQUIRED` |
//! | `GET /healthz` | `{"status":"ok"}` |
//!
//! ## Completing a payment
//!
//! PENDING→SUCCEEDED, PENDING→FAILED and FAILED→SUCCEEDED (another card) are allowed;
//! from SUCCEEDED: 409 `ALREADY_SUCCEEDED`; FAILED→FAILED: 409 `ALREADY_FAILED`; from
//! CANCELED: 409 `PAYMENT_CANCELED`; to PENDING or CANCELED: 400 `INVALID_STATUS`. Each
//! completion creates an event
//! `{event_id: "evt_…", reservation_id, payment_id, amount, status, occurred_at}` (RFC 3339)
//! and delivers it in the background according to `mode`:
//!
//! - `normal` (default): once.
//! - `duplicate`: the same event (same `event_id`, same bytes) `deliveries` times (default 5,
//!   at most 100), all at once.
//! - `delay`: once, after `delay_ms` (default 3000, at most 600000).
//! - `out_of_order`: the event, then, once that delivery is settled, a stale event of the
//!   opposite outcome for the same payment (its own `event_id`, `occurred_at` one minute
//!   earlier). Receivers must not go backwards on it.
//!
//! ## Webhook delivery
//!
//! `POST <callback_url>` with `Content-Type: application/json` and
//! `Seatline-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256(WEBHOOK_SECRET, "<t>.<raw body>")>`
//! (see [`webhook_signature`], whose `verify` the receiver uses). Each attempt is signed
//! afresh with the current time (plus the completion's `sign_skew_seconds`). Until the
//! receiver answers 2xx it retries on network errors, timeouts (10 s a request), 5xx, 408,
//! 409, 425 and 429, waiting 200 ms, doubling, up to `PROVIDER_WEBHOOK_MAX_BACKOFF_MS`, for
//! `PROVIDER_WEBHOOK_RETRY_SECONDS` after the first attempt (the last attempt falls at the
//! end of that window); any other 4xx is final (and logged). `webhook_deliveries` counts
//! attempts, `webhook_acknowledged` the deliveries answered 2xx, `webhook_in_flight` those
//! still being sent or retried, `webhook_abandoned` those given up (a final 4xx or the end
//! of the window); `webhook_last_failure` says why the latest failed attempt failed.
//!
//! ## In tests
//!
//! ```no_run
//! # async fn example() -> anyhow::Result<()> {
//! use seatline_provider::{DeliveryPolicy, MockProvider, ProviderConfig};
//! use std::time::Duration;
//! let provider = MockProvider::build(ProviderConfig { port: 0, ..Default::default() }).await?;
//! let base_url = provider.base_url();
//! tokio::spawn(provider.run_until_stopped());
//! // With a retry policy of its own (not read from the environment):
//! let impatient = DeliveryPolicy { retry_for: Duration::from_secs(5), max_backoff: Duration::from_millis(10) };
//! let other = MockProvider::build_with(ProviderConfig { port: 0, ..Default::default() }, impatient).await?;
//! # let _ = (base_url, other); Ok(()) }
//! ```

mod checkout;
mod config;
mod delivery;
mod error;
pub mod payment;
mod routes;
mod state;
pub mod webhook_signature;

pub use config::{DeliveryPolicy, ProviderConfig, DEV_WEBHOOK_SECRET};

use anyhow::Context;
use axum::Router;
use tokio::net::TcpListener;

/// The provider, bound and ready to serve.
pub struct MockProvider {
    port: u16,
    base_url: String,
    listener: TcpListener,
    router: Router,
}

impl MockProvider {
    /// Binds the listener (port 0 picks a free one) and builds the service, with the
    /// webhook retry policy read from the environment ([`DeliveryPolicy::from_env`]).
    pub async fn build(config: ProviderConfig) -> anyhow::Result<Self> {
        let policy = DeliveryPolicy::from_env()?;
        Self::build_with(config, policy).await
    }

    /// Like [`MockProvider::build`], with this webhook retry policy.
    pub async fn build_with(
        config: ProviderConfig,
        policy: DeliveryPolicy,
    ) -> anyhow::Result<Self> {
        let listener = TcpListener::bind((config.host.as_str(), config.port))
            .await
            .with_context(|| format!("binding {}:{}", config.host, config.port))?;
        let port = listener.local_addr()?.port();
        let base_url = config.public_url_for(port);
        let store = state::SharedStore::default();
        let deliverer = delivery::Deliverer::new(&config.webhook_secret, store.clone(), policy)
            .context("building the webhook HTTP client")?;
        tracing::debug!(
            retry_for_s = policy.retry_for.as_secs(),
            max_backoff_ms = policy.max_backoff.as_millis() as u64,
            "webhook delivery policy"
        );
        let router = routes::router(routes::AppState {
            store,
            deliverer,
            public_url: base_url.as_str().into(),
        });
        Ok(Self {
            port,
            base_url,
            listener,
            router,
        })
    }

    /// The port actually bound.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// Where the provider is reached: `PROVIDER_PUBLIC_URL`, or `http://<host>:<port>`.
    /// No trailing slash.
    pub fn base_url(&self) -> String {
        self.base_url.clone()
    }

    /// Serves until Ctrl-C.
    pub async fn run_until_stopped(self) -> anyhow::Result<()> {
        tracing::info!(port = self.port, base_url = %self.base_url, "mock payment provider listening");
        axum::serve(self.listener, self.router)
            .with_graceful_shutdown(async {
                let _ = tokio::signal::ctrl_c().await;
                tracing::info!("mock payment provider shutting down");
            })
            .await
            .context("serving HTTP")
    }
}
