use crate::common::*;
use seatline_config::ExposeSecret;
use std::{path::PathBuf, process::Command};

/// The load generator's sell-out, small: 2,000 buyers against 150 seats (about 13 per seat,
/// a fifth of the winners abandoning their holds) until every seat is sold. It checks the
/// invariants from PostgreSQL and Temporal and exits non-zero if one fails.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_small_sell_out_keeps_every_invariant() {
    let mut settings = settings(10);
    settings.waiting_room.admission_rate = 2_000.0;
    settings.waiting_room.active_cap = 5_000;
    let app = TestApp::spawn_with(settings).await;
    let dir = std::env::var("SEATLINE_BIN_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|_| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../target/debug"));
    let s = &app.settings;
    let mut command = Command::new(dir.join("seatline-loadtest"));
    command
        .args(["sellout", "--users", "2000", "--rows", "10", "--cols", "15"])
        .args([
            "--abandon",
            "0.2",
            "--concurrency",
            "128",
            "--max-seconds",
            "600",
        ])
        .args(["--url", &app.api.base, "--report", "/dev/null"])
        .env("DATABASE_URL", &s.database.url)
        .env("REDIS_URL", &s.redis.url)
        .env("TEMPORAL_ADDRESS", &s.temporal.address)
        .env("TASK_QUEUE", &s.temporal.task_queue)
        .env("AUTH_SECRET", s.secrets.auth.expose_secret())
        .env("HOLD_SECONDS", s.hold.as_secs().to_string());
    let result = tokio::task::spawn_blocking(move || command.output())
        .await
        .unwrap()
        .expect("the load generator runs");
    let stdout = String::from_utf8_lossy(&result.stdout);
    eprintln!("{stdout}");
    assert!(
        result.status.success(),
        "an invariant failed:\n{stdout}\n{}",
        String::from_utf8_lossy(&result.stderr)
    );
    assert!(stdout.contains("PASS"), "{stdout}");
}
