use crate::{
    auth::AuthUser,
    error::{ApiError, ApiResult},
    extract::IdPath,
    state::AppState,
    waiting_room::{require_turn, QueueTokenHeader},
};
use axum::{extract::State, Json};
use seatline_domain::{ConcertId, ScheduleId};
use seatline_storage::catalog;
use serde_json::{json, Value};

pub async fn list_concerts(State(state): State<AppState>) -> ApiResult<Json<Value>> {
    let concerts = catalog::list_concerts(&state.pool).await?;
    Ok(Json(json!({ "concerts": concerts })))
}

pub async fn list_schedules(
    State(state): State<AppState>,
    IdPath(id): IdPath,
) -> ApiResult<Json<Value>> {
    let concert = ConcertId::from(id);
    if !catalog::concert_exists(&state.pool, concert).await? {
        return Err(ApiError::NotFound("concert"));
    }
    let schedules = catalog::list_schedules(&state.pool, concert).await?;
    Ok(Json(json!({ "schedules": schedules })))
}

pub async fn seat_map(
    State(state): State<AppState>,
    AuthUser(user): AuthUser,
    QueueTokenHeader(token): QueueTokenHeader,
    IdPath(id): IdPath,
) -> ApiResult<Json<Value>> {
    let schedule = ScheduleId::from(id);
    if catalog::booking_window(&state.pool, schedule)
        .await?
        .is_none()
    {
        return Err(ApiError::NotFound("schedule"));
    }
    require_turn(&state, user, token.as_deref(), schedule).await?;
    let seats = catalog::seat_map(&state.pool, schedule).await?;
    let grades = catalog::grade_prices(&state.pool, schedule).await?;
    let available = seats.iter().filter(|s| s.status == "AVAILABLE").count();
    Ok(Json(json!({
        "schedule_id": schedule,
        "total_seats": seats.len(),
        "available_seats": available,
        "grades": grades,
        "seats": seats,
    })))
}
