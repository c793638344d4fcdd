//! Schedules of the load generator's own, so a run never touches the demo data.

use sqlx::PgPool;
use uuid::Uuid;

/// A new schedule with at least `seats` seats, 50 to a row, and its seat ids in map order.
pub async fn with_seats(pool: &PgPool, seats: usize) -> anyhow::Result<(Uuid, Vec<i64>)> {
    const COLS: usize = 50;
    let rows = seats.div_ceil(COLS).max(1);
    let (_, schedule) =
        seatline_storage::demo::create_isolated_schedule(pool, rows as i32, COLS as i32).await?;
    let seat_ids = seatline_storage::catalog::seat_map(pool, schedule)
        .await?
        .into_iter()
        .map(|s| s.seat_id)
        .collect();
    Ok((schedule.as_uuid(), seat_ids))
}
