use crate::{http_metrics, openapi, state::AppState};
use axum::{extract::State, http::StatusCode, response::IntoResponse, routing::get, Json, Router};
use serde_json::json;
use std::time::Duration;
use temporalio_client::{grpc::WorkflowService, tonic};
use temporalio_common::protos::temporal::api::workflowservice::v1::GetSystemInfoRequest;
use utoipa_swagger_ui::SwaggerUi;

pub fn router() -> Router<AppState> {
    Router::new()
        .route(
            "/healthz",
            get(|| async { Json(json!({ "status": "ok" })) }),
        )
        .route("/readyz", get(readyz))
        .route(
            "/metrics",
            get(|| async { http_metrics::handle().render() }),
        )
        .merge(SwaggerUi::new("/docs").external_url_unchecked("/openapi.json", openapi::document()))
}

/// Ready when PostgreSQL, Redis and Temporal all answer, each within a second.
async fn readyz(State(state): State<AppState>) -> impl IntoResponse {
    let limit = Duration::from_secs(1);
    let postgres = tokio::time::timeout(limit, seatline_storage::ping(&state.pool))
        .await
        .is_ok_and(|r| r.is_ok());
    let mut redis = state.redis.clone();
    let redis = tokio::time::timeout(limit, redis::cmd("PING").query_async::<String>(&mut redis))
        .await
        .is_ok_and(|r| r.is_ok());
    let mut temporal = state.temporal.clone();
    let temporal = tokio::time::timeout(
        limit,
        temporal.get_system_info(tonic::Request::new(GetSystemInfoRequest::default())),
    )
    .await
    .is_ok_and(|r| r.is_ok());
    let ready = postgres && redis && temporal;
    let status = if ready {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    let word = |ok: bool| if ok { "ok" } else { "down" };
    (
        status,
        Json(json!({
            "status": word(ready),
            "checks": { "postgres": word(postgres), "redis": word(redis), "temporal": word(temporal) }
        })),
    )
}
