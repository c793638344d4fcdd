//! Every SQL statement of Seatline. Handlers and activities call these small functions, so a
//! rule such as "a seat is held by one reservation at most" lives in one place.

pub mod balance;
pub mod catalog;
pub mod demo;
pub mod idempotency;
pub mod payments;
pub mod reservations;
pub mod seat_cache;
pub mod users;
pub mod waiting_room;

use sqlx::postgres::{PgPool, PgPoolOptions};
use std::time::Duration;

pub use sqlx::PgPool as Pool;

/// Constraint names that carry business meaning; the API maps violations of them to errors.
pub mod constraint {
    pub const ONE_LIVE_CLAIM: &str = "reservation_seats_one_live_claim";
    pub const BALANCE_NEVER_NEGATIVE: &str = "balance_never_negative";
    pub const BALANCE_WITHIN_LIMIT: &str = "balance_within_limit";
    pub const ONE_USE_PER_RESERVATION: &str = "balance_history_one_use_per_reservation";
}

pub async fn connect(url: &str, max_connections: u32) -> Result<PgPool, sqlx::Error> {
    PgPoolOptions::new()
        .max_connections(max_connections)
        .acquire_timeout(Duration::from_secs(5))
        .connect(url)
        .await
}

/// Applies the migrations in `migrations/`; safe to run from several processes at once
/// (sqlx takes an advisory lock).
pub async fn migrate(pool: &PgPool) -> Result<(), sqlx::migrate::MigrateError> {
    sqlx::migrate!("../migrations").run(pool).await
}

#[tracing::instrument(skip(pool))]
pub async fn ping(pool: &PgPool) -> Result<(), sqlx::Error> {
    sqlx::query!("SELECT 1 AS one")
        .fetch_one(pool)
        .await
        .map(|_| ())
}

/// The name of the constraint a database error violated, if any.
pub fn violated_constraint(err: &sqlx::Error) -> Option<&str> {
    match err {
        sqlx::Error::Database(db) => db.constraint(),
        _ => None,
    }
}

/// Who did a step of a reservation, as the audit log records it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Actor {
    User,
    Provider,
    Timer,
    Operator,
    System,
}

impl Actor {
    pub fn as_str(&self) -> &'static str {
        match self {
            Actor::User => "USER",
            Actor::Provider => "PROVIDER",
            Actor::Timer => "TIMER",
            Actor::Operator => "OPERATOR",
            Actor::System => "SYSTEM",
        }
    }

    pub fn parse(raw: &str) -> Option<Actor> {
        Some(match raw {
            "USER" => Actor::User,
            "PROVIDER" => Actor::Provider,
            "TIMER" => Actor::Timer,
            "OPERATOR" => Actor::Operator,
            "SYSTEM" => Actor::System,
            _ => return None,
        })
    }
}
