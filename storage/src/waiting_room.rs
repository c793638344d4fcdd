//! The waiting room, in Redis. Per schedule (keys share the hash tag `{schedule}`):
//!
//! - `line`: a list of user ids in join order; a user's place is their index + 1 (`seq`);
//! - `members`: user id → seq, so joining again returns the same place;
//! - `served`: how many places have been admitted so far (the serving counter);
//! - `active`: a sorted set of admitted user ids scored by when their turn ends (ms);
//! - `soldout`, `rate`: set by the admission controller for the waiting users to read.
//!
//! A position poll is three O(1) reads, whatever the length of the line.

use redis::{aio::ConnectionManager, Script};
use seatline_domain::{ScheduleId, UserId};

struct Keys {
    line: String,
    members: String,
    served: String,
    active: String,
    soldout: String,
    rate: String,
}

impl Keys {
    fn key(schedule: ScheduleId, name: &str) -> String {
        format!("wr:{{{schedule}}}:{name}")
    }

    fn of(schedule: ScheduleId) -> Self {
        let k = |name: &str| Self::key(schedule, name);
        Self {
            line: k("line"),
            members: k("members"),
            served: k("served"),
            active: k("active"),
            soldout: k("soldout"),
            rate: k("rate"),
        }
    }
}

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

/// Joins the line, or returns the place already held. A user whose turn is over joins again
/// at the back.
#[tracing::instrument(skip(redis), fields(user_id = %user))]
pub async fn join(
    redis: &mut ConnectionManager,
    schedule: ScheduleId,
    user: UserId,
    now_ms: i64,
) -> redis::RedisResult<u64> {
    let k = Keys::of(schedule);
    let script = Script::new(
        r#"
        local user, now = ARGV[1], tonumber(ARGV[2])
        local seq = tonumber(redis.call('HGET', KEYS[1], user) or '0')
        if seq > 0 then
          local served = tonumber(redis.call('GET', KEYS[3]) or '0')
          local turn_ends = tonumber(redis.call('ZSCORE', KEYS[4], user) or '0')
          if seq > served or turn_ends > now then return seq end
        end
        seq = redis.call('RPUSH', KEYS[2], user)
        redis.call('HSET', KEYS[1], user, seq)
        return seq
        "#,
    );
    script
        .key(&k.members)
        .key(&k.line)
        .key(&k.served)
        .key(&k.active)
        .arg(user.to_string())
        .arg(now_ms)
        .invoke_async(redis)
        .await
}

/// When `user`'s turn ends, if they have an active turn that has not ended by `now_ms`. One
/// command: the gate's common case, a buyer whose turn it is, needs no more.
#[tracing::instrument(level = "debug", skip(redis), fields(user_id = %user))]
pub async fn active_turn_ends(
    redis: &mut ConnectionManager,
    schedule: ScheduleId,
    user: UserId,
    now_ms: i64,
) -> redis::RedisResult<Option<i64>> {
    let ends: Option<f64> = redis::cmd("ZSCORE")
        .arg(Keys::key(schedule, "active"))
        .arg(user.to_string())
        .query_async(redis)
        .await?;
    Ok(ends.map(|e| e as i64).filter(|e| *e > now_ms))
}

/// Where `user`, who joined at `seq`, stands now. O(1): it reads the serving counter, the
/// user's turn and two flags, in one round trip.
#[tracing::instrument(skip(redis), fields(user_id = %user))]
pub async fn standing(
    redis: &mut ConnectionManager,
    schedule: ScheduleId,
    user: UserId,
    seq: u64,
    now_ms: i64,
) -> redis::RedisResult<Standing> {
    let k = Keys::of(schedule);
    let (served, sold_out, rate, turn_ends): (
        Option<u64>,
        Option<String>,
        Option<f64>,
        Option<f64>,
    ) = redis::pipe()
        .get(&k.served)
        .get(&k.soldout)
        .get(&k.rate)
        .zscore(&k.active, user.to_string())
        .query_async(redis)
        .await?;
    let served = served.unwrap_or(0);
    Ok(match turn_ends {
        Some(ends) if ends as i64 > now_ms => Standing::Active {
            expires_at_ms: ends as i64,
        },
        _ if seq <= served => Standing::Expired,
        _ => Standing::Waiting {
            position: seq - served,
            sold_out: sold_out.is_some(),
            rate_per_second: rate,
        },
    })
}

/// What one admission step did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Admitted {
    pub admitted: u64,
    pub served: u64,
    pub active: u64,
    pub waiting: u64,
}

/// Admits up to `max_batch` users in line order while fewer than `cap` are active, giving each
/// a turn that ends at `turn_ends_ms`. Turns that have ended free their place first.
#[tracing::instrument(skip(redis))]
pub async fn admit(
    redis: &mut ConnectionManager,
    schedule: ScheduleId,
    now_ms: i64,
    turn_ends_ms: i64,
    max_batch: u64,
    cap: u64,
) -> redis::RedisResult<Admitted> {
    let k = Keys::of(schedule);
    let script = Script::new(
        r#"
        local now, ends, batch, cap = tonumber(ARGV[1]), ARGV[2], tonumber(ARGV[3]), tonumber(ARGV[4])
        redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', now)
        local active = redis.call('ZCARD', KEYS[2])
        local served = tonumber(redis.call('GET', KEYS[1]) or '0')
        local len = redis.call('LLEN', KEYS[3])
        local n = math.min(cap - active, batch, len - served)
        if n <= 0 then return {0, served, active, len - served} end
        local users = redis.call('LRANGE', KEYS[3], served, served + n - 1)
        for _, user in ipairs(users) do
          redis.call('ZADD', KEYS[2], ends, user)
        end
        redis.call('SET', KEYS[1], served + n)
        return {n, served + n, active + n, len - served - n}
        "#,
    );
    let (admitted, served, active, waiting): (u64, u64, u64, u64) = script
        .key(&k.served)
        .key(&k.active)
        .key(&k.line)
        .arg(now_ms)
        .arg(turn_ends_ms)
        .arg(max_batch)
        .arg(cap)
        .invoke_async(redis)
        .await?;
    Ok(Admitted {
        admitted,
        served,
        active,
        waiting,
    })
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
