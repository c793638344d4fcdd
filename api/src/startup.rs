use crate::{
    error::ApiError,
    http_metrics, idempotency,
    queue_token::QueueTokenSigner,
    routes,
    signing::TokenSigner,
    state::{AppState, Shared},
    temporal,
};
use anyhow::Context;
use axum::{
    extract::{DefaultBodyLimit, Request},
    http::StatusCode,
    response::{IntoResponse, Response},
    Router,
};
use seatline_config::ExposeSecret;
use seatline_config::Settings;
use std::{any::Any, sync::Arc, time::Duration};
use tokio::net::TcpListener;
use tokio_util::sync::{CancellationToken, DropGuard};
use tower_http::{catch_panic::CatchPanicLayer, trace::TraceLayer};

/// The API as it runs in production and in tests: `build` connects to PostgreSQL, Redis and
/// Temporal and binds the listener (port 0 picks a free one), `run_until_stopped` serves.
pub struct Application {
    port: u16,
    listener: TcpListener,
    router: Router,
    header_read_timeout: Duration,
    /// Cancels the background tasks (seat-map followers, the idempotency purge) when the
    /// application stops or is dropped.
    background: DropGuard,
}

impl Application {
    pub async fn build(settings: Settings) -> anyhow::Result<Self> {
        let (statement_timeout, lock_timeout) = settings.database.limits();
        let pool = seatline_storage::connect_bounded(
            &settings.database.url,
            settings.database.max_connections,
            seatline_storage::DatabaseLimits {
                statement_timeout,
                lock_timeout,
            },
        )
        .await
        .context("connecting to PostgreSQL")?;
        seatline_storage::migrate(&pool)
            .await
            .context("running migrations")?;
        let redis = seatline_storage::connect_redis(&settings.redis.url)
            .await
            .context("connecting to Redis (REDIS_URL)")?;
        let temporal = temporal::connect(&settings).await?;
        let listener = TcpListener::bind((settings.http.host.as_str(), settings.http.port))
            .await
            .with_context(|| format!("binding {}:{}", settings.http.host, settings.http.port))?;
        let port = listener.local_addr()?.port();
        let public_url = settings
            .http
            .public_url
            .clone()
            .unwrap_or_else(|| format!("http://{}:{port}", settings.http.host));
        let http = reqwest::Client::builder()
            .timeout(std::time::Duration::from_secs(10))
            .build()
            .context("HTTP client")?;
        let catalog = Arc::new(crate::catalog_cache::CatalogCache::default());
        let seat_maps = crate::seat_map::SeatMaps::new(pool.clone(), redis.clone())
            .with_catalog(catalog.clone());
        // Background work lives as long as the application: dropping or stopping it stops them.
        let background = CancellationToken::new();
        seat_maps.spawn_followers(settings.redis.url.clone(), background.clone());
        let revocations = crate::sessions::SessionRevocations::default();
        revocations.spawn_follower(
            pool.clone(),
            settings.accounts.access_token_ttl_seconds,
            background.clone(),
        );
        let state = AppState::new(Shared {
            seat_maps,
            pool,
            redis,
            temporal,
            tokens: TokenSigner::new(settings.secrets.auth.expose_secret()),
            revocations: revocations.clone(),
            stream_tickets: crate::signing::StreamTickets::new(
                settings.secrets.auth.expose_secret(),
            ),
            open_streams: Default::default(),
            http,
            public_url: Arc::new(public_url),
            queue_tokens: QueueTokenSigner::new(settings.secrets.queue_token.expose_secret()),
            admission_started: Default::default(),
            catalog,
            hold_slots: tokio::sync::Semaphore::new(settings.holds_in_flight),
            settings: Arc::new(settings),
        });
        idempotency::spawn_purge(state.clone(), background.clone());
        let header_read_timeout =
            Duration::from_secs(state.settings.http.header_read_timeout_seconds);
        Ok(Self {
            port,
            listener,
            router: router(state),
            header_read_timeout,
            background: background.drop_guard(),
        })
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    pub async fn run_until_stopped(self) -> anyhow::Result<()> {
        tracing::info!(port = self.port, "API listening");
        let Self {
            listener,
            router,
            header_read_timeout,
            background,
            ..
        } = self;
        crate::serve::serve(listener, router, header_read_timeout, async {
            let _ = tokio::signal::ctrl_c().await;
        })
        .await;
        drop(background);
        Ok(())
    }
}

pub fn router(state: AppState) -> Router {
    let _ = http_metrics::handle();
    routes::router()
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            idempotency::idempotent,
        ))
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            bounded_request,
        ))
        .fallback(|| async { ApiError::RouteNotFound })
        .method_not_allowed_fallback(|| async { ApiError::MethodNotAllowed })
        .layer(axum::middleware::from_fn(http_metrics::track))
        .layer(DefaultBodyLimit::max(64 * 1024))
        .layer(TraceLayer::new_for_http().make_span_with(|req: &Request| {
            tracing::info_span!(
                "http",
                method = %req.method(),
                path = %req.uri().path(),
                user_id = tracing::field::Empty,
                reservation_id = tracing::field::Empty,
            )
        }))
        .layer(CatchPanicLayer::custom(panic_response))
        .with_state(state)
}

/// Every request answers within `HTTP_REQUEST_TIMEOUT_SECONDS` (503 past it), except the
/// seat-change streams, which are meant to stay open.
async fn bounded_request(
    axum::extract::State(state): axum::extract::State<AppState>,
    req: Request,
    next: axum::middleware::Next,
) -> Response {
    if req.uri().path().ends_with("/stream") {
        return next.run(req).await;
    }
    let limit = Duration::from_secs(state.settings.http.request_timeout_seconds);
    match tokio::time::timeout(limit, next.run(req)).await {
        Ok(response) => response,
        Err(_) => ApiError::Unavailable(anyhow::anyhow!("request took longer than {limit:?}"))
            .into_response(),
    }
}

fn panic_response(panic: Box<dyn Any + Send + 'static>) -> Response {
    let message = panic
        .downcast_ref::<String>()
        .cloned()
        .or_else(|| panic.downcast_ref::<&str>().map(|s| s.to_string()))
        .unwrap_or_default();
    let mut response =
        ApiError::internal(anyhow::anyhow!("handler panicked: {message}")).into_response();
    *response.status_mut() = StatusCode::INTERNAL_SERVER_ERROR;
    response
}
