//! Seat-map reads at a fixed concurrency for S seconds, in each form (compact statuses, then
//! every seat in full), then `/healthz` of the same process the same way: how far the map is
//! from the cheapest thing the server can answer. Both ask for gzip, as browsers do.

use crate::{
    api::{Api, Credentials, MapForm},
    report::{self, rate},
    Args,
};
use serde_json::{json, Value};
use std::{
    sync::{
        atomic::{AtomicU64, Ordering},
        Arc,
    },
    time::{Duration, Instant},
};
use tokio::sync::{Mutex, RwLock};
use uuid::Uuid;

pub async fn run(args: &Args) -> anyhow::Result<Value> {
    let url = args.url();
    let concurrency = args.number("concurrency", 32)? as usize;
    let seconds = args.number("seconds", 10)?.max(1);
    let if_none_match = args.flag("if-none-match", false)?;
    let settings = seatline_config::Settings::from_env()?;
    let own_schedule = !args.has("schedule");
    let schedule = match args.has("schedule") {
        true => Uuid::parse_str(&args.text("schedule", ""))
            .map_err(|_| anyhow::anyhow!("--schedule: not a uuid"))?,
        false => {
            let rows = args.number("rows", 100)? as i32;
            let cols = args.number("cols", 150)? as i32;
            let pool = seatline_storage::connect(&settings.database.url, 2).await?;
            let (_, s) =
                seatline_storage::demo::create_isolated_schedule(&pool, rows, cols).await?;
            s.as_uuid()
        }
    };
    println!(
        "seatmap: schedule {schedule}, {concurrency} in flight, {seconds} s each{}",
        if if_none_match {
            ", with If-None-Match"
        } else {
            ""
        }
    );

    let forms = parse_forms(&args.text("forms", "compact,full"))?;
    let api = Api::new(&url, concurrency)?;
    let reader = api.create_user("seat map bench").await?;
    let token = api
        .admit(&reader, schedule, Duration::from_secs(120))
        .await?;
    // One read of each form first, not measured: the first read of a schedule builds its
    // cache, and the answer is checked once (the loop below only counts bytes).
    let warm = Instant::now();
    for form in &forms {
        let first = api.seat_map(&reader, &token, schedule, None, *form).await;
        anyhow::ensure!(first.status == 200, "seat map: {}", first.text());
        check_map(&first.json(), *form)?;
    }
    let warm_up_ms = crate::report::ms(warm.elapsed());
    println!("  first reads (not measured): {warm_up_ms} ms");
    let reader = Reader {
        user: reader,
        schedule,
        token: Arc::new(RwLock::new(token)),
        readmit: Arc::new(Mutex::new(())),
    };

    let bar = report::progress(
        seconds * (forms.len() as u64 + 1),
        "{spinner} [{elapsed_precise}] {bar:30} {pos}/{len} s {msg}",
    );
    let mut measured = Vec::new();
    for form in &forms {
        bar.set_message(form.endpoint());
        let form_api = api.with_new_recorder();
        let bytes = Arc::new(AtomicU64::new(0));
        let took = {
            let (reader, bytes, form) = (reader.clone(), bytes.clone(), *form);
            closed_loop(&form_api, concurrency, seconds, &bar, move |api| {
                let (reader, bytes) = (reader.clone(), bytes.clone());
                async move {
                    let mut etag = None;
                    loop {
                        let token = reader.token.read().await.clone();
                        let reply = api
                            .seat_map(&reader.user, &token, reader.schedule, etag.as_deref(), form)
                            .await;
                        bytes.fetch_add(reply.body.len() as u64, Ordering::Relaxed);
                        if if_none_match && reply.status == 200 {
                            etag = reply.etag;
                        }
                        if reply.status == 401 || reply.status == 403 {
                            reader.readmit(&api, &token).await;
                        }
                        if api.recorder.elapsed() >= Duration::from_secs(seconds) {
                            return;
                        }
                    }
                }
            })
            .await
        };
        measured.push((*form, form_api, bytes, took));
    }
    bar.set_message("/healthz");
    let health_api = api.with_new_recorder();
    let health_seconds = closed_loop(&health_api, concurrency, seconds, &bar, |api| async move {
        while api.recorder.elapsed() < Duration::from_secs(seconds) {
            api.healthz().await;
        }
    })
    .await;
    bar.finish_and_clear();
    if own_schedule {
        crate::users::end_admission(&settings, schedule).await;
    }

    let health = health_api.recorder.get("healthz");
    let health_rps = rate(health.latency.count(), health_seconds);
    let mut health_summary = health.latency.summary(health_seconds);
    health_summary["statuses"] = json!(health.statuses);
    let mut report = json!({
        "scenario": "seatmap",
        "url": url,
        "schedule_id": schedule,
        "concurrency": concurrency,
        "seconds": seconds,
        "if_none_match": if_none_match,
        "first_read_ms": warm_up_ms,
        "healthz": health_summary,
    });
    for (form, form_api, bytes, took) in measured {
        let map = form_api.recorder.get(form.endpoint());
        let map_rps = rate(map.latency.count(), took);
        let ratio = if health_rps > 0.0 {
            (map_rps / health_rps * 10_000.0).round() / 10_000.0
        } else {
            0.0
        };
        let mut summary = map.latency.summary(took);
        summary["statuses"] = json!(map.statuses);
        summary["mean_body_bytes"] =
            json!(bytes.load(Ordering::Relaxed) / map.latency.count().max(1));
        summary["ratio_to_healthz"] = json!(ratio);
        let p95 = summary["p95_ms"].as_f64().unwrap_or(f64::MAX);
        let met = p95 <= GOAL_P95_MS && ratio >= GOAL_RATIO;
        summary["goal_met"] = json!(met);
        println!(
            "  seat map ({}): {:.1} req/s, p50 {} / p95 {} / p99 {} ms, {} bytes each (gzip), statuses {}",
            form.name(),
            map_rps,
            summary["p50_ms"],
            summary["p95_ms"],
            summary["p99_ms"],
            summary["mean_body_bytes"],
            summary["statuses"],
        );
        println!(
            "    / healthz throughput: {ratio:.4}; goal p95 <= {GOAL_P95_MS} ms and ratio >= {GOAL_RATIO}: {}",
            if met { "met" } else { "NOT met" }
        );
        report[form.endpoint()] = summary;
        if form == MapForm::Compact {
            report["ratio_seatmap_to_healthz"] = json!(ratio);
        }
    }
    println!(
        "  /healthz: {:.1} req/s, p50 {} / p95 {} / p99 {} ms",
        health_rps,
        report["healthz"]["p50_ms"],
        report["healthz"]["p95_ms"],
        report["healthz"]["p99_ms"],
    );
    Ok(report)
}

const GOAL_P95_MS: f64 = 50.0;
const GOAL_RATIO: f64 = 0.5;

fn parse_forms(text: &str) -> anyhow::Result<Vec<MapForm>> {
    text.split(',')
        .map(|f| match f.trim() {
            "compact" => Ok(MapForm::Compact),
            "full" => Ok(MapForm::Full),
            other => anyhow::bail!("--forms: '{other}' is neither compact nor full"),
        })
        .collect()
}

/// The first answer of a form really is a whole map.
fn check_map(body: &Value, form: MapForm) -> anyhow::Result<()> {
    let total = body["available_seats"].as_u64();
    let seats = match form {
        MapForm::Compact => body["statuses"].as_str().map(|s| s.len()),
        MapForm::Full => body["seats"].as_array().map(Vec::len),
    };
    anyhow::ensure!(
        total.is_some() && seats.is_some_and(|n| n > 0),
        "not a {form:?} seat map: {}",
        body.to_string().chars().take(200).collect::<String>()
    );
    Ok(())
}

/// The admitted reader every worker shares; re-admitted once when its turn ends.
#[derive(Clone)]
struct Reader {
    user: Credentials,
    schedule: Uuid,
    token: Arc<RwLock<String>>,
    readmit: Arc<Mutex<()>>,
}

impl Reader {
    async fn readmit(&self, api: &Api, stale: &str) {
        let _one = self.readmit.lock().await;
        if *self.token.read().await != stale {
            return; // someone else did it
        }
        if let Ok(token) = api
            .admit(&self.user, self.schedule, Duration::from_secs(60))
            .await
        {
            *self.token.write().await = token;
        }
    }
}

/// `concurrency` workers running `work` until it returns (each checks the time); the
/// seconds it took. Moves the bar on by the elapsed seconds.
async fn closed_loop<F, Fut>(
    api: &Api,
    concurrency: usize,
    seconds: u64,
    bar: &indicatif::ProgressBar,
    work: F,
) -> f64
where
    F: Fn(Api) -> Fut,
    Fut: std::future::Future<Output = ()> + Send + 'static,
{
    let started = Instant::now();
    let base = bar.position();
    let mut workers = tokio::task::JoinSet::new();
    for _ in 0..concurrency {
        workers.spawn(work(api.clone()));
    }
    let ticker = {
        let bar = bar.clone();
        tokio::spawn(async move {
            loop {
                tokio::time::sleep(Duration::from_millis(250)).await;
                bar.set_position(base + started.elapsed().as_secs().min(seconds));
            }
        })
    };
    while workers.join_next().await.is_some() {}
    ticker.abort();
    bar.set_position(base + seconds);
    started.elapsed().as_secs_f64()
}
