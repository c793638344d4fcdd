//! Every setting of every Seatline process, read from environment variables. Each default
//! works against the local stack that `scripts/dev.sh` starts; the README lists every name.

use seatline_domain::HoldDuration;
pub use secrecy::{ExposeSecret, SecretString};
use std::{collections::HashMap, str::FromStr};

#[derive(Debug, Clone)]
pub struct Settings {
    pub database: DatabaseSettings,
    pub redis: RedisSettings,
    pub temporal: TemporalSettings,
    pub http: HttpSettings,
    pub secrets: Secrets,
    pub waiting_room: WaitingRoomSettings,
    pub payments: PaymentSettings,
    pub worker: WorkerSettings,
    /// `HOLD_SECONDS`: how long a hold lasts.
    pub hold: HoldDuration,
    /// `HOLDS_IN_FLIGHT`: holds one API process puts to Temporal at once. Beyond that a
    /// winner waits up to a second for a slot, then gets 503 BUSY, so an overloaded Temporal
    /// answers buyers in seconds instead of queueing them for minutes.
    pub holds_in_flight: usize,
    /// Accounts and sessions.
    pub accounts: AccountSettings,
    /// What one buyer or one client may do.
    pub limits: LimitSettings,
}

#[derive(Debug, Clone)]
pub struct DatabaseSettings {
    /// `DATABASE_URL`
    pub url: String,
    /// `DATABASE_MAX_CONNECTIONS`
    pub max_connections: u32,
    /// `DATABASE_STATEMENT_TIMEOUT_MS`: the longest a statement of the API or the worker runs.
    pub statement_timeout_ms: u64,
    /// `DATABASE_LOCK_TIMEOUT_MS`: the longest a statement waits for a row lock.
    pub lock_timeout_ms: u64,
}

impl DatabaseSettings {
    /// The limits every PostgreSQL connection of a service starts with.
    pub fn limits(&self) -> (std::time::Duration, std::time::Duration) {
        (
            std::time::Duration::from_millis(self.statement_timeout_ms),
            std::time::Duration::from_millis(self.lock_timeout_ms),
        )
    }
}

#[derive(Debug, Clone)]
pub struct RedisSettings {
    /// `REDIS_URL`
    pub url: String,
}

#[derive(Debug, Clone)]
pub struct TemporalSettings {
    /// `TEMPORAL_ADDRESS`
    pub address: String,
    /// `TEMPORAL_NAMESPACE`
    pub namespace: String,
    /// `TASK_QUEUE`: reservation workflows and their seat activities.
    pub task_queue: String,
    /// `PAYMENT_TASK_QUEUE`: activities that talk to the payment provider.
    pub payment_task_queue: String,
    /// `TEMPORAL_CALL_TIMEOUT_MS`: the longest the API waits for one Temporal call (a hold,
    /// a payment) before answering 503; the work may still finish, and a retry with the same
    /// `Idempotency-Key` finds it.
    pub call_timeout_ms: u64,
}

impl TemporalSettings {
    pub fn call_timeout(&self) -> std::time::Duration {
        std::time::Duration::from_millis(self.call_timeout_ms)
    }
}

#[derive(Debug, Clone)]
pub struct HttpSettings {
    /// `API_HOST`
    pub host: String,
    /// `API_PORT` (0 picks a free port)
    pub port: u16,
    /// `API_PUBLIC_URL`: how the provider and browsers reach this API (default from host/port).
    pub public_url: Option<String>,
    /// `HTTP_REQUEST_TIMEOUT_SECONDS`: the longest one request may take (streams excepted).
    pub request_timeout_seconds: u64,
    /// `HTTP_HEADER_READ_TIMEOUT_SECONDS`: how long a client may take to send its headers.
    pub header_read_timeout_seconds: u64,
}

/// Never printed: `SecretString` shows as `[REDACTED]`.
#[derive(Debug, Clone)]
pub struct Secrets {
    /// `AUTH_SECRET`: signs access (bearer) tokens.
    pub auth: SecretString,
    /// `QUEUE_TOKEN_SECRET`: signs waiting-room tokens.
    pub queue_token: SecretString,
    /// `WEBHOOK_SECRET`: shared with the provider; signs its webhook calls.
    pub webhook: SecretString,
}

#[derive(Debug, Clone)]
pub struct WaitingRoomSettings {
    /// `QUEUE_TOKEN_TTL_SECONDS`: how long a queue token is valid at most.
    pub token_ttl_seconds: u64,
    /// `ADMISSION_RATE`: users admitted per second per schedule, at most.
    pub admission_rate: f64,
    /// `ADMISSION_ACTIVE_CAP`: users active at once per schedule, at most.
    pub active_cap: u64,
    /// `ADMISSION_TICK_MS`: how often the admission controller admits.
    pub tick_ms: u64,
    /// `QUEUE_TURN_SECONDS`: how long an admitted user's turn lasts (longer while holding).
    pub turn_seconds: u64,
    /// `PRE_QUEUE_SECONDS`: how long before booking opens buyers may join the line; everyone
    /// who joins in that time gets a place drawn at random, ahead of those who come after.
    pub pre_queue_seconds: u64,
}

#[derive(Debug, Clone)]
pub struct PaymentSettings {
    /// `PROVIDER_URL`: the payment provider's API.
    pub provider_url: String,
    /// `WEBHOOK_TOLERANCE_SECONDS`: how old a signed webhook may be.
    pub webhook_tolerance_seconds: i64,
    /// `RECONCILE_AFTER_SECONDS`: when a card payment with no webhook yet is first asked from
    /// the provider (then with backoff); also how long after its hold ended an unfinished
    /// checkout is cancelled.
    pub reconcile_after_seconds: u64,
    /// `TOPUP_CHECKOUT_SECONDS`: how long a buyer has to pay a balance top-up by card before
    /// the payment is cancelled at the provider.
    pub topup_checkout_seconds: u64,
    /// `MAX_PENDING_TOPUPS`: card top-ups one account may have waiting at once.
    pub max_pending_topups: u64,
}

#[derive(Debug, Clone)]
pub struct WorkerSettings {
    /// `WORKER_ROLES`: `seats`, `payments` or both (comma-separated).
    pub roles: WorkerRoles,
    /// `WORKER_METRICS_PORT`: where a worker serves its Prometheus metrics; unset, none.
    pub metrics_port: Option<u16>,
    /// `SWEEP_INTERVAL_SECONDS`: how often the sweeper looks for stranded holds, unsettled
    /// card payments and stale seat maps.
    pub sweep_interval_seconds: u64,
    /// `SWEEP_GRACE_SECONDS`: how long past expiry a hold must be before the sweeper checks it.
    pub sweep_grace_seconds: u64,
}

/// `SEATLINE_ENV`: `development` (the default: demo login, free balance top-ups, development
/// secrets allowed) or `production` (none of them; every process refuses to start with a
/// missing or development secret).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Environment {
    Development,
    Production,
}

#[derive(Debug, Clone)]
pub struct AccountSettings {
    /// `SEATLINE_ENV`
    pub environment: Environment,
    /// `ACCESS_TOKEN_TTL_SECONDS`: how long a bearer (access) token is valid (900).
    pub access_token_ttl_seconds: u64,
    /// `SESSION_TTL_SECONDS`: how long a login lasts with refreshes (30 days).
    pub session_ttl_seconds: u64,
}

impl AccountSettings {
    pub fn is_production(&self) -> bool {
        self.environment == Environment::Production
    }
}

/// Per-buyer and per-client limits. A rate of 0 turns that limit off.
#[derive(Debug, Clone)]
pub struct LimitSettings {
    /// `MAX_SEATS_PER_BUYER`: seats one account may hold or own per schedule (4).
    pub max_seats_per_buyer: u32,
    /// `RATE_LIMIT_ACCOUNTS_PER_HOUR`: sign-ups and demo logins per client address (30).
    pub accounts_per_hour: u32,
    /// `RATE_LIMIT_LOGINS_PER_MINUTE`: logins per client address, and per email (10).
    pub logins_per_minute: u32,
    /// `RATE_LIMIT_USER_REQUESTS_PER_SECOND`: requests per account to the line, the seat map
    /// and reservations, with a burst of twice as many (10).
    pub user_requests_per_second: u32,
    /// `RATE_LIMIT_ADDRESS_REQUESTS_PER_SECOND`: authenticated requests per client address,
    /// burst twice as many (200: buyers behind one NAT share an address).
    pub address_requests_per_second: u32,
    /// `MAX_STREAMS_PER_ACCOUNT`: seat-change streams one account may hold open on one API
    /// process (4).
    pub streams_per_account: usize,
    /// `TRUST_FORWARDED_FOR`: take the client address from `X-Forwarded-For` (set it only
    /// behind a proxy that overwrites the header).
    pub trust_forwarded_for: bool,
}

/// Which task queues a worker process polls.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WorkerRoles {
    /// Reservation, admission, checkout and sweeper workflows, and their database and Redis
    /// activities (`TASK_QUEUE`).
    pub seats: bool,
    /// Activities that call the payment provider (`PAYMENT_TASK_QUEUE`).
    pub payments: bool,
}

impl WorkerRoles {
    pub fn parse(raw: &str) -> Result<Self, SettingsError> {
        let mut roles = Self {
            seats: false,
            payments: false,
        };
        for role in raw.split(',').map(str::trim).filter(|r| !r.is_empty()) {
            match role {
                "seats" => roles.seats = true,
                "payments" => roles.payments = true,
                other => {
                    return Err(SettingsError {
                        name: "WORKER_ROLES",
                        reason: format!("unknown role '{other}': use seats, payments"),
                    })
                }
            }
        }
        if !roles.seats && !roles.payments {
            return Err(SettingsError {
                name: "WORKER_ROLES",
                reason: "names no role: use seats, payments".into(),
            });
        }
        Ok(roles)
    }
}

#[derive(Debug, thiserror::Error)]
#[error("setting {name} is invalid: {reason}")]
pub struct SettingsError {
    pub name: &'static str,
    pub reason: String,
}

/// Defaults for local development only; production sets real secrets.
pub const DEV_AUTH_SECRET: &str = "seatline-dev-auth-secret-not-for-production";
pub const DEV_WEBHOOK_SECRET: &str = "seatline-dev-webhook-secret-not-for-production";
pub const DEV_QUEUE_TOKEN_SECRET: &str = "seatline-dev-queue-secret-not-for-production";

impl Settings {
    pub fn from_env() -> Result<Self, SettingsError> {
        let vars: HashMap<String, String> = std::env::vars().collect();
        Self::from_lookup(|name| vars.get(name).cloned())
    }

    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, SettingsError> {
        let text = |name: &'static str, default: &str| -> String {
            lookup(name)
                .filter(|v| !v.trim().is_empty())
                .unwrap_or_else(|| default.to_owned())
        };
        let number = |name: &'static str, default: u64| -> Result<u64, SettingsError> {
            parse(name, lookup(name), default)
        };
        let hold_seconds = number("HOLD_SECONDS", HoldDuration::DEFAULT_SECONDS)?;
        let hold = HoldDuration::parse(hold_seconds).map_err(|e| SettingsError {
            name: "HOLD_SECONDS",
            reason: e.to_string(),
        })?;
        Self {
            database: DatabaseSettings {
                url: text(
                    "DATABASE_URL",
                    "postgres://seatline:seatline@127.0.0.1:5432/seatline",
                ),
                max_connections: number("DATABASE_MAX_CONNECTIONS", 20)? as u32,
                statement_timeout_ms: number("DATABASE_STATEMENT_TIMEOUT_MS", 4_000)?.max(100),
                lock_timeout_ms: number("DATABASE_LOCK_TIMEOUT_MS", 2_000)?.max(100),
            },
            redis: RedisSettings {
                url: text("REDIS_URL", "redis://127.0.0.1:6379/0"),
            },
            temporal: TemporalSettings {
                address: text("TEMPORAL_ADDRESS", "http://127.0.0.1:7233"),
                namespace: text("TEMPORAL_NAMESPACE", "default"),
                task_queue: text("TASK_QUEUE", "seatline-reservations"),
                payment_task_queue: text("PAYMENT_TASK_QUEUE", "seatline-payments"),
                call_timeout_ms: number("TEMPORAL_CALL_TIMEOUT_MS", 10_000)?.max(100),
            },
            http: HttpSettings {
                host: text("API_HOST", "127.0.0.1"),
                port: parse("API_PORT", lookup("API_PORT"), 8080u16)?,
                public_url: lookup("API_PUBLIC_URL").filter(|v| !v.trim().is_empty()),
                request_timeout_seconds: number("HTTP_REQUEST_TIMEOUT_SECONDS", 30)?.max(1),
                header_read_timeout_seconds: number("HTTP_HEADER_READ_TIMEOUT_SECONDS", 10)?.max(1),
            },
            secrets: Secrets {
                auth: text("AUTH_SECRET", DEV_AUTH_SECRET).into(),
                queue_token: text("QUEUE_TOKEN_SECRET", DEV_QUEUE_TOKEN_SECRET).into(),
                webhook: text("WEBHOOK_SECRET", DEV_WEBHOOK_SECRET).into(),
            },
            waiting_room: WaitingRoomSettings {
                token_ttl_seconds: number("QUEUE_TOKEN_TTL_SECONDS", 6 * 3600)?,
                admission_rate: parse("ADMISSION_RATE", lookup("ADMISSION_RATE"), 50.0f64)?,
                active_cap: number("ADMISSION_ACTIVE_CAP", 1_000)?,
                tick_ms: number("ADMISSION_TICK_MS", 1_000)?,
                turn_seconds: number("QUEUE_TURN_SECONDS", 600)?,
                pre_queue_seconds: number("PRE_QUEUE_SECONDS", 1_800)?,
            },
            payments: PaymentSettings {
                provider_url: text("PROVIDER_URL", "http://127.0.0.1:8090"),
                webhook_tolerance_seconds: number("WEBHOOK_TOLERANCE_SECONDS", 300)? as i64,
                reconcile_after_seconds: number("RECONCILE_AFTER_SECONDS", 60)?.max(1),
                topup_checkout_seconds: number("TOPUP_CHECKOUT_SECONDS", 900)?.max(1),
                max_pending_topups: number("MAX_PENDING_TOPUPS", 3)?.max(1),
            },
            worker: WorkerSettings {
                roles: WorkerRoles::parse(&text("WORKER_ROLES", "seats,payments"))?,
                metrics_port: match lookup("WORKER_METRICS_PORT").filter(|v| !v.trim().is_empty()) {
                    None => None,
                    raw => Some(parse("WORKER_METRICS_PORT", raw, 0u16)?),
                },
                sweep_interval_seconds: number("SWEEP_INTERVAL_SECONDS", 30)?.max(1),
                sweep_grace_seconds: number("SWEEP_GRACE_SECONDS", 5)?,
            },
            hold,
            holds_in_flight: number("HOLDS_IN_FLIGHT", 16)?.max(1) as usize,
            accounts: AccountSettings {
                environment: match text("SEATLINE_ENV", "development").as_str() {
                    "development" => Environment::Development,
                    "production" => Environment::Production,
                    other => {
                        return Err(SettingsError {
                            name: "SEATLINE_ENV",
                            reason: format!("'{other}': use development or production"),
                        })
                    }
                },
                access_token_ttl_seconds: number("ACCESS_TOKEN_TTL_SECONDS", 900)?.max(1),
                session_ttl_seconds: number("SESSION_TTL_SECONDS", 30 * 24 * 3600)?.max(60),
            },
            limits: LimitSettings {
                max_seats_per_buyer: number("MAX_SEATS_PER_BUYER", 4)?.clamp(1, 1_000) as u32,
                accounts_per_hour: number("RATE_LIMIT_ACCOUNTS_PER_HOUR", 30)? as u32,
                logins_per_minute: number("RATE_LIMIT_LOGINS_PER_MINUTE", 10)? as u32,
                address_requests_per_second: number("RATE_LIMIT_ADDRESS_REQUESTS_PER_SECOND", 200)?
                    as u32,
                user_requests_per_second: number("RATE_LIMIT_USER_REQUESTS_PER_SECOND", 10)? as u32,
                streams_per_account: number("MAX_STREAMS_PER_ACCOUNT", 4)?.max(1) as usize,
                trust_forwarded_for: text("TRUST_FORWARDED_FOR", "false") == "true",
            },
        }
        .checked()
    }

    /// In production, every secret must be set, long, and not a development default.
    fn checked(self) -> Result<Self, SettingsError> {
        if !self.accounts.is_production() {
            return Ok(self);
        }
        let secrets = [
            ("AUTH_SECRET", &self.secrets.auth, DEV_AUTH_SECRET),
            (
                "QUEUE_TOKEN_SECRET",
                &self.secrets.queue_token,
                DEV_QUEUE_TOKEN_SECRET,
            ),
            ("WEBHOOK_SECRET", &self.secrets.webhook, DEV_WEBHOOK_SECRET),
        ];
        for (name, secret, dev) in secrets {
            let value = secret.expose_secret();
            if value == dev {
                return Err(SettingsError {
                    name,
                    reason: "is missing or the development value; production needs a secret of \
                             its own (e.g. `openssl rand -hex 32`)"
                        .into(),
                });
            }
            if value.len() < 32 {
                return Err(SettingsError {
                    name,
                    reason: "is shorter than 32 characters".into(),
                });
            }
        }
        Ok(self)
    }
}

fn parse<T: FromStr>(
    name: &'static str,
    raw: Option<String>,
    default: T,
) -> Result<T, SettingsError> {
    match raw.filter(|v| !v.trim().is_empty()) {
        None => Ok(default),
        Some(v) => v.trim().parse().map_err(|_| SettingsError {
            name,
            reason: format!("'{v}' is not a valid number"),
        }),
    }
}

/// The one way every Seatline process (and test) reaches Temporal: `TEMPORAL_ADDRESS`,
/// `TEMPORAL_NAMESPACE`. The connection re-establishes itself after the server restarts.
pub async fn connect_temporal(settings: &Settings) -> anyhow::Result<temporalio_client::Client> {
    use anyhow::Context;
    use temporalio_client::{Client, ClientOptions, Connection, ConnectionOptions, Url};
    let url = Url::from_str(&settings.temporal.address).context("TEMPORAL_ADDRESS")?;
    let connection = Connection::connect(ConnectionOptions::new(url).build())
        .await
        .context("connecting to Temporal")?;
    Client::new(
        connection,
        ClientOptions::new(settings.temporal.namespace.clone()).build(),
    )
    .context("creating the Temporal client")
}

/// Logs go to stdout; `LOG_FORMAT=json` for machines, anything else for people.
pub fn init_tracing(default_filter: &str) {
    use tracing_subscriber::{fmt, EnvFilter};
    let filter =
        EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(default_filter));
    let json = std::env::var("LOG_FORMAT").is_ok_and(|v| v == "json");
    let builder = fmt().with_env_filter(filter).with_target(false);
    // try_init: tests start several services in one process.
    let _ = if json {
        builder.json().try_init()
    } else {
        builder.try_init()
    };
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_work_locally() {
        let s = Settings::from_lookup(|_| None).unwrap();
        assert_eq!(s.hold.as_secs(), 300);
        assert_eq!(s.http.port, 8080);
        assert_eq!(s.temporal.task_queue, "seatline-reservations");
    }

    #[test]
    fn secrets_never_show_in_debug_output() {
        let s =
            Settings::from_lookup(|k| (k == "AUTH_SECRET").then(|| "hunter2-xyz".into())).unwrap();
        assert_eq!(s.secrets.auth.expose_secret(), "hunter2-xyz");
        let shown = format!("{s:?}");
        assert!(!shown.contains("hunter2-xyz"), "{shown}");
        assert!(!shown.contains(DEV_WEBHOOK_SECRET), "{shown}");
    }

    #[test]
    fn worker_roles_are_checked_when_settings_load() {
        let roles = |raw: &'static str| {
            Settings::from_lookup(move |k| (k == "WORKER_ROLES").then(|| raw.into()))
                .map(|s| s.worker.roles)
        };
        assert_eq!(
            roles("payments").unwrap(),
            WorkerRoles {
                seats: false,
                payments: true
            }
        );
        assert!(roles(" seats , payments ").unwrap().seats);
        assert_eq!(roles("seat").unwrap_err().name, "WORKER_ROLES");
        assert_eq!(roles(",").unwrap_err().name, "WORKER_ROLES");
    }

    #[test]
    fn production_refuses_missing_short_and_development_secrets() {
        let good = "0123456789abcdef0123456789abcdef";
        let with = |vars: &'static [(&'static str, &'static str)]| {
            Settings::from_lookup(move |k| {
                vars.iter()
                    .find(|(n, _)| *n == k)
                    .map(|(_, v)| v.to_string())
            })
        };
        let err = with(&[("SEATLINE_ENV", "production")]).unwrap_err();
        assert_eq!(err.name, "AUTH_SECRET");
        let err = with(&[
            ("SEATLINE_ENV", "production"),
            ("AUTH_SECRET", "0123456789abcdef0123456789abcdef"),
            ("QUEUE_TOKEN_SECRET", "short"),
        ])
        .unwrap_err();
        assert_eq!(err.name, "QUEUE_TOKEN_SECRET");
        let err = with(&[
            ("SEATLINE_ENV", "production"),
            ("AUTH_SECRET", "0123456789abcdef0123456789abcdef"),
            ("QUEUE_TOKEN_SECRET", "0123456789abcdef0123456789abcdef"),
            ("WEBHOOK_SECRET", DEV_WEBHOOK_SECRET),
        ])
        .unwrap_err();
        assert_eq!(err.name, "WEBHOOK_SECRET");
        let s = with(&[
            ("SEATLINE_ENV", "production"),
            ("AUTH_SECRET", "0123456789abcdef0123456789abcdef"),
            ("QUEUE_TOKEN_SECRET", "0123456789abcdef0123456789abcdef"),
            ("WEBHOOK_SECRET", "0123456789abcdef0123456789abcdef"),
        ])
        .unwrap();
        assert!(s.accounts.is_production());
        assert_eq!(s.secrets.auth.expose_secret(), good);
        assert!(!Settings::from_lookup(|_| None)
            .unwrap()
            .accounts
            .is_production());
        assert_eq!(
            with(&[("SEATLINE_ENV", "prod")]).unwrap_err().name,
            "SEATLINE_ENV"
        );
    }

    #[test]
    fn bad_numbers_name_the_variable() {
        let err =
            Settings::from_lookup(|k| (k == "HOLD_SECONDS").then(|| "soon".into())).unwrap_err();
        assert_eq!(err.name, "HOLD_SECONDS");
        let err = Settings::from_lookup(|k| (k == "HOLD_SECONDS").then(|| "0".into())).unwrap_err();
        assert_eq!(err.name, "HOLD_SECONDS");
    }
}
