//! Many buyers at once: straight into PostgreSQL (`--fast-users`, the default) with a
//! balance and its matching CHARGE entry, bearer tokens signed here with `AUTH_SECRET`; or
//! one `POST /api/v1/users` each.

use crate::api::{Api, Credentials};
use futures::{stream, StreamExt};
use seatline_api::auth::{AccessClaims, TokenSigner};
use seatline_domain::{Role, UserId};
use sqlx::PgPool;
use uuid::Uuid;

/// Every fast user starts with this much, charged: enough for 4 of the dearest seats.
pub const STARTING_BALANCE: i64 = 1_000_000;
const BATCH: usize = 5_000;

/// `count` users inserted in batches, each with `STARTING_BALANCE` and a CHARGE entry for it,
/// so balance == CHARGE - USE + REFUND holds from the start.
pub async fn insert_fast(
    pool: &PgPool,
    auth_secret: &str,
    count: usize,
    label: &str,
) -> anyhow::Result<Vec<Credentials>> {
    let signer = TokenSigner::new(auth_secret);
    // Access tokens that outlast the longest run; each buyer its own (unrecorded) session.
    let expires_at = chrono::Utc::now().timestamp() + 24 * 3600;
    let mut users = Vec::with_capacity(count);
    let ids: Vec<Uuid> = (0..count).map(|_| Uuid::new_v4()).collect();
    for (batch_no, batch) in ids.chunks(BATCH).enumerate() {
        let names: Vec<String> = (0..batch.len())
            .map(|i| format!("{label} {}", batch_no * BATCH + i))
            .collect();
        let mut tx = pool.begin().await?;
        sqlx::query("INSERT INTO users (id, name) SELECT * FROM unnest($1::uuid[], $2::text[])")
            .bind(batch)
            .bind(&names)
            .execute(&mut *tx)
            .await?;
        sqlx::query("INSERT INTO balances (user_id, balance) SELECT unnest($1::uuid[]), $2")
            .bind(batch)
            .bind(STARTING_BALANCE)
            .execute(&mut *tx)
            .await?;
        sqlx::query(
            "INSERT INTO balance_history (user_id, kind, amount, balance_after)
             SELECT unnest($1::uuid[]), 'CHARGE', $2, $2",
        )
        .bind(batch)
        .bind(STARTING_BALANCE)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        users.extend(batch.iter().map(|id| Credentials {
            id: *id,
            token: signer.issue(&AccessClaims {
                user: UserId::from(*id),
                session: Uuid::new_v4(),
                role: Role::Buyer,
                expires_at,
            }),
        }));
    }
    Ok(users)
}

/// `count` users through the API, `parallel` at a time; they start with a zero balance.
pub async fn create_via_api(
    api: &Api,
    count: usize,
    parallel: usize,
    label: &str,
) -> anyhow::Result<Vec<Credentials>> {
    stream::iter(0..count)
        .map(|i| {
            let api = api.clone();
            let name = format!("{label} {i}");
            async move { api.create_user(&name).await }
        })
        .buffer_unordered(parallel.max(1))
        .collect::<Vec<_>>()
        .await
        .into_iter()
        .collect()
}

/// Ends the admission controller of a schedule this run made (it only ends by itself when the
/// schedule sells out), so a benchmark leaves nothing ticking on the Temporal server.
pub async fn end_admission(settings: &seatline_config::Settings, schedule: Uuid) {
    let Ok(client) = seatline_worker::connect_temporal(settings).await else {
        return;
    };
    let id = seatline_api::waiting_room::admission_workflow_id(
        &settings.temporal.task_queue,
        seatline_domain::ScheduleId::from(schedule),
    );
    let handle = client.get_workflow_handle::<seatline_workflows::AdmissionWorkflow>(id);
    let options = temporalio_client::WorkflowTerminateOptions::builder()
        .reason("seatline-loadtest finished with this schedule".to_owned())
        .build();
    // Already over (sold out) or never started: nothing to do.
    let _ = handle.terminate(options).await;
}
