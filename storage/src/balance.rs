use crate::{constraint, violated_constraint};
use chrono::{DateTime, Utc};
use seatline_domain::{Amount, BalanceEntryKind, UserId};
use serde::Serialize;
use sqlx::PgPool;
use uuid::Uuid;

#[derive(Debug, Clone, Serialize)]
pub struct BalanceEntry {
    pub id: i64,
    pub kind: BalanceEntryKind,
    pub amount: i64,
    pub balance_after: i64,
    pub reservation_id: Option<Uuid>,
    pub topup_id: Option<Uuid>,
    pub created_at: DateTime<Utc>,
}

#[tracing::instrument(skip(pool), fields(user_id = %user))]
pub async fn get_balance(pool: &PgPool, user: UserId) -> Result<Option<i64>, sqlx::Error> {
    sqlx::query_scalar!(
        "SELECT balance FROM balances WHERE user_id = $1",
        user.as_uuid()
    )
    .fetch_optional(pool)
    .await
}

#[derive(Debug, thiserror::Error)]
pub enum ChargeError {
    /// The balance would pass its limit (`balance_within_limit`).
    #[error("the balance would exceed its limit")]
    LimitExceeded,
    #[error("the user has no balance")]
    NoBalance,
    #[error(transparent)]
    Database(#[from] sqlx::Error),
}

/// Adds to a balance and records a CHARGE entry, in one transaction. The row lock serialises
/// concurrent charges, so they add up exactly.
#[tracing::instrument(skip(pool), fields(user_id = %user, amount = %amount))]
pub async fn charge(pool: &PgPool, user: UserId, amount: Amount) -> Result<i64, ChargeError> {
    let mut tx = pool.begin().await?;
    let balance = sqlx::query_scalar!(
        "UPDATE balances SET balance = balance + $2, updated_at = now()
         WHERE user_id = $1 RETURNING balance",
        user.as_uuid(),
        amount.get()
    )
    .fetch_optional(&mut *tx)
    .await
    .map_err(|err| match violated_constraint(&err) {
        Some(constraint::BALANCE_WITHIN_LIMIT) => ChargeError::LimitExceeded,
        _ => ChargeError::Database(err),
    })?
    .ok_or(ChargeError::NoBalance)?;
    sqlx::query!(
        "INSERT INTO balance_history (user_id, kind, amount, balance_after)
         VALUES ($1, 'CHARGE', $2, $3)",
        user.as_uuid(),
        amount.get(),
        balance
    )
    .execute(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(balance)
}

#[tracing::instrument(skip(pool), fields(user_id = %user))]
pub async fn history(pool: &PgPool, user: UserId) -> Result<Vec<BalanceEntry>, sqlx::Error> {
    let rows = sqlx::query!(
        "SELECT id, kind, amount, balance_after, reservation_id, topup_id, created_at
         FROM balance_history WHERE user_id = $1 ORDER BY id DESC LIMIT 500",
        user.as_uuid()
    )
    .fetch_all(pool)
    .await?;
    rows.into_iter()
        .map(|r| {
            Ok(BalanceEntry {
                id: r.id,
                kind: crate::decode(&r.kind)?,
                amount: r.amount,
                balance_after: r.balance_after,
                reservation_id: r.reservation_id,
                topup_id: r.topup_id,
                created_at: r.created_at,
            })
        })
        .collect()
}
