//! Rate limits kept in Redis, shared by every API process: GCRA (a token bucket kept as one
//! timestamp per key). Past the limit a request answers 429 `RATE_LIMITED` with `Retry-After`.
//! When Redis can't be asked, the request goes through: the limits slow abuse down, they are
//! not what keeps seats or money correct.

use crate::{error::ApiError, state::AppState};
use axum::{extract::FromRequestParts, http::request::Parts};
use redis::Script;
use std::{net::SocketAddr, sync::LazyLock};

/// One limit: `per_period` requests per `period_ms`, with a burst of `burst`.
#[derive(Debug, Clone, Copy)]
pub struct Rate {
    pub name: &'static str,
    pub per_period: u32,
    pub period_ms: u64,
    pub burst: u32,
}

impl Rate {
    pub fn per_second(name: &'static str, n: u32, burst: u32) -> Self {
        Self {
            name,
            per_period: n,
            period_ms: 1_000,
            burst,
        }
    }

    pub fn per_minute(name: &'static str, n: u32) -> Self {
        Self {
            name,
            per_period: n,
            period_ms: 60_000,
            burst: n,
        }
    }

    pub fn per_hour(name: &'static str, n: u32) -> Self {
        Self {
            name,
            per_period: n,
            period_ms: 3_600_000,
            burst: n.clamp(1, 10),
        }
    }

    fn is_off(&self) -> bool {
        self.per_period == 0
    }
}

/// KEYS[1]: the bucket. ARGV: emission interval (µs), burst. Answers 0 when allowed, else the
/// milliseconds until the next request would be.
static GCRA: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        r"
        local t = redis.call('TIME')
        local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
        local interval = tonumber(ARGV[1])
        local tolerance = interval * tonumber(ARGV[2])
        local tat = tonumber(redis.call('GET', KEYS[1]) or now)
        if tat < now then tat = now end
        local new_tat = tat + interval
        local wait = new_tat - now - tolerance
        if wait > 0 then return math.ceil(wait / 1000) end
        redis.call('SET', KEYS[1], new_tat, 'PX', math.ceil((new_tat - now) / 1000) + 1)
        return 0
        ",
    )
});

/// Counts one request of `key` against `rate`; `Err(RateLimited)` past it.
pub async fn check(state: &AppState, rate: Rate, key: &str) -> Result<(), ApiError> {
    if rate.is_off() {
        return Ok(());
    }
    let interval_us = rate.period_ms * 1_000 / u64::from(rate.per_period);
    let mut redis = state.redis.clone();
    let answer: Result<u64, _> = GCRA
        .key(format!("ratelimit:{}:{key}", rate.name))
        .arg(interval_us)
        .arg(rate.burst.max(1))
        .invoke_async(&mut redis)
        .await;
    match answer {
        Ok(0) => Ok(()),
        Ok(wait_ms) => {
            metrics::counter!("rate_limited_total", "limit" => rate.name).increment(1);
            Err(ApiError::RateLimited {
                retry_after_seconds: wait_ms.div_ceil(1_000).max(1),
            })
        }
        Err(err) => {
            tracing::warn!(error = %err, limit = rate.name, "rate limit not checked: Redis");
            Ok(())
        }
    }
}

/// The client's address: the peer, or with `TRUST_FORWARDED_FOR` the first address of
/// `X-Forwarded-For`.
pub struct ClientIp(pub String);

/// The peer address, put on every request by the server loop.
#[derive(Debug, Clone, Copy)]
pub struct PeerAddr(pub SocketAddr);

impl FromRequestParts<AppState> for ClientIp {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        if state.settings.limits.trust_forwarded_for {
            let forwarded = parts
                .headers
                .get("x-forwarded-for")
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.split(',').next())
                .map(str::trim)
                .filter(|v| v.parse::<std::net::IpAddr>().is_ok());
            if let Some(ip) = forwarded {
                return Ok(Self(ip.to_owned()));
            }
        }
        let peer = parts
            .extensions
            .get::<PeerAddr>()
            .map(|p| p.0.ip().to_string());
        Ok(Self(peer.unwrap_or_else(|| "unknown".to_owned())))
    }
}
