//! One buyer after another: hold one seat, pay for it. Measures the latency a single buyer
//! sees when nobody else is competing. Each buyer is a fresh user, admitted through the
//! waiting room before the clock starts (paying ends a turn).

use crate::{api::Api, report::Samples, users, Args};
use seatline_config::ExposeSecret;
use serde_json::json;
use std::time::{Duration, Instant};

pub async fn run(args: &Args) -> anyhow::Result<()> {
    let url = args.url();
    let count = args.number("count", 200)? as usize;
    let settings = seatline_config::Settings::from_env()?;
    let pool = seatline_storage::connect(&settings.database.url, 2).await?;
    let (schedule, seats) = crate::schedules::with_seats(&pool, count).await?;
    let buyers = users::insert_fast(
        &pool,
        settings.secrets.auth.expose_secret(),
        count,
        "sequential bench",
    )
    .await?;

    let api = Api::new(&url, 4)?;
    let (mut holds, mut pays) = (Samples::default(), Samples::default());
    for (user, seat) in buyers.iter().zip(&seats) {
        let token = api.admit(user, schedule, Duration::from_secs(120)).await?;
        let started = Instant::now();
        let held = api.hold(user, &token, schedule, &[*seat]).await;
        holds.record(started.elapsed());
        anyhow::ensure!(held.status == 201, "hold failed: {}", held.text());
        let id = held.json()["reservation_id"]
            .as_str()
            .unwrap_or_default()
            .to_owned();
        let started = Instant::now();
        let paid = api.pay(user, &token, &id).await;
        pays.record(started.elapsed());
        anyhow::ensure!(paid.status == 200, "pay failed: {}", paid.text());
    }
    users::end_admission(&settings, schedule).await;
    let report = json!({
        "scenario": "sequential",
        "reservations": count,
        "hold": holds.summary("hold"),
        "pay": pays.summary("pay"),
    });
    println!("{}", serde_json::to_string_pretty(&report)?);
    crate::report::write(args, None, &report)
}
