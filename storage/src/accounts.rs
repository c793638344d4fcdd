//! Accounts (email, password hash, role) and their sessions. A session is one login: the
//! refresh token's hash lives here, so a logout or a reused (stolen) refresh token ends it.

use crate::{constraint, violated_constraint};
use chrono::{DateTime, Utc};
use seatline_domain::{Email, Role, UserId, UserName};
use sqlx::PgPool;
use uuid::Uuid;

#[derive(Debug, thiserror::Error)]
pub enum SignupError {
    #[error("an account with this email exists")]
    EmailTaken,
    #[error(transparent)]
    Database(#[from] sqlx::Error),
}

/// Creates an account with an empty balance.
#[tracing::instrument(skip(pool, name, password_hash), fields(user_id = %id))]
pub async fn create_account(
    pool: &PgPool,
    id: UserId,
    email: &Email,
    name: &UserName,
    password_hash: &str,
) -> Result<(), SignupError> {
    let mut tx = pool.begin().await?;
    let inserted = sqlx::query!(
        "INSERT INTO users (id, name, email, password_hash) VALUES ($1, $2, $3, $4)",
        id.as_uuid(),
        name.as_str(),
        email.as_str(),
        password_hash
    )
    .execute(&mut *tx)
    .await;
    if let Err(err) = inserted {
        return Err(match violated_constraint(&err) {
            Some(constraint::EMAIL_UNIQUE) => SignupError::EmailTaken,
            _ => err.into(),
        });
    }
    sqlx::query!("INSERT INTO balances (user_id) VALUES ($1)", id.as_uuid())
        .execute(&mut *tx)
        .await?;
    tx.commit().await?;
    Ok(())
}

/// What a login needs to know of an account.
#[derive(Debug, Clone)]
pub struct Credentials {
    pub user_id: UserId,
    pub password_hash: String,
    pub role: Role,
}

#[tracing::instrument(skip(pool))]
pub async fn credentials(pool: &PgPool, email: &Email) -> Result<Option<Credentials>, sqlx::Error> {
    let row = sqlx::query!(
        r#"SELECT id, password_hash AS "password_hash!", role FROM users
           WHERE email = $1 AND password_hash IS NOT NULL"#,
        email.as_str()
    )
    .fetch_optional(pool)
    .await?;
    row.map(|r| {
        Ok(Credentials {
            user_id: UserId::from(r.id),
            password_hash: r.password_hash,
            role: crate::decode(&r.role)?,
        })
    })
    .transpose()
}

/// Who an account is, as `GET /auth/me` shows it.
#[derive(Debug, Clone)]
pub struct Account {
    pub user_id: UserId,
    pub name: String,
    pub email: Option<String>,
    pub role: Role,
    pub created_at: DateTime<Utc>,
}

#[tracing::instrument(skip(pool), fields(user_id = %user))]
pub async fn account(pool: &PgPool, user: UserId) -> Result<Option<Account>, sqlx::Error> {
    let row = sqlx::query!(
        "SELECT id, name, email, role, created_at FROM users WHERE id = $1",
        user.as_uuid()
    )
    .fetch_optional(pool)
    .await?;
    row.map(|r| {
        Ok(Account {
            user_id: UserId::from(r.id),
            name: r.name,
            email: r.email,
            role: crate::decode(&r.role)?,
            created_at: r.created_at,
        })
    })
    .transpose()
}

/// Gives an account a role (an operator's command, `seatline-api grant-role`). `false` when
/// no account has this email.
#[tracing::instrument(skip(pool))]
pub async fn set_role(pool: &PgPool, email: &Email, role: Role) -> Result<bool, sqlx::Error> {
    let updated = sqlx::query!(
        "UPDATE users SET role = $2 WHERE email = $1",
        email.as_str(),
        role.as_str()
    )
    .execute(pool)
    .await?;
    Ok(updated.rows_affected() == 1)
}

/// Opens a session whose refresh token hashes to `refresh_hash`.
#[tracing::instrument(skip(pool, refresh_hash), fields(user_id = %user))]
pub async fn open_session(
    pool: &PgPool,
    session: Uuid,
    user: UserId,
    refresh_hash: &[u8],
    lifetime_seconds: i64,
) -> Result<(), sqlx::Error> {
    sqlx::query!(
        "INSERT INTO sessions (id, user_id, refresh_hash, expires_at)
         VALUES ($1, $2, $3, now() + make_interval(secs => $4))",
        session,
        user.as_uuid(),
        refresh_hash,
        lifetime_seconds as f64
    )
    .execute(pool)
    .await?;
    Ok(())
}

/// What presenting a refresh token did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refresh {
    /// The token was the session's current one; it is replaced by the new hash.
    Rotated { user: UserId, role: Role },
    /// An earlier token of a live session: someone kept a copy. The session is ended.
    Reused,
    /// No such session, or it has ended or expired.
    Invalid,
}

/// Swaps the session's refresh token for a new one, if `presented_hash` is its current one.
#[tracing::instrument(skip(pool, presented_hash, new_hash))]
pub async fn rotate_refresh(
    pool: &PgPool,
    session: Uuid,
    presented_hash: &[u8],
    new_hash: &[u8],
) -> Result<Refresh, sqlx::Error> {
    let mut tx = pool.begin().await?;
    let row = sqlx::query!(
        r#"SELECT s.refresh_hash, s.user_id, u.role,
                  (s.revoked_at IS NULL AND s.expires_at > now()) AS "live!"
           FROM sessions s JOIN users u ON u.id = s.user_id
           WHERE s.id = $1 FOR UPDATE OF s"#,
        session
    )
    .fetch_optional(&mut *tx)
    .await?;
    let Some(row) = row else {
        return Ok(Refresh::Invalid);
    };
    if !row.live {
        return Ok(Refresh::Invalid);
    }
    if row.refresh_hash != presented_hash {
        sqlx::query!(
            "UPDATE sessions SET revoked_at = now(), revoked_why = 'REFRESH_REUSED' WHERE id = $1",
            session
        )
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        return Ok(Refresh::Reused);
    }
    sqlx::query!(
        "UPDATE sessions SET refresh_hash = $2, refreshed_at = now() WHERE id = $1",
        session,
        new_hash
    )
    .execute(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(Refresh::Rotated {
        user: UserId::from(row.user_id),
        role: crate::decode(&row.role)?,
    })
}

/// Ends a session of `user` (a logout). Ending an ended session changes nothing.
#[tracing::instrument(skip(pool), fields(user_id = %user))]
pub async fn end_session(pool: &PgPool, session: Uuid, user: UserId) -> Result<(), sqlx::Error> {
    sqlx::query!(
        "UPDATE sessions SET revoked_at = now(), revoked_why = 'LOGOUT'
         WHERE id = $1 AND user_id = $2 AND revoked_at IS NULL",
        session,
        user.as_uuid()
    )
    .execute(pool)
    .await?;
    Ok(())
}

/// Sessions ended in the last `window_seconds`: access tokens of these are refused.
#[tracing::instrument(skip(pool))]
pub async fn ended_sessions(pool: &PgPool, window_seconds: i64) -> Result<Vec<Uuid>, sqlx::Error> {
    sqlx::query_scalar!(
        "SELECT id FROM sessions
         WHERE revoked_at IS NOT NULL AND revoked_at > now() - make_interval(secs => $1)",
        window_seconds as f64
    )
    .fetch_all(pool)
    .await
}
