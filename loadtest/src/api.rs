//! The HTTP side: one pooled client shared by every simulated buyer, a semaphore that bounds
//! the requests in flight, and every answer timed into the run's `Recorder`.

use crate::report::Recorder;
use reqwest::{header, Client, Method, RequestBuilder};
use serde_json::Value;
use std::{
    borrow::Cow,
    io::Read,
    sync::Arc,
    time::{Duration, Instant},
};
use tokio::sync::Semaphore;
use uuid::Uuid;

/// An answer: status (0 when the request got none), body, and the ETag if any.
pub struct Reply {
    pub status: u16,
    /// As it came over the wire (perhaps gzip), parsed on demand.
    pub body: Vec<u8>,
    /// `Content-Encoding: gzip`: `decoded()` inflates the body.
    pub gzip: bool,
    pub etag: Option<String>,
    /// When it left this process (after the wait for a slot).
    pub sent_at: chrono::DateTime<chrono::Utc>,
}

impl Reply {
    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.decoded()).unwrap_or(Value::Null)
    }

    /// The body as the server meant it: inflated if it came gzipped (empty if that fails).
    pub fn decoded(&self) -> Cow<'_, [u8]> {
        if !self.gzip {
            return Cow::Borrowed(&self.body);
        }
        let mut plain = Vec::with_capacity(self.body.len() * 8);
        match flate2::read::GzDecoder::new(&self.body[..]).read_to_end(&mut plain) {
            Ok(_) => Cow::Owned(plain),
            Err(_) => Cow::Owned(Vec::new()),
        }
    }

    /// `error.code` of an error answer, or "".
    pub fn code(&self) -> String {
        self.json()["error"]["code"]
            .as_str()
            .unwrap_or_default()
            .to_owned()
    }

    pub fn ok(&self) -> bool {
        (200..300).contains(&self.status)
    }

    /// Worth trying again later: no answer, 5xx, or 429.
    pub fn retryable(&self) -> bool {
        self.status == 0 || self.status >= 500 || self.status == 429
    }

    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.decoded())
            .chars()
            .take(300)
            .collect()
    }
}

/// The two forms of `GET /seats`: every seat with its details, or one status letter per
/// seat in the order of the static layout (what a polling client asks for).
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum MapForm {
    Full,
    Compact,
}

impl MapForm {
    pub fn name(self) -> &'static str {
        match self {
            Self::Full => "full",
            Self::Compact => "compact",
        }
    }

    pub fn endpoint(self) -> &'static str {
        match self {
            Self::Full => "seatmap_full",
            Self::Compact => "seatmap",
        }
    }
}

#[derive(Clone)]
pub struct Api {
    pub base: String,
    pub http: Client,
    permits: Arc<Semaphore>,
    /// Payments have slots of their own: a buyer's payment does not queue behind other
    /// buyers' seat-map reads and hold attempts in this process (it would not in a browser).
    priority: Arc<Semaphore>,
    /// So do joins and position polls: a crowd waiting in line does not hold up, in this
    /// process, the buyers whose turn it is.
    waiting: Arc<Semaphore>,
    pub recorder: Arc<Recorder>,
}

/// A user as the API knows them: id and bearer token.
#[derive(Clone, Debug)]
pub struct Credentials {
    pub id: Uuid,
    pub token: String,
}

impl Api {
    /// `concurrency` requests in flight at most, over as many pooled connections.
    pub fn new(base: &str, concurrency: usize) -> anyhow::Result<Self> {
        let http = Client::builder()
            .pool_max_idle_per_host(concurrency.max(1) * 2)
            .pool_idle_timeout(Duration::from_secs(90))
            .tcp_nodelay(true)
            .connect_timeout(Duration::from_secs(10))
            .timeout(Duration::from_secs(60))
            .build()?;
        Ok(Self {
            base: base.trim_end_matches('/').to_owned(),
            http,
            permits: Arc::new(Semaphore::new(concurrency.max(1))),
            priority: Arc::new(Semaphore::new((concurrency / 4).max(8))),
            waiting: Arc::new(Semaphore::new((concurrency / 2).max(8))),
            recorder: Arc::new(Recorder::default()),
        })
    }

    /// The same client and limit, with a fresh recorder (one per phase of a scenario).
    pub fn with_new_recorder(&self) -> Self {
        Self {
            recorder: Arc::new(Recorder::default()),
            ..self.clone()
        }
    }

    pub fn request(&self, method: Method, path: &str) -> RequestBuilder {
        self.http.request(method, format!("{}{}", self.base, path))
    }

    /// Sends `req` once a permit is free; times it (send to last byte) under `endpoint`.
    pub async fn call(&self, endpoint: &'static str, req: RequestBuilder) -> Reply {
        let permits = match endpoint {
            "pay" | "charge" => &self.priority,
            "join" | "poll" => &self.waiting,
            _ => &self.permits,
        };
        let queued = Instant::now();
        let _permit = permits.acquire().await.expect("semaphore never closes");
        self.recorder.record_wait(queued.elapsed());
        let started = Instant::now();
        let sent_at = chrono::Utc::now();
        let reply = match req.send().await {
            Ok(res) => {
                let status = res.status().as_u16();
                let etag = res
                    .headers()
                    .get(header::ETAG)
                    .and_then(|v| v.to_str().ok())
                    .map(str::to_owned);
                let gzip = res
                    .headers()
                    .get(header::CONTENT_ENCODING)
                    .is_some_and(|v| v.as_bytes() == b"gzip");
                match res.bytes().await {
                    Ok(body) => Reply {
                        status,
                        body: body.to_vec(),
                        gzip,
                        etag,
                        sent_at,
                    },
                    Err(_) => Reply {
                        status: 0,
                        body: Vec::new(),
                        gzip: false,
                        etag: None,
                        sent_at,
                    },
                }
            }
            Err(err) => Reply {
                status: 0,
                body: err.to_string().into_bytes(),
                gzip: false,
                etag: None,
                sent_at,
            },
        };
        let took = started.elapsed();
        let code = match reply.status {
            0 => Some("NO_ANSWER".to_owned()),
            400.. => Some(reply.code()).filter(|c| !c.is_empty()),
            _ => None,
        };
        self.recorder
            .record_with_code(endpoint, reply.status, took, code);
        reply
    }

    pub async fn create_user(&self, name: &str) -> anyhow::Result<Credentials> {
        let req = self
            .request(Method::POST, "/api/v1/users")
            .json(&serde_json::json!({ "name": name }));
        let reply = self.call("user", req).await;
        anyhow::ensure!(reply.status == 201, "creating a user: {}", reply.text());
        let body = reply.json();
        Ok(Credentials {
            id: body["user_id"]
                .as_str()
                .and_then(|s| Uuid::parse_str(s).ok())
                .ok_or_else(|| anyhow::anyhow!("user_id missing: {body}"))?,
            token: body["token"].as_str().unwrap_or_default().to_owned(),
        })
    }

    pub async fn join(&self, user: &Credentials, schedule: Uuid) -> Reply {
        let req = self
            .request(Method::POST, "/api/v1/queue/tokens")
            .bearer_auth(&user.token)
            .json(&serde_json::json!({ "schedule_id": schedule }));
        self.call("join", req).await
    }

    pub async fn standing(&self, user: &Credentials, queue_token: &str) -> Reply {
        let req = self
            .request(Method::GET, "/api/v1/queue/tokens/current")
            .bearer_auth(&user.token)
            .header("x-queue-token", queue_token);
        self.call("poll", req).await
    }

    /// The seat map in `form`, gzipped on the wire as a browser would ask for it.
    pub async fn seat_map(
        &self,
        user: &Credentials,
        queue_token: &str,
        schedule: Uuid,
        etag: Option<&str>,
        form: MapForm,
    ) -> Reply {
        let path = match form {
            MapForm::Full => format!("/api/v1/schedules/{schedule}/seats"),
            MapForm::Compact => format!("/api/v1/schedules/{schedule}/seats?format=compact"),
        };
        let mut req = self
            .request(Method::GET, &path)
            .bearer_auth(&user.token)
            .header("x-queue-token", queue_token)
            .header(header::ACCEPT_ENCODING, "gzip");
        if let Some(etag) = etag {
            req = req.header(header::IF_NONE_MATCH, etag);
        }
        self.call(form.endpoint(), req).await
    }

    /// The hall's static layout, `(seat id, row)` in the order of the compact form.
    pub async fn seat_layout(&self, schedule: Uuid) -> anyhow::Result<Vec<(i64, i32)>> {
        let req = self.request(
            Method::GET,
            &format!("/api/v1/schedules/{schedule}/seats/layout"),
        );
        let reply = self.call("layout", req).await;
        anyhow::ensure!(reply.status == 200, "seat layout: {}", reply.text());
        let body = reply.json();
        let seats = body["seats"]
            .as_array()
            .ok_or_else(|| anyhow::anyhow!("seat layout without seats"))?;
        seats
            .iter()
            .map(|s| match (s[0].as_i64(), s[1].as_i64()) {
                (Some(id), Some(row)) => Ok((id, row as i32)),
                _ => Err(anyhow::anyhow!("seat layout entry {s}")),
            })
            .collect()
    }

    pub async fn hold(
        &self,
        user: &Credentials,
        queue_token: &str,
        schedule: Uuid,
        seats: &[i64],
    ) -> Reply {
        let req = self
            .request(Method::POST, "/api/v1/reservations")
            .bearer_auth(&user.token)
            .header("x-queue-token", queue_token)
            .json(&serde_json::json!({ "schedule_id": schedule, "seat_ids": seats }));
        self.call("hold", req).await
    }

    pub async fn charge(&self, user: &Credentials, amount: i64) -> Reply {
        let req = self
            .request(Method::POST, "/api/v1/users/me/balance/charges")
            .bearer_auth(&user.token)
            .json(&serde_json::json!({ "amount": amount }));
        self.call("charge", req).await
    }

    pub async fn pay(&self, user: &Credentials, queue_token: &str, reservation: &str) -> Reply {
        let req = self
            .request(
                Method::POST,
                &format!("/api/v1/reservations/{reservation}/payment"),
            )
            .bearer_auth(&user.token)
            .header("x-queue-token", queue_token);
        self.call("pay", req).await
    }

    pub async fn healthz(&self) -> Reply {
        let req = self.request(Method::GET, "/healthz");
        self.call("healthz", req).await
    }

    /// `/metrics` as text, not timed; empty if it can't be read.
    pub async fn metrics_text(&self) -> String {
        match self.request(Method::GET, "/metrics").send().await {
            Ok(res) if res.status().is_success() => res.text().await.unwrap_or_default(),
            _ => String::new(),
        }
    }

    /// Joins the queue and polls until the user's turn; the queue token. Gives up after
    /// `within`, or when the schedule is sold out (an error saying so).
    pub async fn admit(
        &self,
        user: &Credentials,
        schedule: Uuid,
        within: Duration,
    ) -> anyhow::Result<String> {
        let deadline = Instant::now() + within;
        loop {
            let joined = self.join(user, schedule).await;
            if joined.retryable() {
                anyhow::ensure!(Instant::now() < deadline, "join: {}", joined.text());
                tokio::time::sleep(Duration::from_millis(500)).await;
                continue;
            }
            anyhow::ensure!(joined.status == 201, "join: {}", joined.text());
            let body = joined.json();
            let token = body["token"].as_str().unwrap_or_default().to_owned();
            let mut status = body["status"].as_str().unwrap_or_default().to_owned();
            loop {
                match status.as_str() {
                    "ACTIVE" => return Ok(token),
                    "SOLD_OUT" => anyhow::bail!("sold out"),
                    "EXPIRED" => break,
                    _ => {}
                }
                anyhow::ensure!(Instant::now() < deadline, "not admitted within {within:?}");
                tokio::time::sleep(Duration::from_millis(200)).await;
                let now = self.standing(user, &token).await;
                if now.ok() {
                    status = now.json()["status"].as_str().unwrap_or_default().to_owned();
                }
            }
        }
    }
}
