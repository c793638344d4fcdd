//! How fast this Temporal runs the simplest useful workflow (one activity that echoes its
//! input), against how fast it runs real reservations (hold, then pay, through the API). The
//! ratio says how much of Temporal's capacity a reservation costs beyond the minimum.

use crate::{
    api::{Api, Credentials},
    report::{self, rate, Latency},
    users, Args,
};
use futures::{stream, StreamExt};
use seatline_config::ExposeSecret;
use serde_json::{json, Value};
use std::{
    sync::{Arc, Mutex},
    time::{Duration, Instant},
};
use temporalio_client::{Client, WorkflowStartOptions};
use temporalio_macros::{activities, workflow, workflow_methods};
use temporalio_sdk::{
    activities::{ActivityContext, ActivityError},
    ActivityOptions, Runtime, Worker, WorkerOptions, WorkflowContext, WorkflowResult,
};

/// The trivial workflow: one activity, its answer is the result.
#[workflow]
#[derive(Default)]
pub struct EchoWorkflow;

#[workflow_methods]
impl EchoWorkflow {
    #[run]
    pub async fn run(ctx: &mut WorkflowContext<Self>, input: String) -> WorkflowResult<String> {
        let echoed = ctx
            .execute_activity(
                EchoActivities::echo,
                input,
                ActivityOptions::start_to_close_timeout(Duration::from_secs(30)),
            )
            .await?;
        Ok(echoed)
    }
}

pub struct EchoActivities;

#[activities]
impl EchoActivities {
    #[activity]
    pub async fn echo(_ctx: ActivityContext, input: String) -> Result<String, ActivityError> {
        Ok(input)
    }
}

/// A worker for `EchoWorkflow` on a thread of its own (the SDK's worker future is not
/// `Send`); stops when the returned function is called.
async fn spawn_echo_worker(
    settings: &seatline_config::Settings,
    task_queue: &str,
) -> anyhow::Result<(Box<dyn Fn() + Send + Sync>, std::thread::JoinHandle<()>)> {
    let (settings, task_queue) = (settings.clone(), task_queue.to_owned());
    let (ready, built) = tokio::sync::oneshot::channel();
    let thread = std::thread::spawn(move || {
        let runtime = match tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
        {
            Ok(runtime) => runtime,
            Err(err) => {
                let _ = ready.send(Err(anyhow::anyhow!("tokio runtime: {err}")));
                return;
            }
        };
        runtime.block_on(async move {
            let worker = async {
                let sdk = Runtime::from_current_tokio(Default::default())
                    .map_err(|e| anyhow::anyhow!("Temporal runtime: {e}"))?;
                let client = seatline_worker::connect_temporal(&settings).await?;
                let options = WorkerOptions::new(task_queue)
                    .register_workflow::<EchoWorkflow>()
                    .map_err(|e| anyhow::anyhow!("registering EchoWorkflow: {e}"))?
                    .register_activities(EchoActivities)
                    .build();
                let worker = Worker::new(&sdk, client, options)
                    .map_err(|e| anyhow::anyhow!("creating the worker: {e}"))?;
                anyhow::Ok((sdk, worker))
            };
            match worker.await {
                Ok((_sdk, mut worker)) => {
                    let stop = worker.shutdown_handle();
                    let _ = ready.send(Ok(stop));
                    if let Err(err) = worker.run().await {
                        eprintln!("echo worker stopped: {err}");
                    }
                }
                Err(err) => {
                    let _ = ready.send(Err(err));
                }
            }
        });
    });
    let stop = built.await??;
    Ok((Box::new(stop), thread))
}

pub async fn run(args: &Args) -> anyhow::Result<Value> {
    let url = args.url();
    let count = args.number("workflows", 200)? as usize;
    let concurrency = (args.number("concurrency", 20)? as usize).max(1);
    let settings = seatline_config::Settings::from_env()?;
    println!("baseline: {count} workflows each way, {concurrency} in flight");
    let run_id = uuid::Uuid::new_v4().simple().to_string();
    let bar = report::progress(
        count as u64 * 2,
        "{spinner} [{elapsed_precise}] {bar:30} {pos}/{len} {msg}",
    );

    // 1. The trivial workflow.
    bar.set_message("echo workflows");
    let task_queue = format!("loadtest-baseline-{run_id}");
    let (stop_worker, worker_thread) = spawn_echo_worker(&settings, &task_queue).await?;
    let client = seatline_worker::connect_temporal(&settings).await?;
    let echo = run_echo(&client, &task_queue, &run_id, count, concurrency, &bar).await;
    stop_worker();
    let _ = tokio::task::spawn_blocking(move || worker_thread.join()).await;
    let (echo_latency, echo_seconds, echo_failed) = echo;

    // 2. Real reservations through the API, no contention: one seat per buyer.
    bar.set_message("reservations");
    let reservations = run_reservations(args, &settings, count, concurrency, &bar).await?;
    bar.finish_and_clear();

    let echo_rate = rate(echo_latency.count(), echo_seconds);
    let reservation_rate = rate(reservations.latency.count(), reservations.seconds);
    let ratio = if echo_rate > 0.0 {
        (reservation_rate / echo_rate * 10_000.0).round() / 10_000.0
    } else {
        0.0
    };
    let mut baseline = echo_latency.summary(echo_seconds);
    baseline["per_second"] = json!(echo_rate);
    baseline["failed"] = json!(echo_failed);
    baseline["seconds"] = json!(echo_seconds);
    let mut real = reservations.latency.summary(reservations.seconds);
    real["per_second"] = json!(reservation_rate);
    real["failed"] = json!(reservations.failed);
    real["seconds"] = json!(reservations.seconds);
    real["admission_seconds"] = json!(reservations.admission_seconds);
    real["endpoints"] = reservations.endpoints;
    let report = json!({
        "scenario": "baseline",
        "url": url,
        "workflows": count,
        "concurrency": concurrency,
        "baseline": baseline,
        "reservations": real,
        "ratio_reservation_to_baseline": ratio,
    });
    println!(
        "  echo workflow: {echo_rate:.1}/s (start to result p50 {} / p95 {} ms), {echo_failed} failed",
        report["baseline"]["p50_ms"], report["baseline"]["p95_ms"]
    );
    println!(
        "  reservation (hold + pay): {reservation_rate:.1}/s (p50 {} / p95 {} ms), {} failed; admitting took {:.1} s (not counted)",
        report["reservations"]["p50_ms"],
        report["reservations"]["p95_ms"],
        reservations.failed,
        reservations.admission_seconds
    );
    report::print_endpoints(&report["reservations"]["endpoints"]);
    println!("  reservation rate / baseline rate: {ratio:.4}");
    Ok(report)
}

/// Starts `count` echo workflows, `concurrency` at a time, each awaited to its result.
async fn run_echo(
    client: &Client,
    task_queue: &str,
    run_id: &str,
    count: usize,
    concurrency: usize,
    bar: &indicatif::ProgressBar,
) -> (Latency, f64, u64) {
    let latency = Arc::new(Mutex::new(Latency::default()));
    let failed = Arc::new(std::sync::atomic::AtomicU64::new(0));
    let started = Instant::now();
    stream::iter(0..count)
        .for_each_concurrent(concurrency, |i| {
            let (client, latency, failed, bar) =
                (client.clone(), latency.clone(), failed.clone(), bar.clone());
            let options =
                WorkflowStartOptions::new(task_queue, format!("loadtest-echo-{run_id}-{i}"))
                    .build();
            async move {
                let t = Instant::now();
                let input = format!("echo {i}");
                let outcome = match client
                    .start_workflow(EchoWorkflow::run, input.clone(), options)
                    .await
                {
                    Ok(handle) => handle.get_result(Default::default()).await.ok(),
                    Err(_) => None,
                };
                if outcome.as_deref() == Some(input.as_str()) {
                    latency.lock().expect("lock").record(t.elapsed());
                } else {
                    failed.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                }
                bar.inc(1);
            }
        })
        .await;
    let seconds = started.elapsed().as_secs_f64();
    let latency = latency.lock().expect("lock").clone();
    (
        latency,
        seconds,
        failed.load(std::sync::atomic::Ordering::Relaxed),
    )
}

struct ReservationRun {
    latency: Latency,
    seconds: f64,
    admission_seconds: f64,
    failed: u64,
    endpoints: Value,
}

/// `count` buyers, each on a seat of their own: admitted first (not timed), then hold and
/// pay, `concurrency` at a time. In batches no larger than the admission cap, since paying
/// ends a turn and lets the next ones in.
async fn run_reservations(
    args: &Args,
    settings: &seatline_config::Settings,
    count: usize,
    concurrency: usize,
    bar: &indicatif::ProgressBar,
) -> anyhow::Result<ReservationRun> {
    let pool = seatline_storage::connect(&settings.database.url, 2).await?;
    let (schedule, seats) = crate::schedules::with_seats(&pool, count).await?;
    let buyers = users::insert_fast(
        &pool,
        settings.secrets.auth.expose_secret(),
        count,
        "baseline buyer",
    )
    .await?;
    let api = Api::new(&args.url(), concurrency)?;
    let batch = (args.number("admission-cap", settings.waiting_room.active_cap)? as usize).max(1);

    let latency = Arc::new(Mutex::new(Latency::default()));
    let failed = Arc::new(std::sync::atomic::AtomicU64::new(0));
    let (mut timed, mut admitting) = (0.0, 0.0);
    let work: Vec<(Credentials, i64)> = buyers.into_iter().zip(seats).collect();
    for chunk in work.chunks(batch) {
        let t = Instant::now();
        let admitted: Vec<(Credentials, i64, Option<String>)> = stream::iter(chunk.iter().cloned())
            .map(|(user, seat)| {
                let api = api.clone();
                async move {
                    let token = api
                        .admit(&user, schedule, Duration::from_secs(300))
                        .await
                        .ok();
                    (user, seat, token)
                }
            })
            .buffer_unordered(concurrency * 4)
            .collect()
            .await;
        admitting += t.elapsed().as_secs_f64();

        let t = Instant::now();
        stream::iter(admitted)
            .for_each_concurrent(concurrency, |(user, seat, token)| {
                let (api, latency, failed, bar) =
                    (api.clone(), latency.clone(), failed.clone(), bar.clone());
                async move {
                    let started = Instant::now();
                    let ok = match token {
                        Some(token) => hold_and_pay(&api, &user, &token, schedule, seat).await,
                        None => false,
                    };
                    if ok {
                        latency.lock().expect("lock").record(started.elapsed());
                    } else {
                        failed.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                    }
                    bar.inc(1);
                }
            })
            .await;
        timed += t.elapsed().as_secs_f64();
    }
    users::end_admission(settings, schedule).await;
    let latency = latency.lock().expect("lock").clone();
    Ok(ReservationRun {
        latency,
        seconds: timed,
        admission_seconds: admitting,
        failed: failed.load(std::sync::atomic::Ordering::Relaxed),
        endpoints: api.recorder.summary(timed + admitting),
    })
}

async fn hold_and_pay(
    api: &Api,
    user: &Credentials,
    token: &str,
    schedule: uuid::Uuid,
    seat: i64,
) -> bool {
    let held = loop {
        let held = api.hold(user, token, schedule, &[seat]).await;
        // BUSY: more holds in flight than the API allows; nothing was held, ask again.
        if held.status == 503 && held.code() == "BUSY" {
            tokio::time::sleep(Duration::from_millis(200)).await;
            continue;
        }
        break held;
    };
    if held.status != 201 {
        return false;
    }
    let id = held.json()["reservation_id"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    api.pay(user, token, &id).await.status == 200
}
