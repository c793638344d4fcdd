pub use seatline_config::connect_temporal as connect;

/// Every call the API makes to Temporal is bounded (`TEMPORAL_CALL_TIMEOUT_MS`): with no
/// workers or no server, a request answers 503 instead of waiting forever and holding its
/// slot. What Temporal accepted still happens; a retry finds it.
pub async fn bounded<F: std::future::Future>(
    state: &crate::state::AppState,
    call: F,
) -> Result<F::Output, tokio::time::error::Elapsed> {
    tokio::time::timeout(state.settings.temporal.call_timeout(), call).await
}
