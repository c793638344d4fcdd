//! `Idempotency-Key` on state-changing POSTs: a replay of the same request returns the first
//! answer (status and body); the same key with another body is 409 IDEMPOTENCY_KEY_REUSED; a
//! replay while the first is still running is 409 IDEMPOTENCY_IN_PROGRESS. Keys are scoped
//! to the caller (requests without a valid bearer token are never replayed), kept 24 hours.

use crate::{
    auth::{authenticate, bearer_token},
    error::ApiError,
    state::AppState,
};
use axum::{
    body::{to_bytes, Body},
    extract::{Request, State},
    http::{HeaderValue, Method, StatusCode},
    middleware::Next,
    response::{IntoResponse, Response},
};
use seatline_storage::idempotency::{self, Claim};
use sha2::{Digest, Sha256};
use tokio_util::sync::CancellationToken;

pub const HEADER: &str = "idempotency-key";
const MAX_BODY: usize = 64 * 1024;

pub async fn idempotent(State(state): State<AppState>, req: Request, next: Next) -> Response {
    // The webhook has its own dedup (event ids); sign-up, login and refresh answers carry
    // tokens, which are never stored.
    let path = req.uri().path();
    if req.method() != Method::POST
        || path == "/api/v1/payments/webhook"
        || path.starts_with("/api/v1/auth/")
    {
        return next.run(req).await;
    }
    let Some(key) = req.headers().get(HEADER).cloned() else {
        return next.run(req).await;
    };
    // Scoped to the caller. Anonymous requests (the demo login) are not replayed: one
    // caller's key must never return another's answer, and those answers carry tokens.
    let Some(scope) = bearer_token(req.headers())
        .and_then(|t| authenticate(&state, t).ok())
        .map(|claims| format!("user:{}", claims.user))
    else {
        return next.run(req).await;
    };
    let key = match key.to_str() {
        Ok(k) if (1..=255).contains(&k.len()) && k.bytes().all(|b| b.is_ascii_graphic()) => {
            k.to_owned()
        }
        _ => {
            return ApiError::Validation("Idempotency-Key is 1 to 255 visible characters".into())
                .into_response()
        }
    };
    let (parts, body) = req.into_parts();
    let Ok(bytes) = to_bytes(body, MAX_BODY).await else {
        return ApiError::MalformedJson("body too large or unreadable".into()).into_response();
    };
    let mut hasher = Sha256::new();
    hasher.update(parts.method.as_str());
    hasher.update(b" ");
    hasher.update(parts.uri.path());
    hasher.update(b"\n");
    hasher.update(&bytes);
    let fingerprint = hex::encode(hasher.finalize());

    match idempotency::claim(&state.pool, &scope, &key, &fingerprint).await {
        Err(err) => return ApiError::from(err).into_response(),
        Ok(Claim::Mismatch) => return ApiError::IdempotencyKeyReused.into_response(),
        Ok(Claim::InProgress) => return ApiError::IdempotencyInProgress.into_response(),
        Ok(Claim::Replay { status, body }) => {
            let status = StatusCode::from_u16(status).unwrap_or(StatusCode::OK);
            let mut response = match body {
                Some(body) => (status, axum::Json(body)).into_response(),
                None => status.into_response(),
            };
            response
                .headers_mut()
                .insert("idempotent-replayed", HeaderValue::from_static("true"));
            return response;
        }
        Ok(Claim::Fresh) => {}
    }

    let response = next
        .run(Request::from_parts(parts, Body::from(bytes)))
        .await;
    let (parts, body) = response.into_parts();
    let bytes = match to_bytes(body, usize::MAX).await {
        Ok(bytes) => bytes,
        Err(err) => {
            let _ = idempotency::abandon(&state.pool, &scope, &key).await;
            return ApiError::internal(anyhow::anyhow!("reading a response: {err}"))
                .into_response();
        }
    };
    let stored = if parts.status.is_server_error() {
        // Worth retrying: forget the key so the same request may run again.
        idempotency::abandon(&state.pool, &scope, &key).await
    } else {
        let json = serde_json::from_slice(&bytes).ok();
        idempotency::complete(&state.pool, &scope, &key, parts.status.as_u16(), json).await
    };
    if let Err(err) = stored {
        tracing::warn!(error = %err, "could not record the idempotent answer");
    }
    Response::from_parts(parts, Body::from(bytes))
}

/// Deletes keys older than a day, every ten minutes, until `stop` is cancelled.
pub fn spawn_purge(state: AppState, stop: CancellationToken) {
    tokio::spawn(async move {
        let mut every = tokio::time::interval(std::time::Duration::from_secs(600));
        loop {
            tokio::select! {
                _ = every.tick() => {}
                _ = stop.cancelled() => return,
            }
            match idempotency::purge_expired(&state.pool).await {
                Ok(n) if n > 0 => tracing::info!(purged = n, "old idempotency keys deleted"),
                Ok(_) => {}
                Err(err) => tracing::warn!(error = %err, "purging idempotency keys"),
            }
        }
    });
}
