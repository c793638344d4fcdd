//! The organizer's API (halls, concerts, schedules, prices, withheld seats) and the operator's
//! (the line, the sales view, cancelling a hold). Organizers change only what they created;
//! every change lands in the audit log with its actor and reaches every API process's caches
//! within a second.

use super::reservations::{outcome_error, settle_through_workflow};
use crate::{
    auth::Caller,
    dto::{
        AdminConcert, AdminConcerts, AdminEvent, AdminEvents, AdminSchedule, AdmissionCommand,
        AdmissionState, ConcertEdit, ErrorBody, GradePrice, GradePriceBody, GradeSales, Hall,
        HallGrade, HallUpload, Halls, NewConcert, NewScheduleBody, OperatorCancel,
        SaleSettingsBody, SalesView, ScheduleEditBody, WithheldSeats, WithholdSeats,
    },
    error::{ApiError, ApiResult},
    extract::{IdPath, JsonBody},
    state::AppState,
    temporal::bounded,
    waiting_room::admission_workflow_id,
};
use axum::{
    extract::{FromRequestParts, State},
    http::{request::Parts, StatusCode},
    Json,
};
use seatline_domain::{HallLayout, RawSeat, ReservationId, Role, ScheduleId, Settlement};
use seatline_proto::{AdmissionTuning, CancelRequest};
use seatline_storage::{
    admin::{self, AdminActor, NewSchedule, SaleSettings, ScheduleEdit, ScheduleError},
    catalog, reservations, seat_cache,
};
use seatline_workflows::{AdmissionWorkflow, ReservationWorkflow};
use temporalio_client::{WorkflowQueryOptions, WorkflowSignalOptions};
use uuid::Uuid;

/// Redis channel on which every API process hears that a schedule's layout, prices or
/// publication changed, and drops what it keeps of it.
pub const CATALOG_CHANNEL: &str = "seatline:catalog-changes";

/// The largest layout upload: 50,000 seats as JSON rows fit.
pub const MAX_LAYOUT_BYTES: usize = 8 * 1024 * 1024;

/// An organizer, checked before the path and the body are read: nobody else learns what the
/// endpoint would accept.
pub struct Organizer(AdminActor);

/// An operator, checked the same way.
pub struct Operator(AdminActor);

impl FromRequestParts<AppState> for Organizer {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let caller = Caller::from_request_parts(parts, state).await?;
        Ok(Self(actor(&caller, Role::Organizer)?))
    }
}

impl FromRequestParts<AppState> for Operator {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let caller = Caller::from_request_parts(parts, state).await?;
        Ok(Self(actor(&caller, Role::Operator)?))
    }
}

fn actor(caller: &Caller, role: Role) -> ApiResult<AdminActor> {
    caller.require(role)?;
    Ok(AdminActor {
        user: caller.0.user,
        role,
    })
}

fn text(value: &str, what: &str, max: usize) -> ApiResult<String> {
    let value = value.trim();
    if value.is_empty() || value.chars().count() > max {
        return Err(ApiError::Validation(format!(
            "{what} is 1 to {max} characters"
        )));
    }
    Ok(value.to_owned())
}

fn grade_prices(prices: &[GradePriceBody]) -> ApiResult<Vec<(String, i64)>> {
    prices
        .iter()
        .map(|g| {
            if !(0..=seatline_domain::MAX_SEAT_PRICE).contains(&g.price) {
                return Err(ApiError::Validation(format!(
                    "grade {}: a price is 0 to {}",
                    g.grade,
                    seatline_domain::MAX_SEAT_PRICE
                )));
            }
            Ok((g.grade.trim().to_owned(), g.price))
        })
        .collect()
}

fn sale_settings(body: &SaleSettingsBody) -> ApiResult<SaleSettings> {
    let bad = |what: &str| Err(ApiError::Validation(what.to_owned()));
    if body
        .seats_per_buyer
        .is_some_and(|n| !(1..=100).contains(&n))
    {
        return bad("seats_per_buyer is 1 to 100");
    }
    if body
        .hold_seconds
        .is_some_and(|n| !(30..=3_600).contains(&n))
    {
        return bad("hold_seconds is 30 to 3,600");
    }
    if body
        .admission_rate
        .is_some_and(|r| !(r.is_finite() && r > 0.0 && r <= 100_000.0))
    {
        return bad("admission_rate is above 0 and at most 100,000 per second");
    }
    if body
        .active_cap
        .is_some_and(|n| !(1..=1_000_000).contains(&n))
    {
        return bad("active_cap is 1 to 1,000,000");
    }
    Ok(SaleSettings {
        seats_per_buyer: body.seats_per_buyer,
        hold_seconds: body.hold_seconds,
        admission_rate: body.admission_rate,
        active_cap: body.active_cap,
    })
}

/// Tells every API process (this one included) to drop what it keeps of the catalogue.
async fn announce_change(state: &AppState, schedule: Option<ScheduleId>) {
    let mut redis = state.redis.clone();
    let payload = schedule.map(|s| s.to_string()).unwrap_or_default();
    let sent: redis::RedisResult<i64> = redis::cmd("PUBLISH")
        .arg(CATALOG_CHANNEL)
        .arg(payload)
        .query_async(&mut redis)
        .await;
    if let Err(err) = sent {
        // The caches also expire by themselves (listings within a second).
        tracing::warn!(error = %err, "catalogue change not announced");
    }
    match schedule {
        Some(s) => state.seat_maps.forget(s),
        None => state.seat_maps.forget_all(),
    }
    state.catalog.clear();
}

/// A concert of this organizer's, or 404 (someone else's looks the same as none).
async fn own_concert(state: &AppState, who: AdminActor, id: Uuid) -> ApiResult<()> {
    match admin::concert_owner(&state.pool, id).await? {
        Some(Some(owner)) if owner == who.user.as_uuid() => Ok(()),
        _ => Err(ApiError::NotFound("concert")),
    }
}

async fn own_schedule(state: &AppState, who: AdminActor, id: ScheduleId) -> ApiResult<()> {
    match admin::schedule_owner(&state.pool, id).await? {
        Some(Some(owner)) if owner == who.user.as_uuid() => Ok(()),
        _ => Err(ApiError::NotFound("schedule")),
    }
}

// --- halls ------------------------------------------------------------------------------------

/// Create a hall from a layout (JSON rows or CSV), checked whole: 422 `LAYOUT_INVALID` names
/// every problem by its row.
#[utoipa::path(post, path = "/admin/halls", tag = "organizer", security(("bearer" = [])),
    request_body = HallUpload,
    responses(
        (status = 201, description = "the hall", body = Hall),
        (status = 400, description = "MALFORMED_JSON", body = ErrorBody),
        (status = 401, description = "UNAUTHORIZED", body = ErrorBody),
        (status = 403, description = "FORBIDDEN: not an organizer", body = ErrorBody),
        (status = 422, description = "VALIDATION_FAILED · LAYOUT_INVALID (details.problems: row, message)", body = ErrorBody),
    ))]
#[tracing::instrument(skip_all)]
pub async fn create_hall(
    State(state): State<AppState>,
    Organizer(who): Organizer,
    JsonBody(body): JsonBody<HallUpload>,
) -> ApiResult<(StatusCode, Json<Hall>)> {
    let name = text(&body.name, "name", 100)?;
    let grades: Vec<(String, i64)> = body
        .grades
        .iter()
        .map(|g| (g.grade.clone(), g.price))
        .collect();
    let layout = match (body.seats, body.seats_csv) {
        (Some(seats), None) => HallLayout::parse(
            grades,
            seats
                .into_iter()
                .map(|s| RawSeat {
                    section: s.section,
                    row: s.row,
                    number: s.number,
                    grade: s.grade,
                    x: s.x,
                    y: s.y,
                })
                .collect(),
        ),
        (None, Some(csv)) => HallLayout::parse_csv(grades, &csv),
        _ => {
            return Err(ApiError::Validation(
                "send the seats as `seats` (JSON rows) or `seats_csv` (CSV text), one of them"
                    .into(),
            ))
        }
    }
    .map_err(|problems| ApiError::LayoutInvalid { problems })?;
    let id = Uuid::new_v4();
    admin::create_hall(&state.pool, who, id, &name, &layout).await?;
    let hall = hall_answer(&state, id, name).await?;
    Ok((StatusCode::CREATED, Json(hall)))
}

async fn hall_answer(state: &AppState, id: Uuid, name: String) -> ApiResult<Hall> {
    let grades = admin::hall_grades(&state.pool, id).await?;
    Ok(Hall {
        hall_id: id,
        name,
        seats: grades.iter().map(|g| g.2).sum(),
        grades: grades
            .into_iter()
            .map(|(grade, price, seats)| HallGrade {
                grade,
                price,
                seats,
            })
            .collect(),
    })
}

/// The caller's halls.
#[utoipa::path(get, path = "/admin/halls", tag = "organizer", security(("bearer" = [])),
    responses(
        (status = 200, description = "halls", body = Halls),
        (status = 401, description = "UNAUTHORIZED", body = ErrorBody),
        (status = 403, description = "FORBIDDEN: not an organizer", body = ErrorBody),
    ))]
pub async fn list_halls(
    State(state): State<AppState>,
    Organizer(who): Organizer,
) -> ApiResult<Json<Halls>> {
    let mut halls = Vec::new();
    for h in admin::halls(&state.pool, who.user).await? {
        halls.push(hall_answer(&state, h.id, h.name).await?);
    }
    Ok(Json(Halls { halls }))
}

// --- concerts ---------------------------------------------------------------------------------

fn concert_answer(c: admin::AdminConcert) -> AdminConcert {
    AdminConcert {
        concert_id: c.id,
        title: c.title,
        artist: c.artist,
        venue: c.venue,
        published_at: c.published_at,
        created_at: c.created_at,
    }
}

async fn concert_of(state: &AppState, id: Uuid) -> ApiResult<AdminConcert> {
    admin::concert(&state.pool, id)
        .await?
        .map(concert_answer)
        .ok_or(ApiError::NotFound("concert"))
}

/// Create a concert, as a draft.
#[utoipa::path(post, path = "/admin/concerts", tag = "organizer", security(("bearer" = [])),
    request_body = NewConcert,
    responses(
        (status = 201, description = "the concert, unpublished", body = AdminConcert),
        (status = 400, description = "MALFORMED_JSON", body = ErrorBody),
        (status = 401, description = "UNAUTHORIZED", body = ErrorBody),
        (status = 403, description = "FORBIDDEN: not an organizer", body = ErrorBody),
        (status = 422, description = "VALIDATION_FAILED", body = ErrorBody),
    ))]
pub async fn create_concert(
    State(state): State<AppState>,
    Organizer(who): Organizer,
    JsonBody(body): JsonBody<NewConcert>,
) -> ApiResult<(StatusCode, Json<AdminConcert>)> {
    let (title, artist, venue) = (
        text(&body.title, "title", 200)?,
        text(&body.artist, "artist", 200)?,
        text(&body.venue, "venue", 200)?,
    );
    let id = Uuid::new_v4();
    admin::create_concert(&state.pool, who, id, &title, &artist, &venue).await?;
    Ok((StatusCode::CREATED, Json(concert_of(&state, id).await?)))
}

/// The caller's concerts, drafts included.
#[utoipa::path(get, path = "/admin/concerts", tag = "organizer", security(("bearer" = [])),
    responses(
        (status = 200, description = "concerts", body = AdminConcerts),
        (status = 401, description = "UNAUTHORIZED", body = ErrorBody),
        (status = 403, description = "FORBIDDEN: not an organizer", body = ErrorBody),
    ))]
pub async fn list_concerts(
    State(state): State<AppState>,
    Organizer(who): Organizer,
) -> ApiResult<Json<AdminConcerts>> {
    let concerts = admin::concerts(&state.pool, who.user).await?;
    Ok(Json(AdminConcerts {
        concerts: concerts.into_iter().map(concert_answer).collect(),
    }))
}

/// Change a concert's title, artist or venue.
#[utoipa::path(patch, path = "/admin/concerts/{id}", tag = "organizer", security(("bearer" = [])),
    params(("id" = Uuid, Path)), request_body = ConcertEdit,
    responses(
        (status = 200, description = "the concert", body = AdminConcert),
        (status = 400, description = "MALFORMED_JSON", body = ErrorBody),
        (status = 401, description = "UNAUTHORIZED", body = ErrorBody),
        (status = 403, description = "FORBIDDEN: not an organizer", body = ErrorBody),
        (status = 404, description = "NOT_FOUND: unknown, or another organizer's", body = ErrorBody),
        (status = 422, description = "VALIDATION_FAILED", body = ErrorBody),
    ))]
pub async fn edit_concert(
    State(state): State<AppState>,
    Organizer(who): Organizer,
    IdPath(id): IdPath,
    JsonBody(body): JsonBody<ConcertEdit>,
) -> ApiResult<Json<AdminConcert>> {
    own_concert(&state, who, id).await?;
    let field = |v: &Option<String>, what: &str| -> ApiResult<Option<String>> {
        v.as_deref().map(|v| text(v, what, 200)).transpose()
    };
    let (title, artist, venue) = (
        field(&body.title, "title")?,
        field(&body.artist, "artist")?,
        field(&body.venue, "venue")?,
    );
    admin::update_concert(
        &state.pool,
        who,
        id,
        title.as_deref(),
        artist.as_deref(),
        venue.as_deref(),
    )
    .await?;
    announce_change(&state, None).await;
    Ok(Json(concert_of(&state, id).await?))
}

async fn set_concert_published(
    state: AppState,
    who: AdminActor,
    id: Uuid,
    published: bool,
) -> ApiResult<Json<AdminConcert>> {
    own_concert(&state, who, id).await?;
    admin::publish_concert(&state.pool, who, id, published).await?;
    announce_change(&state, None).await;
    Ok(Json(concert_of(&state, id).await?))
}

/// Publish a concert: buyers see it (with its published schedules).
#[utoipa::path(post, path = "/admin/concerts/{id}/publish", tag = "organizer",
    security(("bearer" = [])), params(("id" = Uuid, Path)),
    responses(
        (status = 200, description = "the concert", body = AdminConcert),
        (status = 401, description = "UNAUTHORIZED", body = ErrorBody),
        (status = 403, description = "FORBIDDEN: not an organizer", body = ErrorBody),
        (status = 404, description = "NOT_FOUND: unknown, or another organizer's", body = ErrorBody),
    ))]
pub async fn publish_concert(
    State(state): State<AppState>,
    Organizer(who): Organizer,
    IdPath(id): IdPath,
) -> ApiResult<Json<AdminConcert>> {
    set_concert_published(state, who, id, true).await
}

/// Unpublish a concert: buyers no longer see it.
#[utoipa::path(post, path = "/admin/concerts/{id}/unpublish", tag = "organizer",
    security(("bearer" = [])), params(("id" = Uuid, Path)),
    responses(
        (status = 200, description = "the concert", body = AdminConcert),
        (status = 401, description = "UNAUTHORIZED", body = ErrorBody),
        (status = 403, description = "FORBIDDEN: not an organizer", body = ErrorBody),
        (status = 404, description = "NOT_FOUND: unknown, or another organizer's", body = ErrorBody),
    ))]
pub async fn unpublish_concert(
    State(state): State<AppState>,
    Organizer(who): Organizer,
    IdPath(id): IdPath,
) -> ApiResult<Json<AdminConcert>> {
    set_concert_published(state, who, id, false).await
}

// --- schedules --------------------------------------------------------------------------------

fn schedule_error(err: ScheduleError) -> ApiError {
    match err {
        ScheduleError::UnknownConcert => ApiError::NotFound("concert"),
        ScheduleError::UnknownHall => ApiError::NotFound("hall"),
        ScheduleError::UnknownSchedule => ApiError::NotFound("schedule"),
        ScheduleError::UnknownGrade(g) => {
            ApiError::Validation(format!("the hall has no grade {g}"))
        }
        ScheduleError::HasSales(why) => ApiError::ScheduleHasSales(why),
        ScheduleError::Database(err) => err.into(),
    }
}

async fn schedule_answer(state: &AppState, id: ScheduleId) -> ApiResult<AdminSchedule> {
    let s = admin::schedule(&state.pool, id)
        .await?
        .ok_or(ApiError::NotFound("schedule"))?;
    let grades = catalog::grade_prices(&state.pool, id).await?;
    Ok(AdminSchedule {
        schedule_id: s.id,
        concert_id: s.concert_id,
        hall_id: s.hall_id,
        starts_at: s.starts_at,
        booking_opens_at: s.booking_opens_at,
        booking_closes_at: s.booking_closes_at,
        published_at: s.published_at,
        settings: SaleSettingsBody {
            seats_per_buyer: s.seats_per_buyer,
            hold_seconds: s.hold_seconds,
            admission_rate: s.admission_rate,
            active_cap: s.active_cap,
        },
        grades: grades.into_iter().map(GradePrice::from).collect(),
    })
}

fn check_window(
    starts: chrono::DateTime<chrono::Utc>,
    opens: chrono::DateTime<chrono::Utc>,
    closes: chrono::DateTime<chrono::Utc>,
) -> ApiResult<()> {
    if opens >= closes {
        return Err(ApiError::Validation(
            "booking_opens_at comes before booking_closes_at".into(),
        ));
    }
    if closes > starts {
        return Err(ApiError::Validation(
            "booking closes at the latest when the show starts".into(),
        ));
    }
    Ok(())
}

/// Create a schedule of a concert in one of the caller's halls, as a draft: its booking
/// window, sale settings and prices per grade.
#[utoipa::path(post, path = "/admin/concerts/{id}/schedules", tag = "organizer",
    security(("bearer" = [])), params(("id" = Uuid, Path)), request_body = NewScheduleBody,
    responses(
        (status = 201, description = "the schedule, unpublished", body = AdminSchedule),
        (status = 400, description = "MALFORMED_JSON", body = ErrorBody),
        (status = 401, description = "UNAUTHORIZED", body = ErrorBody),
        (status = 403, description = "FORBIDDEN: not an organizer", body = ErrorBody),
        (status = 404, description = "NOT_FOUND: unknown concert or hall, or another organizer's", body = ErrorBody),
        (status = 422, description = "VALIDATION_FAILED", body = ErrorBody),
    ))]
#[tracing::instrument(skip_all, fields(concert_id = %id))]
pub async fn create_schedule(
    State(state): State<AppState>,
    Organizer(who): Organizer,
    IdPath(id): IdPath,
    JsonBody(body): JsonBody<NewScheduleBody>,
) -> ApiResult<(StatusCode, Json<AdminSchedule>)> {
    own_concert(&state, who, id).await?;
    if admin::hall_owner(&state.pool, body.hall_id).await? != Some(Some(who.user.as_uuid())) {
        return Err(ApiError::NotFound("hall"));
    }
    check_window(
        body.starts_at,
        body.booking_opens_at,
        body.booking_closes_at,
    )?;
    let new = NewSchedule {
        id: Uuid::new_v4(),
        concert: id,
        hall: body.hall_id,
        starts_at: body.starts_at,
        booking_opens_at: body.booking_opens_at,
        booking_closes_at: body.booking_closes_at,
        settings: sale_settings(&body.settings)?,
        prices: grade_prices(&body.prices)?,
    };
    admin::create_schedule(&state.pool, who, &new)
        .await
        .map_err(schedule_error)?;
    let answer = schedule_answer(&state, ScheduleId::from(new.id)).await?;
    Ok((StatusCode::CREATED, Json(answer)))
}

/// A schedule of the caller's.
#[utoipa::path(get, path = "/admin/schedules/{id}", tag = "organizer",
    security(("bearer" = [])), params(("id" = Uuid, Path)),
    responses(
        (status = 200, description = "the schedule", body = AdminSchedule),
        (status = 401, description = "UNAUTHORIZED", body = ErrorBody),
        (status = 403, description = "FORBIDDEN: not an organizer", body = ErrorBody),
        (status = 404, description = "NOT_FOUND: unknown, or another organizer's", body = ErrorBody),
    ))]
pub async fn get_schedule(
    State(state): State<AppState>,
    Organizer(who): Organizer,
    IdPath(id): IdPath,
) -> ApiResult<Json<AdminSchedule>> {
    let id = ScheduleId::from(id);
    own_schedule(&state, who, id).await?;
    Ok(Json(schedule_answer(&state, id).await?))
}

/// Change a schedule: its window, hall (only before any reservation), sale settings and
/// prices (not of a grade with held or sold seats): 409 `SCHEDULE_HAS_SALES` says why not.
#[utoipa::path(patch, path = "/admin/schedules/{id}", tag = "organizer",
    security(("bearer" = [])), params(("id" = Uuid, Path)), request_body = ScheduleEditBody,
    responses(
        (status = 200, description = "the schedule", body = AdminSchedule),
        (status = 400, description = "MALFORMED_JSON", body = ErrorBody),
        (status = 401, description = "UNAUTHORIZED", body = ErrorBody),
        (status = 403, description = "FORBIDDEN: not an organizer", body = ErrorBody),
        (status = 404, description = "NOT_FOUND: unknown schedule or hall, or another organizer's", body = ErrorBody),
        (status = 409, description = "SCHEDULE_HAS_SALES: what was asked would change what buyers have", body = ErrorBody),
        (status = 422, description = "VALIDATION_FAILED", body = ErrorBody),
    ))]
#[tracing::instrument(skip_all, fields(schedule_id = %id))]
pub async fn edit_schedule(
    State(state): State<AppState>,
    Organizer(who): Organizer,
    IdPath(id): IdPath,
    JsonBody(body): JsonBody<ScheduleEditBody>,
) -> ApiResult<Json<AdminSchedule>> {
    let id = ScheduleId::from(id);
    own_schedule(&state, who, id).await?;
    if let Some(hall) = body.hall_id {
        if admin::hall_owner(&state.pool, hall).await? != Some(Some(who.user.as_uuid())) {
            return Err(ApiError::NotFound("hall"));
        }
    }
    let current = admin::schedule(&state.pool, id)
        .await?
        .ok_or(ApiError::NotFound("schedule"))?;
    check_window(
        body.starts_at.unwrap_or(current.starts_at),
        body.booking_opens_at.unwrap_or(current.booking_opens_at),
        body.booking_closes_at.unwrap_or(current.booking_closes_at),
    )?;
    let edit = ScheduleEdit {
        hall: body.hall_id,
        starts_at: body.starts_at,
        booking_opens_at: body.booking_opens_at,
        booking_closes_at: body.booking_closes_at,
        settings: sale_settings(&body.settings)?,
        prices: grade_prices(&body.prices)?,
    };
    admin::edit_schedule(&state.pool, who, id, &edit)
        .await
        .map_err(schedule_error)?;
    if body.hall_id.is_some() {
        // A new hall is a new seat map; Redis rebuilds it from PostgreSQL on first use.
        let mut redis = state.redis.clone();
        seat_cache::forget(&mut redis, id)
            .await
            .map_err(|e| ApiError::Unavailable(e.into()))?;
    }
    announce_change(&state, Some(id)).await;
    Ok(Json(schedule_answer(&state, id).await?))
}

async fn set_schedule_published(
    state: AppState,
    who: AdminActor,
    id: Uuid,
    published: bool,
) -> ApiResult<Json<AdminSchedule>> {
    let id = ScheduleId::from(id);
    own_schedule(&state, who, id).await?;
    admin::publish_schedule(&state.pool, who, id, published).await?;
    announce_change(&state, Some(id)).await;
    Ok(Json(schedule_answer(&state, id).await?))
}

/// Publish a schedule: buyers see it, and join its line from the pre-queue on.
#[utoipa::path(post, path = "/admin/schedules/{id}/publish", tag = "organizer",
    security(("bearer" = [])), params(("id" = Uuid, Path)),
    responses(
        (status = 200, description = "the schedule", body = AdminSchedule),
        (status = 401, description = "UNAUTHORIZED", body = ErrorBody),
        (status = 403, description = "FORBIDDEN: not an organizer", body = ErrorBody),
        (status = 404, description = "NOT_FOUND: unknown, or another organizer's", body = ErrorBody),
    ))]
pub async fn publish_schedule(
    State(state): State<AppState>,
    Organizer(who): Organizer,
    IdPath(id): IdPath,
) -> ApiResult<Json<AdminSchedule>> {
    set_schedule_published(state, who, id, true).await
}

/// Unpublish a schedule: buyers no longer see it or join its line.
#[utoipa::path(post, path = "/admin/schedules/{id}/unpublish", tag = "organizer",
    security(("bearer" = [])), params(("id" = Uuid, Path)),
    responses(
        (status = 200, description = "the schedule", body = AdminSchedule),
        (status = 401, description = "UNAUTHORIZED", body = ErrorBody),
        (status = 403, description = "FORBIDDEN: not an organizer", body = ErrorBody),
        (status = 404, description = "NOT_FOUND: unknown, or another organizer's", body = ErrorBody),
    ))]
pub async fn unpublish_schedule(
    State(state): State<AppState>,
    Organizer(who): Organizer,
    IdPath(id): IdPath,
) -> ApiResult<Json<AdminSchedule>> {
    set_schedule_published(state, who, id, false).await
}

const MAX_WITHHOLD: usize = 5_000;

async fn change_withheld(
    state: AppState,
    who: AdminActor,
    id: Uuid,
    body: WithholdSeats,
    withhold: bool,
) -> ApiResult<Json<WithheldSeats>> {
    let id = ScheduleId::from(id);
    own_schedule(&state, who, id).await?;
    if body.seat_ids.is_empty() || body.seat_ids.len() > MAX_WITHHOLD {
        return Err(ApiError::Validation(format!(
            "seat_ids lists 1 to {MAX_WITHHOLD} seats"
        )));
    }
    let reason = match (&body.reason, withhold) {
        (Some(r), true) => text(r, "reason", 200)?,
        (None, true) => {
            return Err(ApiError::Validation(
                "say why the seats are withheld (reason)".into(),
            ))
        }
        _ => String::new(),
    };
    let (changed, skipped) =
        admin::withhold_seats(&state.pool, who, id, &body.seat_ids, withhold, &reason).await?;
    // Through the seat map like a hold: Redis, then every API process, within a second.
    let mut redis = state.redis.clone();
    let states = seat_cache::load_states(&state.pool, id, Some(&changed))
        .await
        .map_err(|e| ApiError::Unavailable(e.into()))?;
    if let Err(err) = seat_cache::apply(&mut redis, id, &states, true).await {
        // PostgreSQL has it; the sweeper's repair brings Redis level.
        tracing::warn!(error = %err, "withheld seats not yet in the Redis seat map");
    }
    Ok(Json(WithheldSeats { changed, skipped }))
}

/// Withhold seats (press, promoter, wheelchair and companion seats): AVAILABLE seats become
/// WITHHELD and can't be held; held or sold ones are listed as skipped.
#[utoipa::path(post, path = "/admin/schedules/{id}/withheld", tag = "organizer",
    security(("bearer" = [])), params(("id" = Uuid, Path)), request_body = WithholdSeats,
    responses(
        (status = 200, description = "what changed", body = WithheldSeats),
        (status = 400, description = "MALFORMED_JSON", body = ErrorBody),
        (status = 401, description = "UNAUTHORIZED", body = ErrorBody),
        (status = 403, description = "FORBIDDEN: not an organizer", body = ErrorBody),
        (status = 404, description = "NOT_FOUND: unknown, or another organizer's", body = ErrorBody),
        (status = 422, description = "VALIDATION_FAILED", body = ErrorBody),
    ))]
pub async fn withhold(
    State(state): State<AppState>,
    Organizer(who): Organizer,
    IdPath(id): IdPath,
    JsonBody(body): JsonBody<WithholdSeats>,
) -> ApiResult<Json<WithheldSeats>> {
    change_withheld(state, who, id, body, true).await
}

/// Release withheld seats back to sale.
#[utoipa::path(post, path = "/admin/schedules/{id}/withheld/release", tag = "organizer",
    security(("bearer" = [])), params(("id" = Uuid, Path)), request_body = WithholdSeats,
    responses(
        (status = 200, description = "what changed", body = WithheldSeats),
        (status = 400, description = "MALFORMED_JSON", body = ErrorBody),
        (status = 401, description = "UNAUTHORIZED", body = ErrorBody),
        (status = 403, description = "FORBIDDEN: not an organizer", body = ErrorBody),
        (status = 404, description = "NOT_FOUND: unknown, or another organizer's", body = ErrorBody),
        (status = 422, description = "VALIDATION_FAILED", body = ErrorBody),
    ))]
pub async fn release_withheld(
    State(state): State<AppState>,
    Organizer(who): Organizer,
    IdPath(id): IdPath,
    JsonBody(body): JsonBody<WithholdSeats>,
) -> ApiResult<Json<WithheldSeats>> {
    change_withheld(state, who, id, body, false).await
}

/// The audit log of the caller's changes (organizers) or of everyone's (operators).
#[utoipa::path(get, path = "/admin/events", tag = "organizer", security(("bearer" = [])),
    responses(
        (status = 200, description = "newest first, at most 200", body = AdminEvents),
        (status = 401, description = "UNAUTHORIZED", body = ErrorBody),
        (status = 403, description = "FORBIDDEN: not an organizer or operator", body = ErrorBody),
    ))]
pub async fn events(State(state): State<AppState>, caller: Caller) -> ApiResult<Json<AdminEvents>> {
    let only = match caller.0.role {
        Role::Operator => None,
        Role::Organizer => Some(caller.0.user.as_uuid()),
        _ => {
            return Err(ApiError::Forbidden(
                "your account does not have the role this needs",
            ))
        }
    };
    let events = admin::events(&state.pool, only, 200).await?;
    Ok(Json(AdminEvents {
        events: events
            .into_iter()
            .map(|e| AdminEvent {
                id: e.id,
                actor_id: e.actor_id,
                actor_role: e.actor_role,
                action: e.action,
                target_kind: e.target_kind,
                target_id: e.target_id,
                details: e.details,
                created_at: e.created_at,
            })
            .collect(),
    }))
}

// --- the operator's side ----------------------------------------------------------------------

async fn line_state(state: &AppState, schedule: ScheduleId) -> ApiResult<AdmissionState> {
    let handle = state
        .temporal
        .get_workflow_handle::<AdmissionWorkflow>(admission_workflow_id(
            &state.settings.temporal.task_queue,
            schedule,
        ));
    let status = bounded(
        state,
        handle.query(
            AdmissionWorkflow::status,
            (),
            WorkflowQueryOptions::default(),
        ),
    )
    .await
    .map_err(|e| ApiError::Unavailable(e.into()))?;
    // No line yet (nobody has joined): all zero.
    let status: seatline_proto::AdmissionStatus = status.unwrap_or_default();
    Ok(AdmissionState {
        schedule_id: schedule.as_uuid(),
        paused: status.paused,
        sold_out: status.sold_out,
        served: status.served,
        active: status.active,
        waiting: status.waiting,
    })
}

/// Pause, resume or retune a schedule's line: a signal to its admission workflow, so the
/// Temporal UI shows the same history.
#[utoipa::path(post, path = "/admin/schedules/{id}/admission", tag = "operator",
    security(("bearer" = [])), params(("id" = Uuid, Path)), request_body = AdmissionCommand,
    responses(
        (status = 200, description = "the line now", body = AdmissionState),
        (status = 400, description = "MALFORMED_JSON", body = ErrorBody),
        (status = 401, description = "UNAUTHORIZED", body = ErrorBody),
        (status = 403, description = "FORBIDDEN: not an operator", body = ErrorBody),
        (status = 404, description = "NOT_FOUND: unknown schedule, or nobody has joined its line yet", body = ErrorBody),
        (status = 422, description = "VALIDATION_FAILED", body = ErrorBody),
    ))]
#[tracing::instrument(skip_all, fields(schedule_id = %id))]
pub async fn steer_admission(
    State(state): State<AppState>,
    Operator(who): Operator,
    IdPath(id): IdPath,
    JsonBody(body): JsonBody<AdmissionCommand>,
) -> ApiResult<Json<AdmissionState>> {
    let schedule = ScheduleId::from(id);
    admin::schedule(&state.pool, schedule)
        .await?
        .ok_or(ApiError::NotFound("schedule"))?;
    let handle = state
        .temporal
        .get_workflow_handle::<AdmissionWorkflow>(admission_workflow_id(
            &state.settings.temporal.task_queue,
            schedule,
        ));
    let options = WorkflowSignalOptions::default;
    let sent = match body.action.as_str() {
        "PAUSE" => {
            bounded(
                &state,
                handle.signal(AdmissionWorkflow::pause, (), options()),
            )
            .await
        }
        "RESUME" => {
            bounded(
                &state,
                handle.signal(AdmissionWorkflow::resume, (), options()),
            )
            .await
        }
        "RETUNE" => {
            let rate = body.admission_rate.unwrap_or(0.0);
            let cap = body.active_cap.unwrap_or(0);
            let in_range = rate.is_finite()
                && (0.0..=100_000.0).contains(&rate)
                && (0..=1_000_000).contains(&cap);
            if !in_range || (rate == 0.0 && cap == 0) {
                return Err(ApiError::Validation(
                    "RETUNE takes admission_rate (0 to 100,000 per second) and/or active_cap (1 to 1,000,000)".into(),
                ));
            }
            let tuning = AdmissionTuning {
                admit_per_second: rate,
                active_cap: cap as u64,
            };
            bounded(
                &state,
                handle.signal(AdmissionWorkflow::retune, tuning, options()),
            )
            .await
        }
        _ => {
            return Err(ApiError::Validation(
                "action is PAUSE, RESUME or RETUNE".into(),
            ))
        }
    };
    match sent {
        Ok(Ok(())) => {}
        Ok(Err(temporalio_client::errors::WorkflowInteractionError::NotFound(_))) => {
            return Err(ApiError::NotFound("line"))
        }
        Ok(Err(err)) => return Err(ApiError::Unavailable(anyhow::anyhow!("admission: {err}"))),
        Err(elapsed) => return Err(ApiError::Unavailable(elapsed.into())),
    }
    let details = serde_json::json!({
        "action": body.action, "admission_rate": body.admission_rate, "active_cap": body.active_cap
    });
    admin::record(
        &state.pool,
        who,
        "ADMISSION_STEERED",
        "schedule",
        &schedule.to_string(),
        details,
    )
    .await?;
    Ok(Json(line_state(&state, schedule).await?))
}

/// The live sales view of a schedule: seats by grade and status, revenue, holds in the last
/// minute, hold-to-payment conversion and the line. For operators, and for the schedule's
/// organizer.
#[utoipa::path(get, path = "/admin/schedules/{id}/sales", tag = "operator",
    security(("bearer" = [])), params(("id" = Uuid, Path)),
    responses(
        (status = 200, description = "the figures now", body = SalesView),
        (status = 401, description = "UNAUTHORIZED", body = ErrorBody),
        (status = 403, description = "FORBIDDEN: not an operator or organizer", body = ErrorBody),
        (status = 404, description = "NOT_FOUND: unknown, or another organizer's", body = ErrorBody),
    ))]
pub async fn sales(
    State(state): State<AppState>,
    caller: Caller,
    IdPath(id): IdPath,
) -> ApiResult<Json<SalesView>> {
    let schedule = ScheduleId::from(id);
    match caller.0.role {
        Role::Operator => {
            admin::schedule(&state.pool, schedule)
                .await?
                .ok_or(ApiError::NotFound("schedule"))?;
        }
        Role::Organizer => {
            let who = actor(&caller, Role::Organizer)?;
            own_schedule(&state, who, schedule).await?;
        }
        _ => {
            return Err(ApiError::Forbidden(
                "your account does not have the role this needs",
            ))
        }
    }
    let grades: Vec<GradeSales> = admin::sales_by_grade(&state.pool, schedule)
        .await?
        .into_iter()
        .map(|g| GradeSales {
            grade: g.grade,
            available: g.available,
            held: g.held,
            sold: g.sold,
            withheld: g.withheld,
            revenue: g.revenue,
        })
        .collect();
    let (holds_last_minute, holds, paid) = admin::recent_activity(&state.pool, schedule).await?;
    Ok(Json(SalesView {
        schedule_id: schedule.as_uuid(),
        revenue: grades.iter().map(|g| g.revenue).sum(),
        grades,
        holds_last_minute,
        hold_to_payment: if holds > 0 {
            paid as f64 / holds as f64
        } else {
            0.0
        },
        line: line_state(&state, schedule).await?,
    }))
}

/// Cancel a buyer's hold as an operator, through its workflow (actor `OPERATOR`, with the
/// reason in its audit log): the seats go back.
#[utoipa::path(post, path = "/admin/reservations/{id}/cancel", tag = "operator",
    security(("bearer" = [])), params(("id" = Uuid, Path)), request_body = OperatorCancel,
    responses(
        (status = 204, description = "cancelled; the seats are back"),
        (status = 400, description = "MALFORMED_JSON", body = ErrorBody),
        (status = 401, description = "UNAUTHORIZED", body = ErrorBody),
        (status = 403, description = "FORBIDDEN: not an operator", body = ErrorBody),
        (status = 404, description = "NOT_FOUND", body = ErrorBody),
        (status = 409, description = "ALREADY_CONFIRMED · RESERVATION_EXPIRED", body = ErrorBody),
        (status = 422, description = "VALIDATION_FAILED", body = ErrorBody),
    ))]
#[tracing::instrument(skip_all, fields(reservation_id = %id))]
pub async fn cancel_reservation(
    State(state): State<AppState>,
    Operator(who): Operator,
    IdPath(id): IdPath,
    JsonBody(body): JsonBody<OperatorCancel>,
) -> ApiResult<StatusCode> {
    let reason = text(&body.reason, "reason", 500)?;
    let id = ReservationId::from(id);
    let reservation = reservations::get_reservation(&state.pool, id)
        .await?
        .ok_or(ApiError::NotFound("reservation"))?;
    match reservation.status {
        seatline_domain::ReservationStatus::Held => {}
        seatline_domain::ReservationStatus::Confirmed => return Err(ApiError::AlreadyConfirmed),
        _ => return Err(ApiError::ReservationExpired),
    }
    let handle = state
        .temporal
        .get_workflow_handle::<ReservationWorkflow>(id.workflow_id());
    let request = CancelRequest {
        user_id: reservation.user_id.to_string(),
        operator_id: who.user.to_string(),
        reason: reason.clone(),
    };
    let answer = settle_through_workflow(&state, id, |options| {
        handle.execute_update(ReservationWorkflow::cancel, request.clone(), options)
    })
    .await?;
    match answer.settlement() {
        Settlement::Cancelled => {}
        other => return Err(outcome_error(other)),
    }
    admin::record(
        &state.pool,
        who,
        "RESERVATION_CANCELLED",
        "reservation",
        &id.to_string(),
        serde_json::json!({ "reason": reason }),
    )
    .await?;
    Ok(StatusCode::NO_CONTENT)
}
