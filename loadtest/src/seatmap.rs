//! Seat-map reads at a fixed concurrency for S seconds, then `/healthz` of the same process
//! the same way: how far the map is from the cheapest thing the server can answer.

use crate::{
    api::{Api, Credentials},
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
            let pool = seatline_storage::connect(&settings.database_url, 2).await?;
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

    let api = Api::new(&url, concurrency)?;
    let reader = api.create_user("seat map bench").await?;
    let token = api
        .admit(&reader, schedule, Duration::from_secs(120))
        .await?;
    // One read first, not measured: the first read of a schedule may build its cache.
    let warm = Instant::now();
    let first = api.seat_map(&reader, &token, schedule, None).await;
    let warm_up_ms = crate::report::ms(warm.elapsed());
    anyhow::ensure!(first.status == 200, "seat map: {}", first.text());
    println!("  first read (not measured): {warm_up_ms} ms");
    let reader = Reader {
        user: reader,
        schedule,
        token: Arc::new(RwLock::new(token)),
        readmit: Arc::new(Mutex::new(())),
    };

    let bar = report::progress(
        seconds * 2,
        "{spinner} [{elapsed_precise}] {bar:30} {pos}/{len} s {msg}",
    );
    bar.set_message("seat map");
    let map_api = api.with_new_recorder();
    let bytes = Arc::new(AtomicU64::new(0));
    let map_seconds = {
        let (reader, bytes) = (reader.clone(), bytes.clone());
        closed_loop(&map_api, concurrency, seconds, &bar, move |api| {
            let (reader, bytes) = (reader.clone(), bytes.clone());
            async move {
                let mut etag = None;
                loop {
                    let token = reader.token.read().await.clone();
                    let reply = api
                        .seat_map(&reader.user, &token, reader.schedule, etag.as_deref())
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

    let map = map_api.recorder.get("seatmap");
    let health = health_api.recorder.get("healthz");
    let mut map_summary = map.latency.summary(map_seconds);
    map_summary["statuses"] = json!(map.statuses);
    map_summary["mean_body_bytes"] =
        json!(bytes.load(Ordering::Relaxed) / map.latency.count().max(1));
    let mut health_summary = health.latency.summary(health_seconds);
    health_summary["statuses"] = json!(health.statuses);
    let map_rps = rate(map.latency.count(), map_seconds);
    let health_rps = rate(health.latency.count(), health_seconds);
    let ratio = if health_rps > 0.0 {
        (map_rps / health_rps * 10_000.0).round() / 10_000.0
    } else {
        0.0
    };
    let report = json!({
        "scenario": "seatmap",
        "url": url,
        "schedule_id": schedule,
        "concurrency": concurrency,
        "seconds": seconds,
        "if_none_match": if_none_match,
        "first_read_ms": warm_up_ms,
        "seatmap": map_summary,
        "healthz": health_summary,
        "ratio_seatmap_to_healthz": ratio,
    });
    println!(
        "  seat map: {:.1} req/s, p50 {} / p95 {} / p99 {} ms, {} bytes each, statuses {}",
        map_rps,
        report["seatmap"]["p50_ms"],
        report["seatmap"]["p95_ms"],
        report["seatmap"]["p99_ms"],
        report["seatmap"]["mean_body_bytes"],
        report["seatmap"]["statuses"],
    );
    println!(
        "  /healthz: {:.1} req/s, p50 {} / p95 {} / p99 {} ms",
        health_rps,
        report["healthz"]["p50_ms"],
        report["healthz"]["p95_ms"],
        report["healthz"]["p99_ms"],
    );
    println!("  seat map / healthz throughput: {ratio:.4}");
    Ok(report)
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
