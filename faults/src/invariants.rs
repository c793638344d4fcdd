//! What must hold once a sale under a fault has settled, read from PostgreSQL, the provider,
//! the API and Temporal; and the figures of the run.

use crate::driver::{parse_seat_map, Sale, SaleResult};
use futures::{stream, StreamExt};
use reqwest::Client;
use serde_json::{json, Value};
use sqlx::PgPool;
use std::{
    collections::{BTreeMap, BTreeSet},
    time::{Duration, Instant},
};
use uuid::Uuid;

#[derive(Debug, Clone, PartialEq)]
pub struct Check {
    pub name: &'static str,
    pub pass: bool,
    pub detail: String,
}

impl Check {
    fn new(name: &'static str, pass: bool, detail: String) -> Self {
        Self { name, pass, detail }
    }

    fn broken(name: &'static str, err: impl std::fmt::Display) -> Self {
        Self::new(name, false, format!("could not be checked: {err}"))
    }

    pub fn json(&self) -> Value {
        json!({ "name": self.name, "pass": self.pass, "detail": self.detail })
    }
}

pub const NO_DOUBLE_SALE: &str = "1 no seat sold twice";
pub const NO_STUCK_HOLD: &str = "2 no seat held past expiry";
pub const PAYMENTS_SETTLED: &str = "3 every provider payment applied or refunded exactly once";
pub const BALANCES: &str = "4 balance = sum of history, never negative";
pub const BUYERS_TOLD_TRUTH: &str = "5 every buyer's answers agree with the database";
pub const NO_OPEN_WORKFLOW: &str = "6 no workflow left open";
pub const SEAT_MAP: &str = "7 the API's seat map agrees with seat_inventory";

/// Everything the checks read.
pub struct Ctx<'a> {
    pub sale: &'a Sale,
    pub result: &'a SaleResult,
    pub temporal: Option<&'a temporalio_client::Client>,
    /// How late past `expires_at` a hold may still be HELD.
    pub stuck_grace: Duration,
}

impl Ctx<'_> {
    fn pool(&self) -> &PgPool {
        &self.sale.scenario.pool
    }

    fn schedule(&self) -> Uuid {
        self.sale.schedule.as_uuid()
    }

    fn http(&self) -> &Client {
        &self.sale.http
    }
}

pub async fn check_all(ctx: &Ctx<'_>) -> Vec<Check> {
    vec![
        no_double_sale(ctx)
            .await
            .unwrap_or_else(|e| Check::broken(NO_DOUBLE_SALE, e)),
        no_stuck_hold(ctx)
            .await
            .unwrap_or_else(|e| Check::broken(NO_STUCK_HOLD, e)),
        payments_settled(ctx)
            .await
            .unwrap_or_else(|e| Check::broken(PAYMENTS_SETTLED, e)),
        balances(ctx)
            .await
            .unwrap_or_else(|e| Check::broken(BALANCES, e)),
        buyers_told_truth(ctx)
            .await
            .unwrap_or_else(|e| Check::broken(BUYERS_TOLD_TRUTH, e)),
        no_open_workflow(ctx)
            .await
            .unwrap_or_else(|e| Check::broken(NO_OPEN_WORKFLOW, e)),
        seat_map_agrees(ctx)
            .await
            .unwrap_or_else(|e| Check::broken(SEAT_MAP, e)),
    ]
}

async fn no_double_sale(ctx: &Ctx<'_>) -> anyhow::Result<Check> {
    let (double, sold, confirmed_seats, sold_unconfirmed, confirmed_unsold): (
        i64,
        i64,
        i64,
        i64,
        i64,
    ) = sqlx::query_as(
        "SELECT
           (SELECT count(*) FROM (SELECT seat_id FROM reservation_seats
              WHERE schedule_id = $1 AND released_at IS NULL
              GROUP BY seat_id HAVING count(*) > 1) AS twice),
           (SELECT count(*) FROM seat_inventory WHERE schedule_id = $1 AND status = 'SOLD'),
           (SELECT count(*) FROM reservation_seats rs JOIN reservations r ON r.id = rs.reservation_id
              WHERE r.schedule_id = $1 AND r.status = 'CONFIRMED'),
           (SELECT count(*) FROM seat_inventory i LEFT JOIN reservations r ON r.id = i.reservation_id
              WHERE i.schedule_id = $1 AND i.status = 'SOLD' AND r.status IS DISTINCT FROM 'CONFIRMED'),
           (SELECT count(*) FROM reservation_seats rs
              JOIN reservations r ON r.id = rs.reservation_id
              LEFT JOIN seat_inventory i ON i.schedule_id = rs.schedule_id AND i.seat_id = rs.seat_id
              WHERE r.schedule_id = $1 AND r.status = 'CONFIRMED'
                AND (rs.released_at IS NOT NULL OR i.status IS DISTINCT FROM 'SOLD'
                     OR i.reservation_id IS DISTINCT FROM r.id))",
    )
    .bind(ctx.schedule())
    .fetch_one(ctx.pool())
    .await?;
    Ok(Check::new(
        NO_DOUBLE_SALE,
        double == 0 && sold == confirmed_seats && sold_unconfirmed == 0 && confirmed_unsold == 0,
        format!(
            "{double} seats with two live claims; {sold} SOLD, {confirmed_seats} seats in CONFIRMED \
             reservations; {sold_unconfirmed} SOLD to an unconfirmed reservation; \
             {confirmed_unsold} seats of CONFIRMED reservations not SOLD to them"
        ),
    ))
}

async fn no_stuck_hold(ctx: &Ctx<'_>) -> anyhow::Result<Check> {
    let grace = ctx.stuck_grace.as_secs_f64();
    let (stuck_seats, stuck_reservations, stale_claims, held_seats, oldest): (
        i64,
        i64,
        i64,
        i64,
        Option<f64>,
    ) = sqlx::query_as(
        "SELECT
           (SELECT count(*) FROM seat_inventory i LEFT JOIN reservations r ON r.id = i.reservation_id
              WHERE i.schedule_id = $1 AND i.status = 'HELD'
                AND (r.id IS NULL OR r.status <> 'HELD' OR r.expires_at < now() - make_interval(secs => $2))),
           (SELECT count(*) FROM reservations
              WHERE schedule_id = $1 AND status = 'HELD' AND expires_at < now() - make_interval(secs => $2)),
           (SELECT count(*) FROM reservation_seats rs JOIN reservations r ON r.id = rs.reservation_id
              WHERE r.schedule_id = $1 AND rs.released_at IS NULL
                AND r.status IN ('EXPIRED', 'CANCELLED', 'REFUNDED')),
           (SELECT count(*) FROM seat_inventory WHERE schedule_id = $1 AND status = 'HELD'),
           (SELECT EXTRACT(EPOCH FROM now() - min(expires_at))::float8 FROM reservations
              WHERE schedule_id = $1 AND status = 'HELD')",
    )
    .bind(ctx.schedule())
    .bind(grace)
    .fetch_one(ctx.pool())
    .await?;
    Ok(Check::new(
        NO_STUCK_HOLD,
        stuck_seats == 0 && stuck_reservations == 0 && stale_claims == 0,
        format!(
            "{stuck_seats} seats HELD more than {grace:.0} s past expiry or under a reservation \
             that is no longer HELD; {stuck_reservations} reservations HELD more than {grace:.0} s \
             past expiry; {stale_claims} live seat claims of EXPIRED/CANCELLED/REFUNDED \
             reservations; {held_seats} seats HELD now{}",
            oldest
                .map(|s| format!(", the oldest HELD reservation {s:.0} s past its expiry"))
                .unwrap_or_default()
        ),
    ))
}

/// Every card payment anyone knows of: those the buyers started, and those Seatline recorded.
async fn payments_settled(ctx: &Ctx<'_>) -> anyhow::Result<Check> {
    let mut ids: BTreeSet<String> = ctx
        .result
        .records
        .iter()
        .flat_map(|r| r.card_payments.iter().map(|p| p.payment_id.clone()))
        .collect();
    let rows: Vec<(String, String, String, i64)> = sqlx::query_as(
        "SELECT p.provider_payment_id, p.status, r.status, p.amount
         FROM payments p JOIN reservations r ON r.id = p.reservation_id
         WHERE r.schedule_id = $1 AND p.method = 'CARD' AND p.provider_payment_id IS NOT NULL",
    )
    .bind(ctx.schedule())
    .fetch_all(ctx.pool())
    .await?;
    let seatline: BTreeMap<String, (String, String, i64)> = rows
        .into_iter()
        .map(|(id, p, r, a)| (id, (p, r, a)))
        .collect();
    ids.extend(seatline.keys().cloned());
    let provider = ctx.sale.scenario.provider_base.clone();
    let views: Vec<(String, anyhow::Result<Value>)> = stream::iter(ids)
        .map(|id| {
            let http = ctx.http().clone();
            let url = format!("{provider}/v1/payments/{id}");
            async move {
                let view = async {
                    let res = http.get(&url).send().await?;
                    let status = res.status();
                    let body: Value = res.json().await?;
                    anyhow::ensure!(status.is_success(), "provider answered {status}: {body}");
                    Ok(body)
                }
                .await;
                (id, view)
            }
        })
        .buffer_unordered(16)
        .collect()
        .await;
    let mut problems = Vec::new();
    let mut tally: BTreeMap<String, usize> = BTreeMap::new();
    for (id, view) in &views {
        let view = match view {
            Ok(v) => v,
            Err(e) => {
                problems.push(format!("{id}: provider: {e}"));
                continue;
            }
        };
        let at_provider = view["status"].as_str().unwrap_or("?");
        let amount = view["amount"].as_i64().unwrap_or(-1);
        let refunds: Vec<i64> = view["refunds"]
            .as_array()
            .map(|a| {
                a.iter()
                    .map(|r| r["amount"].as_i64().unwrap_or(0))
                    .collect()
            })
            .unwrap_or_default();
        let ours = seatline.get(id);
        let (payment, reservation) = ours
            .map(|(p, r, _)| (p.as_str(), r.as_str()))
            .unwrap_or(("none", "none"));
        *tally
            .entry(format!("{at_provider}/{payment}/{reservation}"))
            .or_default() += 1;
        let ok = match at_provider {
            "SUCCEEDED" => {
                let applied =
                    payment == "APPLIED" && reservation == "CONFIRMED" && refunds.is_empty();
                let refunded = payment == "REFUNDED" && refunds.len() == 1 && refunds[0] == amount;
                applied != refunded
            }
            "FAILED" | "CANCELED" | "CANCELLED" => {
                !matches!(payment, "PENDING" | "APPLIED" | "REFUNDED")
            }
            // Never completed at the provider: nothing moved, but Seatline must not have applied it.
            "PENDING" => !matches!(payment, "PENDING" | "APPLIED" | "REFUNDED"),
            _ => false,
        };
        if !ok {
            problems.push(format!(
                "{id}: provider {at_provider} (amount {amount}, refunds {refunds:?}), Seatline payment {payment}, reservation {reservation}"
            ));
        }
    }
    // Rows no provider view covered (cannot happen unless the provider lost them).
    let pending = seatline.values().filter(|(p, _, _)| p == "PENDING").count();
    let mut detail = format!(
        "{} card payments (provider/Seatline payment/reservation: {:?}); {} Seatline card payments PENDING",
        views.len(),
        tally,
        pending
    );
    if !problems.is_empty() {
        detail.push_str(&format!(
            "; {} wrong, e.g. {}",
            problems.len(),
            problems
                .iter()
                .take(5)
                .cloned()
                .collect::<Vec<_>>()
                .join(" | ")
        ));
    }
    Ok(Check::new(
        PAYMENTS_SETTLED,
        problems.is_empty() && pending == 0,
        detail,
    ))
}

async fn balances(ctx: &Ctx<'_>) -> anyhow::Result<Check> {
    let users: Vec<Uuid> = ctx
        .result
        .records
        .iter()
        .filter_map(|r| r.user_id.as_deref())
        .filter_map(|u| Uuid::parse_str(u).ok())
        .collect();
    /// user, balance, CHARGE, USE, REFUND, lowest balance_after.
    type MoneyRow = (Uuid, Option<i64>, i64, i64, i64, Option<i64>);
    let rows: Vec<MoneyRow> = sqlx::query_as(
        "SELECT u.id,
                (SELECT b.balance FROM balances b WHERE b.user_id = u.id),
                COALESCE(SUM(h.amount) FILTER (WHERE h.kind = 'CHARGE'), 0)::bigint,
                COALESCE(SUM(h.amount) FILTER (WHERE h.kind = 'USE'), 0)::bigint,
                COALESCE(SUM(h.amount) FILTER (WHERE h.kind = 'REFUND'), 0)::bigint,
                MIN(h.balance_after)
         FROM unnest($1::uuid[]) AS u(id)
         LEFT JOIN balance_history h ON h.user_id = u.id
         GROUP BY u.id",
    )
    .bind(&users)
    .fetch_all(ctx.pool())
    .await?;
    let mut broken = Vec::new();
    for (user, balance, charged, used, refunded, min_after) in &rows {
        let balance = balance.unwrap_or(0);
        if balance != charged + refunded - used || balance < 0 || min_after.is_some_and(|m| m < 0) {
            broken.push(format!(
                "{user}: balance {balance}, CHARGE {charged} + REFUND {refunded} - USE {used}"
            ));
        }
    }
    // Every balance debit bought its seats: per reservation, USE - REFUND is its amount when
    // a BALANCE payment confirmed it, else nothing.
    let unexplained: Vec<(Uuid, String, i64, i64)> = sqlx::query_as(
        "SELECT r.id, r.status, r.amount,
                (COALESCE(SUM(h.amount) FILTER (WHERE h.kind = 'USE'), 0)
                 - COALESCE(SUM(h.amount) FILTER (WHERE h.kind = 'REFUND'), 0))::bigint AS kept
         FROM reservations r JOIN balance_history h ON h.reservation_id = r.id
         WHERE r.schedule_id = $1
         GROUP BY r.id, r.status, r.amount
         HAVING (COALESCE(SUM(h.amount) FILTER (WHERE h.kind = 'USE'), 0)
                 - COALESCE(SUM(h.amount) FILTER (WHERE h.kind = 'REFUND'), 0))
                <> CASE WHEN r.status = 'CONFIRMED' AND EXISTS (
                          SELECT 1 FROM payments p WHERE p.reservation_id = r.id
                            AND p.method = 'BALANCE' AND p.status = 'APPLIED')
                        THEN r.amount ELSE 0 END",
    )
    .bind(ctx.schedule())
    .fetch_all(ctx.pool())
    .await?;
    let mut detail = format!(
        "{} of {} balances disagree with their history or are negative; {} reservations whose balance debits do not match what they bought",
        broken.len(),
        rows.len(),
        unexplained.len()
    );
    if let Some(first) = broken.first() {
        detail.push_str(&format!("; e.g. {first}"));
    }
    if let Some((id, status, amount, kept)) = unexplained.first() {
        detail.push_str(&format!(
            "; e.g. reservation {id} {status} (amount {amount}) kept {kept} of the balance"
        ));
    }
    Ok(Check::new(
        BALANCES,
        broken.is_empty() && unexplained.is_empty() && rows.len() == users.len(),
        detail,
    ))
}

async fn buyers_told_truth(ctx: &Ctx<'_>) -> anyhow::Result<Check> {
    let rows: Vec<(Uuid, Uuid, String)> =
        sqlx::query_as("SELECT id, user_id, status FROM reservations WHERE schedule_id = $1")
            .bind(ctx.schedule())
            .fetch_all(ctx.pool())
            .await?;
    let db: BTreeMap<String, (String, String)> = rows
        .into_iter()
        .map(|(id, user, status)| (id.to_string(), (user.to_string(), status)))
        .collect();
    let mut problems = Vec::new();
    let (mut held, mut confirmed) = (0, 0);
    for rec in &ctx.result.records {
        let user = rec.user_id.clone().unwrap_or_default();
        for id in &rec.told_held {
            held += 1;
            match db.get(id) {
                Some((owner, _)) if *owner == user => {}
                Some((owner, _)) => problems.push(format!(
                    "buyer {} told HELD {id}, owned by {owner}",
                    rec.index
                )),
                None => problems.push(format!(
                    "buyer {} told HELD {id}, not in the database",
                    rec.index
                )),
            }
        }
        for id in rec.told_confirmed.iter().chain(&rec.told_already_confirmed) {
            confirmed += 1;
            let status = db.get(id).map_or("missing", |(_, s)| s.as_str());
            if status != "CONFIRMED" {
                problems.push(format!(
                    "buyer {} told CONFIRMED {id}, database says {status}",
                    rec.index
                ));
            }
        }
    }
    // Each buyer's booking history, through the API, against the database.
    let api = ctx.sale.scenario.api_base.clone();
    let asked: Vec<Option<String>> = stream::iter(ctx.result.records.iter())
        .filter_map(|rec| async move {
            let token = rec.token.clone()?;
            let user = rec.user_id.clone()?;
            Some((rec.index, token, user))
        })
        .map(|(index, token, user)| {
            let http = ctx.http().clone();
            let url = format!("{api}/api/v1/users/me/reservations");
            let ours: BTreeSet<(String, String)> = db
                .iter()
                .filter(|(_, (owner, _))| *owner == user)
                .map(|(id, (_, status))| (id.clone(), status.clone()))
                .collect();
            async move {
                let listed = async {
                    let res = http.get(&url).bearer_auth(&token).send().await?;
                    let status = res.status();
                    let body: Value = res.json().await?;
                    anyhow::ensure!(status.is_success(), "answered {status}: {body}");
                    Ok(body["reservations"]
                        .as_array()
                        .cloned()
                        .unwrap_or_default()
                        .iter()
                        .filter_map(|r| {
                            Some((
                                r["reservation_id"].as_str()?.to_owned(),
                                r["status"].as_str()?.to_owned(),
                            ))
                        })
                        .collect::<BTreeSet<_>>())
                }
                .await;
                match listed {
                    Ok(listed) if listed == ours => None,
                    Ok(listed) => Some(format!(
                        "buyer {index}: the API lists {listed:?}, the database has {ours:?}"
                    )),
                    Err(e) => Some(format!("buyer {index}: listing reservations: {e}")),
                }
            }
        })
        .buffer_unordered(16)
        .collect()
        .await;
    let listed = asked.len();
    problems.extend(asked.into_iter().flatten());
    let mut detail = format!(
        "{held} holds and {confirmed} confirmations told to buyers; {listed} booking histories compared"
    );
    if !problems.is_empty() {
        detail.push_str(&format!(
            "; {} disagree, e.g. {}",
            problems.len(),
            problems
                .iter()
                .take(5)
                .cloned()
                .collect::<Vec<_>>()
                .join(" | ")
        ));
    }
    Ok(Check::new(BUYERS_TOLD_TRUTH, problems.is_empty(), detail))
}

async fn no_open_workflow(ctx: &Ctx<'_>) -> anyhow::Result<Check> {
    let Some(temporal) = ctx.temporal else {
        return Ok(Check::broken(NO_OPEN_WORKFLOW, "no Temporal client"));
    };
    let [seats, payments] = ctx.sale.scenario.task_queues();
    let long_lived = std::env::var("FAULT_LONG_LIVED_WORKFLOWS")
        .unwrap_or_else(|_| "AdmissionWorkflow,SweeperWorkflow".into())
        .split(',')
        .map(str::trim)
        .filter(|t| !t.is_empty())
        .map(|t| format!("'{t}'"))
        .collect::<Vec<_>>()
        .join(", ");
    let query = format!(
        "(TaskQueue = '{seats}' OR TaskQueue = '{payments}') AND ExecutionStatus = 'Running' \
         AND WorkflowType NOT IN ({long_lived})"
    );
    let open = temporal
        .count_workflows(query.clone(), Default::default())
        .await
        .map_err(|e| anyhow::anyhow!("counting workflows: {e}"))?
        .count();
    let mut detail = format!("{open} running on the scenario's task queues ({query})");
    if open > 0 {
        let mut listed = temporal.list_workflows(
            query,
            temporalio_client::WorkflowListOptions::builder()
                .limit(5)
                .build(),
        );
        let mut examples = Vec::new();
        while let Some(Ok(w)) = listed.next().await {
            examples.push(format!("{} ({})", w.id(), w.workflow_type()));
        }
        detail.push_str(&format!(", e.g. {}", examples.join(", ")));
    }
    Ok(Check::new(NO_OPEN_WORKFLOW, open == 0, detail))
}

async fn seat_map_agrees(ctx: &Ctx<'_>) -> anyhow::Result<Check> {
    let db: BTreeMap<i64, String> = sqlx::query_as::<_, (i64, String)>(
        "SELECT seat_id, status FROM seat_inventory WHERE schedule_id = $1",
    )
    .bind(ctx.schedule())
    .fetch_all(ctx.pool())
    .await?
    .into_iter()
    .collect();
    let served = match read_map_as_reader(ctx).await {
        Ok(map) => map,
        Err(why) => {
            return Ok(Check::new(
                SEAT_MAP,
                false,
                format!("the API did not serve the seat map to an admitted reader: {why}"),
            ))
        }
    };
    let served: BTreeMap<i64, String> = served.into_iter().collect();
    let mut wrong = Vec::new();
    for (seat, status) in &db {
        match served.get(seat) {
            Some(s) if s == status => {}
            Some(s) => wrong.push(format!("seat {seat}: API {s}, database {status}")),
            None => wrong.push(format!("seat {seat}: missing from the API's map")),
        }
    }
    let extra = served.keys().filter(|s| !db.contains_key(s)).count();
    let mut detail = format!(
        "{} seats in the database, {} on the API's map; {} differ, {} unknown to the database",
        db.len(),
        served.len(),
        wrong.len(),
        extra
    );
    if !wrong.is_empty() {
        detail.push_str(&format!(
            "; e.g. {}",
            wrong[..wrong.len().min(5)].join(" | ")
        ));
    }
    Ok(Check::new(SEAT_MAP, wrong.is_empty() && extra == 0, detail))
}

/// The seat map as the reader admitted before the sale sees it; if their turn is gone (a
/// Redis that lost its data starts the line afresh) they queue again, for up to 15 s.
async fn read_map_as_reader(ctx: &Ctx<'_>) -> Result<Vec<(i64, String)>, String> {
    let api = &ctx.sale.scenario.api_base;
    let schedule = ctx.sale.schedule;
    let reader = ctx.sale.reader.lock().unwrap().clone();
    let url = format!("{api}/api/v1/schedules/{schedule}/seats");
    let get = |queue: Option<String>| {
        let mut req = ctx.http().get(&url).bearer_auth(&reader.token);
        if let Some(q) = queue {
            req = req.header("x-queue-token", q);
        }
        async move {
            let res = req.send().await.map_err(|e| e.to_string())?;
            let status = res.status().as_u16();
            let body: Value = res.json().await.map_err(|e| e.to_string())?;
            Ok::<_, String>((status, body))
        }
    };
    let (status, body) = get(reader.queue_token.clone()).await?;
    if status == 200 {
        return parse_seat_map(&body);
    }
    let first = format!("{status} {}", body["error"]["code"]);
    // Queue again.
    let started = Instant::now();
    let joined = ctx
        .http()
        .post(format!("{api}/api/v1/queue/tokens"))
        .bearer_auth(&reader.token)
        .json(&json!({ "schedule_id": schedule.to_string() }))
        .send()
        .await
        .map_err(|e| format!("{first}; joining again: {e}"))?;
    let joined: Value = joined.json().await.map_err(|e| e.to_string())?;
    let Some(queue) = joined["token"].as_str().map(str::to_owned) else {
        return Err(format!("{first}; joining again answered {joined}"));
    };
    let mut standing = joined["status"].as_str().unwrap_or("").to_owned();
    while standing != "ACTIVE" {
        if standing == "SOLD_OUT" || started.elapsed() > Duration::from_secs(15) {
            return Err(format!("{first}; queued again: {standing}"));
        }
        tokio::time::sleep(Duration::from_millis(300)).await;
        let res = ctx
            .http()
            .get(format!("{api}/api/v1/queue/tokens/current"))
            .bearer_auth(&reader.token)
            .header("x-queue-token", &queue)
            .send()
            .await
            .map_err(|e| e.to_string())?;
        let body: Value = res.json().await.map_err(|e| e.to_string())?;
        standing = body["status"].as_str().unwrap_or("?").to_owned();
    }
    ctx.sale.reader.lock().unwrap().queue_token = Some(queue.clone());
    let (status, body) = get(Some(queue)).await?;
    if status == 200 {
        parse_seat_map(&body)
    } else {
        Err(format!("{first}; after queueing again: {status} {body}"))
    }
}

/// The figures of a run, from the database (besides what the buyers recorded).
pub async fn db_counts(pool: &PgPool, schedule: Uuid) -> anyhow::Result<Value> {
    let (reservations, balance, card, refunded, swept, reconciled, sold, expired): (
        i64,
        i64,
        i64,
        i64,
        i64,
        i64,
        i64,
        i64,
    ) = sqlx::query_as(
        "SELECT
           (SELECT count(*) FROM reservations WHERE schedule_id = $1),
           (SELECT count(*) FROM payments p JOIN reservations r ON r.id = p.reservation_id
              WHERE r.schedule_id = $1 AND p.method = 'BALANCE' AND p.status = 'APPLIED'),
           (SELECT count(*) FROM payments p JOIN reservations r ON r.id = p.reservation_id
              WHERE r.schedule_id = $1 AND p.method = 'CARD' AND p.status = 'APPLIED'),
           (SELECT count(*) FROM payments p JOIN reservations r ON r.id = p.reservation_id
              WHERE r.schedule_id = $1 AND p.method = 'CARD' AND p.status = 'REFUNDED'),
           (SELECT count(*) FROM reservation_events e JOIN reservations r ON r.id = e.reservation_id
              WHERE r.schedule_id = $1 AND e.actor = 'SYSTEM' AND e.details->>'swept' = 'true'),
           (SELECT count(*) FROM reservation_events e JOIN reservations r ON r.id = e.reservation_id
              WHERE r.schedule_id = $1 AND e.kind = 'PAYMENT_RECONCILED'),
           (SELECT count(*) FROM seat_inventory WHERE schedule_id = $1 AND status = 'SOLD'),
           (SELECT count(*) FROM reservations WHERE schedule_id = $1 AND status = 'EXPIRED')",
    )
    .bind(schedule)
    .fetch_one(pool)
    .await?;
    Ok(json!({
        "reservations_in_db": reservations,
        "paid_by_balance": balance,
        "paid_by_card": card,
        "card_refunded": refunded,
        "released_by_sweeper": swept,
        "payments_reconciled": reconciled,
        "seats_sold": sold,
        "reservations_expired": expired,
    }))
}
