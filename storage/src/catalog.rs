use chrono::{DateTime, Utc};
use seatline_domain::{ConcertId, ScheduleId};
use serde::Serialize;
use sqlx::PgPool;
use uuid::Uuid;

#[derive(Debug, Clone, Serialize)]
pub struct Concert {
    pub id: Uuid,
    pub title: String,
    pub artist: String,
    pub venue: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct Schedule {
    pub id: Uuid,
    pub concert_id: Uuid,
    pub starts_at: DateTime<Utc>,
    pub booking_opens_at: DateTime<Utc>,
    pub booking_closes_at: DateTime<Utc>,
    pub total_seats: i64,
    pub available_seats: i64,
}

#[derive(Debug, Clone, Serialize)]
pub struct GradePrice {
    pub grade: String,
    pub price: i64,
}

/// One seat of a schedule as the seat map shows it.
#[derive(Debug, Clone, Serialize)]
pub struct SeatView {
    pub seat_id: i64,
    pub row: i32,
    pub number: i32,
    pub grade: String,
    pub price: i64,
    pub status: String,
}

#[tracing::instrument(skip(pool))]
pub async fn list_concerts(pool: &PgPool) -> Result<Vec<Concert>, sqlx::Error> {
    sqlx::query_as!(
        Concert,
        "SELECT id, title, artist, venue FROM concerts WHERE published_at IS NOT NULL
         ORDER BY created_at, title"
    )
    .fetch_all(pool)
    .await
}

#[tracing::instrument(skip(pool))]
pub async fn concert_exists(pool: &PgPool, id: ConcertId) -> Result<bool, sqlx::Error> {
    sqlx::query_scalar!(
        r#"SELECT EXISTS (SELECT 1 FROM concerts WHERE id = $1 AND published_at IS NOT NULL)
           AS "exists!""#,
        id.as_uuid()
    )
    .fetch_one(pool)
    .await
}

#[tracing::instrument(skip(pool))]
pub async fn list_schedules(
    pool: &PgPool,
    concert: ConcertId,
) -> Result<Vec<Schedule>, sqlx::Error> {
    sqlx::query_as!(
        Schedule,
        r#"SELECT s.id, s.concert_id, s.starts_at, s.booking_opens_at, s.booking_closes_at,
                  (SELECT count(*) FROM seat_inventory i WHERE i.schedule_id = s.id) AS "total_seats!",
                  (SELECT count(*) FROM seat_inventory i
                    WHERE i.schedule_id = s.id AND i.status = 'AVAILABLE') AS "available_seats!"
           FROM schedules s WHERE s.concert_id = $1 AND s.published_at IS NOT NULL
           ORDER BY s.starts_at"#,
        concert.as_uuid()
    )
    .fetch_all(pool)
    .await
}

/// When buyers may hold seats of a schedule, and its own sale settings (`None`: the
/// deployment's).
#[derive(Debug, Clone, Copy)]
pub struct BookingWindow {
    pub opens_at: DateTime<Utc>,
    pub closes_at: DateTime<Utc>,
    pub seats_per_buyer: Option<i32>,
    pub hold_seconds: Option<i32>,
    pub admission_rate: Option<f64>,
    pub active_cap: Option<i32>,
}

impl BookingWindow {
    pub fn is_open(&self, now: DateTime<Utc>) -> bool {
        self.opens_at <= now && now < self.closes_at
    }
}

#[tracing::instrument(skip(pool))]
pub async fn booking_window(
    pool: &PgPool,
    id: ScheduleId,
) -> Result<Option<BookingWindow>, sqlx::Error> {
    sqlx::query_as!(
        BookingWindow,
        "SELECT s.booking_opens_at AS opens_at, s.booking_closes_at AS closes_at,
                s.seats_per_buyer, s.hold_seconds, s.admission_rate, s.active_cap
         FROM schedules s JOIN concerts c ON c.id = s.concert_id
         WHERE s.id = $1 AND s.published_at IS NOT NULL AND c.published_at IS NOT NULL",
        id.as_uuid()
    )
    .fetch_optional(pool)
    .await
}

/// Every seat of a schedule with its status, in row then seat order.
#[tracing::instrument(skip(pool))]
pub async fn seat_map(pool: &PgPool, schedule: ScheduleId) -> Result<Vec<SeatView>, sqlx::Error> {
    sqlx::query_as!(
        SeatView,
        r#"SELECT s.id AS seat_id, s.row_number AS row, s.seat_number AS number, s.grade,
                  COALESCE(i.price, s.price) AS "price!", i.status
           FROM seat_inventory i JOIN seats s ON s.id = i.seat_id
           WHERE i.schedule_id = $1
           ORDER BY s.row_number, s.seat_number"#,
        schedule.as_uuid()
    )
    .fetch_all(pool)
    .await
}

#[tracing::instrument(skip(pool))]
pub async fn grade_prices(
    pool: &PgPool,
    schedule: ScheduleId,
) -> Result<Vec<GradePrice>, sqlx::Error> {
    sqlx::query_as!(
        GradePrice,
        r#"SELECT s.grade, max(COALESCE(i.price, s.price)) AS "price!"
           FROM seat_inventory i JOIN seats s ON s.id = i.seat_id
           WHERE i.schedule_id = $1 GROUP BY s.grade ORDER BY 2 DESC"#,
        schedule.as_uuid()
    )
    .fetch_all(pool)
    .await
}

/// Seats of a schedule that may still be sold: AVAILABLE now, or HELD and maybe coming back.
#[tracing::instrument(skip(pool))]
pub async fn unsold_seats(pool: &PgPool, schedule: ScheduleId) -> Result<i64, sqlx::Error> {
    sqlx::query_scalar!(
        r#"SELECT count(*) AS "count!" FROM seat_inventory
           WHERE schedule_id = $1 AND status IN ('AVAILABLE', 'HELD')"#,
        schedule.as_uuid()
    )
    .fetch_one(pool)
    .await
}

/// Whether the schedule's booking has opened, by the database's clock.
#[tracing::instrument(skip(pool))]
pub async fn booking_has_opened(pool: &PgPool, schedule: ScheduleId) -> Result<bool, sqlx::Error> {
    let opened = sqlx::query_scalar!(
        r#"SELECT booking_opens_at <= now() AS "opened!" FROM schedules WHERE id = $1"#,
        schedule.as_uuid()
    )
    .fetch_optional(pool)
    .await?;
    Ok(opened.unwrap_or(false))
}

/// Schedules whose booking window is open now (by the database's clock), or closed within
/// the last hour (their last holds are still running out).
#[tracing::instrument(skip(pool))]
pub async fn schedules_on_sale(pool: &PgPool) -> Result<Vec<ScheduleId>, sqlx::Error> {
    let ids = sqlx::query_scalar!(
        "SELECT id FROM schedules
         WHERE booking_opens_at <= now() AND booking_closes_at > now() - interval '1 hour'
         ORDER BY booking_opens_at DESC LIMIT 1000"
    )
    .fetch_all(pool)
    .await?;
    Ok(ids.into_iter().map(ScheduleId::from).collect())
}
