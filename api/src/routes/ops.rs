use crate::{
    dto::{Health, Readiness, ReadinessChecks},
    http_metrics,
    state::AppState,
};
use axum::{extract::State, http::StatusCode, Json};
use std::time::Duration;
use temporalio_client::{grpc::WorkflowService, tonic};
use temporalio_common::protos::temporal::api::workflowservice::v1::GetSystemInfoRequest;

/// Liveness: the process answers.
#[utoipa::path(get, path = "/healthz", tag = "operations",
    responses((status = 200, description = "alive", body = Health)))]
pub async fn healthz() -> Json<Health> {
    Json(Health { status: "ok" })
}

/// Prometheus metrics of this API process.
#[utoipa::path(get, path = "/metrics", tag = "operations",
    responses((status = 200, description = "text exposition format", content_type = "text/plain", body = String)))]
pub async fn metrics() -> String {
    http_metrics::handle().render()
}

/// Ready when PostgreSQL, Redis and Temporal all answer, each within a second.
#[utoipa::path(get, path = "/readyz", tag = "operations",
    responses(
        (status = 200, description = "every dependency answers", body = Readiness),
        (status = 503, description = "a dependency is down (see checks)", body = Readiness),
    ))]
pub async fn readyz(State(state): State<AppState>) -> (StatusCode, Json<Readiness>) {
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
        Json(Readiness {
            status: word(ready),
            checks: ReadinessChecks {
                postgres: word(postgres),
                redis: word(redis),
                temporal: word(temporal),
            },
        }),
    )
}
