//! The API side of the waiting room: starting a schedule's admission controller, and the gate
//! in front of the seat map, holds and payments.

use crate::{
    error::{ApiError, ApiResult},
    queue_token::{QueueClaims, TokenError},
    state::AppState,
};
use axum::{extract::FromRequestParts, http::request::Parts};
use chrono::Utc;
use seatline_domain::{ScheduleId, UserId};
use seatline_proto::AdmissionInput;
use seatline_storage::waiting_room::{self, Standing};
use seatline_workflows::{AdmissionWorkflow, SCHEDULE_ID};
use temporalio_client::{WorkflowIdConflictPolicy, WorkflowStartOptions};
use temporalio_common::search_attributes::SearchAttributes;

pub const QUEUE_TOKEN_HEADER: &str = "x-queue-token";

/// One controller per schedule per deployment; a deployment is its task queue, so stacks that
/// share a Temporal namespace (dev and test here) never share a controller.
pub fn admission_workflow_id(task_queue: &str, schedule: ScheduleId) -> String {
    format!("admission-{task_queue}-{schedule}")
}

/// Makes sure the schedule's one admission controller runs. Temporal keeps it unique by
/// workflow id however many API processes ask; this process asks at most every 30 seconds
/// per schedule (so a controller an operator terminated comes back).
pub async fn ensure_admission(
    state: &AppState,
    schedule: ScheduleId,
    window: &seatline_storage::catalog::BookingWindow,
) -> ApiResult<()> {
    let recently = state
        .admission_started
        .lock()
        .expect("lock")
        .get(&schedule)
        .is_some_and(|at| at.elapsed() < std::time::Duration::from_secs(30));
    if recently {
        return Ok(());
    }
    let s = &state.settings;
    let input = AdmissionInput {
        schedule_id: schedule.to_string(),
        // The schedule's own settings, or the deployment's; operators retune it live.
        admit_per_second: window
            .admission_rate
            .unwrap_or(s.waiting_room.admission_rate),
        active_cap: window
            .active_cap
            .map_or(s.waiting_room.active_cap, |c| c as u64),
        turn_seconds: s.waiting_room.turn_seconds,
        tick_ms: s.waiting_room.tick_ms,
        paused: false,
        measured_rate: 0.0,
    };
    let options = WorkflowStartOptions::new(
        s.temporal.task_queue.clone(),
        admission_workflow_id(&s.temporal.task_queue, schedule),
    )
    .id_conflict_policy(WorkflowIdConflictPolicy::UseExisting)
    .search_attributes(SearchAttributes::new([
        SCHEDULE_ID.value_set(schedule.to_string())
    ]))
    .build();
    state
        .temporal
        .start_workflow(AdmissionWorkflow::run, input, options)
        .await
        .map_err(|e| ApiError::Unavailable(anyhow::anyhow!("starting admission: {e}")))?;
    state
        .admission_started
        .lock()
        .expect("lock")
        .insert(schedule, std::time::Instant::now());
    Ok(())
}

/// The `X-Queue-Token` header, if any.
pub struct QueueTokenHeader(pub Option<String>);

impl<S: Send + Sync> FromRequestParts<S> for QueueTokenHeader {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        Ok(Self(
            parts
                .headers
                .get(QUEUE_TOKEN_HEADER)
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned),
        ))
    }
}

/// Checks a queue token's signature and owner; says nothing yet about whose turn it is.
pub fn verify_token(state: &AppState, user: UserId, token: Option<&str>) -> ApiResult<QueueClaims> {
    let token = token.ok_or(ApiError::TokenNotFound)?;
    let claims = match state
        .queue_tokens
        .verify(token, Utc::now().timestamp_millis())
    {
        Ok(claims) => claims,
        Err(TokenError::Invalid) => return Err(ApiError::TokenNotFound),
        Err(TokenError::Expired) => return Err(ApiError::TokenExpired),
    };
    if claims.user != user {
        return Err(ApiError::TokenNotFound);
    }
    Ok(claims)
}

/// The gate for paying a live hold: the caller's own token for the hold's schedule. Whose
/// turn it is does not matter (the hold is the proof of it), so paying needs no Redis and
/// survives a turn that ended under the hold or a Redis that lost the line.
pub fn require_hold_token(
    state: &AppState,
    user: UserId,
    token: Option<&str>,
    schedule: ScheduleId,
) -> ApiResult<QueueClaims> {
    let claims = verify_token(state, user, token)?;
    if claims.schedule != schedule {
        return Err(ApiError::TokenNotFound);
    }
    Ok(claims)
}

/// The gate: the caller's own token, for this schedule, whose turn it is now.
pub async fn require_turn(
    state: &AppState,
    user: UserId,
    token: Option<&str>,
    schedule: ScheduleId,
) -> ApiResult<QueueClaims> {
    let claims = require_hold_token(state, user, token, schedule)?;
    let mut redis = state.redis.clone();
    if waiting_room::active_turn_ends(&mut redis, schedule, user)
        .await?
        .is_some()
    {
        return Ok(claims);
    }
    match waiting_room::standing(&mut redis, schedule, user, claims.seq).await? {
        Standing::Active { .. } => Ok(claims),
        Standing::Waiting {
            position, sold_out, ..
        } => Err(ApiError::WrongTokenTurn { position, sold_out }),
        Standing::Expired => Err(ApiError::TokenExpired),
    }
}
