//! The provider's settings, read from environment variables with local defaults.

use anyhow::Context;
use std::time::Duration;

/// The webhook secret used when `WEBHOOK_SECRET` is not set: local development only.
pub const DEV_WEBHOOK_SECRET: &str = "seatline-dev-webhook-secret-not-for-production";

#[derive(Clone, PartialEq, Eq)]
pub struct ProviderConfig {
    /// `PROVIDER_HOST`, default `127.0.0.1`.
    pub host: String,
    /// `PROVIDER_PORT`, default `8090`; `0` picks a free port.
    pub port: u16,
    /// `PROVIDER_PUBLIC_URL`: where browsers reach the provider (checkout links). `None`
    /// means `http://<host>:<actual port>` (with `127.0.0.1` for a wildcard host).
    pub public_url: Option<String>,
    /// `WEBHOOK_SECRET`: signs every webhook; the API verifies with the same value.
    pub webhook_secret: String,
}

impl Default for ProviderConfig {
    fn default() -> Self {
        Self {
            host: "127.0.0.1".to_owned(),
            port: 8090,
            public_url: None,
            webhook_secret: DEV_WEBHOOK_SECRET.to_owned(),
        }
    }
}

impl std::fmt::Debug for ProviderConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ProviderConfig")
            .field("host", &self.host)
            .field("port", &self.port)
            .field("public_url", &self.public_url)
            .field("webhook_secret", &"<redacted>")
            .finish()
    }
}

impl ProviderConfig {
    pub fn from_env() -> anyhow::Result<Self> {
        Self::from_lookup(|name| std::env::var(name).ok())
    }

    /// Like `from_env`, from any lookup (tests).
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> anyhow::Result<Self> {
        let get = |name: &str| lookup(name).filter(|v| !v.trim().is_empty());
        let defaults = Self::default();
        let port = match get("PROVIDER_PORT") {
            None => defaults.port,
            Some(v) => v
                .trim()
                .parse()
                .with_context(|| format!("PROVIDER_PORT: '{v}' is not a valid port"))?,
        };
        Ok(Self {
            host: get("PROVIDER_HOST").map_or(defaults.host, |v| v.trim().to_owned()),
            port,
            public_url: get("PROVIDER_PUBLIC_URL").map(|v| v.trim().to_owned()),
            webhook_secret: get("WEBHOOK_SECRET").unwrap_or(defaults.webhook_secret),
        })
    }

    /// The public URL once the listener is bound on `port`, without a trailing slash.
    pub(crate) fn public_url_for(&self, port: u16) -> String {
        match &self.public_url {
            Some(url) => url.trim_end_matches('/').to_owned(),
            None => {
                let host = match self.host.as_str() {
                    "0.0.0.0" | "::" | "[::]" => "127.0.0.1",
                    h => h,
                };
                if host.contains(':') && !host.starts_with('[') {
                    format!("http://[{host}]:{port}")
                } else {
                    format!("http://{host}:{port}")
                }
            }
        }
    }
}

/// How long and how patiently webhooks are retried. Kept apart from [`ProviderConfig`] so
/// that struct literals of it stay valid; [`crate::MockProvider::build`] reads it from the
/// environment, [`crate::MockProvider::build_with`] takes it as given.
///
/// A delivery is attempted at once, then, while the receiver does not acknowledge it (and
/// has not rejected it for good), again after 200 ms, doubling each time up to
/// `max_backoff`, until `retry_for` has passed since its first attempt; the last attempt
/// falls at the end of that window.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DeliveryPolicy {
    /// `PROVIDER_WEBHOOK_RETRY_SECONDS`, default `86400` (24 hours), at most
    /// `2592000` (30 days); `0` means a single attempt. How long an unacknowledged
    /// webhook keeps being retried, counted from its first attempt.
    pub retry_for: Duration,
    /// `PROVIDER_WEBHOOK_MAX_BACKOFF_MS`, default `60000` (1 minute), from `1` to
    /// `3600000`. The longest wait between two attempts.
    pub max_backoff: Duration,
}

/// Upper bound of `PROVIDER_WEBHOOK_RETRY_SECONDS`: 30 days.
const MAX_RETRY_SECONDS: u64 = 30 * 24 * 3600;
/// Upper bound of `PROVIDER_WEBHOOK_MAX_BACKOFF_MS`: 1 hour.
const MAX_BACKOFF_MS: u64 = 3600 * 1000;

impl Default for DeliveryPolicy {
    fn default() -> Self {
        Self {
            retry_for: Duration::from_secs(86_400),
            max_backoff: Duration::from_millis(60_000),
        }
    }
}

impl DeliveryPolicy {
    pub fn from_env() -> anyhow::Result<Self> {
        Self::from_lookup(|name| std::env::var(name).ok())
    }

    /// Like `from_env`, from any lookup (tests).
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> anyhow::Result<Self> {
        let get = |name: &str| lookup(name).filter(|v| !v.trim().is_empty());
        let number = |name: &str, range: std::ops::RangeInclusive<u64>| -> anyhow::Result<_> {
            let Some(v) = get(name) else {
                return Ok(None);
            };
            let n: u64 = v
                .trim()
                .parse()
                .with_context(|| format!("{name}: '{v}' is not a whole number"))?;
            anyhow::ensure!(
                range.contains(&n),
                "{name}: {n} is out of range ({} to {})",
                range.start(),
                range.end()
            );
            Ok(Some(n))
        };
        let defaults = Self::default();
        Ok(Self {
            retry_for: number("PROVIDER_WEBHOOK_RETRY_SECONDS", 0..=MAX_RETRY_SECONDS)?
                .map_or(defaults.retry_for, Duration::from_secs),
            max_backoff: number("PROVIDER_WEBHOOK_MAX_BACKOFF_MS", 1..=MAX_BACKOFF_MS)?
                .map_or(defaults.max_backoff, Duration::from_millis),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_work_locally() {
        let c = ProviderConfig::from_lookup(|_| None).unwrap();
        assert_eq!(c, ProviderConfig::default());
        assert_eq!(c.port, 8090);
        assert_eq!(c.public_url_for(8090), "http://127.0.0.1:8090");
        assert_eq!(c.webhook_secret, DEV_WEBHOOK_SECRET);
    }

    #[test]
    fn reads_every_variable() {
        let c = ProviderConfig::from_lookup(|name| {
            Some(
                match name {
                    "PROVIDER_HOST" => "0.0.0.0",
                    "PROVIDER_PORT" => "0",
                    "PROVIDER_PUBLIC_URL" => "https://pay.example.com/",
                    "WEBHOOK_SECRET" => "s3cret",
                    _ => return None,
                }
                .to_owned(),
            )
        })
        .unwrap();
        assert_eq!(c.host, "0.0.0.0");
        assert_eq!(c.port, 0);
        assert_eq!(c.public_url_for(1234), "https://pay.example.com");
        assert_eq!(c.webhook_secret, "s3cret");
        assert!(!format!("{c:?}").contains("s3cret"));
    }

    #[test]
    fn wildcard_host_is_reached_on_loopback() {
        let c = ProviderConfig {
            host: "0.0.0.0".into(),
            ..Default::default()
        };
        assert_eq!(c.public_url_for(4000), "http://127.0.0.1:4000");
    }

    #[test]
    fn bad_port_names_the_variable() {
        let err = ProviderConfig::from_lookup(|n| (n == "PROVIDER_PORT").then(|| "x".into()))
            .unwrap_err();
        assert!(err.to_string().contains("PROVIDER_PORT"));
    }

    #[test]
    fn delivery_policy_defaults_to_a_day_and_a_minute() {
        let p = DeliveryPolicy::from_lookup(|_| None).unwrap();
        assert_eq!(p, DeliveryPolicy::default());
        assert_eq!(p.retry_for, Duration::from_secs(86_400));
        assert_eq!(p.max_backoff, Duration::from_secs(60));
    }

    #[test]
    fn delivery_policy_reads_its_variables() {
        let p = DeliveryPolicy::from_lookup(|name| {
            Some(
                match name {
                    "PROVIDER_WEBHOOK_RETRY_SECONDS" => " 600 ",
                    "PROVIDER_WEBHOOK_MAX_BACKOFF_MS" => "250",
                    _ => return None,
                }
                .to_owned(),
            )
        })
        .unwrap();
        assert_eq!(p.retry_for, Duration::from_secs(600));
        assert_eq!(p.max_backoff, Duration::from_millis(250));
        let single = DeliveryPolicy::from_lookup(|n| {
            (n == "PROVIDER_WEBHOOK_RETRY_SECONDS").then(|| "0".into())
        })
        .unwrap();
        assert_eq!(single.retry_for, Duration::ZERO);
    }

    #[test]
    fn bad_delivery_policy_names_the_variable() {
        for (name, value) in [
            ("PROVIDER_WEBHOOK_RETRY_SECONDS", "-1"),
            ("PROVIDER_WEBHOOK_RETRY_SECONDS", "1d"),
            ("PROVIDER_WEBHOOK_RETRY_SECONDS", "2592001"),
            ("PROVIDER_WEBHOOK_MAX_BACKOFF_MS", "0"),
            ("PROVIDER_WEBHOOK_MAX_BACKOFF_MS", "3600001"),
        ] {
            let err =
                DeliveryPolicy::from_lookup(|n| (n == name).then(|| value.into())).unwrap_err();
            assert!(err.to_string().contains(name), "{name}={value}: {err}");
        }
    }
}
