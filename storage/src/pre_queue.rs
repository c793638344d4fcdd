//! The pre-queue's verifiable draw. Each schedule gets a secret 32-byte seed, committed to by
//! its SHA-256 before booking opens. A buyer who joins before opening is an anonymized entry
//! (`entry_id`), and their place is `1 + (HMAC-SHA256(seed, entry_id)[0..8] as a big-endian
//! integer) mod (PRE_QUEUE_SPAN - 2^20)`: unpredictable before the seed is revealed, and
//! recomputable by anyone after. Admission goes in ascending place.

use crate::waiting_room::PRE_QUEUE_SPAN;
use chrono::{DateTime, Utc};
use hmac::{Hmac, Mac};
use rand::RngCore;
use seatline_domain::{ScheduleId, UserId};
use sha2::{Digest, Sha256};
use sqlx::PgPool;

/// Drawn places stay below this, leaving room for the next free place should two meet.
const PLACES: u64 = PRE_QUEUE_SPAN - (1 << 20);

/// The public, anonymized id of a user's entry in a schedule's pre-queue.
pub fn entry_id(schedule: ScheduleId, user: UserId) -> String {
    let digest = Sha256::new()
        .chain_update(b"seatline-pre-queue-entry\n")
        .chain_update(schedule.as_uuid().as_bytes())
        .chain_update(user.as_uuid().as_bytes())
        .finalize();
    hex::encode(&digest[..16])
}

/// The place drawn for `entry_id` with `seed`.
pub fn place(seed: &[u8], entry_id: &str) -> u64 {
    let mut mac = Hmac::<Sha256>::new_from_slice(seed).expect("HMAC takes any key");
    mac.update(entry_id.as_bytes());
    let tag = mac.finalize().into_bytes();
    let value = u64::from_be_bytes(tag[..8].try_into().expect("8 bytes"));
    1 + value % PLACES
}

/// The commitment to a seed: its SHA-256, hex.
pub fn commitment(seed: &[u8]) -> String {
    hex::encode(Sha256::digest(seed))
}

/// The schedule's seed, made on first use.
#[tracing::instrument(skip(pool))]
pub async fn seed(pool: &PgPool, schedule: ScheduleId) -> Result<Vec<u8>, sqlx::Error> {
    let mut fresh = [0u8; 32];
    rand::thread_rng().fill_bytes(&mut fresh);
    sqlx::query!(
        "INSERT INTO pre_queue_draws (schedule_id, seed, commitment) VALUES ($1, $2, $3)
         ON CONFLICT (schedule_id) DO NOTHING",
        schedule.as_uuid(),
        &fresh[..],
        commitment(&fresh)
    )
    .execute(pool)
    .await?;
    sqlx::query_scalar!(
        "SELECT seed FROM pre_queue_draws WHERE schedule_id = $1",
        schedule.as_uuid()
    )
    .fetch_one(pool)
    .await
}

/// Records a pre-queue entry (once per user and schedule) with the place it got.
#[tracing::instrument(skip(pool), fields(user_id = %user))]
pub async fn record_entry(
    pool: &PgPool,
    schedule: ScheduleId,
    user: UserId,
    place: u64,
) -> Result<(), sqlx::Error> {
    sqlx::query!(
        "INSERT INTO pre_queue_entries (schedule_id, user_id, entry_id, place)
         VALUES ($1, $2, $3, $4) ON CONFLICT (schedule_id, user_id) DO NOTHING",
        schedule.as_uuid(),
        user.as_uuid(),
        entry_id(schedule, user),
        place as i64
    )
    .execute(pool)
    .await?;
    Ok(())
}

/// What is public of a schedule's draw: the commitment always; once booking has opened, the
/// seed and every entry.
#[derive(Debug, Clone)]
pub struct Draw {
    pub commitment: Option<String>,
    pub opens_at: DateTime<Utc>,
    pub opened: bool,
    pub seed: Option<Vec<u8>>,
    pub entries: Vec<String>,
    pub entry_count: i64,
}

#[tracing::instrument(skip(pool))]
pub async fn draw(pool: &PgPool, schedule: ScheduleId) -> Result<Option<Draw>, sqlx::Error> {
    let Some(row) = sqlx::query!(
        r#"SELECT s.booking_opens_at, s.booking_opens_at <= now() AS "opened!", d.seed AS "seed?",
                  d.commitment AS "commitment?",
                  (SELECT count(*) FROM pre_queue_entries e WHERE e.schedule_id = s.id) AS "entries!"
           FROM schedules s LEFT JOIN pre_queue_draws d ON d.schedule_id = s.id
           WHERE s.id = $1"#,
        schedule.as_uuid()
    )
    .fetch_optional(pool)
    .await?
    else {
        return Ok(None);
    };
    let entries = if row.opened {
        sqlx::query_scalar!(
            "SELECT entry_id FROM pre_queue_entries WHERE schedule_id = $1 ORDER BY entry_id",
            schedule.as_uuid()
        )
        .fetch_all(pool)
        .await?
    } else {
        Vec::new()
    };
    Ok(Some(Draw {
        commitment: row.commitment,
        opens_at: row.booking_opens_at,
        opened: row.opened,
        seed: if row.opened { row.seed } else { None },
        entries,
        entry_count: row.entries,
    }))
}

/// A buyer's own entry: when they joined, and their rank in the drawn order (1 = first), known
/// once booking has opened.
#[derive(Debug, Clone)]
pub struct Receipt {
    pub entry_id: String,
    pub joined_at: DateTime<Utc>,
    pub rank: Option<i64>,
}

#[tracing::instrument(skip(pool), fields(user_id = %user))]
pub async fn receipt(
    pool: &PgPool,
    schedule: ScheduleId,
    user: UserId,
) -> Result<Option<Receipt>, sqlx::Error> {
    let row = sqlx::query!(
        r#"SELECT e.entry_id, e.joined_at,
                  CASE WHEN s.booking_opens_at <= now() THEN
                    (SELECT count(*) FROM pre_queue_entries o
                      WHERE o.schedule_id = e.schedule_id AND o.place <= e.place)
                  END AS rank
           FROM pre_queue_entries e JOIN schedules s ON s.id = e.schedule_id
           WHERE e.schedule_id = $1 AND e.user_id = $2"#,
        schedule.as_uuid(),
        user.as_uuid()
    )
    .fetch_optional(pool)
    .await?;
    Ok(row.map(|r| Receipt {
        entry_id: r.entry_id,
        joined_at: r.joined_at,
        rank: r.rank,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn places_are_a_pure_function_of_seed_and_entry() {
        let (schedule, user) = (ScheduleId::new(), UserId::new());
        let entry = entry_id(schedule, user);
        assert_eq!(entry, entry_id(schedule, user));
        assert_ne!(entry, entry_id(ScheduleId::new(), user));
        assert_eq!(entry.len(), 32);
        let seed = [7u8; 32];
        let p = place(&seed, &entry);
        assert_eq!(p, place(&seed, &entry));
        assert!((1..PRE_QUEUE_SPAN).contains(&p));
        assert_ne!(p, place(&[8u8; 32], &entry));
        assert_eq!(commitment(&seed).len(), 64);
    }

    #[test]
    fn a_draw_of_many_entries_is_spread_and_almost_never_collides() {
        let seed = [42u8; 32];
        let schedule = ScheduleId::new();
        let mut places: Vec<u64> = (0..20_000)
            .map(|_| place(&seed, &entry_id(schedule, UserId::new())))
            .collect();
        places.sort_unstable();
        places.dedup();
        assert_eq!(places.len(), 20_000);
        assert!(places[0] < PLACES / 100 && *places.last().unwrap() > PLACES / 100 * 99);
    }
}
