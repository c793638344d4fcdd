//! Halls, schedules and the demo data. Seeding is idempotent: fixed ids, `ON CONFLICT DO NOTHING`.

use chrono::{DateTime, Duration, Utc};
use seatline_domain::{ConcertId, ScheduleId};
use sqlx::PgPool;
use uuid::{uuid, Uuid};

/// A price band: rows up to and including `last_row` are of `grade` at `price`.
#[derive(Debug, Clone)]
pub struct Band {
    pub grade: &'static str,
    pub last_row: i32,
    pub price: i64,
}

pub const DEMO_CONCERT: Uuid = uuid!("00000000-0000-4000-8000-00000000c001");
const MAIN_HALL: Uuid = uuid!("00000000-0000-4000-8000-0000000000a1");
const SMALL_HALL: Uuid = uuid!("00000000-0000-4000-8000-0000000000a2");
/// The 15,000-seat opening night.
pub const DEMO_BIG_SCHEDULE: Uuid = uuid!("00000000-0000-4000-8000-00000000d001");
pub const DEMO_SMALL_SCHEDULES: [Uuid; 2] = [
    uuid!("00000000-0000-4000-8000-00000000d002"),
    uuid!("00000000-0000-4000-8000-00000000d003"),
];

pub fn main_hall_bands() -> Vec<Band> {
    vec![
        Band {
            grade: "VIP",
            last_row: 10,
            price: 180_000,
        },
        Band {
            grade: "R",
            last_row: 40,
            price: 150_000,
        },
        Band {
            grade: "S",
            last_row: 70,
            price: 120_000,
        },
        Band {
            grade: "A",
            last_row: 100,
            price: 90_000,
        },
    ]
}

pub fn small_hall_bands() -> Vec<Band> {
    vec![
        Band {
            grade: "VIP",
            last_row: 1,
            price: 180_000,
        },
        Band {
            grade: "R",
            last_row: 3,
            price: 150_000,
        },
        Band {
            grade: "S",
            last_row: 5,
            price: 120_000,
        },
    ]
}

/// Creates a hall of `rows` by `cols` seats priced by `bands`, unless it exists.
#[tracing::instrument(skip(pool, bands))]
pub async fn create_hall(
    pool: &PgPool,
    id: Uuid,
    name: &str,
    rows: i32,
    cols: i32,
    bands: &[Band],
) -> Result<(), sqlx::Error> {
    let mut tx = pool.begin().await?;
    let inserted = sqlx::query!(
        "INSERT INTO halls (id, name, row_count, col_count) VALUES ($1, $2, $3, $4)
         ON CONFLICT (id) DO NOTHING",
        id,
        name,
        rows,
        cols
    )
    .execute(&mut *tx)
    .await?;
    if inserted.rows_affected() == 1 {
        let grades: Vec<String> = bands.iter().map(|b| b.grade.to_owned()).collect();
        let last_rows: Vec<i32> = bands.iter().map(|b| b.last_row).collect();
        let prices: Vec<i64> = bands.iter().map(|b| b.price).collect();
        sqlx::query!(
            r#"INSERT INTO seats (hall_id, row_number, seat_number, grade, price)
               SELECT $1, r, c, band.grade, band.price
               FROM generate_series(1, $2::int) AS r
               CROSS JOIN generate_series(1, $3::int) AS c
               CROSS JOIN LATERAL (
                   SELECT b.grade, b.price
                   FROM unnest($4::text[], $5::int[], $6::bigint[]) AS b(grade, last_row, price)
                   WHERE r <= b.last_row ORDER BY b.last_row LIMIT 1
               ) AS band
               ORDER BY r, c"#,
            id,
            rows,
            cols,
            &grades,
            &last_rows,
            &prices
        )
        .execute(&mut *tx)
        .await?;
    }
    tx.commit().await
}

#[tracing::instrument(skip(pool))]
pub async fn create_concert(
    pool: &PgPool,
    id: ConcertId,
    title: &str,
    artist: &str,
    venue: &str,
) -> Result<(), sqlx::Error> {
    sqlx::query!(
        "INSERT INTO concerts (id, title, artist, venue) VALUES ($1, $2, $3, $4)
         ON CONFLICT (id) DO NOTHING",
        id.as_uuid(),
        title,
        artist,
        venue
    )
    .execute(pool)
    .await?;
    Ok(())
}

/// Creates a schedule in a hall and puts every seat of the hall on sale for it.
#[tracing::instrument(skip(pool))]
pub async fn create_schedule(
    pool: &PgPool,
    id: ScheduleId,
    concert: ConcertId,
    hall: Uuid,
    starts_at: DateTime<Utc>,
) -> Result<(), sqlx::Error> {
    let mut tx = pool.begin().await?;
    let inserted = sqlx::query!(
        "INSERT INTO schedules (id, concert_id, hall_id, starts_at, booking_opens_at, booking_closes_at)
         VALUES ($1, $2, $3, $4::timestamptz, now() - interval '1 day', $4::timestamptz - interval '1 hour')
         ON CONFLICT (id) DO NOTHING",
        id.as_uuid(),
        concert.as_uuid(),
        hall,
        starts_at
    )
    .execute(&mut *tx)
    .await?;
    if inserted.rows_affected() == 1 {
        sqlx::query!(
            "INSERT INTO seat_inventory (schedule_id, seat_id)
             SELECT $1, id FROM seats WHERE hall_id = $2",
            id.as_uuid(),
            hall
        )
        .execute(&mut *tx)
        .await?;
    }
    tx.commit().await
}

/// The demo: one concert, a 15,000-seat night (100 rows by 150) and two 50-seat nights.
#[tracing::instrument(skip(pool))]
pub async fn seed_demo(pool: &PgPool) -> Result<(), sqlx::Error> {
    create_hall(
        pool,
        MAIN_HALL,
        "Olympic Hall",
        100,
        150,
        &main_hall_bands(),
    )
    .await?;
    create_hall(pool, SMALL_HALL, "Studio", 5, 10, &small_hall_bands()).await?;
    let concert = ConcertId::from(DEMO_CONCERT);
    create_concert(
        pool,
        concert,
        "Seatline Live 2027",
        "The Reservations",
        "Seoul",
    )
    .await?;
    let opening = Utc::now() + Duration::days(30);
    create_schedule(pool, DEMO_BIG_SCHEDULE.into(), concert, MAIN_HALL, opening).await?;
    for (i, id) in DEMO_SMALL_SCHEDULES.iter().enumerate() {
        let starts = opening + Duration::days(i as i64 + 1);
        create_schedule(pool, (*id).into(), concert, SMALL_HALL, starts).await?;
    }
    Ok(())
}

/// A concert with one fresh schedule of its own hall, for tests and benchmarks that must not
/// share seats with anyone.
#[tracing::instrument(skip(pool))]
pub async fn create_isolated_schedule(
    pool: &PgPool,
    rows: i32,
    cols: i32,
) -> Result<(ConcertId, ScheduleId), sqlx::Error> {
    let hall = Uuid::new_v4();
    let bands = vec![
        Band {
            grade: "VIP",
            last_row: 1,
            price: 100_000,
        },
        Band {
            grade: "R",
            last_row: rows.max(2) / 2,
            price: 70_000,
        },
        Band {
            grade: "S",
            last_row: rows.max(1),
            price: 50_000,
        },
    ];
    create_hall(pool, hall, "Test hall", rows, cols, &bands).await?;
    let concert = ConcertId::new();
    create_concert(pool, concert, "Test concert", "Test artist", "Test venue").await?;
    let schedule = ScheduleId::new();
    create_schedule(
        pool,
        schedule,
        concert,
        hall,
        Utc::now() + Duration::days(7),
    )
    .await?;
    Ok((concert, schedule))
}
