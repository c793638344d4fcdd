//! The waiting room, in Redis. Per schedule (keys share the hash tag `{schedule}`):
//!
//! - `queue`: a sorted set of user ids scored by their place in line (`seq`);
//! - `members`: user id → seq, so joining again returns the same place;
//! - `next`: the last place given;
//! - `served`: the place of the last user admitted (the serving counter);
//! - `active`: a sorted set of admitted user ids scored by when their turn ends (ms);
//! - `soldout`, `rate`: set by the admission controller for the waiting users to read.
//!
//! Times come from Redis' own clock (`TIME`), so turns do not depend on API and worker clocks
//! agreeing. If Redis loses the line, a waiting user's signed token still carries their place:
//! their next poll puts them back at it, and new places continue after the highest place ever
//! given (recorded in PostgreSQL by the admission controller), so nobody is sent to the back.
//!
//! A position poll is one script of O(log n) reads, whatever the length of the line.

use redis::{aio::ConnectionManager, Script};
use seatline_domain::{ScheduleId, UserId};
use sqlx::PgPool;
use std::sync::LazyLock;

struct Keys {
    queue: String,
    members: String,
    next: String,
    served: String,
    active: String,
    soldout: String,
    rate: String,
    admitted: String,
}

impl Keys {
    fn key(schedule: ScheduleId, name: &str) -> String {
        format!("wr:{{{schedule}}}:{name}")
    }

    fn of(schedule: ScheduleId) -> Self {
        let k = |name: &str| Self::key(schedule, name);
        Self {
            queue: k("queue"),
            members: k("members"),
            next: k("next"),
            served: k("served"),
            active: k("active"),
            soldout: k("soldout"),
            rate: k("rate"),
            admitted: k("admitted"),
        }
    }
}

/// Redis' clock in ms, inside a script.
const NOW_MS: &str = "local t = redis.call('TIME'); local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)";

/// Where a user stands.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Standing {
    Waiting {
        position: u64,
        sold_out: bool,
        rate_per_second: Option<f64>,
    },
    Active {
        expires_at_ms: i64,
    },
    /// Admitted once; their turn is over (timed out, left or paid).
    Expired,
}

/// Places below this are drawn at random for those who join before booking opens (the
/// pre-queue); places from the counter start above it, so the whole pre-queue goes first.
/// Wide enough that 200,000 drawn places rarely meet (about 3 in 10,000 draws have a pair),
/// small enough that every place, and every counted place after it, stays exact where the
/// scripts write it (Lua prints numbers with 14 significant digits: below 10^14).
pub const PRE_QUEUE_SPAN: u64 = 1 << 46;

/// Joins the line, or returns the place already held. A user whose turn is over joins again
/// at the back. Before booking opens, `drawn` is the place drawn for the user (the next free
/// one if taken); after, places come from the counter. `floor` is the highest place ever
/// given, from PostgreSQL: it is read only when Redis has no counter for the schedule (first
/// use, or the line was lost).
#[tracing::instrument(skip(redis, pool), fields(user_id = %user))]
pub async fn join(
    redis: &mut ConnectionManager,
    pool: &PgPool,
    schedule: ScheduleId,
    user: UserId,
    drawn: Option<u64>,
) -> Result<u64, JoinError> {
    let k = Keys::of(schedule);
    // Built once: these run on every gated request and every poll.
    static SCRIPT: LazyLock<Script> = LazyLock::new(|| {
        Script::new(&format!(
            r#"
        {NOW_MS}
        local user = ARGV[1]
        local seq = tonumber(redis.call('HGET', KEYS[1], user) or '0')
        if seq > 0 then
          local served = tonumber(redis.call('GET', KEYS[4]) or '0')
          local turn_ends = tonumber(redis.call('ZSCORE', KEYS[5], user) or '0')
          if seq > served or turn_ends > now then return seq end
        end
        if ARGV[3] ~= '' then
          local place = tonumber(ARGV[3])
          while #redis.call('ZRANGEBYSCORE', KEYS[2], place, place, 'LIMIT', 0, 1) > 0 do
            place = place + 1
          end
          redis.call('ZADD', KEYS[2], place, user)
          redis.call('HSET', KEYS[1], user, place)
          return place
        end
        if redis.call('EXISTS', KEYS[3]) == 0 then
          if ARGV[2] == '' then return -1 end
          redis.call('SET', KEYS[3], ARGV[2], 'NX')
        end
        seq = redis.call('INCR', KEYS[3])
        redis.call('ZADD', KEYS[2], seq, user)
        redis.call('HSET', KEYS[1], user, seq)
        return seq
        "#
        ))
    });
    let script = &*SCRIPT;
    let mut floor = String::new();
    loop {
        let seq: i64 = script
            .key(&k.members)
            .key(&k.queue)
            .key(&k.next)
            .key(&k.served)
            .key(&k.active)
            .arg(user.to_string())
            .arg(&floor)
            .arg(drawn.map(|p| p.to_string()).unwrap_or_default())
            .invoke_async(redis)
            .await?;
        if seq > 0 {
            return Ok(seq as u64);
        }
        floor = highest_place(pool, schedule)
            .await?
            .max(PRE_QUEUE_SPAN)
            .to_string();
    }
}

#[derive(Debug, thiserror::Error)]
pub enum JoinError {
    #[error(transparent)]
    Redis(#[from] redis::RedisError),
    #[error(transparent)]
    Database(#[from] sqlx::Error),
}

/// When `user`'s turn ends, if they have an active turn that has not ended yet. One command:
/// the gate's common case, a buyer whose turn it is, needs no more.
#[tracing::instrument(level = "debug", skip(redis), fields(user_id = %user))]
pub async fn active_turn_ends(
    redis: &mut ConnectionManager,
    schedule: ScheduleId,
    user: UserId,
) -> redis::RedisResult<Option<i64>> {
    // Built once: these run on every gated request and every poll.
    static SCRIPT: LazyLock<Script> = LazyLock::new(|| {
        Script::new(&format!(
            r#"
        {NOW_MS}
        local ends = tonumber(redis.call('ZSCORE', KEYS[1], ARGV[1]) or '0')
        if ends > now then return ends end
        return 0
        "#
        ))
    });
    let script = &*SCRIPT;
    let ends: i64 = script
        .key(Keys::key(schedule, "active"))
        .arg(user.to_string())
        .invoke_async(redis)
        .await?;
    Ok((ends > 0).then_some(ends))
}

/// Where `user`, whose token says place `seq`, stands now. If Redis has no record of them
/// (the line was lost), they are put back at the place their signed token carries.
#[tracing::instrument(skip(redis), fields(user_id = %user))]
pub async fn standing(
    redis: &mut ConnectionManager,
    schedule: ScheduleId,
    user: UserId,
    seq: u64,
) -> redis::RedisResult<Standing> {
    let k = Keys::of(schedule);
    // Built once: these run on every gated request and every poll.
    static SCRIPT: LazyLock<Script> = LazyLock::new(|| {
        Script::new(&format!(
            r#"
        {NOW_MS}
        local user, seq = ARGV[1], tonumber(ARGV[2])
        if redis.call('HEXISTS', KEYS[1], user) == 0 then
          redis.call('HSET', KEYS[1], user, seq)
          redis.call('ZADD', KEYS[2], 'NX', seq, user)
          if tonumber(redis.call('GET', KEYS[3]) or '0') < seq then redis.call('SET', KEYS[3], seq) end
        end
        local served = tonumber(redis.call('GET', KEYS[4]) or '0')
        local turn_ends = tonumber(redis.call('ZSCORE', KEYS[5], user) or '0')
        local position = 0
        if seq > served then position = redis.call('ZCOUNT', KEYS[2], '(' .. served, seq) end
        local sold_out = redis.call('EXISTS', KEYS[6])
        local rate = redis.call('GET', KEYS[7]) or ''
        if turn_ends <= now then turn_ends = 0 end
        return {{served, turn_ends, position, sold_out, rate}}
        "#
        ))
    });
    let script = &*SCRIPT;
    let (served, turn_ends, position, sold_out, rate): (u64, i64, u64, i64, String) = script
        .key(&k.members)
        .key(&k.queue)
        .key(&k.next)
        .key(&k.served)
        .key(&k.active)
        .key(&k.soldout)
        .key(&k.rate)
        .arg(user.to_string())
        .arg(seq)
        .invoke_async(redis)
        .await?;
    Ok(match turn_ends {
        ends if ends > 0 => Standing::Active {
            expires_at_ms: ends,
        },
        _ if seq <= served => Standing::Expired,
        _ => Standing::Waiting {
            position: position.max(1),
            sold_out: sold_out == 1,
            rate_per_second: rate.parse().ok(),
        },
    })
}

/// When `user` was first admitted (Redis' clock, ms), if they have been.
#[tracing::instrument(skip(redis), fields(user_id = %user))]
pub async fn admitted_at(
    redis: &mut ConnectionManager,
    schedule: ScheduleId,
    user: UserId,
) -> redis::RedisResult<Option<i64>> {
    redis::cmd("HGET")
        .arg(Keys::of(schedule).admitted)
        .arg(user.to_string())
        .query_async(redis)
        .await
}

/// What one admission step did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Admitted {
    pub admitted: u64,
    pub served: u64,
    pub active: u64,
    pub waiting: u64,
    /// The highest place given so far, for PostgreSQL to remember.
    pub highest_place: u64,
}

/// Admits up to `max_batch` users in line order while fewer than `cap` are active, giving each
/// a turn of `turn_ms` from now (Redis' clock). Turns that have ended free their place first.
#[tracing::instrument(skip(redis))]
pub async fn admit(
    redis: &mut ConnectionManager,
    schedule: ScheduleId,
    turn_ms: i64,
    max_batch: u64,
    cap: u64,
) -> redis::RedisResult<Admitted> {
    let k = Keys::of(schedule);
    // Built once: these run on every gated request and every poll.
    static SCRIPT: LazyLock<Script> = LazyLock::new(|| {
        Script::new(&format!(
            r#"
        {NOW_MS}
        local ends, batch, cap = now + tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3])
        redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', now)
        local active = redis.call('ZCARD', KEYS[2])
        local served = tonumber(redis.call('GET', KEYS[1]) or '0')
        local highest = tonumber(redis.call('GET', KEYS[4]) or '0')
        local n = math.min(cap - active, batch)
        local admitted = 0
        if n > 0 then
          local next_up = redis.call('ZRANGEBYSCORE', KEYS[3], '(' .. served, '+inf', 'WITHSCORES', 'LIMIT', 0, n)
          for i = 1, #next_up, 2 do
            redis.call('ZADD', KEYS[2], ends, next_up[i])
            redis.call('HSETNX', KEYS[5], next_up[i], now)
            served = tonumber(next_up[i + 1])
            admitted = admitted + 1
          end
          if admitted > 0 then redis.call('SET', KEYS[1], served) end
        end
        local waiting = redis.call('ZCOUNT', KEYS[3], '(' .. served, '+inf')
        return {{admitted, served, active + admitted, waiting, highest}}
        "#
        ))
    });
    let script = &*SCRIPT;
    let (admitted, served, active, waiting, highest_place): (u64, u64, u64, u64, u64) = script
        .key(&k.served)
        .key(&k.active)
        .key(&k.queue)
        .key(&k.next)
        .key(&k.admitted)
        .arg(turn_ms)
        .arg(max_batch)
        .arg(cap)
        .invoke_async(redis)
        .await?;
    Ok(Admitted {
        admitted,
        served,
        active,
        waiting,
        highest_place,
    })
}

/// Remembers the highest place given in a schedule's line, so a line Redis loses continues
/// after it. Never goes down.
#[tracing::instrument(skip(pool))]
pub async fn record_highest_place(
    pool: &PgPool,
    schedule: ScheduleId,
    place: u64,
) -> Result<(), sqlx::Error> {
    sqlx::query!(
        "INSERT INTO waiting_room_marks (schedule_id, highest_place) VALUES ($1, $2)
         ON CONFLICT (schedule_id) DO UPDATE
         SET highest_place = GREATEST(waiting_room_marks.highest_place, EXCLUDED.highest_place),
             updated_at = now()",
        schedule.as_uuid(),
        place as i64
    )
    .execute(pool)
    .await?;
    Ok(())
}

#[tracing::instrument(skip(pool))]
pub async fn highest_place(pool: &PgPool, schedule: ScheduleId) -> Result<u64, sqlx::Error> {
    let place = sqlx::query_scalar!(
        "SELECT highest_place FROM waiting_room_marks WHERE schedule_id = $1",
        schedule.as_uuid()
    )
    .fetch_optional(pool)
    .await?;
    Ok(place.unwrap_or(0).max(0) as u64)
}

/// Lengthens an active turn to at least `until_ms` (while the user holds seats).
#[tracing::instrument(skip(redis), fields(user_id = %user))]
pub async fn extend_turn(
    redis: &mut ConnectionManager,
    schedule: ScheduleId,
    user: UserId,
    until_ms: i64,
) -> redis::RedisResult<()> {
    let k = Keys::of(schedule);
    redis::cmd("ZADD")
        .arg(&k.active)
        .arg("XX")
        .arg("GT")
        .arg(until_ms)
        .arg(user.to_string())
        .query_async::<()>(redis)
        .await
}

/// Ends a user's turn (they paid or left); their place goes to the next in line.
#[tracing::instrument(skip(redis), fields(user_id = %user))]
pub async fn end_turn(
    redis: &mut ConnectionManager,
    schedule: ScheduleId,
    user: UserId,
) -> redis::RedisResult<()> {
    let k = Keys::of(schedule);
    redis::cmd("ZREM")
        .arg(&k.active)
        .arg(user.to_string())
        .query_async::<()>(redis)
        .await
}

/// Tells waiting users the schedule is sold out.
pub async fn mark_sold_out(
    redis: &mut ConnectionManager,
    schedule: ScheduleId,
) -> redis::RedisResult<()> {
    redis::cmd("SET")
        .arg(Keys::of(schedule).soldout)
        .arg("1")
        .query_async::<()>(redis)
        .await
}

/// The measured admission rate, for waiting users' ETA.
pub async fn set_rate(
    redis: &mut ConnectionManager,
    schedule: ScheduleId,
    per_second: f64,
) -> redis::RedisResult<()> {
    redis::cmd("SET")
        .arg(Keys::of(schedule).rate)
        .arg(per_second)
        .query_async::<()>(redis)
        .await
}
