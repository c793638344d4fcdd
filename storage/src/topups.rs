//! Balance top-ups paid by card. A top-up is PENDING until the provider's verified outcome
//! (a signed webhook, or Seatline asking the provider) settles it: a success credits the
//! balance once (`balance_history_one_credit_per_topup`), an abandoned payment ends FAILED.

use chrono::{DateTime, Utc};
use seatline_domain::{Amount, PaymentStatus, UserId};
use sqlx::PgPool;
use uuid::Uuid;

/// The most a balance may hold (`balance_within_limit`).
pub const BALANCE_LIMIT: i64 = 1_000_000_000_000;

#[derive(Debug, Clone)]
pub struct Topup {
    pub id: Uuid,
    pub user_id: Uuid,
    pub amount: i64,
    pub provider_payment_id: Option<String>,
    pub checkout_url: Option<String>,
    pub status: PaymentStatus,
    pub settled_by: Option<String>,
    pub declines: i32,
    pub created_at: DateTime<Utc>,
    pub settled_at: Option<DateTime<Utc>>,
}

#[derive(Debug, thiserror::Error)]
pub enum TopupError {
    /// The balance plus every pending top-up would pass the balance limit.
    #[error("the balance would exceed its limit")]
    LimitExceeded,
    /// Too many top-ups of this account are waiting for the provider.
    #[error("too many pending top-ups")]
    TooManyPending,
    #[error("the user has no balance")]
    NoBalance,
    #[error(transparent)]
    Database(#[from] sqlx::Error),
}

/// How a top-up was settled.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TopupSource {
    /// The provider's webhook, its signature checked.
    Webhook,
    /// Seatline asked the provider's API.
    Reconciliation,
    /// Seatline cancelled a payment the buyer never completed.
    Abandoned,
}

impl TopupSource {
    fn as_str(self) -> &'static str {
        match self {
            TopupSource::Webhook => "WEBHOOK",
            TopupSource::Reconciliation => "RECONCILIATION",
            TopupSource::Abandoned => "ABANDONED",
        }
    }
}

/// Records a new PENDING top-up. The buyer's balance row is locked while the limits are
/// checked, so concurrent top-ups of one account can't pass them together: at most
/// `max_pending` waiting at once, and the balance plus everything pending stays within the
/// balance limit (a success is then always creditable).
#[tracing::instrument(skip(pool), fields(user_id = %user, amount = %amount))]
pub async fn create_topup(
    pool: &PgPool,
    id: Uuid,
    user: UserId,
    amount: Amount,
    max_pending: i64,
    task_queue: &str,
) -> Result<(), TopupError> {
    let mut tx = pool.begin().await?;
    let balance = sqlx::query_scalar!(
        "SELECT balance FROM balances WHERE user_id = $1 FOR UPDATE",
        user.as_uuid()
    )
    .fetch_optional(&mut *tx)
    .await?
    .ok_or(TopupError::NoBalance)?;
    let pending = sqlx::query!(
        r#"SELECT count(*) AS "count!", coalesce(sum(amount), 0)::bigint AS "sum!"
           FROM balance_topups WHERE user_id = $1 AND status = 'PENDING'"#,
        user.as_uuid()
    )
    .fetch_one(&mut *tx)
    .await?;
    if pending.count >= max_pending {
        return Err(TopupError::TooManyPending);
    }
    if balance + pending.sum + amount.get() > BALANCE_LIMIT {
        return Err(TopupError::LimitExceeded);
    }
    sqlx::query!(
        "INSERT INTO balance_topups (id, user_id, amount, task_queue) VALUES ($1, $2, $3, $4)",
        id,
        user.as_uuid(),
        amount.get(),
        task_queue
    )
    .execute(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(())
}

/// The provider created the payment: remember its id and where the buyer pays.
#[tracing::instrument(skip(pool))]
pub async fn attach_provider_payment(
    pool: &PgPool,
    id: Uuid,
    provider_payment_id: &str,
    checkout_url: Option<&str>,
) -> Result<(), sqlx::Error> {
    sqlx::query!(
        "UPDATE balance_topups SET provider_payment_id = $2, checkout_url = $3
         WHERE id = $1 AND provider_payment_id IS NULL",
        id,
        provider_payment_id,
        checkout_url
    )
    .execute(pool)
    .await?;
    Ok(())
}

/// A top-up the provider never created (it was unreachable): nothing can settle it.
#[tracing::instrument(skip(pool))]
pub async fn discard_unstarted(pool: &PgPool, id: Uuid) -> Result<(), sqlx::Error> {
    sqlx::query!(
        "UPDATE balance_topups SET status = 'FAILED', settled_at = now(), settled_by = 'NOT_STARTED'
         WHERE id = $1 AND provider_payment_id IS NULL AND status = 'PENDING'",
        id
    )
    .execute(pool)
    .await?;
    Ok(())
}

macro_rules! topup_from_row {
    ($r:expr) => {{
        let r = $r;
        Ok::<_, sqlx::Error>(Topup {
            id: r.id,
            user_id: r.user_id,
            amount: r.amount,
            provider_payment_id: r.provider_payment_id,
            checkout_url: r.checkout_url,
            status: crate::decode(&r.status)?,
            settled_by: r.settled_by,
            declines: r.declines,
            created_at: r.created_at,
            settled_at: r.settled_at,
        })
    }};
}

#[tracing::instrument(skip(pool))]
pub async fn find_topup(pool: &PgPool, id: Uuid) -> Result<Option<Topup>, sqlx::Error> {
    let row = sqlx::query!(
        "SELECT id, user_id, amount, provider_payment_id, checkout_url, status, settled_by,
                declines, created_at, settled_at
         FROM balance_topups WHERE id = $1",
        id
    )
    .fetch_optional(pool)
    .await?;
    row.map(|r| topup_from_row!(r)).transpose()
}

#[tracing::instrument(skip(pool))]
pub async fn find_topup_by_payment(
    pool: &PgPool,
    provider_payment_id: &str,
) -> Result<Option<Topup>, sqlx::Error> {
    let row = sqlx::query!(
        "SELECT id, user_id, amount, provider_payment_id, checkout_url, status, settled_by,
                declines, created_at, settled_at
         FROM balance_topups WHERE provider_payment_id = $1",
        provider_payment_id
    )
    .fetch_optional(pool)
    .await?;
    row.map(|r| topup_from_row!(r)).transpose()
}

/// A buyer's top-ups, newest first.
#[tracing::instrument(skip(pool), fields(user_id = %user))]
pub async fn list_topups(pool: &PgPool, user: UserId) -> Result<Vec<Topup>, sqlx::Error> {
    let rows = sqlx::query!(
        "SELECT id, user_id, amount, provider_payment_id, checkout_url, status, settled_by,
                declines, created_at, settled_at
         FROM balance_topups WHERE user_id = $1 ORDER BY created_at DESC LIMIT 100",
        user.as_uuid()
    )
    .fetch_all(pool)
    .await?;
    rows.into_iter().map(|r| topup_from_row!(r)).collect()
}

/// What settling did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Settled {
    /// This call credited the balance.
    Credited { balance: i64 },
    /// This call marked the top-up FAILED.
    Failed,
    /// It was settled before (a duplicate webhook, reconciliation after the webhook).
    AlreadySettled(PaymentStatus),
    /// No top-up has this provider payment id.
    Unknown,
}

/// Settles a top-up from a verified provider outcome, in one transaction under the top-up's
/// row lock: a success credits the balance and writes a CHARGE entry (once: the unique index
/// guards it too), even after the top-up was marked FAILED, since the money was taken; an
/// abandoned payment fails a PENDING top-up.
#[tracing::instrument(skip(pool))]
pub async fn settle_topup(
    pool: &PgPool,
    provider_payment_id: &str,
    succeeded: bool,
    source: TopupSource,
) -> Result<Settled, sqlx::Error> {
    let mut tx = pool.begin().await?;
    let Some(topup) = sqlx::query!(
        "SELECT id, user_id, amount, status FROM balance_topups
         WHERE provider_payment_id = $1 FOR UPDATE",
        provider_payment_id
    )
    .fetch_optional(&mut *tx)
    .await?
    else {
        return Ok(Settled::Unknown);
    };
    let status: PaymentStatus = crate::decode(&topup.status)?;
    if !succeeded {
        if status != PaymentStatus::Pending {
            return Ok(Settled::AlreadySettled(status));
        }
        sqlx::query!(
            "UPDATE balance_topups SET status = 'FAILED', settled_at = now(), settled_by = $2
             WHERE id = $1",
            topup.id,
            source.as_str()
        )
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        return Ok(Settled::Failed);
    }
    if status == PaymentStatus::Applied {
        return Ok(Settled::AlreadySettled(status));
    }
    let balance = sqlx::query_scalar!(
        "UPDATE balances SET balance = balance + $2, updated_at = now()
         WHERE user_id = $1 RETURNING balance",
        topup.user_id,
        topup.amount
    )
    .fetch_one(&mut *tx)
    .await?;
    sqlx::query!(
        "INSERT INTO balance_history (user_id, kind, amount, balance_after, topup_id)
         VALUES ($1, 'CHARGE', $2, $3, $4)",
        topup.user_id,
        topup.amount,
        balance,
        topup.id
    )
    .execute(&mut *tx)
    .await?;
    sqlx::query!(
        "UPDATE balance_topups SET status = 'APPLIED', settled_at = now(), settled_by = $2
         WHERE id = $1",
        topup.id,
        source.as_str()
    )
    .execute(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(Settled::Credited { balance })
}

/// A declined card: the buyer may try another one on the same checkout.
#[tracing::instrument(skip(pool))]
pub async fn record_decline(pool: &PgPool, provider_payment_id: &str) -> Result<(), sqlx::Error> {
    sqlx::query!(
        "UPDATE balance_topups SET declines = declines + 1
         WHERE provider_payment_id = $1 AND status = 'PENDING'",
        provider_payment_id
    )
    .execute(pool)
    .await?;
    Ok(())
}

/// A pending top-up the sweeper should hand back to its workflow.
#[derive(Debug, Clone)]
pub struct UnsettledTopup {
    pub id: Uuid,
    pub provider_payment_id: String,
    pub amount: i64,
    pub created_at: DateTime<Utc>,
}

/// Top-ups of a task queue still PENDING `after_seconds` after they were created, at most one
/// nudge per top-up per ten minutes however many sweepers run.
#[tracing::instrument(skip(pool))]
pub async fn unsettled_topups(
    pool: &PgPool,
    task_queue: &str,
    after_seconds: i64,
    limit: i64,
) -> Result<Vec<UnsettledTopup>, sqlx::Error> {
    sqlx::query_as!(
        UnsettledTopup,
        r#"WITH due AS (
             SELECT id FROM balance_topups
             WHERE status = 'PENDING' AND task_queue = $3 AND provider_payment_id IS NOT NULL
               AND created_at < now() - make_interval(secs => $1)
               AND (nudged_at IS NULL OR nudged_at < now() - interval '10 minutes')
             ORDER BY created_at LIMIT $2
             FOR UPDATE SKIP LOCKED)
           UPDATE balance_topups t SET nudged_at = now() FROM due WHERE t.id = due.id
           RETURNING t.id, t.provider_payment_id AS "provider_payment_id!", t.amount, t.created_at"#,
        after_seconds as f64,
        limit,
        task_queue
    )
    .fetch_all(pool)
    .await
}
