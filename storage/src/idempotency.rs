//! `Idempotency-Key` records: the first answer to a key is the answer to every replay.

use serde_json::Value;
use sqlx::PgPool;

#[derive(Debug, PartialEq)]
pub enum Claim {
    /// First use of the key: run the request, then `complete` or `abandon`.
    Fresh,
    /// Answered before: replay this.
    Replay { status: u16, body: Option<Value> },
    /// The same key with another request.
    Mismatch,
    /// The first request with this key is still running.
    InProgress,
}

/// Claims `key` for a request whose fingerprint is `request_hash`. Keys live 24 hours; a
/// claim whose request died without an answer is given up after a minute.
#[tracing::instrument(skip(pool, request_hash))]
pub async fn claim(
    pool: &PgPool,
    scope: &str,
    key: &str,
    request_hash: &str,
) -> Result<Claim, sqlx::Error> {
    sqlx::query!(
        "DELETE FROM idempotency_keys WHERE scope = $1 AND key = $2
           AND (created_at < now() - interval '24 hours'
                OR (status_code IS NULL AND created_at < now() - interval '1 minute'))",
        scope,
        key
    )
    .execute(pool)
    .await?;
    let inserted = sqlx::query!(
        "INSERT INTO idempotency_keys (scope, key, request_hash) VALUES ($1, $2, $3)
         ON CONFLICT (scope, key) DO NOTHING",
        scope,
        key,
        request_hash
    )
    .execute(pool)
    .await?;
    if inserted.rows_affected() == 1 {
        return Ok(Claim::Fresh);
    }
    let Some(row) = sqlx::query!(
        "SELECT request_hash, status_code, response_body FROM idempotency_keys
         WHERE scope = $1 AND key = $2",
        scope,
        key
    )
    .fetch_optional(pool)
    .await?
    else {
        return Ok(Claim::InProgress); // deleted between our statements: a race, try again
    };
    Ok(match (row.request_hash == request_hash, row.status_code) {
        (false, _) => Claim::Mismatch,
        (true, None) => Claim::InProgress,
        (true, Some(status)) => Claim::Replay {
            status: status as u16,
            body: row.response_body,
        },
    })
}

#[tracing::instrument(skip(pool, body))]
pub async fn complete(
    pool: &PgPool,
    scope: &str,
    key: &str,
    status: u16,
    body: Option<Value>,
) -> Result<(), sqlx::Error> {
    sqlx::query!(
        "UPDATE idempotency_keys SET status_code = $3, response_body = $4 WHERE scope = $1 AND key = $2",
        scope,
        key,
        status as i32,
        body
    )
    .execute(pool)
    .await?;
    Ok(())
}

/// Forgets a claim whose request failed for reasons worth retrying (5xx).
#[tracing::instrument(skip(pool))]
pub async fn abandon(pool: &PgPool, scope: &str, key: &str) -> Result<(), sqlx::Error> {
    sqlx::query!(
        "DELETE FROM idempotency_keys WHERE scope = $1 AND key = $2 AND status_code IS NULL",
        scope,
        key
    )
    .execute(pool)
    .await?;
    Ok(())
}

/// Drops keys older than a day.
#[tracing::instrument(skip(pool))]
pub async fn purge_expired(pool: &PgPool) -> Result<u64, sqlx::Error> {
    let done =
        sqlx::query!("DELETE FROM idempotency_keys WHERE created_at < now() - interval '24 hours'")
            .execute(pool)
            .await?;
    Ok(done.rows_affected())
}
