//! The seat map in Redis, kept in step with PostgreSQL: every seat of a schedule as
//! `<A|H|S>:<version>:<reservation>`, newer versions only. Activities write what they just
//! committed; every change is published on one channel, from which each API process updates
//! its in-memory seat maps and its live streams.
//!
//! It also answers the pre-check: a hold claims its seats here, all or nothing, before any
//! workflow starts, so contended losers never reach Temporal. PostgreSQL remains the final
//! guard. If Redis loses the data, `ensure_ready` rebuilds it from PostgreSQL.

use redis::{aio::ConnectionManager, Script};
use seatline_domain::{ScheduleId, SeatStatus};
use serde::{Deserialize, Serialize};
use sqlx::PgPool;
use uuid::Uuid;

pub const CHANGES_CHANNEL: &str = "seatline:seat-changes";

struct Keys {
    seats: String,
    claims: String,
    ready: String,
    version: String,
}

impl Keys {
    fn of(schedule: ScheduleId) -> Self {
        let k = |name: &str| format!("sm:{{{schedule}}}:{name}");
        Self {
            seats: k("seats"),
            claims: k("claims"),
            ready: k("ready"),
            version: k("version"),
        }
    }
}

/// One seat as PostgreSQL last committed it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SeatState {
    pub seat_id: i64,
    pub status: String,
    pub version: i64,
    pub reservation_id: Option<Uuid>,
}

/// What the channel carries.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SeatChanges {
    pub schedule_id: Uuid,
    pub version: i64,
    pub changes: Vec<SeatChange>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SeatChange {
    pub seat_id: i64,
    pub status: SeatStatus,
}

/// Seats of a schedule from PostgreSQL, all of them or those listed.
#[tracing::instrument(skip(pool, only))]
pub async fn load_states(
    pool: &PgPool,
    schedule: ScheduleId,
    only: Option<&[i64]>,
) -> Result<Vec<SeatState>, sqlx::Error> {
    match only {
        Some(ids) => {
            sqlx::query_as!(
                SeatState,
                "SELECT seat_id, status, version, reservation_id FROM seat_inventory
                 WHERE schedule_id = $1 AND seat_id = ANY($2)",
                schedule.as_uuid(),
                ids
            )
            .fetch_all(pool)
            .await
        }
        None => {
            sqlx::query_as!(
                SeatState,
                "SELECT seat_id, status, version, reservation_id FROM seat_inventory
                 WHERE schedule_id = $1",
                schedule.as_uuid()
            )
            .fetch_all(pool)
            .await
        }
    }
}

/// The seats a reservation holds or held, as PostgreSQL has them now.
#[tracing::instrument(skip(pool))]
pub async fn load_reservation_states(
    pool: &PgPool,
    reservation: Uuid,
) -> Result<Option<(ScheduleId, Vec<SeatState>)>, sqlx::Error> {
    let seats = sqlx::query!(
        "SELECT schedule_id, seat_id FROM reservation_seats WHERE reservation_id = $1",
        reservation
    )
    .fetch_all(pool)
    .await?;
    let Some(first) = seats.first() else {
        return Ok(None);
    };
    let schedule = ScheduleId::from(first.schedule_id);
    let ids: Vec<i64> = seats.iter().map(|s| s.seat_id).collect();
    Ok(Some((
        schedule,
        load_states(pool, schedule, Some(&ids)).await?,
    )))
}

/// Publishes what PostgreSQL now has for a reservation's seats: the step after every commit
/// that changes them.
#[tracing::instrument(skip(redis, pool))]
pub async fn publish_reservation(
    redis: &mut ConnectionManager,
    pool: &PgPool,
    reservation: Uuid,
) -> Result<(), CacheError> {
    if let Some((schedule, states)) = load_reservation_states(pool, reservation).await? {
        apply(redis, schedule, &states, true).await?;
    }
    Ok(())
}

/// Writes committed seat states, keeping the newer of what Redis has and what is written,
/// and publishes what changed.
#[tracing::instrument(skip(redis, states), fields(seats = states.len()))]
pub async fn apply(
    redis: &mut ConnectionManager,
    schedule: ScheduleId,
    states: &[SeatState],
    publish: bool,
) -> redis::RedisResult<()> {
    let k = Keys::of(schedule);
    let script = Script::new(
        r#"
        local changed = {}
        for i = 4, #ARGV, 3 do
          local id, value, version = ARGV[i], ARGV[i + 1], tonumber(ARGV[i + 2])
          local current = redis.call('HGET', KEYS[1], id)
          local current_version = -1
          if current then current_version = tonumber(string.match(current, '^%a:(%-?%d+)')) end
          if version > current_version then
            redis.call('HSET', KEYS[1], id, value)
            local l = string.sub(value, 1, 1)
            table.insert(changed, { seat_id = tonumber(id),
              status = (l == 'H' and 'HELD') or (l == 'S' and 'SOLD') or (l == 'W' and 'WITHHELD')
                or 'AVAILABLE' })
          end
        end
        if #changed == 0 then return 0 end
        local version = redis.call('INCR', KEYS[2])
        if ARGV[3] == '1' then
          redis.call('PUBLISH', ARGV[2], cjson.encode({ schedule_id = ARGV[1], version = version, changes = changed }))
        end
        return #changed
        "#,
    );
    let mut invocation = script.prepare_invoke();
    invocation
        .key(&k.seats)
        .key(&k.version)
        .arg(schedule.to_string())
        .arg(CHANGES_CHANNEL)
        .arg(if publish { "1" } else { "0" });
    for s in states {
        let letter = s
            .status
            .parse::<SeatStatus>()
            .unwrap_or(SeatStatus::Available)
            .letter() as char;
        let value = format!(
            "{}:{}:{}",
            letter,
            s.version,
            s.reservation_id.map(|r| r.to_string()).unwrap_or_default()
        );
        invocation.arg(s.seat_id).arg(value).arg(s.version);
    }
    invocation.invoke_async::<i64>(redis).await.map(|_| ())
}

/// Re-checks a schedule's seat map in Redis against PostgreSQL and corrects every seat whose
/// Redis state is older (a Redis restored from an old snapshot, a lagging replica, a write
/// lost in an outage), publishing the corrections. Returns how many seats it corrected. A
/// schedule Redis has no map of is left alone: `ensure_ready` builds it on first use.
#[tracing::instrument(skip(redis, pool))]
pub async fn repair(
    redis: &mut ConnectionManager,
    pool: &PgPool,
    schedule: ScheduleId,
) -> Result<usize, CacheError> {
    let k = Keys::of(schedule);
    let ready: bool = redis::cmd("EXISTS")
        .arg(&k.ready)
        .query_async(redis)
        .await?;
    if !ready {
        return Ok(0);
    }
    let states = load_states(pool, schedule, None).await?;
    let cached: Vec<(i64, String)> = redis::cmd("HGETALL")
        .arg(&k.seats)
        .query_async(redis)
        .await?;
    let cached: std::collections::HashMap<i64, i64> = cached
        .into_iter()
        .filter_map(|(id, v)| Some((id, v.split(':').nth(1)?.parse().ok()?)))
        .collect();
    let behind: Vec<SeatState> = states
        .into_iter()
        .filter(|s| cached.get(&s.seat_id).is_none_or(|v| *v < s.version))
        .collect();
    if behind.is_empty() {
        return Ok(0);
    }
    for chunk in behind.chunks(2_000) {
        apply(redis, schedule, chunk, true).await?;
    }
    tracing::warn!(%schedule, seats = behind.len(), "seat map in Redis was behind PostgreSQL; corrected");
    Ok(behind.len())
}

/// Drops a schedule's seat map from Redis (its seats changed: a new hall); the next use
/// rebuilds it from PostgreSQL.
#[tracing::instrument(skip(redis))]
pub async fn forget(redis: &mut ConnectionManager, schedule: ScheduleId) -> redis::RedisResult<()> {
    let k = Keys::of(schedule);
    redis::cmd("DEL")
        .arg(&k.ready)
        .arg(&k.seats)
        .arg(&k.claims)
        .query_async::<()>(redis)
        .await
}

/// Rebuilds a schedule's seat map in Redis from PostgreSQL if Redis does not have it
/// (first use, or Redis lost it). Concurrent rebuilds are harmless: versions decide.
#[tracing::instrument(skip(redis, pool))]
pub async fn ensure_ready(
    redis: &mut ConnectionManager,
    pool: &PgPool,
    schedule: ScheduleId,
) -> Result<(), CacheError> {
    let k = Keys::of(schedule);
    let ready: bool = redis::cmd("EXISTS")
        .arg(&k.ready)
        .query_async(redis)
        .await?;
    if ready {
        return Ok(());
    }
    let states = load_states(pool, schedule, None).await?;
    for chunk in states.chunks(2_000) {
        apply(redis, schedule, chunk, false).await?;
    }
    redis::cmd("SET")
        .arg(&k.ready)
        .arg("1")
        .query_async::<()>(redis)
        .await?;
    tracing::info!(%schedule, seats = states.len(), "seat map rebuilt in Redis from PostgreSQL");
    Ok(())
}

#[derive(Debug, thiserror::Error)]
pub enum CacheError {
    #[error(transparent)]
    Redis(#[from] redis::RedisError),
    #[error(transparent)]
    Database(#[from] sqlx::Error),
}

/// The pre-check: claims every seat for `reservation`, or returns the seats someone else holds,
/// bought or is claiming right now. A claim lapses after `ttl_ms` if its hold never finishes.
#[tracing::instrument(skip(redis))]
pub async fn claim(
    redis: &mut ConnectionManager,
    schedule: ScheduleId,
    seat_ids: &[i64],
    reservation: Uuid,
    ttl_ms: i64,
) -> redis::RedisResult<Vec<i64>> {
    let k = Keys::of(schedule);
    // Redis' clock, so claims lapse on time whatever the API processes' clocks say.
    let script = Script::new(
        r#"
        local t = redis.call('TIME')
        local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
        local rid, expires = ARGV[1], now + tonumber(ARGV[2])
        local taken = {}
        for i = 4, #ARGV do
          local id = ARGV[i]
          local seat = redis.call('HGET', KEYS[1], id)
          -- Held, sold or withheld: anything but available (no entry: not cached yet).
          if seat and string.sub(seat, 1, 1) ~= 'A' then
            table.insert(taken, tonumber(id))
          else
            local claim = redis.call('HGET', KEYS[2], id)
            if claim then
              local owner, until_ms = string.match(claim, '^([^:]+):(%d+)$')
              if owner ~= rid and tonumber(until_ms) > now then table.insert(taken, tonumber(id)) end
            end
          end
        end
        if #taken > 0 then return taken end
        for i = 4, #ARGV do redis.call('HSET', KEYS[2], ARGV[i], rid .. ':' .. expires) end
        return taken
        "#,
    );
    let mut invocation = script.prepare_invoke();
    invocation
        .key(&k.seats)
        .key(&k.claims)
        .arg(reservation.to_string())
        .arg(ttl_ms)
        .arg("");
    for id in seat_ids {
        invocation.arg(*id);
    }
    invocation.invoke_async(redis).await
}

/// Drops this reservation's claims (its hold was refused or failed).
#[tracing::instrument(skip(redis))]
pub async fn release_claims(
    redis: &mut ConnectionManager,
    schedule: ScheduleId,
    seat_ids: &[i64],
    reservation: Uuid,
) -> redis::RedisResult<()> {
    let k = Keys::of(schedule);
    let script = Script::new(
        r#"
        for i = 2, #ARGV do
          local claim = redis.call('HGET', KEYS[1], ARGV[i])
          if claim and string.sub(claim, 1, #ARGV[1]) == ARGV[1] then redis.call('HDEL', KEYS[1], ARGV[i]) end
        end
        return 0
        "#,
    );
    let mut invocation = script.prepare_invoke();
    invocation.key(&k.claims).arg(reservation.to_string());
    for id in seat_ids {
        invocation.arg(*id);
    }
    invocation.invoke_async::<i64>(redis).await.map(|_| ())
}

/// Every seat's status letter (`A`, `H`, `S`) and the map's version.
#[tracing::instrument(skip(redis))]
pub async fn snapshot(
    redis: &mut ConnectionManager,
    schedule: ScheduleId,
) -> redis::RedisResult<(i64, Vec<(i64, u8)>)> {
    let k = Keys::of(schedule);
    let (version, seats): (Option<i64>, Vec<(i64, String)>) = redis::pipe()
        .get(&k.version)
        .hgetall(&k.seats)
        .query_async(redis)
        .await?;
    let seats = seats
        .into_iter()
        .map(|(id, v)| (id, v.as_bytes().first().copied().unwrap_or(b'A')))
        .collect();
    Ok((version.unwrap_or(0), seats))
}

pub async fn version(
    redis: &mut ConnectionManager,
    schedule: ScheduleId,
) -> redis::RedisResult<i64> {
    let v: Option<i64> = redis::cmd("GET")
        .arg(Keys::of(schedule).version)
        .query_async(redis)
        .await?;
    Ok(v.unwrap_or(0))
}
