//! One buyer after another: hold one seat, pay for it. Measures the latency a single buyer
//! sees when nobody else is competing.

use crate::{report::Samples, Args};
use serde_json::{json, Value};
use std::time::Instant;

pub async fn run(args: &Args) -> anyhow::Result<()> {
    let url = args.text("url", "http://127.0.0.1:8080");
    let count = args.number("count", 200)? as usize;
    let settings = seatline_config::Settings::from_env()?;
    let pool = seatline_storage::connect(&settings.database_url, 2).await?;
    let cols = 50;
    let rows = count.div_ceil(cols).max(1) as i32;
    let (_, schedule) =
        seatline_storage::demo::create_isolated_schedule(&pool, rows, cols as i32).await?;
    let seats: Vec<i64> = seatline_storage::catalog::seat_map(&pool, schedule)
        .await?
        .into_iter()
        .map(|s| s.seat_id)
        .collect();

    let http = reqwest::Client::new();
    let user: Value = http
        .post(format!("{url}/api/v1/users"))
        .json(&json!({ "name": "sequential bench" }))
        .send()
        .await?
        .json()
        .await?;
    let token = user["token"].as_str().unwrap_or_default().to_owned();
    let (mut holds, mut pays) = (Samples::default(), Samples::default());
    for seat in seats.iter().take(count) {
        http.post(format!("{url}/api/v1/users/me/balance/charges"))
            .bearer_auth(&token)
            .json(&json!({ "amount": 200_000 }))
            .send()
            .await?;
        let started = Instant::now();
        let held = http
            .post(format!("{url}/api/v1/reservations"))
            .bearer_auth(&token)
            .json(&json!({ "schedule_id": schedule, "seat_ids": [seat] }))
            .send()
            .await?;
        holds.record(started.elapsed());
        anyhow::ensure!(held.status() == 201, "hold failed: {}", held.text().await?);
        let held: Value = held.json().await?;
        let id = held["reservation_id"].as_str().unwrap_or_default();
        let started = Instant::now();
        let paid = http
            .post(format!("{url}/api/v1/reservations/{id}/payment"))
            .bearer_auth(&token)
            .send()
            .await?;
        pays.record(started.elapsed());
        anyhow::ensure!(paid.status() == 200, "pay failed: {}", paid.text().await?);
    }
    let report = json!({
        "scenario": "sequential",
        "reservations": count,
        "hold": holds.summary("hold"),
        "pay": pays.summary("pay"),
    });
    println!("{}", serde_json::to_string_pretty(&report)?);
    Ok(())
}
