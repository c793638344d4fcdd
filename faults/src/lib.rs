//! Seatline's fault-injection suite: a small sell-out against real processes and real
//! services that the suite starts itself (`stack`), with one fault injected mid-sale per
//! scenario, then the product's invariants checked once the system has settled.
//!
//! Run it alone (it restarts its own PostgreSQL, Redis and Temporal):
//! `cargo test -p seatline-faults --test faults -- --ignored --test-threads=1 --nocapture`,
//! then `faults/stop-stack.sh`.

pub mod driver;
pub mod invariants;
pub mod scenario;
pub mod stack;

use driver::{Progress, Sale, SaleConfig, SaleResult};
use invariants::{Check, Ctx};
use scenario::{env_u64, Options, Scenario};
use serde_json::{json, Value};
use std::{
    collections::BTreeMap,
    future::Future,
    sync::Arc,
    time::{Duration, Instant},
};

/// The whole of one scenario: start its processes, run the sale with `inject` beside it,
/// wait for the system to settle, check and report; panics naming every broken invariant.
pub async fn run_scenario<F, Fut>(name: &str, options: Options, config: SaleConfig, inject: F)
where
    F: FnOnce(Arc<Scenario>, Arc<Progress>) -> Fut,
    Fut: Future<Output = anyhow::Result<()>> + Send + 'static,
{
    let scenario = Scenario::start(name, options)
        .await
        .unwrap_or_else(|e| panic!("{name}: starting the scenario: {e:#}"));
    let sale = Sale::prepare(&scenario, config)
        .await
        .unwrap_or_else(|e| panic!("{name}: preparing the sale: {e:#}"));
    let readiness = ReadinessWatch::start(scenario.api_base.clone());
    let result = sale.run(inject).await;
    let samples = readiness.finish().await;
    let mut checks = verify(&scenario, &sale, &result).await;
    let ready = ready_again(&scenario, &samples).await;
    println!(
        "[{}] {}: {}: {}",
        scenario.name,
        if ready.pass { "PASS" } else { "FAIL" },
        ready.name,
        ready.detail
    );
    checks.push(ready);
    scenario.finish().await;
    assert_all_pass(name, &result, &checks);
}

/// Polls the API's `/readyz` every 250 ms while the sale runs; the samples say when it was
/// ready again after the fault (its PostgreSQL, Redis and Temporal connections restored).
struct ReadinessWatch {
    stop: Arc<std::sync::atomic::AtomicBool>,
    task: tokio::task::JoinHandle<Vec<(Instant, bool)>>,
}

impl ReadinessWatch {
    fn start(api_base: String) -> Self {
        let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let stopped = stop.clone();
        let task = tokio::spawn(async move {
            let mut samples = Vec::new();
            while !stopped.load(std::sync::atomic::Ordering::Relaxed) {
                samples.push((Instant::now(), readyz_ok(&api_base).await));
                tokio::time::sleep(Duration::from_millis(250)).await;
            }
            samples
        });
        Self { stop, task }
    }

    async fn finish(self) -> Vec<(Instant, bool)> {
        self.stop.store(true, std::sync::atomic::Ordering::Relaxed);
        self.task.await.unwrap_or_default()
    }
}

async fn readyz_ok(api_base: &str) -> bool {
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(2))
        .build()
        .expect("HTTP client");
    client
        .get(format!("{api_base}/readyz"))
        .send()
        .await
        .is_ok_and(|r| r.status().is_success())
}

/// `/readyz` answers 200 within `FAULT_READY_SECONDS` (15) of the fault's end: the API found
/// its way back to every service by itself.
async fn ready_again(scenario: &Scenario, samples: &[(Instant, bool)]) -> Check {
    const NAME: &str = "8 /readyz ready again soon after the fault";
    let limit = Duration::from_secs(env_u64("FAULT_READY_SECONDS", 15));
    let Some(fault_end) = scenario.window().ended else {
        return Check {
            name: NAME,
            pass: true,
            detail: "no fault window".into(),
        };
    };
    let mut ready_at = samples
        .iter()
        .find(|(at, ok)| *at >= fault_end && *ok)
        .map(|(at, _)| *at);
    // The sale may have ended before the fault did: keep asking.
    while ready_at.is_none() && fault_end.elapsed() <= limit {
        if readyz_ok(&scenario.api_base).await {
            ready_at = Some(Instant::now());
        } else {
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
    }
    let not_ready_during = samples
        .iter()
        .filter(|(at, ok)| *at < fault_end && !*ok)
        .count();
    match ready_at {
        Some(at) if at.saturating_duration_since(fault_end) <= limit => Check {
            name: NAME,
            pass: true,
            detail: format!(
                "200 again {:.1} s after the fault ended ({not_ready_during} not-ready answers during it)",
                at.saturating_duration_since(fault_end).as_secs_f64()
            ),
        },
        _ => Check {
            name: NAME,
            pass: false,
            detail: format!("/readyz not 200 within {} s of the fault's end", limit.as_secs()),
        },
    }
}

/// Waits (polling) until every invariant holds twice in a row, or the recovery deadline
/// (`FAULT_SETTLE_SECONDS`, default HOLD_SECONDS + 30 s after the sale and the fault ended)
/// passes; prints the `FAULT-REPORT` line and each invariant; returns the last checks.
pub async fn verify(scenario: &Arc<Scenario>, sale: &Arc<Sale>, result: &SaleResult) -> Vec<Check> {
    let temporal = connect_temporal(scenario).await;
    let window = scenario.window();
    let fault_end = window.ended.unwrap_or(result.ended);
    let settle = Duration::from_secs(env_u64(
        "FAULT_SETTLE_SECONDS",
        scenario.options.hold_seconds + 30,
    ));
    let deadline = result.ended.max(fault_end) + settle;
    let ctx = Ctx {
        sale,
        result,
        temporal: temporal.as_ref().ok(),
        stuck_grace: Duration::from_secs(env_u64("FAULT_STUCK_GRACE_SECONDS", 15)),
    };
    let mut first_pass: Option<Instant> = None;
    let first_check = Instant::now();
    let mut rounds = 0;
    let checks = loop {
        rounds += 1;
        let checks = invariants::check_all(&ctx).await;
        let now = Instant::now();
        if checks.iter().all(|c| c.pass) {
            if first_pass.is_some() {
                break checks;
            }
            first_pass = Some(now);
        } else {
            first_pass = None;
        }
        if now > deadline {
            break checks;
        }
        tokio::time::sleep(Duration::from_secs(1)).await;
    };
    let mut checks = checks;
    if let Err(e) = &temporal {
        for c in checks
            .iter_mut()
            .filter(|c| c.name == invariants::NO_OPEN_WORKFLOW)
        {
            c.detail.push_str(&format!(" (Temporal client: {e:#})"));
        }
    }
    let times = CheckTimes {
        first_check,
        first_pass,
        fault_end,
        rounds,
    };
    let report = report(scenario, sale, result, &checks, &times).await;
    println!("FAULT-REPORT {report}");
    for c in &checks {
        println!(
            "[{}] {}: {}: {}",
            scenario.name,
            if c.pass { "PASS" } else { "FAIL" },
            c.name,
            c.detail
        );
    }
    let buyers_file = scenario
        .stack
        .dir
        .join(format!("{}-buyers.json", scenario.name));
    if let Ok(text) = serde_json::to_string_pretty(&result.records) {
        let _ = std::fs::write(&buyers_file, text);
        println!(
            "[{}] every buyer's requests and answers: {}",
            scenario.name,
            buyers_file.display()
        );
    }
    checks
}

async fn connect_temporal(scenario: &Scenario) -> anyhow::Result<temporalio_client::Client> {
    let mut last = None;
    for _ in 0..20 {
        match seatline_config::connect_temporal(&scenario.settings).await {
            Ok(c) => return Ok(c),
            Err(e) => last = Some(e),
        }
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
    Err(last.unwrap_or_else(|| anyhow::anyhow!("no attempt")))
}

fn secs(from: Instant, at: Instant) -> f64 {
    (at.saturating_duration_since(from).as_millis() as f64 / 1000.0 * 10.0).round() / 10.0
}

/// When the checks ran, for the report.
struct CheckTimes {
    first_check: Instant,
    /// The first of two passing rounds in a row.
    first_pass: Option<Instant>,
    fault_end: Instant,
    rounds: usize,
}

async fn report(
    scenario: &Scenario,
    sale: &Sale,
    result: &SaleResult,
    checks: &[Check],
    times: &CheckTimes,
) -> Value {
    let t0 = result.started;
    let window = scenario.window();
    let failures: Vec<_> = result.steps().filter(|s| s.is_failure()).collect();
    let mut by_code: BTreeMap<String, usize> = BTreeMap::new();
    for s in &failures {
        *by_code.entry(s.failure_label()).or_default() += 1;
    }
    let holds_503 = result
        .steps()
        .filter(|s| s.request == "hold" && s.status == Some(503))
        .count();
    let holds_won: usize = result.records.iter().map(|r| r.told_held.len()).sum();
    let mut counts = invariants::db_counts(&scenario.pool, sale.schedule.as_uuid())
        .await
        .unwrap_or_else(|e| json!({ "error": format!("{e:#}") }));
    counts["holds_won"] = json!(holds_won);
    counts["holds_answered_503"] = json!(holds_503);
    counts["answers_idempotency_in_progress"] = json!(result
        .steps()
        .filter(|s| s.code.as_deref() == Some("IDEMPOTENCY_IN_PROGRESS"))
        .count());
    counts["card_payments_started"] = json!(result
        .records
        .iter()
        .map(|r| r.card_payments.len())
        .sum::<usize>());
    json!({
        "scenario": scenario.name,
        "buyers": sale.config.buyers,
        "seats": sale.config.rows * sale.config.cols,
        "hold_seconds": scenario.options.hold_seconds,
        "sale_seconds": secs(t0, result.ended),
        "fault": {
            "start_s": window.started.map(|t| secs(t0, t)),
            "end_s": window.ended.map(|t| secs(t0, t)),
            "error": result.fault_error,
        },
        "errors": {
            "first_s": failures.iter().map(|s| s.at_ms).min().map(|ms| ms as f64 / 1000.0),
            "last_s": failures.iter().map(|s| s.at_ms).max().map(|ms| ms as f64 / 1000.0),
            "count": failures.len(),
            "by_code": by_code,
        },
        // The checks start once every buyer is done: the figure is never below that.
        "invariants_held_s_after_fault_end": times.first_pass.map(|t| secs(times.fault_end, t)),
        "checks_began_s_after_fault_end": secs(times.fault_end, times.first_check),
        "check_rounds": times.rounds,
        "counts": counts,
        "buyers_by_outcome": result.outcomes(),
        "processes_that_died": scenario.dead_processes(),
        "invariants": checks.iter().map(Check::json).collect::<Vec<_>>(),
        "all_pass": checks.iter().all(|c| c.pass),
    })
}

fn assert_all_pass(name: &str, result: &SaleResult, checks: &[Check]) {
    let mut broken: Vec<String> = checks
        .iter()
        .filter(|c| !c.pass)
        .map(|c| format!("{}: {}", c.name, c.detail))
        .collect();
    if let Some(e) = &result.fault_error {
        broken.push(format!("the fault could not be injected: {e}"));
    }
    assert!(
        broken.is_empty(),
        "{name}: {} problem(s):\n  {}",
        broken.len(),
        broken.join("\n  ")
    );
}
