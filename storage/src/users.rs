use seatline_domain::{UserId, UserName};
use sqlx::PgPool;

/// Creates a user with an empty balance.
#[tracing::instrument(skip(pool, name), fields(user_id = %id))]
pub async fn create_user(pool: &PgPool, id: UserId, name: &UserName) -> Result<(), sqlx::Error> {
    let mut tx = pool.begin().await?;
    sqlx::query!(
        "INSERT INTO users (id, name) VALUES ($1, $2)",
        id.as_uuid(),
        name.as_str()
    )
    .execute(&mut *tx)
    .await?;
    sqlx::query!("INSERT INTO balances (user_id) VALUES ($1)", id.as_uuid())
        .execute(&mut *tx)
        .await?;
    tx.commit().await
}

#[tracing::instrument(skip(pool))]
pub async fn user_exists(pool: &PgPool, id: UserId) -> Result<bool, sqlx::Error> {
    let row = sqlx::query_scalar!(
        r#"SELECT EXISTS (SELECT 1 FROM users WHERE id = $1) AS "exists!""#,
        id.as_uuid()
    )
    .fetch_one(pool)
    .await?;
    Ok(row)
}
