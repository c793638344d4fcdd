//! The sell-out: a few hundred buyers, all at once, through real HTTP, each retrying through
//! the faults the way a patient client would, while a scenario injects its fault. Every
//! request and its answer is recorded per buyer, to compare with the database afterwards.

use crate::scenario::{env_u64, Scenario};
use anyhow::{Context, Result};
use futures::future::join_all;
use rand::{rngs::StdRng, seq::SliceRandom, Rng, SeedableRng};
use reqwest::{Client, Method};
use seatline_domain::ScheduleId;
use serde::Serialize;
use serde_json::{json, Value};
use std::{
    collections::BTreeMap,
    future::Future,
    sync::{
        atomic::{AtomicBool, AtomicUsize, Ordering},
        Arc, Mutex,
    },
    time::{Duration, Instant},
};
use uuid::Uuid;

const REQUEST_TIMEOUT: Duration = Duration::from_secs(10);
const TOKEN_CODES: [&str; 3] = ["TOKEN_NOT_FOUND", "TOKEN_EXPIRED", "WRONG_TOKEN_TURN"];

#[derive(Debug, Clone)]
pub struct SaleConfig {
    pub buyers: usize,
    pub rows: i32,
    pub cols: i32,
    pub seed: u64,
    /// Each buyer stops trying this long after the sale starts.
    pub buyer_deadline: Duration,
    /// The first this many buyers pay by card, signed `sign_skew_seconds: 600` at the provider.
    pub skew_buyers: usize,
    /// How long a card buyer spends on the provider's page before paying (ms, range).
    pub card_think_ms: (u64, u64),
    /// A buyer whose holds keep expiring gives up after this many.
    pub max_holds_per_buyer: usize,
}

impl SaleConfig {
    /// The defaults (`FAULT_BUYERS` 150, `FAULT_ROWS` 6 × `FAULT_COLS` 8 seats, `FAULT_SEED`),
    /// each buyer patient for 90 s plus the scenario's outage.
    pub fn with_outage(outage: Duration) -> Self {
        Self {
            buyers: env_u64("FAULT_BUYERS", 150) as usize,
            rows: env_u64("FAULT_ROWS", 6) as i32,
            cols: env_u64("FAULT_COLS", 8) as i32,
            seed: env_u64("FAULT_SEED", 20_261_123),
            buyer_deadline: Duration::from_secs(env_u64("FAULT_BUYER_SECONDS", 90)) + outage,
            skew_buyers: 0,
            card_think_ms: (0, 1_000),
            max_holds_per_buyer: 3,
        }
    }
}

/// What a buyer means to do once they hold seats (seeded per buyer).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum Plan {
    Balance,
    Card { fail: bool, skew: bool },
    Abandon,
}

/// One request and its answer, as the buyer saw it.
#[derive(Debug, Clone, Serialize)]
pub struct Step {
    /// When the answer (or the failure) came, in milliseconds since the sale started.
    pub at_ms: u64,
    /// How long the request took.
    pub took_ms: u64,
    pub request: &'static str,
    pub status: Option<u16>,
    /// The error code of an error answer, or the kind of transport failure.
    pub code: Option<String>,
    pub error: Option<String>,
    pub reservation_id: Option<String>,
    pub reservation_status: Option<String>,
}

impl Step {
    /// A 5xx or no answer at all: what a fault looks like from outside.
    pub fn is_failure(&self) -> bool {
        self.status.is_none_or(|s| s >= 500)
    }

    /// `503 BUSY`, `500 INTERNAL`, `connect`, `timeout`…
    pub fn failure_label(&self) -> String {
        match self.status {
            Some(s) => format!("{s} {}", self.code.as_deref().unwrap_or("")),
            None => self.code.clone().unwrap_or_else(|| "request".into()),
        }
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct CardPayment {
    pub payment_id: String,
    pub reservation_id: String,
    /// The status the buyer completed it with at the provider, if they got that far.
    pub completed: Option<String>,
    pub skew: bool,
}

#[derive(Debug, Clone, Serialize)]
pub struct BuyerRecord {
    pub index: usize,
    pub plan: Plan,
    pub user_id: Option<String>,
    #[serde(skip)]
    pub token: Option<String>,
    /// Reservations the API answered 201 HELD.
    pub told_held: Vec<String>,
    /// Reservations the API answered 200 CONFIRMED to a balance payment.
    pub told_confirmed: Vec<String>,
    /// Reservations a payment was answered 409 ALREADY_CONFIRMED for.
    pub told_already_confirmed: Vec<String>,
    pub card_payments: Vec<CardPayment>,
    pub outcome: String,
    pub steps: Vec<Step>,
}

/// What the scenario's fault can wait for.
#[derive(Debug, Default)]
pub struct Progress {
    pub holds_won: AtomicUsize,
    pub checkouts: AtomicUsize,
    pub card_completions: AtomicUsize,
    pub buyers_done: AtomicUsize,
    /// Set when the schedule is sold out: buyers stop looking for seats.
    pub stop: AtomicBool,
}

impl Progress {
    async fn wait(&self, what: &str, within: Duration, ok: impl Fn(&Self) -> bool) {
        let started = Instant::now();
        while !ok(self) {
            if started.elapsed() > within {
                eprintln!("[faults] {what} not reached within {within:?}; injecting anyway");
                return;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Until `n` holds were won (at most 30 s): the sale is under way.
    pub async fn holds_won_at_least(&self, n: usize) {
        self.wait(&format!("{n} holds won"), Duration::from_secs(30), |p| {
            p.holds_won.load(Ordering::Relaxed) >= n
        })
        .await
    }

    /// Until `n` card checkouts were started (at most 30 s).
    pub async fn checkouts_at_least(&self, n: usize) {
        self.wait(&format!("{n} checkouts"), Duration::from_secs(30), |p| {
            p.checkouts.load(Ordering::Relaxed) >= n
        })
        .await
    }
}

/// The admitted user who reads the seat map for the checks.
#[derive(Debug, Clone, Default)]
pub struct Reader {
    pub token: String,
    pub queue_token: Option<String>,
}

pub struct Sale {
    pub scenario: Arc<Scenario>,
    pub config: SaleConfig,
    pub schedule: ScheduleId,
    pub http: Client,
    pub progress: Arc<Progress>,
    pub reader: Mutex<Reader>,
    started: Mutex<Option<Instant>>,
}

pub struct SaleResult {
    pub records: Vec<BuyerRecord>,
    pub started: Instant,
    pub ended: Instant,
    /// What went wrong injecting the fault (the scenario then proves nothing).
    pub fault_error: Option<String>,
}

impl SaleResult {
    pub fn steps(&self) -> impl Iterator<Item = &Step> {
        self.records.iter().flat_map(|r| r.steps.iter())
    }

    pub fn outcomes(&self) -> BTreeMap<String, usize> {
        let mut by = BTreeMap::new();
        for r in &self.records {
            *by.entry(r.outcome.clone()).or_default() += 1;
        }
        by
    }
}

enum Answer {
    Reply {
        status: u16,
        body: Value,
        retry_after: Option<u64>,
    },
    Failed,
}

/// One request of a buyer.
struct Req<'a> {
    label: &'static str,
    method: Method,
    url: String,
    bearer: Option<&'a str>,
    queue: Option<&'a str>,
    key: Option<&'a str>,
    body: Option<Value>,
}

fn code_of(body: &Value) -> Option<String> {
    body["error"]["code"].as_str().map(str::to_owned)
}

fn is_token_problem(status: u16, body: &Value) -> bool {
    (status == 401 || status == 403)
        && code_of(body).is_some_and(|c| TOKEN_CODES.contains(&c.as_str()))
}

enum Admission {
    Active(String),
    SoldOut,
    GaveUp(String),
}

enum Hold {
    Held(String),
    Unavailable,
    Token,
    Failed(String),
}

enum Paid {
    Confirmed,
    Expired,
    Token,
    Failed(String),
}

impl Sale {
    /// Makes the schedule (`rows` × `cols`, nobody queued yet) and admits the seat-map reader
    /// before anyone else (once a schedule sells out nobody new is admitted).
    pub async fn prepare(scenario: &Arc<Scenario>, config: SaleConfig) -> Result<Arc<Self>> {
        let (_, schedule) = seatline_storage::demo::create_isolated_schedule(
            &scenario.pool,
            config.rows,
            config.cols,
        )
        .await
        .context("creating the schedule")?;
        let http = Client::builder()
            .timeout(REQUEST_TIMEOUT)
            .connect_timeout(Duration::from_secs(3))
            .pool_max_idle_per_host(256)
            .build()?;
        let sale = Arc::new(Self {
            scenario: scenario.clone(),
            config,
            schedule,
            http,
            progress: Arc::default(),
            reader: Mutex::default(),
            started: Mutex::new(Some(Instant::now())),
        });
        let mut record = sale.record(usize::MAX, Plan::Abandon);
        let deadline = Instant::now() + Duration::from_secs(60);
        let token = sale
            .create_user(&mut record, "seat map reader", deadline)
            .await
            .context("creating the seat-map reader")?;
        let queue = match sale.admit(&mut record, &token, deadline).await {
            Admission::Active(t) => t,
            Admission::SoldOut => anyhow::bail!("the reader found the schedule sold out"),
            Admission::GaveUp(why) => anyhow::bail!("admitting the seat-map reader: {why}"),
        };
        *sale.reader.lock().unwrap() = Reader {
            token,
            queue_token: Some(queue),
        };
        Ok(sale)
    }

    fn elapsed_ms(&self) -> u64 {
        self.started
            .lock()
            .unwrap()
            .map_or(0, |s| s.elapsed().as_millis() as u64)
    }

    fn record(&self, index: usize, plan: Plan) -> BuyerRecord {
        BuyerRecord {
            index,
            plan,
            user_id: None,
            token: None,
            told_held: vec![],
            told_confirmed: vec![],
            told_already_confirmed: vec![],
            card_payments: vec![],
            outcome: String::new(),
            steps: vec![],
        }
    }

    fn api(&self, path: &str) -> String {
        format!("{}/api/v1{path}", self.scenario.api_base)
    }

    /// Sends once and records the step.
    async fn send(&self, rec: &mut BuyerRecord, req: &Req<'_>) -> Answer {
        let mut builder = self.http.request(req.method.clone(), &req.url);
        if let Some(t) = req.bearer {
            builder = builder.bearer_auth(t);
        }
        if let Some(q) = req.queue {
            builder = builder.header("x-queue-token", q);
        }
        if let Some(k) = req.key {
            builder = builder.header("idempotency-key", k);
        }
        if let Some(b) = &req.body {
            builder = builder.json(b);
        }
        let sent_ms = self.elapsed_ms();
        let answer = match builder.send().await {
            Ok(res) => {
                let status = res.status().as_u16();
                let retry_after = res
                    .headers()
                    .get("retry-after")
                    .and_then(|v| v.to_str().ok())
                    .and_then(|v| v.trim().parse().ok());
                match res.text().await {
                    Ok(text) => Ok((
                        status,
                        serde_json::from_str(&text).unwrap_or(Value::String(text)),
                        retry_after,
                    )),
                    Err(e) => Err(e),
                }
            }
            Err(e) => Err(e),
        };
        let at_ms = self.elapsed_ms();
        let took_ms = at_ms.saturating_sub(sent_ms);
        match answer {
            Ok((status, body, retry_after)) => {
                let reservation_id = body["reservation_id"].as_str().map(str::to_owned);
                // Holds and payments answer the reservation's status; a checkout or the
                // provider answers the payment's, which is not recorded here.
                let reservation_status = match req.label {
                    "hold" | "pay with balance" => body["status"].as_str().map(str::to_owned),
                    _ => None,
                };
                rec.steps.push(Step {
                    at_ms,
                    took_ms,
                    request: req.label,
                    status: Some(status),
                    code: code_of(&body),
                    error: None,
                    reservation_id,
                    reservation_status,
                });
                Answer::Reply {
                    status,
                    body,
                    retry_after,
                }
            }
            Err(e) => {
                let kind = if e.is_timeout() {
                    "timeout"
                } else if e.is_connect() {
                    "connect"
                } else {
                    "request"
                };
                rec.steps.push(Step {
                    at_ms,
                    took_ms,
                    request: req.label,
                    status: None,
                    code: Some(kind.into()),
                    error: Some(error_chain(&e)),
                    reservation_id: None,
                    reservation_status: None,
                });
                Answer::Failed
            }
        }
    }

    /// Sends until an answer that is not worth repeating (anything but no answer, 5xx, 408,
    /// 429 and 409 IDEMPOTENCY_IN_PROGRESS), backing off; the same request, so the same key.
    /// None when the deadline passes first.
    async fn send_retrying(
        &self,
        rec: &mut BuyerRecord,
        req: &Req<'_>,
        deadline: Instant,
    ) -> Option<(u16, Value)> {
        let mut backoff = Duration::from_millis(200);
        loop {
            let wait = match self.send(rec, req).await {
                Answer::Reply {
                    status,
                    body,
                    retry_after,
                } => {
                    let in_progress = status == 409
                        && code_of(&body).as_deref() == Some("IDEMPOTENCY_IN_PROGRESS");
                    if !(status >= 500 || status == 408 || status == 429 || in_progress) {
                        return Some((status, body));
                    }
                    retry_after.map(Duration::from_secs)
                }
                Answer::Failed => None,
            };
            let jitter = Duration::from_millis(rand::thread_rng().gen_range(0..150));
            let sleep = wait.unwrap_or(backoff).max(backoff) + jitter;
            if Instant::now() + sleep > deadline {
                return None;
            }
            tokio::time::sleep(sleep).await;
            backoff = (backoff * 2).min(Duration::from_secs(2));
        }
    }

    async fn create_user(
        &self,
        rec: &mut BuyerRecord,
        name: &str,
        deadline: Instant,
    ) -> Result<String> {
        let key = Uuid::new_v4().to_string();
        let req = Req {
            label: "create user",
            method: Method::POST,
            url: self.api("/users"),
            bearer: None,
            queue: None,
            key: Some(&key),
            body: Some(json!({ "name": name })),
        };
        match self.send_retrying(rec, &req, deadline).await {
            Some((201, body)) => {
                rec.user_id = body["user_id"].as_str().map(str::to_owned);
                let token = body["token"].as_str().context("no token")?.to_owned();
                rec.token = Some(token.clone());
                Ok(token)
            }
            Some((status, body)) => anyhow::bail!("create user answered {status}: {body}"),
            None => anyhow::bail!("no user before the deadline"),
        }
    }

    /// Joins the line and waits for an ACTIVE turn; joins again if the token stops working.
    async fn admit(&self, rec: &mut BuyerRecord, token: &str, deadline: Instant) -> Admission {
        let schedule = self.schedule.to_string();
        'join: loop {
            if self.progress.stop.load(Ordering::Relaxed) {
                return Admission::SoldOut;
            }
            let req = Req {
                label: "join queue",
                method: Method::POST,
                url: self.api("/queue/tokens"),
                bearer: Some(token),
                queue: None,
                key: None,
                body: Some(json!({ "schedule_id": schedule })),
            };
            let (status, body) = match self.send_retrying(rec, &req, deadline).await {
                Some(answer) => answer,
                None => return Admission::GaveUp("deadline while joining the line".into()),
            };
            if status != 201 && status != 200 {
                return Admission::GaveUp(format!("join answered {status}: {body}"));
            }
            let Some(queue) = body["token"].as_str().map(str::to_owned) else {
                return Admission::GaveUp(format!("join gave no token: {body}"));
            };
            let mut standing = body["status"].as_str().unwrap_or("").to_owned();
            loop {
                match standing.as_str() {
                    "ACTIVE" => return Admission::Active(queue),
                    "SOLD_OUT" => return Admission::SoldOut,
                    "EXPIRED" => continue 'join,
                    _ => {}
                }
                if self.progress.stop.load(Ordering::Relaxed) {
                    return Admission::SoldOut;
                }
                let pause = rand::thread_rng().gen_range(150..350);
                tokio::time::sleep(Duration::from_millis(pause)).await;
                let req = Req {
                    label: "queue standing",
                    method: Method::GET,
                    url: self.api("/queue/tokens/current"),
                    bearer: Some(token),
                    queue: Some(&queue),
                    key: None,
                    body: None,
                };
                let (status, body) = match self.send_retrying(rec, &req, deadline).await {
                    Some(answer) => answer,
                    None => return Admission::GaveUp("deadline while waiting in line".into()),
                };
                if status == 401 || status == 403 {
                    continue 'join;
                }
                if status != 200 {
                    return Admission::GaveUp(format!("standing answered {status}: {body}"));
                }
                standing = body["status"].as_str().unwrap_or("").to_owned();
            }
        }
    }

    /// Seat id → status, or None when the turn is gone (Some(Err) for anything else).
    async fn seat_map(
        &self,
        rec: &mut BuyerRecord,
        token: &str,
        queue: &str,
        deadline: Instant,
    ) -> Option<Result<Vec<(i64, String)>, String>> {
        let req = Req {
            label: "seat map",
            method: Method::GET,
            url: self.api(&format!("/schedules/{}/seats", self.schedule)),
            bearer: Some(token),
            queue: Some(queue),
            key: None,
            body: None,
        };
        match self.send_retrying(rec, &req, deadline).await {
            None => Some(Err("deadline while reading the seat map".into())),
            Some((200, body)) => Some(parse_seat_map(&body)),
            Some((status, body)) if is_token_problem(status, &body) => None,
            Some((status, body)) => Some(Err(format!("seat map answered {status}: {body}"))),
        }
    }

    async fn hold(
        &self,
        rec: &mut BuyerRecord,
        token: &str,
        queue: &str,
        seats: &[i64],
        deadline: Instant,
    ) -> Hold {
        let key = Uuid::new_v4().to_string();
        let req = Req {
            label: "hold",
            method: Method::POST,
            url: self.api("/reservations"),
            bearer: Some(token),
            queue: Some(queue),
            key: Some(&key),
            body: Some(json!({ "schedule_id": self.schedule.to_string(), "seat_ids": seats })),
        };
        match self.send_retrying(rec, &req, deadline).await {
            None => Hold::Failed("deadline while holding".into()),
            Some((201, body)) => match body["reservation_id"].as_str() {
                Some(id) => {
                    rec.told_held.push(id.to_owned());
                    self.progress.holds_won.fetch_add(1, Ordering::Relaxed);
                    Hold::Held(id.to_owned())
                }
                None => Hold::Failed(format!("201 without a reservation id: {body}")),
            },
            Some((409, body)) if code_of(&body).as_deref() == Some("SEAT_UNAVAILABLE") => {
                Hold::Unavailable
            }
            Some((status, body)) if is_token_problem(status, &body) => Hold::Token,
            Some((status, body)) => Hold::Failed(format!(
                "hold answered {status} {}",
                code_of(&body).unwrap_or_default()
            )),
        }
    }

    async fn pay_with_balance(
        &self,
        rec: &mut BuyerRecord,
        token: &str,
        queue: &str,
        reservation: &str,
        deadline: Instant,
    ) -> Paid {
        let key = Uuid::new_v4().to_string();
        let req = Req {
            label: "pay with balance",
            method: Method::POST,
            url: self.api(&format!("/reservations/{reservation}/payment")),
            bearer: Some(token),
            queue: Some(queue),
            key: Some(&key),
            body: None,
        };
        match self.send_retrying(rec, &req, deadline).await {
            None => Paid::Failed("deadline while paying".into()),
            Some((200, body)) if body["status"] == "CONFIRMED" => {
                rec.told_confirmed.push(reservation.to_owned());
                Paid::Confirmed
            }
            Some((409, body)) => match code_of(&body).as_deref() {
                Some("RESERVATION_EXPIRED") => Paid::Expired,
                Some("ALREADY_CONFIRMED") => {
                    rec.told_already_confirmed.push(reservation.to_owned());
                    Paid::Confirmed
                }
                other => Paid::Failed(format!("payment answered 409 {other:?}")),
            },
            Some((status, body)) if is_token_problem(status, &body) => Paid::Token,
            Some((status, body)) => Paid::Failed(format!(
                "payment answered {status} {}",
                code_of(&body).unwrap_or_else(|| body.to_string())
            )),
        }
    }

    /// Starts a card payment; Ok(payment id), or how it ended.
    async fn checkout(
        &self,
        rec: &mut BuyerRecord,
        token: &str,
        queue: &str,
        reservation: &str,
        deadline: Instant,
    ) -> Result<String, Paid> {
        let key = Uuid::new_v4().to_string();
        let req = Req {
            label: "checkout",
            method: Method::POST,
            url: self.api(&format!("/reservations/{reservation}/checkout")),
            bearer: Some(token),
            queue: Some(queue),
            key: Some(&key),
            body: None,
        };
        match self.send_retrying(rec, &req, deadline).await {
            None => Err(Paid::Failed("deadline while checking out".into())),
            Some((201, body)) => match body["payment_id"].as_str() {
                Some(id) => {
                    self.progress.checkouts.fetch_add(1, Ordering::Relaxed);
                    Ok(id.to_owned())
                }
                None => Err(Paid::Failed(format!(
                    "checkout without a payment id: {body}"
                ))),
            },
            Some((409, body)) if code_of(&body).as_deref() == Some("RESERVATION_EXPIRED") => {
                Err(Paid::Expired)
            }
            Some((status, body)) if is_token_problem(status, &body) => Err(Paid::Token),
            Some((status, body)) => Err(Paid::Failed(format!(
                "checkout answered {status} {}",
                code_of(&body).unwrap_or_else(|| body.to_string())
            ))),
        }
    }

    /// Pays (or fails to pay) on the provider's side, as the buyer on the checkout page.
    async fn complete_at_provider(
        &self,
        rec: &mut BuyerRecord,
        payment_id: &str,
        status: &str,
        skew: bool,
        deadline: Instant,
    ) -> Result<(), String> {
        let mut body = json!({ "status": status, "mode": "normal" });
        if skew {
            body["sign_skew_seconds"] = json!(600);
        }
        let req = Req {
            label: "provider complete",
            method: Method::POST,
            url: format!(
                "{}/v1/payments/{payment_id}/complete",
                self.scenario.provider_base
            ),
            bearer: None,
            queue: None,
            key: None,
            body: Some(body),
        };
        match self.send_retrying(rec, &req, deadline).await {
            Some((s, _)) if (200..300).contains(&s) => {
                self.progress
                    .card_completions
                    .fetch_add(1, Ordering::Relaxed);
                Ok(())
            }
            Some((s, body)) => Err(format!("provider answered {s}: {body}")),
            None => Err("deadline while paying at the provider".into()),
        }
    }

    fn plan_for(&self, index: usize, rng: &mut StdRng) -> Plan {
        if index < self.config.skew_buyers {
            return Plan::Card {
                fail: false,
                skew: true,
            };
        }
        match rng.gen_range(0..100) {
            0..50 => Plan::Balance,
            50..80 => Plan::Card {
                fail: rng.gen_range(0..100) < 5,
                skew: false,
            },
            _ => Plan::Abandon,
        }
    }

    async fn buyer(self: Arc<Self>, index: usize, deadline: Instant) -> BuyerRecord {
        let mut rng = StdRng::seed_from_u64(
            self.config
                .seed
                .wrapping_mul(0x9E37_79B9_7F4A_7C15)
                .wrapping_add(index as u64),
        );
        let plan = self.plan_for(index, &mut rng);
        let mut rec = self.record(index, plan);
        rec.outcome = self.buy(&mut rec, &mut rng, deadline).await;
        self.progress.buyers_done.fetch_add(1, Ordering::Relaxed);
        rec
    }

    /// The buyer's whole visit; returns how it ended.
    async fn buy(&self, rec: &mut BuyerRecord, rng: &mut StdRng, deadline: Instant) -> String {
        let token = match self
            .create_user(rec, &format!("fault buyer {}", rec.index), deadline)
            .await
        {
            Ok(t) => t,
            Err(e) => return format!("no account: {e}"),
        };
        let key = Uuid::new_v4().to_string();
        let req = Req {
            label: "charge",
            method: Method::POST,
            url: self.api("/users/me/balance/charges"),
            bearer: Some(&token),
            queue: None,
            key: Some(&key),
            body: Some(json!({ "amount": 1_000_000 })),
        };
        match self.send_retrying(rec, &req, deadline).await {
            Some((s, _)) if (200..300).contains(&s) => {}
            Some((s, body)) => return format!("charge answered {s}: {body}"),
            None => return "deadline while charging".into(),
        }
        let mut queue: Option<String> = None;
        let mut holds = 0;
        loop {
            if Instant::now() > deadline {
                return "deadline".into();
            }
            let q = match &queue {
                Some(q) => q.clone(),
                None => match self.admit(rec, &token, deadline).await {
                    Admission::Active(q) => {
                        queue = Some(q.clone());
                        q
                    }
                    Admission::SoldOut => return "sold out".into(),
                    Admission::GaveUp(why) => return why,
                },
            };
            if self.progress.stop.load(Ordering::Relaxed) {
                return "sold out".into();
            }
            let seats = match self.seat_map(rec, &token, &q, deadline).await {
                None => {
                    queue = None;
                    continue;
                }
                Some(Err(why)) => return why,
                Some(Ok(seats)) => seats,
            };
            let available: Vec<i64> = seats
                .iter()
                .filter(|(_, s)| s == "AVAILABLE")
                .map(|(id, _)| *id)
                .collect();
            if available.is_empty() {
                if seats.iter().all(|(_, s)| s == "SOLD") {
                    return "sold out".into();
                }
                // Everything is held: wait for holds to expire.
                let pause = rng.gen_range(300..800);
                tokio::time::sleep(Duration::from_millis(pause)).await;
                continue;
            }
            let want = rng.gen_range(1..=2).min(available.len());
            let mut chosen: Vec<i64> = available.choose_multiple(rng, want).copied().collect();
            chosen.sort_unstable();
            let reservation = match self.hold(rec, &token, &q, &chosen, deadline).await {
                Hold::Held(id) => id,
                Hold::Unavailable => continue,
                Hold::Token => {
                    queue = None;
                    continue;
                }
                Hold::Failed(why) => return why,
            };
            holds += 1;
            let paid = match rec.plan {
                Plan::Abandon => return "abandoned the hold".into(),
                Plan::Balance => loop {
                    let q = match &queue {
                        Some(q) => q.clone(),
                        None => match self.admit(rec, &token, deadline).await {
                            Admission::Active(q) => {
                                queue = Some(q.clone());
                                q
                            }
                            Admission::SoldOut => break Paid::Failed("sold out".into()),
                            Admission::GaveUp(why) => break Paid::Failed(why),
                        },
                    };
                    match self
                        .pay_with_balance(rec, &token, &q, &reservation, deadline)
                        .await
                    {
                        Paid::Token => queue = None,
                        Paid::Confirmed => return "paid by balance".into(),
                        other => break other,
                    }
                },
                Plan::Card { fail, skew } => {
                    let payment = loop {
                        let q = match &queue {
                            Some(q) => q.clone(),
                            None => match self.admit(rec, &token, deadline).await {
                                Admission::Active(q) => {
                                    queue = Some(q.clone());
                                    q
                                }
                                Admission::SoldOut => break Err(Paid::Failed("sold out".into())),
                                Admission::GaveUp(why) => break Err(Paid::Failed(why)),
                            },
                        };
                        match self.checkout(rec, &token, &q, &reservation, deadline).await {
                            Err(Paid::Token) => queue = None,
                            other => break other,
                        }
                    };
                    match payment {
                        Err(other) => other,
                        Ok(payment_id) => {
                            rec.card_payments.push(CardPayment {
                                payment_id: payment_id.clone(),
                                reservation_id: reservation.clone(),
                                completed: None,
                                skew,
                            });
                            let (lo, hi) = self.config.card_think_ms;
                            let think = rng.gen_range(lo..=hi.max(lo));
                            tokio::time::sleep(Duration::from_millis(think)).await;
                            let status = if fail { "FAILED" } else { "SUCCEEDED" };
                            return match self
                                .complete_at_provider(rec, &payment_id, status, skew, deadline)
                                .await
                            {
                                Ok(()) => {
                                    if let Some(p) = rec.card_payments.last_mut() {
                                        p.completed = Some(status.into());
                                    }
                                    if fail {
                                        "card declined".into()
                                    } else {
                                        "paid by card".into()
                                    }
                                }
                                Err(why) => why,
                            };
                        }
                    }
                }
            };
            match paid {
                Paid::Expired if holds < self.config.max_holds_per_buyer => continue,
                Paid::Expired => return "holds kept expiring".into(),
                Paid::Failed(why) => return why,
                Paid::Confirmed | Paid::Token => unreachable!("handled above"),
            }
        }
    }

    /// Runs the sale with every buyer at once, and `inject` beside it; returns when every
    /// buyer is done (or gave up at their deadline) and the injection has finished.
    pub async fn run<F, Fut>(self: &Arc<Self>, inject: F) -> SaleResult
    where
        F: FnOnce(Arc<Scenario>, Arc<Progress>) -> Fut,
        Fut: Future<Output = Result<()>> + Send + 'static,
    {
        let started = Instant::now();
        *self.started.lock().unwrap() = Some(started);
        let deadline = started + self.config.buyer_deadline;
        let fault = tokio::spawn(inject(self.scenario.clone(), self.progress.clone()));
        let watcher = tokio::spawn(watch_sold_out(self.clone()));
        let reader = tokio::spawn(keep_reader_admitted(self.clone()));
        let buyers: Vec<_> = (0..self.config.buyers)
            .map(|i| tokio::spawn(self.clone().buyer(i, deadline)))
            .collect();
        let mut records = Vec::new();
        for (i, joined) in join_all(buyers).await.into_iter().enumerate() {
            match joined {
                Ok(r) => records.push(r),
                Err(e) => {
                    let mut r = self.record(i, Plan::Abandon);
                    r.outcome = format!("buyer task failed: {e}");
                    records.push(r);
                }
            }
        }
        let ended = Instant::now();
        let fault_error = match fault.await {
            Ok(Ok(())) => None,
            Ok(Err(e)) => Some(format!("{e:#}")),
            Err(e) => Some(format!("the fault task failed: {e}")),
        };
        watcher.abort();
        reader.abort();
        SaleResult {
            records,
            started,
            ended,
            fault_error,
        }
    }
}

/// Stops the buyers once every seat is SOLD.
async fn watch_sold_out(sale: Arc<Sale>) {
    loop {
        tokio::time::sleep(Duration::from_secs(1)).await;
        let unsold: Result<i64, _> = sqlx::query_scalar(
            "SELECT count(*) FROM seat_inventory WHERE schedule_id = $1 AND status <> 'SOLD'",
        )
        .bind(sale.schedule.as_uuid())
        .fetch_one(&sale.scenario.pool)
        .await;
        if let Ok(0) = unsold {
            sale.progress.stop.store(true, Ordering::Relaxed);
            return;
        }
    }
}

/// The seat-map reader keeps their turn as a buyer with the page open would: whenever it is
/// not ACTIVE (a Redis that lost its data starts the line afresh), they join the line again.
async fn keep_reader_admitted(sale: Arc<Sale>) {
    let api = |path: &str| format!("{}/api/v1{path}", sale.scenario.api_base);
    loop {
        tokio::time::sleep(Duration::from_secs(1)).await;
        let reader = sale.reader.lock().unwrap().clone();
        let mut standing = sale
            .http
            .get(api("/queue/tokens/current"))
            .bearer_auth(&reader.token);
        if let Some(q) = &reader.queue_token {
            standing = standing.header("x-queue-token", q);
        }
        let active = match standing.send().await {
            Ok(res) if res.status().is_server_error() => continue,
            Ok(res) => res
                .json::<Value>()
                .await
                .is_ok_and(|b| b["status"] == "ACTIVE"),
            Err(_) => continue,
        };
        if active {
            continue;
        }
        let joined = sale
            .http
            .post(api("/queue/tokens"))
            .bearer_auth(&reader.token)
            .json(&json!({ "schedule_id": sale.schedule.to_string() }))
            .send()
            .await;
        if let Ok(res) = joined {
            if let Ok(body) = res.json::<Value>().await {
                if let Some(t) = body["token"].as_str() {
                    sale.reader.lock().unwrap().queue_token = Some(t.to_owned());
                }
            }
        }
    }
}

pub fn parse_seat_map(body: &Value) -> Result<Vec<(i64, String)>, String> {
    let seats = body["seats"]
        .as_array()
        .ok_or_else(|| format!("no seats in the seat map: {body}"))?;
    seats
        .iter()
        .map(|s| match (s["seat_id"].as_i64(), s["status"].as_str()) {
            (Some(id), Some(status)) => Ok((id, status.to_owned())),
            _ => Err(format!("a seat without seat_id/status: {s}")),
        })
        .collect()
}

fn error_chain(err: &dyn std::error::Error) -> String {
    let mut text = err.to_string();
    let mut source = err.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}
