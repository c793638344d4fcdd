//! The headline scenario: U buyers arrive for R x C seats, queue, contend for the front rows,
//! pay or walk away, until every seat is SOLD; then the invariants.

use crate::{
    api::Api,
    buyer::{self, Layout, Outcome, Shop},
    invariants,
    metrics::HoldCounters,
    report::{self, rate},
    users, Args,
};
use rand::Rng;
use seatline_config::ExposeSecret;
use serde_json::{json, Value};
use std::{
    collections::BTreeMap,
    sync::{atomic::Ordering, Arc},
    time::{Duration, Instant},
};
use tokio::task::JoinSet;

pub struct SelloutOutcome {
    pub report: Value,
    pub passed: bool,
}

pub async fn run(args: &Args) -> anyhow::Result<SelloutOutcome> {
    let url = args.url();
    let user_count = args.number("users", 200_000)? as usize;
    let rows = args.number("rows", 100)? as i32;
    let cols = args.number("cols", 150)? as i32;
    let abandon = args.float("abandon", 0.2)?;
    let concurrency = args.number("concurrency", 256)? as usize;
    let think_ms = args.number("think-ms", 500)?;
    let poll_ms = args.number("poll-ms", 1000)?.max(50);
    // Far back in a long line a buyer polls less often (about half its ETA, up to this).
    let poll_max_ms = args.number("poll-max-ms", 10_000)?;
    let ramp = Duration::from_secs(args.number("ramp-seconds", 10)?);
    let front_share = args.float("front-share", 0.7)?;
    let fast_users = args.flag("fast-users", true)?;
    let max_seconds = args.number("max-seconds", 1800)?;
    let settings = seatline_config::Settings::from_env()?;
    let hold = Duration::from_secs(args.number("hold-seconds", settings.hold.as_secs())?);

    let pool = seatline_storage::connect(&settings.database.url, 4).await?;
    let (_, schedule) = seatline_storage::demo::create_isolated_schedule(&pool, rows, cols).await?;
    let schedule_id = schedule.as_uuid();
    let api = Api::new(&url, concurrency)?;
    // Fetched once, as a browser caches it: buyers then read only the compact statuses.
    let layout = Layout::new(api.seat_layout(schedule_id).await?);
    let seats = layout.len() as i64;
    println!(
        "sellout: {user_count} buyers for {seats} seats ({rows} x {cols}) of schedule {schedule_id}; \
         abandon {abandon}, {concurrency} requests in flight, think {think_ms} ms, hold {} s",
        hold.as_secs()
    );

    let made = Instant::now();
    let buyers = if fast_users {
        users::insert_fast(
            &pool,
            settings.secrets.auth.expose_secret(),
            user_count,
            "sellout buyer",
        )
        .await?
    } else {
        users::create_via_api(&api, user_count, concurrency, "sellout buyer").await?
    };
    let users_seconds = made.elapsed().as_secs_f64();
    println!(
        "  {user_count} users made in {users_seconds:.1} s ({})",
        if fast_users { "database" } else { "API" }
    );
    let user_ids: Vec<uuid::Uuid> = buyers.iter().map(|u| u.id).collect();

    // Buyers' figures only: a fresh recorder after user creation.
    let api = api.with_new_recorder();
    let before = HoldCounters::parse(&api.metrics_text().await);
    let shop = Arc::new(Shop {
        api: api.clone(),
        schedule: schedule_id,
        layout,
        abandon,
        front_share,
        think_ms,
        poll_ms,
        poll_max_ms,
        must_charge: !fast_users,
        stop: Default::default(),
        tally: Default::default(),
    });

    let started = Instant::now();
    let mut tasks = JoinSet::new();
    let mut rng = rand::thread_rng();
    for (i, user) in buyers.into_iter().enumerate() {
        let shop = shop.clone();
        let delay = if ramp.is_zero() {
            Duration::ZERO
        } else {
            ramp.mul_f64(rng.gen::<f64>())
        };
        let seed = rng.gen::<u64>() ^ i as u64;
        tasks.spawn(async move {
            tokio::time::sleep(delay).await;
            buyer::run(shop, user, seed).await
        });
    }

    let bar = report::progress(
        seats as u64,
        "{spinner} [{elapsed_precise}] {bar:30} {pos}/{len} sold {msg}",
    );
    let deadline = started + Duration::from_secs(max_seconds);
    let mut sold_out_after = None;
    loop {
        tokio::time::sleep(Duration::from_millis(500)).await;
        let (sold, held): (i64, i64) = sqlx::query_as(
            "SELECT count(*) FILTER (WHERE status = 'SOLD'), count(*) FILTER (WHERE status = 'HELD')
             FROM seat_inventory WHERE schedule_id = $1",
        )
        .bind(schedule_id)
        .fetch_one(&pool)
        .await?;
        let t = &shop.tally;
        bar.set_position(sold as u64);
        bar.set_message(format!(
            "| held {held} | active {} | done {}/{user_count} | holds won {} lost {}",
            t.active.load(Ordering::Relaxed),
            t.finished.load(Ordering::Relaxed),
            t.holds_won.load(Ordering::Relaxed),
            t.holds_lost.load(Ordering::Relaxed),
        ));
        if sold == seats {
            sold_out_after = Some(started.elapsed());
            break;
        }
        if Instant::now() > deadline {
            break;
        }
        if tasks.is_empty() || shop.tally.finished.load(Ordering::Relaxed) as usize == user_count {
            // Everyone left; wait for abandoned holds to lapse, nobody will buy them now.
            break;
        }
    }
    shop.stop.store(true, Ordering::Relaxed);
    let ran = started.elapsed();
    bar.finish_and_clear();

    // Let the buyers see the stop and finish what is in flight.
    let mut outcomes: BTreeMap<&'static str, u64> = BTreeMap::new();
    let drain = tokio::time::timeout(Duration::from_secs(90), async {
        while let Some(done) = tasks.join_next().await {
            let name = done.map_or("panicked", Outcome::name);
            *outcomes.entry(name).or_default() += 1;
        }
    })
    .await;
    if drain.is_err() {
        tasks.abort_all();
        *outcomes.entry("aborted").or_default() += tasks.len() as u64;
    }

    let after = HoldCounters::parse(&api.metrics_text().await);
    let delta = after.delta(&before);
    let t = &shop.tally;
    let attempts = t.hold_attempts.load(Ordering::Relaxed);
    let share_started = share(delta.workflows_started, attempts);
    let seconds = ran.as_secs_f64();
    let endpoints = api.recorder.summary(seconds);

    println!(
        "  checking invariants (waiting up to {} s for holds to resolve)",
        hold.as_secs() + 10
    );
    let temporal = match seatline_worker::connect_temporal(&settings).await {
        Ok(client) => Some(client),
        Err(err) => {
            eprintln!("  Temporal: {err:#}");
            None
        }
    };
    let checks =
        invariants::check_all(&pool, temporal.as_ref(), schedule_id, &user_ids, hold).await?;
    let passed = checks.iter().all(|c| c.pass);
    users::end_admission(&settings, schedule_id).await;

    let report = json!({
        "scenario": "sellout",
        "url": url,
        "schedule_id": schedule_id,
        "users": user_count,
        "rows": rows,
        "cols": cols,
        "seats": seats,
        "abandon": abandon,
        "concurrency": concurrency,
        "think_ms": think_ms,
        "hold_seconds": hold.as_secs(),
        "users_created_seconds": users_seconds,
        "seconds": seconds,
        "sold_out": sold_out_after.is_some(),
        "time_to_sell_out_seconds": sold_out_after.map(|d| (d.as_secs_f64() * 10.0).round() / 10.0),
        "endpoints": endpoints,
        "client_wait": api.recorder.wait_summary(),
        "holds": {
            "attempts": attempts,
            "won": t.holds_won.load(Ordering::Relaxed),
            "lost": t.holds_lost.load(Ordering::Relaxed),
            "failed": t.holds_failed.load(Ordering::Relaxed),
            "busy": t.holds_busy.load(Ordering::Relaxed),
            "abandoned": t.abandoned.load(Ordering::Relaxed),
            "paid": t.paid.load(Ordering::Relaxed),
            "seats_paid": t.seats_paid.load(Ordering::Relaxed),
            "rejoins": t.rejoins.load(Ordering::Relaxed),
            "pay_expired_before_deadline": t.pay_expired_before_deadline.load(Ordering::Relaxed),
            "pay_expired_after_deadline": t.pay_expired_after_deadline.load(Ordering::Relaxed),
            "won_per_second": rate(t.holds_won.load(Ordering::Relaxed), seconds),
        },
        "workflows": {
            "started": delta.workflows_started,
            "share_of_hold_attempts_that_started_a_workflow": share_started,
            "share_answered_without_a_workflow": if attempts == 0 { 0.0 } else { ((1.0 - share_started) * 10_000.0).round() / 10_000.0 },
            "rejected_precheck": delta.rejected_precheck,
            "rejected_database": delta.rejected_database,
            "rejected_busy": delta.rejected_busy,
            "won": delta.won,
            "note": "deltas of this API process's /metrics; other clients of it add to them",
        },
        "buyers": outcomes,
        "invariants": checks.iter().map(invariants::Check::json).collect::<Vec<_>>(),
        "passed": passed,
    });
    print_summary(&report, &checks);
    Ok(SelloutOutcome { report, passed })
}

/// `part / whole`, 4 decimals; 0 over nothing.
pub fn share(part: f64, whole: u64) -> f64 {
    if whole == 0 {
        return 0.0;
    }
    (part / whole as f64 * 10_000.0).round() / 10_000.0
}

fn print_summary(report: &Value, checks: &[invariants::Check]) {
    println!(
        "  ran {:.1} s; sold out: {} (after {} s)",
        report["seconds"].as_f64().unwrap_or(0.0),
        report["sold_out"],
        report["time_to_sell_out_seconds"]
    );
    report::print_endpoints(&report["endpoints"]);
    let h = &report["holds"];
    let w = &report["workflows"];
    println!(
        "  holds: {} attempts, {} won, {} lost, {} failed; {} abandoned, {} paid ({} seats); {} answered BUSY (not attempts)",
        h["attempts"], h["won"], h["lost"], h["failed"], h["abandoned"], h["paid"], h["seats_paid"], h["busy"]
    );
    println!(
        "  payments refused as expired: {} sent after the deadline, {} sent more than 1 s before it; client-side wait for a request slot: {}",
        h["pay_expired_after_deadline"], h["pay_expired_before_deadline"], report["client_wait"]
    );
    println!(
        "  workflows started {} = {:.1}% of hold attempts ({:.1}% answered without one); rejected: precheck {}, database {}",
        w["started"],
        w["share_of_hold_attempts_that_started_a_workflow"].as_f64().unwrap_or(0.0) * 100.0,
        w["share_answered_without_a_workflow"].as_f64().unwrap_or(0.0) * 100.0,
        w["rejected_precheck"],
        w["rejected_database"],
    );
    println!("  buyers: {}", report["buyers"]);
    for c in checks {
        println!(
            "  {} {}: {}",
            if c.pass { "PASS" } else { "FAIL" },
            c.name,
            c.detail
        );
    }
}

#[cfg(test)]
mod tests {
    use super::share;

    #[test]
    fn shares() {
        assert_eq!(share(43.0, 200), 0.215);
        assert_eq!(share(1.0, 3), 0.3333);
        assert_eq!(share(5.0, 0), 0.0);
    }
}
