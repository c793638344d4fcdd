//! What organizers and operators change: halls from uploaded layouts, concerts and schedules
//! (drafts until published), sale settings and prices, withheld seats, and the audit log of
//! every change with its actor.

use chrono::{DateTime, Utc};
use seatline_domain::{HallLayout, Role, ScheduleId, UserId};
use serde_json::Value;
use sqlx::{PgPool, Postgres, Transaction};
use uuid::Uuid;

/// Who made a change, for the audit log.
#[derive(Debug, Clone, Copy)]
pub struct AdminActor {
    pub user: UserId,
    pub role: Role,
}

async fn audit(
    tx: &mut Transaction<'_, Postgres>,
    actor: AdminActor,
    action: &str,
    target_kind: &str,
    target_id: &str,
    details: Value,
) -> Result<(), sqlx::Error> {
    sqlx::query!(
        "INSERT INTO admin_events (actor_id, actor_role, action, target_kind, target_id, details)
         VALUES ($1, $2, $3, $4, $5, $6)",
        actor.user.as_uuid(),
        actor.role.as_str(),
        action,
        target_kind,
        target_id,
        details
    )
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// Records a change made elsewhere (an operator's signal to a workflow) in the audit log.
#[tracing::instrument(skip(pool, details))]
pub async fn record(
    pool: &PgPool,
    actor: AdminActor,
    action: &str,
    target_kind: &str,
    target_id: &str,
    details: Value,
) -> Result<(), sqlx::Error> {
    let mut tx = pool.begin().await?;
    audit(&mut tx, actor, action, target_kind, target_id, details).await?;
    tx.commit().await
}

#[derive(Debug, Clone)]
pub struct AdminEvent {
    pub id: i64,
    pub actor_id: Uuid,
    pub actor_role: String,
    pub action: String,
    pub target_kind: String,
    pub target_id: String,
    pub details: Value,
    pub created_at: DateTime<Utc>,
}

/// The newest entries of the audit log, optionally of one actor's changes.
#[tracing::instrument(skip(pool))]
pub async fn events(
    pool: &PgPool,
    actor: Option<Uuid>,
    limit: i64,
) -> Result<Vec<AdminEvent>, sqlx::Error> {
    sqlx::query_as!(
        AdminEvent,
        "SELECT id, actor_id, actor_role, action, target_kind, target_id, details, created_at
         FROM admin_events WHERE ($1::uuid IS NULL OR actor_id = $1)
         ORDER BY id DESC LIMIT $2",
        actor,
        limit
    )
    .fetch_all(pool)
    .await
}

// --- halls ------------------------------------------------------------------------------------

/// Stores a checked layout as a hall, its seats in one statement.
#[tracing::instrument(skip(pool, layout), fields(seats = layout.seats().len()))]
pub async fn create_hall(
    pool: &PgPool,
    actor: AdminActor,
    id: Uuid,
    name: &str,
    layout: &HallLayout,
) -> Result<(), sqlx::Error> {
    let (rows, cols) = layout.extent();
    let mut tx = pool.begin().await?;
    sqlx::query!(
        "INSERT INTO halls (id, name, row_count, col_count, created_by) VALUES ($1, $2, $3, $4, $5)",
        id,
        name,
        rows,
        cols,
        actor.user.as_uuid()
    )
    .execute(&mut *tx)
    .await?;
    let seats = layout.seats();
    let sections: Vec<String> = seats.iter().map(|s| s.section.clone()).collect();
    let row_numbers: Vec<i32> = seats.iter().map(|s| s.row).collect();
    let numbers: Vec<i32> = seats.iter().map(|s| s.number).collect();
    let grades: Vec<String> = seats.iter().map(|s| s.grade.clone()).collect();
    let prices: Vec<i64> = seats
        .iter()
        .map(|s| layout.price_of(&s.grade).unwrap_or(0))
        .collect();
    let xs: Vec<Option<i32>> = seats.iter().map(|s| s.x).collect();
    let ys: Vec<Option<i32>> = seats.iter().map(|s| s.y).collect();
    sqlx::query!(
        r#"INSERT INTO seats (hall_id, section, row_number, seat_number, grade, price, x, y)
           SELECT $1, * FROM unnest($2::text[], $3::int[], $4::int[], $5::text[], $6::bigint[],
                                    $7::int[], $8::int[])"#,
        id,
        &sections,
        &row_numbers,
        &numbers,
        &grades,
        &prices,
        &xs as &[Option<i32>],
        &ys as &[Option<i32>]
    )
    .execute(&mut *tx)
    .await?;
    let grade_prices: serde_json::Map<String, Value> = layout
        .grades()
        .iter()
        .map(|(g, p)| (g.clone(), Value::from(*p)))
        .collect();
    audit(
        &mut tx,
        actor,
        "HALL_CREATED",
        "hall",
        &id.to_string(),
        serde_json::json!({ "name": name, "seats": seats.len(), "grades": grade_prices }),
    )
    .await?;
    tx.commit().await
}

#[derive(Debug, Clone)]
pub struct HallSummary {
    pub id: Uuid,
    pub name: String,
    pub seats: i64,
    pub created_at: DateTime<Utc>,
}

/// The halls an organizer created.
#[tracing::instrument(skip(pool))]
pub async fn halls(pool: &PgPool, owner: UserId) -> Result<Vec<HallSummary>, sqlx::Error> {
    sqlx::query_as!(
        HallSummary,
        r#"SELECT h.id, h.name, h.created_at,
                  (SELECT count(*) FROM seats s WHERE s.hall_id = h.id) AS "seats!"
           FROM halls h WHERE h.created_by = $1 ORDER BY h.created_at DESC LIMIT 500"#,
        owner.as_uuid()
    )
    .fetch_all(pool)
    .await
}

/// A hall's grades with their (hall) price and seat count.
#[tracing::instrument(skip(pool))]
pub async fn hall_grades(
    pool: &PgPool,
    hall: Uuid,
) -> Result<Vec<(String, i64, i64)>, sqlx::Error> {
    let rows = sqlx::query!(
        r#"SELECT grade, max(price) AS "price!", count(*) AS "seats!"
           FROM seats WHERE hall_id = $1 GROUP BY grade ORDER BY 2 DESC"#,
        hall
    )
    .fetch_all(pool)
    .await?;
    Ok(rows
        .into_iter()
        .map(|r| (r.grade, r.price, r.seats))
        .collect())
}

// --- concerts ---------------------------------------------------------------------------------

#[derive(Debug, Clone)]
pub struct AdminConcert {
    pub id: Uuid,
    pub title: String,
    pub artist: String,
    pub venue: String,
    pub published_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
}

#[tracing::instrument(skip(pool))]
pub async fn create_concert(
    pool: &PgPool,
    actor: AdminActor,
    id: Uuid,
    title: &str,
    artist: &str,
    venue: &str,
) -> Result<(), sqlx::Error> {
    let mut tx = pool.begin().await?;
    sqlx::query!(
        "INSERT INTO concerts (id, title, artist, venue, published_at, created_by)
         VALUES ($1, $2, $3, $4, NULL, $5)",
        id,
        title,
        artist,
        venue,
        actor.user.as_uuid()
    )
    .execute(&mut *tx)
    .await?;
    let details = serde_json::json!({ "title": title, "artist": artist, "venue": venue });
    audit(
        &mut tx,
        actor,
        "CONCERT_CREATED",
        "concert",
        &id.to_string(),
        details,
    )
    .await?;
    tx.commit().await
}

/// Changes the given fields; `false` if there is no such concert.
#[tracing::instrument(skip(pool))]
pub async fn update_concert(
    pool: &PgPool,
    actor: AdminActor,
    id: Uuid,
    title: Option<&str>,
    artist: Option<&str>,
    venue: Option<&str>,
) -> Result<bool, sqlx::Error> {
    let mut tx = pool.begin().await?;
    let updated = sqlx::query!(
        "UPDATE concerts SET title = COALESCE($2, title), artist = COALESCE($3, artist),
                             venue = COALESCE($4, venue)
         WHERE id = $1",
        id,
        title,
        artist,
        venue
    )
    .execute(&mut *tx)
    .await?
    .rows_affected();
    if updated == 0 {
        return Ok(false);
    }
    let details = serde_json::json!({ "title": title, "artist": artist, "venue": venue });
    audit(
        &mut tx,
        actor,
        "CONCERT_UPDATED",
        "concert",
        &id.to_string(),
        details,
    )
    .await?;
    tx.commit().await?;
    Ok(true)
}

/// Publishes or unpublishes; `false` if there is no such concert.
#[tracing::instrument(skip(pool))]
pub async fn publish_concert(
    pool: &PgPool,
    actor: AdminActor,
    id: Uuid,
    published: bool,
) -> Result<bool, sqlx::Error> {
    let mut tx = pool.begin().await?;
    let updated = sqlx::query!(
        "UPDATE concerts SET published_at = CASE WHEN $2 THEN COALESCE(published_at, now()) END
         WHERE id = $1",
        id,
        published
    )
    .execute(&mut *tx)
    .await?
    .rows_affected();
    if updated == 0 {
        return Ok(false);
    }
    let action = if published {
        "CONCERT_PUBLISHED"
    } else {
        "CONCERT_UNPUBLISHED"
    };
    audit(
        &mut tx,
        actor,
        action,
        "concert",
        &id.to_string(),
        Value::Null,
    )
    .await?;
    tx.commit().await?;
    Ok(true)
}

/// The concerts an organizer created, drafts included.
#[tracing::instrument(skip(pool))]
pub async fn concerts(pool: &PgPool, owner: UserId) -> Result<Vec<AdminConcert>, sqlx::Error> {
    sqlx::query_as!(
        AdminConcert,
        "SELECT id, title, artist, venue, published_at, created_at FROM concerts
         WHERE created_by = $1 ORDER BY created_at DESC LIMIT 500",
        owner.as_uuid()
    )
    .fetch_all(pool)
    .await
}

#[tracing::instrument(skip(pool))]
pub async fn concert(pool: &PgPool, id: Uuid) -> Result<Option<AdminConcert>, sqlx::Error> {
    sqlx::query_as!(
        AdminConcert,
        "SELECT id, title, artist, venue, published_at, created_at FROM concerts WHERE id = $1",
        id
    )
    .fetch_optional(pool)
    .await
}

/// `None`: no such concert; `Some(None)`: nobody's (seeded).
#[tracing::instrument(skip(pool))]
pub async fn concert_owner(pool: &PgPool, id: Uuid) -> Result<Option<Option<Uuid>>, sqlx::Error> {
    sqlx::query_scalar!("SELECT created_by FROM concerts WHERE id = $1", id)
        .fetch_optional(pool)
        .await
}

/// A schedule's owner: whoever created its concert.
#[tracing::instrument(skip(pool))]
pub async fn schedule_owner(
    pool: &PgPool,
    id: ScheduleId,
) -> Result<Option<Option<Uuid>>, sqlx::Error> {
    sqlx::query_scalar!(
        "SELECT c.created_by FROM schedules s JOIN concerts c ON c.id = s.concert_id WHERE s.id = $1",
        id.as_uuid()
    )
    .fetch_optional(pool)
    .await
}

#[tracing::instrument(skip(pool))]
pub async fn hall_owner(pool: &PgPool, id: Uuid) -> Result<Option<Option<Uuid>>, sqlx::Error> {
    sqlx::query_scalar!("SELECT created_by FROM halls WHERE id = $1", id)
        .fetch_optional(pool)
        .await
}

// --- schedules --------------------------------------------------------------------------------

/// A schedule's sale settings; `None` takes the deployment's default.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct SaleSettings {
    pub seats_per_buyer: Option<i32>,
    pub hold_seconds: Option<i32>,
    pub admission_rate: Option<f64>,
    pub active_cap: Option<i32>,
}

#[derive(Debug, Clone)]
pub struct NewSchedule {
    pub id: Uuid,
    pub concert: Uuid,
    pub hall: Uuid,
    pub starts_at: DateTime<Utc>,
    pub booking_opens_at: DateTime<Utc>,
    pub booking_closes_at: DateTime<Utc>,
    pub settings: SaleSettings,
    /// Prices per grade for this schedule; grades not named keep the hall's price.
    pub prices: Vec<(String, i64)>,
}

#[derive(Debug, thiserror::Error)]
pub enum ScheduleError {
    #[error("no such concert")]
    UnknownConcert,
    #[error("no such hall")]
    UnknownHall,
    #[error("no such schedule")]
    UnknownSchedule,
    #[error("the hall has no grade {0}")]
    UnknownGrade(String),
    /// Seats are held or sold: what was asked would change what buyers already have.
    #[error("{0}")]
    HasSales(String),
    #[error(transparent)]
    Database(#[from] sqlx::Error),
}

/// Creates a schedule (a draft) and its 15,000 rows of inventory in one transaction.
#[tracing::instrument(skip(pool, new), fields(schedule_id = %new.id))]
pub async fn create_schedule(
    pool: &PgPool,
    actor: AdminActor,
    new: &NewSchedule,
) -> Result<i64, ScheduleError> {
    let mut tx = pool.begin().await?;
    let concert = sqlx::query_scalar!("SELECT id FROM concerts WHERE id = $1", new.concert)
        .fetch_optional(&mut *tx)
        .await?;
    if concert.is_none() {
        return Err(ScheduleError::UnknownConcert);
    }
    let grades = hall_grade_names(&mut tx, new.hall).await?;
    if grades.is_empty() {
        return Err(ScheduleError::UnknownHall);
    }
    for (grade, _) in &new.prices {
        if !grades.contains(grade) {
            return Err(ScheduleError::UnknownGrade(grade.clone()));
        }
    }
    let s = new.settings;
    sqlx::query!(
        "INSERT INTO schedules (id, concert_id, hall_id, starts_at, booking_opens_at,
                                booking_closes_at, published_at, created_by, seats_per_buyer,
                                hold_seconds, admission_rate, active_cap)
         VALUES ($1, $2, $3, $4, $5, $6, NULL, $7, $8, $9, $10, $11)",
        new.id,
        new.concert,
        new.hall,
        new.starts_at,
        new.booking_opens_at,
        new.booking_closes_at,
        actor.user.as_uuid(),
        s.seats_per_buyer,
        s.hold_seconds,
        s.admission_rate,
        s.active_cap
    )
    .execute(&mut *tx)
    .await?;
    let (grade_names, prices): (Vec<String>, Vec<i64>) = new.prices.iter().cloned().unzip();
    let seats = sqlx::query!(
        "INSERT INTO seat_inventory (schedule_id, seat_id, price)
         SELECT $1, s.id, p.price FROM seats s
         LEFT JOIN unnest($3::text[], $4::bigint[]) AS p(grade, price) ON p.grade = s.grade
         WHERE s.hall_id = $2",
        new.id,
        new.hall,
        &grade_names,
        &prices
    )
    .execute(&mut *tx)
    .await?
    .rows_affected();
    let details = serde_json::json!({
        "concert_id": new.concert, "hall_id": new.hall, "seats": seats,
        "starts_at": new.starts_at, "booking_opens_at": new.booking_opens_at,
        "booking_closes_at": new.booking_closes_at, "prices": price_map(&new.prices),
        "seats_per_buyer": s.seats_per_buyer, "hold_seconds": s.hold_seconds,
        "admission_rate": s.admission_rate, "active_cap": s.active_cap,
    });
    audit(
        &mut tx,
        actor,
        "SCHEDULE_CREATED",
        "schedule",
        &new.id.to_string(),
        details,
    )
    .await?;
    tx.commit().await?;
    Ok(seats as i64)
}

async fn hall_grade_names(
    tx: &mut Transaction<'_, Postgres>,
    hall: Uuid,
) -> Result<Vec<String>, sqlx::Error> {
    sqlx::query_scalar!("SELECT DISTINCT grade FROM seats WHERE hall_id = $1", hall)
        .fetch_all(&mut **tx)
        .await
}

fn price_map(prices: &[(String, i64)]) -> Value {
    prices
        .iter()
        .map(|(g, p)| (g.clone(), Value::from(*p)))
        .collect::<serde_json::Map<_, _>>()
        .into()
}

/// What an edit of a schedule may change.
#[derive(Debug, Clone, Default)]
pub struct ScheduleEdit {
    pub hall: Option<Uuid>,
    pub starts_at: Option<DateTime<Utc>>,
    pub booking_opens_at: Option<DateTime<Utc>>,
    pub booking_closes_at: Option<DateTime<Utc>>,
    pub settings: SaleSettings,
    pub prices: Vec<(String, i64)>,
}

/// Edits a schedule under its row lock. A schedule with held or sold seats keeps its hall,
/// and a grade with held or sold seats keeps its price: the error says which.
#[tracing::instrument(skip(pool, edit))]
pub async fn edit_schedule(
    pool: &PgPool,
    actor: AdminActor,
    id: ScheduleId,
    edit: &ScheduleEdit,
) -> Result<(), ScheduleError> {
    let mut tx = pool.begin().await?;
    let current = sqlx::query!(
        "SELECT hall_id, booking_opens_at, booking_closes_at FROM schedules WHERE id = $1 FOR UPDATE",
        id.as_uuid()
    )
    .fetch_optional(&mut *tx)
    .await?
    .ok_or(ScheduleError::UnknownSchedule)?;
    let sold_by_grade = sqlx::query!(
        r#"SELECT s.grade, count(*) AS "seats!" FROM seat_inventory i JOIN seats s ON s.id = i.seat_id
           WHERE i.schedule_id = $1 AND i.status IN ('HELD', 'SOLD') GROUP BY s.grade"#,
        id.as_uuid()
    )
    .fetch_all(&mut *tx)
    .await?;
    let mut hall = current.hall_id;
    if let Some(new_hall) = edit.hall.filter(|h| *h != current.hall_id) {
        let reservations = sqlx::query_scalar!(
            r#"SELECT count(*) AS "count!" FROM reservations WHERE schedule_id = $1"#,
            id.as_uuid()
        )
        .fetch_one(&mut *tx)
        .await?;
        if reservations > 0 {
            return Err(ScheduleError::HasSales(format!(
                "{reservations} reservations were made for this schedule; its hall can't change"
            )));
        }
        if hall_grade_names(&mut tx, new_hall).await?.is_empty() {
            return Err(ScheduleError::UnknownHall);
        }
        sqlx::query!(
            "DELETE FROM seat_inventory WHERE schedule_id = $1",
            id.as_uuid()
        )
        .execute(&mut *tx)
        .await?;
        sqlx::query!(
            "INSERT INTO seat_inventory (schedule_id, seat_id) SELECT $1, id FROM seats WHERE hall_id = $2",
            id.as_uuid(),
            new_hall
        )
        .execute(&mut *tx)
        .await?;
        sqlx::query!(
            "UPDATE schedules SET hall_id = $2 WHERE id = $1",
            id.as_uuid(),
            new_hall
        )
        .execute(&mut *tx)
        .await?;
        hall = new_hall;
    }
    let grades = hall_grade_names(&mut tx, hall).await?;
    for (grade, price) in &edit.prices {
        if !grades.contains(grade) {
            return Err(ScheduleError::UnknownGrade(grade.clone()));
        }
        if let Some(sold) = sold_by_grade.iter().find(|g| &g.grade == grade) {
            return Err(ScheduleError::HasSales(format!(
                "{} seats of grade {grade} are held or sold at their price; it can't change",
                sold.seats
            )));
        }
        sqlx::query!(
            "UPDATE seat_inventory i SET price = $3 FROM seats s
             WHERE i.schedule_id = $1 AND s.id = i.seat_id AND s.grade = $2",
            id.as_uuid(),
            grade,
            price
        )
        .execute(&mut *tx)
        .await?;
    }
    let opens = edit.booking_opens_at.unwrap_or(current.booking_opens_at);
    let closes = edit.booking_closes_at.unwrap_or(current.booking_closes_at);
    let s = edit.settings;
    sqlx::query!(
        "UPDATE schedules SET starts_at = COALESCE($2, starts_at), booking_opens_at = $3,
                booking_closes_at = $4, seats_per_buyer = COALESCE($5, seats_per_buyer),
                hold_seconds = COALESCE($6, hold_seconds),
                admission_rate = COALESCE($7, admission_rate), active_cap = COALESCE($8, active_cap)
         WHERE id = $1",
        id.as_uuid(),
        edit.starts_at,
        opens,
        closes,
        s.seats_per_buyer,
        s.hold_seconds,
        s.admission_rate,
        s.active_cap
    )
    .execute(&mut *tx)
    .await?;
    let details = serde_json::json!({
        "hall_id": edit.hall, "starts_at": edit.starts_at, "booking_opens_at": edit.booking_opens_at,
        "booking_closes_at": edit.booking_closes_at, "prices": price_map(&edit.prices),
        "seats_per_buyer": s.seats_per_buyer, "hold_seconds": s.hold_seconds,
        "admission_rate": s.admission_rate, "active_cap": s.active_cap,
    });
    audit(
        &mut tx,
        actor,
        "SCHEDULE_UPDATED",
        "schedule",
        &id.to_string(),
        details,
    )
    .await?;
    tx.commit().await?;
    Ok(())
}

/// Publishes or unpublishes; `false` if there is no such schedule.
#[tracing::instrument(skip(pool))]
pub async fn publish_schedule(
    pool: &PgPool,
    actor: AdminActor,
    id: ScheduleId,
    published: bool,
) -> Result<bool, sqlx::Error> {
    let mut tx = pool.begin().await?;
    let updated = sqlx::query!(
        "UPDATE schedules SET published_at = CASE WHEN $2 THEN COALESCE(published_at, now()) END
         WHERE id = $1",
        id.as_uuid(),
        published
    )
    .execute(&mut *tx)
    .await?
    .rows_affected();
    if updated == 0 {
        return Ok(false);
    }
    let action = if published {
        "SCHEDULE_PUBLISHED"
    } else {
        "SCHEDULE_UNPUBLISHED"
    };
    audit(
        &mut tx,
        actor,
        action,
        "schedule",
        &id.to_string(),
        Value::Null,
    )
    .await?;
    tx.commit().await?;
    Ok(true)
}

#[derive(Debug, Clone)]
pub struct AdminSchedule {
    pub id: Uuid,
    pub concert_id: Uuid,
    pub hall_id: Uuid,
    pub starts_at: DateTime<Utc>,
    pub booking_opens_at: DateTime<Utc>,
    pub booking_closes_at: DateTime<Utc>,
    pub published_at: Option<DateTime<Utc>>,
    pub seats_per_buyer: Option<i32>,
    pub hold_seconds: Option<i32>,
    pub admission_rate: Option<f64>,
    pub active_cap: Option<i32>,
}

#[tracing::instrument(skip(pool))]
pub async fn schedule(pool: &PgPool, id: ScheduleId) -> Result<Option<AdminSchedule>, sqlx::Error> {
    sqlx::query_as!(
        AdminSchedule,
        "SELECT id, concert_id, hall_id, starts_at, booking_opens_at, booking_closes_at,
                published_at, seats_per_buyer, hold_seconds, admission_rate, active_cap
         FROM schedules WHERE id = $1",
        id.as_uuid()
    )
    .fetch_optional(pool)
    .await
}

// --- withheld seats ---------------------------------------------------------------------------

/// Withholds AVAILABLE seats (or, with `withhold = false`, releases WITHHELD ones), bumping
/// their versions so the caches follow. Returns the seats changed and those that were not
/// in the state to change (held, sold, already done, or not of this schedule).
#[tracing::instrument(skip(pool, seat_ids), fields(seats = seat_ids.len()))]
pub async fn withhold_seats(
    pool: &PgPool,
    actor: AdminActor,
    schedule: ScheduleId,
    seat_ids: &[i64],
    withhold: bool,
    reason: &str,
) -> Result<(Vec<i64>, Vec<i64>), sqlx::Error> {
    let mut tx = pool.begin().await?;
    let changed = if withhold {
        sqlx::query_scalar!(
            "UPDATE seat_inventory SET status = 'WITHHELD', withheld_reason = $3,
                    version = version + 1, updated_at = now()
             WHERE schedule_id = $1 AND seat_id = ANY($2) AND status = 'AVAILABLE'
             RETURNING seat_id",
            schedule.as_uuid(),
            seat_ids,
            reason
        )
        .fetch_all(&mut *tx)
        .await?
    } else {
        sqlx::query_scalar!(
            "UPDATE seat_inventory SET status = 'AVAILABLE', withheld_reason = NULL,
                    version = version + 1, updated_at = now()
             WHERE schedule_id = $1 AND seat_id = ANY($2) AND status = 'WITHHELD'
             RETURNING seat_id",
            schedule.as_uuid(),
            seat_ids
        )
        .fetch_all(&mut *tx)
        .await?
    };
    let skipped: Vec<i64> = seat_ids
        .iter()
        .copied()
        .filter(|id| !changed.contains(id))
        .collect();
    let action = if withhold {
        "SEATS_WITHHELD"
    } else {
        "SEATS_RELEASED"
    };
    let details = serde_json::json!({ "seat_ids": changed, "skipped": skipped, "reason": reason });
    audit(
        &mut tx,
        actor,
        action,
        "schedule",
        &schedule.to_string(),
        details,
    )
    .await?;
    tx.commit().await?;
    Ok((changed, skipped))
}

// --- the live sales view ----------------------------------------------------------------------

#[derive(Debug, Clone)]
pub struct GradeSales {
    pub grade: String,
    pub available: i64,
    pub held: i64,
    pub sold: i64,
    pub withheld: i64,
    pub revenue: i64,
}

/// Seats by grade and status, and the revenue of sold seats, straight from PostgreSQL.
#[tracing::instrument(skip(pool))]
pub async fn sales_by_grade(
    pool: &PgPool,
    schedule: ScheduleId,
) -> Result<Vec<GradeSales>, sqlx::Error> {
    sqlx::query_as!(
        GradeSales,
        r#"SELECT s.grade,
                  count(*) FILTER (WHERE i.status = 'AVAILABLE') AS "available!",
                  count(*) FILTER (WHERE i.status = 'HELD') AS "held!",
                  count(*) FILTER (WHERE i.status = 'SOLD') AS "sold!",
                  count(*) FILTER (WHERE i.status = 'WITHHELD') AS "withheld!",
                  COALESCE(sum(rs.price) FILTER (WHERE i.status = 'SOLD'), 0)::bigint AS "revenue!"
           FROM seat_inventory i JOIN seats s ON s.id = i.seat_id
           LEFT JOIN reservation_seats rs ON rs.reservation_id = i.reservation_id
                AND rs.seat_id = i.seat_id AND rs.released_at IS NULL
           WHERE i.schedule_id = $1 GROUP BY s.grade ORDER BY max(COALESCE(i.price, s.price)) DESC"#,
        schedule.as_uuid()
    )
    .fetch_all(pool)
    .await
}

/// Holds of a schedule in the last minute, and holds and confirmations of the last 15
/// minutes, in one query.
#[tracing::instrument(skip(pool))]
pub async fn recent_activity(
    pool: &PgPool,
    schedule: ScheduleId,
) -> Result<(i64, i64, i64), sqlx::Error> {
    let row = sqlx::query!(
        r#"SELECT count(*) FILTER (WHERE created_at > now() - interval '1 minute') AS "last_minute!",
                  count(*) AS "holds!",
                  count(*) FILTER (WHERE status = 'CONFIRMED') AS "confirmed!"
           FROM reservations WHERE schedule_id = $1
             AND created_at > now() - interval '15 minutes'"#,
        schedule.as_uuid()
    )
    .fetch_one(pool)
    .await?;
    Ok((row.last_minute, row.holds, row.confirmed))
}
