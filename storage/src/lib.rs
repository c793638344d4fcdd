//! Every SQL statement of Seatline. Handlers and activities call these small functions, so a
//! rule such as "a seat is held by one reservation at most" lives in one place.

pub mod accounts;
pub mod admin;
pub mod balance;
pub mod catalog;
pub mod demo;
pub mod idempotency;
pub mod payments;
pub mod pre_queue;
pub mod reservations;
pub mod seat_cache;
pub mod topups;
pub mod users;
pub mod waiting_room;

use sqlx::postgres::{PgConnectOptions, PgPool, PgPoolOptions};
use std::{str::FromStr, time::Duration};

pub use sqlx::PgPool as Pool;

/// Constraint names that carry business meaning; the API maps violations of them to errors.
pub mod constraint {
    pub const ONE_LIVE_CLAIM: &str = "reservation_seats_one_live_claim";
    pub const BALANCE_WITHIN_LIMIT: &str = "balance_within_limit";
    pub const ONE_USE_PER_RESERVATION: &str = "balance_history_one_use_per_reservation";
    pub const EMAIL_UNIQUE: &str = "users_email_unique";
}

/// A pool without statement limits: for tools, seeding and tests.
pub async fn connect(url: &str, max_connections: u32) -> Result<PgPool, sqlx::Error> {
    PgPoolOptions::new()
        .max_connections(max_connections)
        .acquire_timeout(Duration::from_secs(5))
        .connect(url)
        .await
}

/// How long a statement may run and wait for a lock on a service's connections. Both stay
/// below the activities' start-to-close timeouts, so an attempt that Temporal has given up
/// on stops in the database too instead of committing later.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DatabaseLimits {
    pub statement_timeout: Duration,
    pub lock_timeout: Duration,
}

impl Default for DatabaseLimits {
    fn default() -> Self {
        Self {
            statement_timeout: Duration::from_secs(4),
            lock_timeout: Duration::from_secs(2),
        }
    }
}

/// The pool of the API and the worker: every connection starts with `statement_timeout`
/// and `lock_timeout` set (startup parameters, no extra round trip). The pool reconnects by
/// itself after PostgreSQL restarts; a dead connection is tested before it is handed out.
pub async fn connect_bounded(
    url: &str,
    max_connections: u32,
    limits: DatabaseLimits,
) -> Result<PgPool, sqlx::Error> {
    let options = PgConnectOptions::from_str(url)?.options([
        (
            "statement_timeout",
            limits.statement_timeout.as_millis().to_string(),
        ),
        ("lock_timeout", limits.lock_timeout.as_millis().to_string()),
    ]);
    PgPoolOptions::new()
        .max_connections(max_connections)
        .acquire_timeout(Duration::from_secs(3))
        .test_before_acquire(true)
        .connect_with(options)
        .await
}

/// Applies the migrations in `migrations/`; safe to run from several processes at once
/// (sqlx takes an advisory lock). Runs on a connection of its own without statement limits,
/// which is closed afterwards rather than returned to the pool.
pub async fn migrate(pool: &PgPool) -> Result<(), sqlx::migrate::MigrateError> {
    let mut conn = pool.acquire().await?;
    sqlx::raw_sql("SET statement_timeout = 0; SET lock_timeout = 0")
        .execute(&mut *conn)
        .await?;
    sqlx::migrate!("../migrations").run(&mut *conn).await?;
    drop(conn.detach());
    Ok(())
}

/// A Redis connection for a service: every command answers within `response_timeout` or
/// fails (so a paused Redis never hangs a request), and a lost connection is re-established
/// in the background on the next command.
pub async fn connect_redis(url: &str) -> redis::RedisResult<redis::aio::ConnectionManager> {
    let client = redis::Client::open(url)?;
    let config = redis::aio::ConnectionManagerConfig::new()
        .set_connection_timeout(Duration::from_secs(2))
        .set_response_timeout(Duration::from_secs(2))
        .set_number_of_retries(3)
        .set_max_delay(1_000);
    redis::aio::ConnectionManager::new_with_config(client, config).await
}

#[tracing::instrument(skip(pool))]
pub async fn ping(pool: &PgPool) -> Result<(), sqlx::Error> {
    sqlx::query!("SELECT 1 AS one")
        .fetch_one(pool)
        .await
        .map(|_| ())
}

/// A status word read from a column whose CHECK constraint lists the words: a word this build
/// does not know is a decoding error, not a business outcome.
pub(crate) fn decode<T>(raw: &str) -> Result<T, sqlx::Error>
where
    T: std::str::FromStr<Err = seatline_domain::ParseError>,
{
    raw.parse().map_err(|e| sqlx::Error::Decode(Box::new(e)))
}

/// The name of the constraint a database error violated, if any.
pub fn violated_constraint(err: &sqlx::Error) -> Option<&str> {
    match err {
        sqlx::Error::Database(db) => db.constraint(),
        _ => None,
    }
}

/// Who did a step of a reservation, as the audit log records it.
pub use seatline_domain::Actor;
