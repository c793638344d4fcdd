//! `queue --users 200000`: the waiting room under the opening-minute crowd. Users join one
//! schedule's queue through the API at a fixed concurrency; at each checkpoint (1,000 …
//! 200,000 waiting) a sample of them poll their place, so the poll latency can be compared as
//! the line grows. Also: joins per second and Redis memory per waiting user.

use crate::{
    api::{Api, Credentials},
    report::Samples,
    users, Args,
};
use futures::{stream, StreamExt};
use seatline_config::ExposeSecret;
use serde_json::{json, Value};
use std::time::{Duration, Instant};

pub async fn run(args: &Args) -> anyhow::Result<Value> {
    let url = args.text("url", "http://127.0.0.1:8080");
    let total = args.number("users", 200_000)? as usize;
    let concurrency = args.number("concurrency", 128)? as usize;
    let sample = args.number("polls", 5_000)? as usize;
    let settings = seatline_config::Settings::from_env()?;
    let pool = seatline_storage::connect(&settings.database.url, 4).await?;
    let (_, schedule) = seatline_storage::demo::create_isolated_schedule(&pool, 1, 10).await?;
    let schedule = schedule.as_uuid();
    eprintln!("creating {total} users");
    let people = users::insert_fast(
        &pool,
        settings.secrets.auth.expose_secret(),
        total,
        "queue bench",
    )
    .await?;
    let api = Api::new(&url, concurrency)?;
    let memory_before = redis_used_memory(&settings.redis.url);

    let mut checkpoints: Vec<usize> = [1_000, 10_000, 50_000, 100_000, 200_000]
        .into_iter()
        .filter(|c| *c <= total)
        .collect();
    if checkpoints.last() != Some(&total) {
        checkpoints.push(total);
    }
    let mut joined: Vec<(Credentials, String)> = Vec::with_capacity(total);
    let mut join_time = Duration::ZERO;
    let mut joins = Samples::default();
    let mut failures = 0usize;
    let mut steps = Vec::new();
    for checkpoint in checkpoints {
        let batch: Vec<Credentials> = people[joined.len()..checkpoint].to_vec();
        let started = Instant::now();
        let results: Vec<(Credentials, Option<String>, Duration)> = stream::iter(batch)
            .map(|user| {
                let api = api.clone();
                async move {
                    let t = Instant::now();
                    let reply = api.join(&user, schedule).await;
                    let token = reply.json()["token"].as_str().map(str::to_owned);
                    (user, token.filter(|_| reply.ok()), t.elapsed())
                }
            })
            .buffer_unordered(concurrency)
            .collect()
            .await;
        join_time += started.elapsed();
        for (user, token, took) in results {
            joins.record(took);
            match token {
                Some(token) => joined.push((user, token)),
                None => failures += 1,
            }
        }
        // Polls from a spread of places in the line, while it is this long.
        let stride = (joined.len() / sample.min(joined.len()).max(1)).max(1);
        let pollers: Vec<(Credentials, String)> = joined
            .iter()
            .step_by(stride)
            .take(sample)
            .cloned()
            .collect();
        let mut polls = Samples::default();
        let started = Instant::now();
        let timings: Vec<(Duration, bool)> = stream::iter(pollers)
            .map(|(user, token)| {
                let api = api.clone();
                async move {
                    let t = Instant::now();
                    let reply = api.standing(&user, &token).await;
                    (t.elapsed(), reply.ok())
                }
            })
            .buffer_unordered(64)
            .collect()
            .await;
        let poll_seconds = started.elapsed().as_secs_f64();
        for (took, _) in &timings {
            polls.record(*took);
        }
        let step = json!({
            "waiting": joined.len(),
            "polls": polls.summary("poll"),
            "polls_per_second": (timings.len() as f64 / poll_seconds).round(),
            "poll_errors": timings.iter().filter(|(_, ok)| !ok).count(),
        });
        eprintln!("{step}");
        steps.push(step);
    }
    let memory_after = redis_used_memory(&settings.redis.url);
    users::end_admission(&settings, schedule).await;
    let per_user = match (memory_before, memory_after) {
        (Some(b), Some(a)) if a > b => Some(((a - b) as f64 / joined.len().max(1) as f64).round()),
        _ => None,
    };
    let report = json!({
        "scenario": "queue",
        "users": total,
        "joined": joined.len(),
        "join_failures": failures,
        "joins_per_second": (joined.len() as f64 / join_time.as_secs_f64()).round(),
        "join": joins.summary("join"),
        "checkpoints": steps,
        "redis_bytes_per_waiting_user": per_user,
    });
    println!("{}", serde_json::to_string_pretty(&report)?);
    Ok(report)
}

/// Redis' `used_memory`, read with redis-cli (this crate does not link a Redis client).
fn redis_used_memory(redis_url: &str) -> Option<u64> {
    let out = std::process::Command::new("redis-cli")
        .args(["-u", redis_url, "info", "memory"])
        .output()
        .ok()?;
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .find_map(|l| l.strip_prefix("used_memory:"))
        .and_then(|v| v.trim().parse().ok())
}
