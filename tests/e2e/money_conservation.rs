//! Money conservation: after a randomized run of 500 mixed operations (charges, holds, pays,
//! cancels, expiries, card payments with every webhook delivery mode), each user's balance is
//! exactly the sum of their balance history, and every payment that succeeded at the provider
//! is applied exactly once or refunded exactly once.
//!
//! The run never asserts which of the racing outcomes happened; it asserts the invariants once
//! everything has settled. The seed is printed; `SEATLINE_MONEY_SEED=<n>` replays a mix.

use crate::common::*;
use futures::{stream, StreamExt};
use reqwest::Method;
use seatline_domain::ScheduleId;
use serde_json::{json, Value};
use std::{
    collections::BTreeMap,
    future::Future,
    sync::Mutex,
    time::{Duration, Instant},
};

const OPS: usize = 500;
const CONCURRENCY: usize = 10;
const USERS: usize = 12;
const HOLD_SECONDS: u64 = 3;
/// Enough seats that the schedule does not sell out halfway (then nobody new is admitted)…
const ROWS: i32 = 4;
const COLS: i32 = 50;
/// …and a third of all picks go to a few hot seats, so buyers collide.
const HOT_SEATS: usize = 16;
const DEFAULT_SEED: u64 = 0x5EA7_11E0_2026;
const SUCCEEDED_MODES: [&str; 4] = ["normal", "duplicate", "delay", "out_of_order"];
const FAILED_MODES: [&str; 3] = ["normal", "duplicate", "delay"];

/// SplitMix64: small, seeded, good enough to pick test operations.
struct Rng(u64);

impl Rng {
    fn new(seed: u64) -> Self {
        Self(seed)
    }

    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }

    fn chance(&mut self, percent: u64) -> bool {
        self.below(100) < percent
    }

    fn pick<T: Copy>(&mut self, xs: &[T]) -> T {
        xs[self.below(xs.len() as u64) as usize]
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Kind {
    Charge,
    BadCharge,
    Hold,
    Pay,
    DoublePay,
    Cancel,
    Card,
    LateCard,
    CardVsBalance,
    AbandonCheckout,
}

/// How often each operation is picked (out of 100).
const MIX: [(Kind, u64); 10] = [
    (Kind::Charge, 13),
    (Kind::BadCharge, 3),
    (Kind::Hold, 19),
    (Kind::Pay, 18),
    (Kind::DoublePay, 5),
    (Kind::Cancel, 6),
    (Kind::Card, 20),
    (Kind::LateCard, 6),
    (Kind::CardVsBalance, 6),
    (Kind::AbandonCheckout, 4),
];

impl Kind {
    fn name(self) -> &'static str {
        match self {
            Kind::Charge => "charge",
            Kind::BadCharge => "bad_charge",
            Kind::Hold => "hold",
            Kind::Pay => "pay",
            Kind::DoublePay => "double_pay",
            Kind::Cancel => "cancel",
            Kind::Card => "card",
            Kind::LateCard => "late_card",
            Kind::CardVsBalance => "card_vs_balance",
            Kind::AbandonCheckout => "abandon_checkout",
        }
    }

    fn draw(rng: &mut Rng) -> Self {
        let total: u64 = MIX.iter().map(|(_, w)| w).sum();
        let mut roll = rng.below(total);
        for (kind, weight) in MIX {
            if roll < weight {
                return kind;
            }
            roll -= weight;
        }
        unreachable!()
    }
}

/// A reservation this run holds and may still be HELD.
struct Open {
    user: usize,
    id: String,
    amount: i64,
    held_at: Instant,
}

/// A payment created at the provider, and how the run completed it.
struct CardPayment {
    id: String,
    reservation: String,
    amount: i64,
    completions: Vec<(&'static str, &'static str)>,
}

impl CardPayment {
    /// Webhook deliveries the provider should have made.
    fn expected_deliveries(&self) -> u64 {
        self.completions
            .iter()
            .map(|(_, mode)| match *mode {
                "duplicate" => 5,
                "out_of_order" => 2,
                _ => 1,
            })
            .sum()
    }
}

struct Run<'a> {
    app: &'a TestApp,
    schedule: ScheduleId,
    seats: Vec<i64>,
    users: Vec<User>,
    open: Mutex<Vec<Open>>,
    cards: Mutex<Vec<CardPayment>>,
    /// What each user's accepted charges add up to.
    charged: Mutex<Vec<i64>>,
    ops: Mutex<BTreeMap<&'static str, usize>>,
    outcomes: Mutex<BTreeMap<&'static str, BTreeMap<String, usize>>>,
    readmits: Mutex<usize>,
    unexpected: Mutex<Vec<String>>,
}

impl Run<'_> {
    fn note(&self, kind: &'static str, outcome: impl Into<String>) {
        *self
            .outcomes
            .lock()
            .unwrap()
            .entry(kind)
            .or_default()
            .entry(outcome.into())
            .or_default() += 1;
    }

    fn odd(&self, kind: &'static str, what: &str, reply: &Reply) {
        self.note(kind, format!("UNEXPECTED {}", reply.status.as_u16()));
        self.unexpected
            .lock()
            .unwrap()
            .push(format!("{kind}/{what}: {} {}", reply.status, reply.body));
    }

    fn forget(&self, reservation: &str) {
        self.open.lock().unwrap().retain(|o| o.id != reservation);
    }

    /// Waits for the user's turn unless they have one; false if they get none (sold out).
    async fn admit(&self, u: usize) -> bool {
        let user = &self.users[u];
        if user.queue.lock().unwrap().is_some() {
            return true;
        }
        let api = &self.app.api;
        let joined = api.join(user, self.schedule).await;
        if joined.status != 201 {
            self.odd("queue", "join", &joined);
            return false;
        }
        let token = joined.body["token"].as_str().unwrap().to_owned();
        let started = Instant::now();
        loop {
            let now = api.standing(user, &token).await;
            match now.body["status"].as_str() {
                Some("ACTIVE") => {
                    *user.queue.lock().unwrap() = Some((self.schedule, token));
                    return true;
                }
                Some("SOLD_OUT") => return false,
                _ => {}
            }
            if started.elapsed() > Duration::from_secs(20) {
                self.odd("queue", "no turn within 20 s", &now);
                return false;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// A request that needs the user's turn: on 401 TOKEN_EXPIRED (their turn ended when one of
    /// their reservations was paid) they queue again and retry.
    async fn active(
        &self,
        u: usize,
        kind: &'static str,
        method: Method,
        path: &str,
        body: Option<Value>,
    ) -> Option<Reply> {
        let user = &self.users[u];
        for _ in 0..3 {
            if !self.admit(u).await {
                self.note(kind, "not admitted");
                return None;
            }
            let reply = self
                .app
                .api
                .as_user(user, method.clone(), path, body.clone())
                .await;
            if reply.status == 401 && reply.code() == "TOKEN_EXPIRED" {
                *self.readmits.lock().unwrap() += 1;
                *user.queue.lock().unwrap() = None;
                continue;
            }
            return Some(reply);
        }
        self.note(kind, "turn lost 3 times");
        None
    }

    async fn hold(&self, u: usize, rng: &mut Rng) -> Option<(String, i64)> {
        let count = 1 + rng.below(2) as usize;
        let mut seats: Vec<i64> = Vec::new();
        while seats.len() < count {
            let pool = if rng.chance(30) {
                &self.seats[..HOT_SEATS]
            } else {
                &self.seats[..]
            };
            let seat = rng.pick(pool);
            if !seats.contains(&seat) {
                seats.push(seat);
            }
        }
        let body = json!({ "schedule_id": self.schedule, "seat_ids": seats });
        let reply = self
            .active(
                u,
                "holds (any op)",
                Method::POST,
                "/api/v1/reservations",
                Some(body),
            )
            .await?;
        match (reply.status.as_u16(), reply.code()) {
            (201, _) => {
                let id = reservation_id(&reply);
                let amount = reply.body["amount"].as_i64().unwrap();
                self.open.lock().unwrap().push(Open {
                    user: u,
                    id: id.clone(),
                    amount,
                    held_at: Instant::now(),
                });
                self.note("holds (any op)", "201");
                Some((id, amount))
            }
            (409, "SEAT_UNAVAILABLE") => {
                self.note("holds (any op)", "409 SEAT_UNAVAILABLE");
                None
            }
            _ => {
                self.odd("holds (any op)", "hold", &reply);
                None
            }
        }
    }

    /// One of the user's reservations that may still be held (or just expired), else a new hold.
    async fn held(&self, u: usize, rng: &mut Rng) -> Option<(String, i64)> {
        let mine: Vec<(String, i64)> = self
            .open
            .lock()
            .unwrap()
            .iter()
            .filter(|o| o.user == u && o.held_at.elapsed() < Duration::from_secs(HOLD_SECONDS + 2))
            .map(|o| (o.id.clone(), o.amount))
            .collect();
        if mine.is_empty() {
            self.hold(u, rng).await
        } else {
            Some(mine[rng.below(mine.len() as u64) as usize].clone())
        }
    }

    async fn pay(&self, u: usize, kind: &'static str, reservation: &str) -> bool {
        let path = format!("/api/v1/reservations/{reservation}/payment");
        let Some(reply) = self.active(u, kind, Method::POST, &path, None).await else {
            return false;
        };
        match (reply.status.as_u16(), reply.code()) {
            (200, _) => {
                self.forget(reservation);
                self.note(kind, "pay 200");
                true
            }
            (402, "INSUFFICIENT_BALANCE") => {
                self.note(kind, "pay 402");
                false
            }
            (409, code @ ("ALREADY_CONFIRMED" | "RESERVATION_EXPIRED")) => {
                self.forget(reservation);
                self.note(kind, format!("pay 409 {code}"));
                false
            }
            _ => {
                self.odd(kind, &format!("pay {reservation}"), &reply);
                false
            }
        }
    }

    /// Starts a card payment; returns its index in `cards`.
    async fn checkout(&self, u: usize, kind: &'static str, reservation: &str) -> Option<usize> {
        let path = format!("/api/v1/reservations/{reservation}/checkout");
        let reply = self.active(u, kind, Method::POST, &path, None).await?;
        match (reply.status.as_u16(), reply.code()) {
            (201, _) => {
                self.note(kind, "checkout 201");
                let mut cards = self.cards.lock().unwrap();
                cards.push(CardPayment {
                    id: reply.body["payment_id"].as_str().unwrap().to_owned(),
                    reservation: reservation.to_owned(),
                    amount: reply.body["amount"].as_i64().unwrap(),
                    completions: Vec::new(),
                });
                Some(cards.len() - 1)
            }
            (409, code @ ("ALREADY_CONFIRMED" | "RESERVATION_EXPIRED")) => {
                self.forget(reservation);
                self.note(kind, format!("checkout 409 {code}"));
                None
            }
            _ => {
                self.odd(kind, &format!("checkout {reservation}"), &reply);
                None
            }
        }
    }

    /// The buyer finishes on the provider's page; the provider calls the webhook per `mode`.
    async fn complete(
        &self,
        kind: &'static str,
        card: usize,
        status: &'static str,
        mode: &'static str,
    ) {
        let id = self.cards.lock().unwrap()[card].id.clone();
        self.app.provider.complete(&id, status, mode).await;
        self.cards.lock().unwrap()[card]
            .completions
            .push((status, mode));
        self.note(kind, format!("{status} {mode}"));
    }

    async fn op(&self, kind: Kind, u: usize, mut rng: Rng) {
        let name = kind.name();
        *self.ops.lock().unwrap().entry(name).or_default() += 1;
        let api = &self.app.api;
        let user = &self.users[u];
        match kind {
            Kind::Charge => {
                let amount = 1 + rng.below(300_000) as i64;
                let reply = api.charge(user, amount).await;
                if reply.status == 200 {
                    self.charged.lock().unwrap()[u] += amount;
                    self.note(name, "200");
                } else {
                    self.odd(name, &format!("charge {amount}"), &reply);
                }
            }
            Kind::BadCharge => {
                let amount = rng.pick(&[0, -1, -50_000, 10_000_001, 20_000_000]);
                let reply = api.charge(user, amount).await;
                if reply.status == 422 {
                    self.note(name, format!("422 {}", reply.code()));
                } else {
                    self.odd(name, &format!("charge {amount}"), &reply);
                }
            }
            Kind::Hold => {
                // Held and never paid: the hold expires by itself, unless another op uses it.
                self.hold(u, &mut rng).await;
            }
            Kind::Pay => {
                if let Some((id, _)) = self.held(u, &mut rng).await {
                    if rng.chance(30) {
                        sleep_ms(rng.below(1_500)).await;
                    }
                    self.pay(u, name, &id).await;
                }
            }
            Kind::DoublePay => {
                if let Some((id, amount)) = self.held(u, &mut rng).await {
                    let (a, b) = futures::join!(self.pay(u, name, &id), self.pay(u, name, &id));
                    assert!(
                        !(a && b),
                        "two balance payments of reservation {id} ({amount}) both succeeded"
                    );
                }
            }
            Kind::Cancel => {
                if let Some((id, _)) = self.held(u, &mut rng).await {
                    if rng.chance(50) {
                        sleep_ms(rng.below(2_000)).await;
                    }
                    let reply = api.cancel(user, &id).await;
                    match (reply.status.as_u16(), reply.code()) {
                        (200, _) => {
                            self.forget(&id);
                            self.note(name, "200");
                        }
                        (409, code @ ("ALREADY_CONFIRMED" | "RESERVATION_EXPIRED")) => {
                            self.forget(&id);
                            self.note(name, format!("409 {code}"));
                        }
                        _ => self.odd(name, &format!("cancel {id}"), &reply),
                    }
                }
            }
            Kind::Card => {
                let Some((id, _)) = self.held(u, &mut rng).await else {
                    return;
                };
                let Some(card) = self.checkout(u, name, &id).await else {
                    return;
                };
                if rng.chance(50) {
                    // Sometimes long enough that the hold runs out first.
                    sleep_ms(rng.below(2_500)).await;
                }
                if rng.chance(70) {
                    let mode = rng.pick(&SUCCEEDED_MODES);
                    self.complete(name, card, "SUCCEEDED", mode).await;
                } else {
                    let mode = rng.pick(&FAILED_MODES);
                    self.complete(name, card, "FAILED", mode).await;
                    if rng.chance(40) {
                        // The buyer tries again with another card.
                        sleep_ms(rng.below(1_000)).await;
                        let mode = rng.pick(&SUCCEEDED_MODES);
                        self.complete(name, card, "SUCCEEDED", mode).await;
                    }
                }
            }
            Kind::LateCard => {
                let Some((id, _)) = self.held(u, &mut rng).await else {
                    return;
                };
                let Some(card) = self.checkout(u, name, &id).await else {
                    return;
                };
                // The buyer dawdles on the provider's page until the hold is over.
                let started = Instant::now();
                let status = loop {
                    let now = api.reservation(user, &id).await;
                    let status = now.body["status"].as_str().unwrap_or("?").to_owned();
                    if status != "HELD"
                        || started.elapsed() > Duration::from_secs(HOLD_SECONDS + 10)
                    {
                        break status;
                    }
                    sleep_ms(200).await;
                };
                self.note(name, format!("completed after {status}"));
                let mode = rng.pick(&SUCCEEDED_MODES);
                self.complete(name, card, "SUCCEEDED", mode).await;
            }
            Kind::CardVsBalance => {
                let Some((id, _)) = self.held(u, &mut rng).await else {
                    return;
                };
                let Some(card) = self.checkout(u, name, &id).await else {
                    return;
                };
                let mode = rng.pick(&["normal", "duplicate"]);
                futures::join!(
                    self.pay(u, name, &id),
                    self.complete(name, card, "SUCCEEDED", mode)
                );
            }
            Kind::AbandonCheckout => {
                if let Some((id, _)) = self.held(u, &mut rng).await {
                    self.checkout(u, name, &id).await;
                }
            }
        }
    }
}

async fn sleep_ms(ms: u64) {
    tokio::time::sleep(Duration::from_millis(ms)).await;
}

/// Polls `check` until it holds or `within` passes; says whether it held.
async fn wait_until<F, Fut>(within: Duration, mut check: F) -> bool
where
    F: FnMut() -> Fut,
    Fut: Future<Output = bool>,
{
    let started = Instant::now();
    loop {
        if check().await {
            return true;
        }
        if started.elapsed() > within {
            return false;
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

async fn texts(app: &TestApp, sql: &str, bind: &str) -> Vec<String> {
    sqlx::query_scalar(sql)
        .bind(bind)
        .fetch_all(&app.pool)
        .await
        .unwrap_or_else(|e| panic!("{e}: {sql}"))
}

async fn count(app: &TestApp, sql: &str, bind: &str) -> i64 {
    sqlx::query_scalar(sql)
        .bind(bind)
        .fetch_one(&app.pool)
        .await
        .unwrap_or_else(|e| panic!("{e}: {sql}"))
}

/// Invariant 2 for one provider payment: None when it holds, else what is wrong.
async fn card_problem(app: &TestApp, card: &CardPayment) -> Option<String> {
    let at = app.provider.payment(&card.id).await;
    let status = at["status"].as_str().unwrap_or("?");
    let refunds = at["refunds"].as_array().cloned().unwrap_or_default();
    let refunded = at["refunded_amount"].as_i64().unwrap_or(-1);
    let row: Option<(String, String, i64)> = sqlx::query_as(
        "SELECT p.status, r.status, p.amount FROM payments p
         JOIN reservations r ON r.id = p.reservation_id
         WHERE p.provider_payment_id = $1",
    )
    .bind(&card.id)
    .fetch_optional(&app.pool)
    .await
    .unwrap();
    let ours = row.as_ref().map(|(p, _, _)| p.as_str());
    let ok = match status {
        "SUCCEEDED" => match &row {
            Some((p, r, amount)) if p == "APPLIED" => {
                r == "CONFIRMED" && refunded == 0 && refunds.is_empty() && *amount == card.amount
            }
            Some((p, _, amount)) if p == "REFUNDED" => {
                refunds.len() == 1
                    && refunds[0]["amount"] == card.amount
                    && refunded == card.amount
                    && *amount == card.amount
            }
            _ => false,
        },
        "FAILED" | "PENDING" => refunds.is_empty() && refunded == 0 && ours != Some("APPLIED"),
        _ => false,
    };
    (!ok).then(|| {
        format!(
            "payment {} of reservation {} ({}; completed {:?}): provider says {status}, \
             refunded {refunded} in {} refund(s); our row {row:?}",
            card.id,
            card.reservation,
            card.amount,
            card.completions,
            refunds.len()
        )
    })
}

fn seed() -> u64 {
    match std::env::var("SEATLINE_MONEY_SEED") {
        Ok(s) => {
            let s = s.trim();
            s.strip_prefix("0x")
                .map(|hex| u64::from_str_radix(hex, 16))
                .unwrap_or_else(|| s.parse())
                .expect("SEATLINE_MONEY_SEED is a number")
        }
        Err(_) => DEFAULT_SEED,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn money_conservation_under_a_randomized_mix() {
    let seed = seed();
    eprintln!("money_conservation: seed {seed} (replay with SEATLINE_MONEY_SEED={seed})");
    let app = TestApp::spawn_with_hold(HOLD_SECONDS).await;
    let api = &app.api;
    let (schedule, seats) = app.schedule(ROWS, COLS).await;
    let users = api.users(USERS).await;
    let run = Run {
        app: &app,
        schedule,
        seats,
        users,
        open: Mutex::new(Vec::new()),
        cards: Mutex::new(Vec::new()),
        charged: Mutex::new(vec![0; USERS]),
        ops: Default::default(),
        outcomes: Default::default(),
        readmits: Mutex::new(0),
        unexpected: Mutex::new(Vec::new()),
    };

    // The mix is fixed by the seed; what the system answers is up to the races.
    let mut plan_rng = Rng::new(seed);
    let plan: Vec<(Kind, usize, Rng)> = (0..OPS)
        .map(|_| {
            let kind = Kind::draw(&mut plan_rng);
            let user = plan_rng.below(USERS as u64) as usize;
            (kind, user, Rng::new(plan_rng.next()))
        })
        .collect();
    let started = Instant::now();
    stream::iter(plan)
        .map(|(kind, user, rng)| run.op(kind, user, rng))
        .buffer_unordered(CONCURRENCY)
        .collect::<Vec<()>>()
        .await;
    let ran_for = started.elapsed();

    // Let everything settle: holds expire, webhooks arrive, refunds run.
    let sched = schedule.to_string();
    let mut violations: Vec<String> = Vec::new();
    let held_sql =
        "SELECT count(*) FROM reservations WHERE schedule_id = $1::uuid AND status = 'HELD'";
    if !wait_until(Duration::from_secs(30), || async {
        count(&app, held_sql, &sched).await == 0
    })
    .await
    {
        violations.push(format!(
            "5: {} reservation(s) still HELD 30 s after the run",
            count(&app, held_sql, &sched).await
        ));
    }
    let cards = std::mem::take(&mut *run.cards.lock().unwrap());
    let settle_started = Instant::now();
    let settled = wait_until(Duration::from_secs(30), || async {
        for card in &cards {
            let at = app.provider.payment(&card.id).await;
            if at["webhook_acknowledged"].as_u64().unwrap_or(0) < card.expected_deliveries()
                || card_problem(&app, card).await.is_some()
            {
                return false;
            }
        }
        true
    })
    .await;
    let settle_time = settle_started.elapsed();
    let client = seatline_worker::connect_temporal(&app.settings)
        .await
        .unwrap();
    let running_query = format!(
        "TaskQueue = '{}' AND ExecutionStatus = 'Running' AND WorkflowType = 'ReservationWorkflow'",
        app.settings.temporal.task_queue
    );
    let running = || async {
        client
            .count_workflows(running_query.clone(), Default::default())
            .await
            .unwrap()
            .count()
    };
    if !wait_until(Duration::from_secs(20), || async { running().await == 0 }).await {
        violations.push(format!(
            "5: {} ReservationWorkflow(s) still running",
            running().await
        ));
    }

    // 1. Each balance is the sum of its history, at every step, and never negative.
    let charged = run.charged.lock().unwrap().clone();
    for (u, user) in run.users.iter().enumerate() {
        let balance = api.balance(user).await;
        let history = api
            .get("/api/v1/users/me/balance/history", &user.token)
            .await;
        assert_eq!(history.status, 200, "{}", history.body);
        let mut entries = history.body["entries"].as_array().unwrap().clone();
        entries.sort_by_key(|e| e["id"].as_i64().unwrap());
        let (mut running_sum, mut charges) = (0i64, 0i64);
        for e in &entries {
            let amount = e["amount"].as_i64().unwrap();
            if amount <= 0 {
                violations.push(format!("1: user {u}: entry with amount {amount}: {e}"));
            }
            match e["kind"].as_str().unwrap() {
                "CHARGE" => {
                    running_sum += amount;
                    charges += amount;
                }
                "USE" => running_sum -= amount,
                "REFUND" => running_sum += amount,
                other => violations.push(format!("1: user {u}: unknown kind {other}")),
            }
            if e["balance_after"].as_i64() != Some(running_sum) {
                violations.push(format!(
                    "1: user {u}: entry {e} says balance_after {}, the history sums to {running_sum}",
                    e["balance_after"]
                ));
            }
        }
        if running_sum != balance {
            violations.push(format!(
                "1: user {u} ({}): balance {balance} but CHARGE - USE + REFUND = {running_sum}",
                user.id
            ));
        }
        if balance < 0 {
            violations.push(format!("1: user {u}: negative balance {balance}"));
        }
        if charges != charged[u] {
            violations.push(format!(
                "1: user {u}: accepted charges add up to {}, CHARGE entries to {charges}",
                charged[u]
            ));
        }
        let stored: i64 = count(
            &app,
            "SELECT balance FROM balances WHERE user_id = $1::uuid",
            &user.id,
        )
        .await;
        let summed: i64 = count(
            &app,
            "SELECT coalesce(sum(CASE kind WHEN 'USE' THEN -amount ELSE amount END), 0)::bigint
             FROM balance_history WHERE user_id = $1::uuid",
            &user.id,
        )
        .await;
        let rows = count(
            &app,
            "SELECT count(*) FROM balance_history WHERE user_id = $1::uuid",
            &user.id,
        )
        .await;
        if stored != balance || summed != balance || rows != entries.len() as i64 {
            violations.push(format!(
                "1: user {u}: API balance {balance} with {} entries; SQL balance {stored}, \
                 SQL history sum {summed} over {rows} rows",
                entries.len()
            ));
        }
    }

    // 2. Each successful provider payment is applied once or refunded once; others neither.
    for card in &cards {
        if let Some(problem) = card_problem(&app, card).await {
            violations.push(format!("2: {problem}"));
        }
    }
    let untracked = texts(
        &app,
        "SELECT p.provider_payment_id FROM payments p JOIN reservations r ON r.id = p.reservation_id
         WHERE r.schedule_id = $1::uuid AND p.method = 'CARD'",
        &sched,
    )
    .await
    .into_iter()
    .filter(|id| !cards.iter().any(|c| &c.id == id))
    .collect::<Vec<_>>();
    if !untracked.is_empty() {
        violations.push(format!("2: card payments nobody started: {untracked:?}"));
    }

    // 3. and 4.: payments, balance uses and seats agree with the reservations, in SQL.
    let checks: [(&str, &str); 12] = [
        (
            "3: reservations with more than one APPLIED payment",
            "SELECT p.reservation_id::text FROM payments p
             JOIN reservations r ON r.id = p.reservation_id
             WHERE r.schedule_id = $1::uuid AND p.status = 'APPLIED'
             GROUP BY p.reservation_id HAVING count(*) > 1",
        ),
        (
            "3: CONFIRMED reservations without exactly one APPLIED payment",
            "SELECT r.id::text FROM reservations r
             WHERE r.schedule_id = $1::uuid AND r.status = 'CONFIRMED'
               AND (SELECT count(*) FROM payments p
                    WHERE p.reservation_id = r.id AND p.status = 'APPLIED') <> 1",
        ),
        (
            "3: APPLIED payments of a reservation that is not CONFIRMED, or of another amount",
            "SELECT p.id::text FROM payments p JOIN reservations r ON r.id = p.reservation_id
             WHERE r.schedule_id = $1::uuid AND p.status = 'APPLIED'
               AND (r.status <> 'CONFIRMED' OR p.amount <> r.amount)",
        ),
        (
            "3: USE entries not matching a CONFIRMED reservation paid by balance",
            "SELECT bh.id::text FROM balance_history bh
             LEFT JOIN reservations r ON r.id = bh.reservation_id
             WHERE bh.kind = 'USE'
               AND bh.user_id IN (SELECT user_id FROM reservations WHERE schedule_id = $1::uuid)
               AND NOT coalesce(r.status = 'CONFIRMED' AND bh.amount = r.amount
                   AND EXISTS (SELECT 1 FROM payments p WHERE p.reservation_id = r.id
                               AND p.method = 'BALANCE' AND p.status = 'APPLIED'), false)",
        ),
        (
            "3: APPLIED balance payments without exactly one USE entry",
            "SELECT p.id::text FROM payments p JOIN reservations r ON r.id = p.reservation_id
             WHERE r.schedule_id = $1::uuid AND p.method = 'BALANCE' AND p.status = 'APPLIED'
               AND (SELECT count(*) FROM balance_history bh
                    WHERE bh.reservation_id = p.reservation_id AND bh.kind = 'USE') <> 1",
        ),
        (
            "4: seats with two live claims",
            "SELECT seat_id::text FROM reservation_seats
             WHERE schedule_id = $1::uuid AND released_at IS NULL
             GROUP BY seat_id HAVING count(*) > 1",
        ),
        (
            "4: SOLD seats not of a CONFIRMED reservation",
            "SELECT si.seat_id::text FROM seat_inventory si
             LEFT JOIN reservations r ON r.id = si.reservation_id
             WHERE si.schedule_id = $1::uuid AND si.status = 'SOLD'
               AND r.status IS DISTINCT FROM 'CONFIRMED'",
        ),
        (
            "4: seats still HELD/SOLD for a reservation that is over",
            "SELECT si.seat_id::text || ' by ' || r.status FROM seat_inventory si
             JOIN reservations r ON r.id = si.reservation_id
             WHERE si.schedule_id = $1::uuid AND si.status IN ('HELD', 'SOLD')
               AND r.status NOT IN ('HELD', 'CONFIRMED')",
        ),
        (
            "4: live seat claims of a reservation that is over",
            "SELECT rs.reservation_id::text || '/' || rs.seat_id FROM reservation_seats rs
             JOIN reservations r ON r.id = rs.reservation_id
             WHERE rs.schedule_id = $1::uuid AND rs.released_at IS NULL
               AND r.status NOT IN ('HELD', 'CONFIRMED')",
        ),
        (
            "4: CONFIRMED reservations whose seats are not all SOLD to them",
            "SELECT r.id::text || '/' || rs.seat_id FROM reservations r
             JOIN reservation_seats rs ON rs.reservation_id = r.id
             JOIN seat_inventory si ON si.schedule_id = rs.schedule_id AND si.seat_id = rs.seat_id
             WHERE r.schedule_id = $1::uuid AND r.status = 'CONFIRMED'
               AND (rs.released_at IS NOT NULL OR si.status <> 'SOLD'
                    OR si.reservation_id IS DISTINCT FROM r.id)",
        ),
        (
            "4: reservations whose amount is not the sum of their seats' prices",
            "SELECT r.id::text FROM reservations r
             WHERE r.schedule_id = $1::uuid
               AND r.amount <> (SELECT coalesce(sum(price), 0) FROM reservation_seats rs
                                WHERE rs.reservation_id = r.id)",
        ),
        (
            "5: seats still HELD",
            "SELECT seat_id::text FROM seat_inventory
             WHERE schedule_id = $1::uuid AND status = 'HELD'",
        ),
    ];
    for (what, sql) in checks {
        let bad = texts(&app, sql, &sched).await;
        if !bad.is_empty() {
            violations.push(format!("{what}: {bad:?}"));
        }
    }
    // The seat map (served from the cache) agrees with the database once all is final.
    let db_map = || async {
        let mut rows: Vec<(i64, String)> = sqlx::query_as(
            "SELECT seat_id, status FROM seat_inventory WHERE schedule_id = $1::uuid",
        )
        .bind(&sched)
        .fetch_all(&app.pool)
        .await
        .unwrap();
        rows.sort();
        rows
    };
    let api_map = || async {
        let mut rows = api.seat_statuses(&run.users[0], schedule).await;
        rows.sort();
        rows
    };
    if !wait_until(Duration::from_secs(10), || async {
        db_map().await == api_map().await
    })
    .await
    {
        let (db, shown) = (db_map().await, api_map().await);
        let differ: Vec<_> = db
            .iter()
            .zip(&shown)
            .filter(|(a, b)| a != b)
            .map(|(a, b)| format!("{} db {} map {}", a.0, a.1, b.1))
            .collect();
        violations.push(format!(
            "4: the seat map disagrees with the database: {differ:?}"
        ));
    }

    // What happened, so a reader sees the mix was real.
    let statuses: Vec<(String, i64)> = sqlx::query_as(
        "SELECT status, count(*) FROM reservations WHERE schedule_id = $1::uuid
         GROUP BY status ORDER BY status",
    )
    .bind(&sched)
    .fetch_all(&app.pool)
    .await
    .unwrap();
    let payments: Vec<(String, String, i64)> = sqlx::query_as(
        "SELECT p.method, p.status, count(*) FROM payments p
         JOIN reservations r ON r.id = p.reservation_id
         WHERE r.schedule_id = $1::uuid GROUP BY 1, 2 ORDER BY 1, 2",
    )
    .bind(&sched)
    .fetch_all(&app.pool)
    .await
    .unwrap();
    let ops = run.ops.lock().unwrap().clone();
    let outcomes = run.outcomes.lock().unwrap().clone();
    let mix: Vec<String> = ops
        .iter()
        .map(|(kind, n)| {
            let detail: Vec<String> = outcomes
                .get(kind)
                .map(|o| o.iter().map(|(k, v)| format!("{k}:{v}")).collect())
                .unwrap_or_default();
            format!("{kind}={n}({})", detail.join(","))
        })
        .collect();
    let others: Vec<String> = outcomes
        .iter()
        .filter(|(k, _)| !ops.contains_key(*k))
        .map(|(k, o)| format!("{k}={o:?}"))
        .collect();
    eprintln!(
        "money_conservation seed={seed}: {OPS} ops in {:.1}s, settled in {:.1}s{} | {} {} | \
         readmits={} | reservations {:?} | payments {:?} | card payments at provider {} | \
         unexpected replies {}",
        ran_for.as_secs_f64(),
        settle_time.as_secs_f64(),
        if settled { "" } else { " (NOT settled)" },
        mix.join(" "),
        others.join(" "),
        run.readmits.lock().unwrap(),
        statuses,
        payments,
        cards.len(),
        run.unexpected.lock().unwrap().len(),
    );

    assert!(
        violations.is_empty(),
        "seed {seed}: {} invariant violation(s):\n{}",
        violations.len(),
        violations.join("\n")
    );
    let unexpected = run.unexpected.lock().unwrap().clone();
    assert!(
        unexpected.is_empty(),
        "seed {seed}: {} unexpected replies:\n{}",
        unexpected.len(),
        unexpected.join("\n")
    );
}
