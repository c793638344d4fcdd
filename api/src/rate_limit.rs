//! Rate limits kept in Redis, shared by every API process: GCRA (a token bucket kept as one
//! timestamp per key). Past the limit a request answers 429 `RATE_LIMITED` with `Retry-After`.
//! When Redis can't be asked, the request goes through: the limits slow abuse down, they are
//! not what keeps seats or money correct.

use crate::{error::ApiError, state::AppState};
use axum::{extract::FromRequestParts, http::request::Parts};
use redis::Script;
use seatline_config::LimitSettings;
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

    /// Sign-ups and demo logins per client address (`RATE_LIMIT_ACCOUNTS_PER_HOUR`).
    pub fn accounts(limits: &LimitSettings) -> Self {
        Self::per_hour("accounts", limits.accounts_per_hour)
    }

    /// Logins and refreshes (`RATE_LIMIT_LOGINS_PER_MINUTE`).
    pub fn logins(limits: &LimitSettings) -> Self {
        Self::per_minute("logins", limits.logins_per_minute)
    }

    fn is_off(&self) -> bool {
        self.per_period == 0
    }
}

/// One bucket per key: KEYS[i] with ARGV[2i-1] its emission interval (µs) and ARGV[2i] its
/// burst. The request counts against every bucket only if every one allows it. Answers 0
/// when allowed, else the milliseconds until it would be.
static GCRA: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        r"
        local t = redis.call('TIME')
        local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
        local next_tats, longest = {}, 0
        for i, key in ipairs(KEYS) do
          local interval = tonumber(ARGV[2 * i - 1])
          local tolerance = interval * tonumber(ARGV[2 * i])
          local tat = tonumber(redis.call('GET', key) or now)
          if tat < now then tat = now end
          next_tats[i] = tat + interval
          local wait = next_tats[i] - now - tolerance
          if wait > longest then longest = wait end
        end
        if longest > 0 then return math.ceil(longest / 1000) end
        for i, key in ipairs(KEYS) do
          redis.call('SET', key, next_tats[i], 'PX', math.ceil((next_tats[i] - now) / 1000) + 1)
        end
        return 0
        ",
    )
});

/// Counts one request of `key` against `rate`; `Err(RateLimited)` past it.
pub async fn check(state: &AppState, rate: Rate, key: &str) -> Result<(), ApiError> {
    check_all(state, &[(rate, key)]).await
}

/// Counts one request against every `(rate, key)` at once, in one Redis round trip;
/// `Err(RateLimited)` if any is past its limit, and then none is charged.
pub async fn check_all(state: &AppState, limits: &[(Rate, &str)]) -> Result<(), ApiError> {
    let mut invocation = GCRA.prepare_invoke();
    let mut any = false;
    for (rate, key) in limits.iter().filter(|(rate, _)| !rate.is_off()) {
        let interval_us = rate.period_ms * 1_000 / u64::from(rate.per_period);
        invocation
            .key(format!("ratelimit:{}:{key}", rate.name))
            .arg(interval_us)
            .arg(rate.burst.max(1));
        any = true;
    }
    if !any {
        return Ok(());
    }
    let mut redis = state.redis.clone();
    let answer: Result<u64, _> = invocation.invoke_async(&mut redis).await;
    let names = || {
        let names: Vec<&str> = limits.iter().map(|(rate, _)| rate.name).collect();
        names.join(",")
    };
    match answer {
        Ok(0) => Ok(()),
        Ok(wait_ms) => {
            metrics::counter!("rate_limited_total", "limit" => names()).increment(1);
            Err(ApiError::RateLimited {
                retry_after_seconds: wait_ms.div_ceil(1_000).max(1),
            })
        }
        Err(err) => {
            tracing::warn!(error = %err, limits = names(), "rate limit not checked: Redis");
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
        Ok(Self(client_ip(parts, state)))
    }
}

/// The client's address for `parts` (see `ClientIp`).
pub fn client_ip(parts: &Parts, state: &AppState) -> String {
    if state.settings.limits.trust_forwarded_for {
        let forwarded = parts
            .headers
            .get("x-forwarded-for")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.split(',').next())
            .map(str::trim)
            .filter(|v| v.parse::<std::net::IpAddr>().is_ok());
        if let Some(ip) = forwarded {
            return ip.to_owned();
        }
    }
    let peer = parts
        .extensions
        .get::<PeerAddr>()
        .map(|p| p.0.ip().to_string());
    peer.unwrap_or_else(|| "unknown".to_owned())
}
