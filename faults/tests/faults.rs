//! One fault per scenario, injected while 150 buyers (`FAULT_BUYERS`) sell out 48 seats; each
//! ends with the invariants of `seatline_faults::invariants`.
//!
//! These tests restart PostgreSQL, Redis and Temporal (their own, on ports of their own), so
//! they are `#[ignore]`d in the workspace run and run alone, one at a time:
//!
//! ```sh
//! cargo build --workspace --bins
//! cargo test -p seatline-faults --test faults -- --ignored --test-threads=1 --nocapture
//! faults/stop-stack.sh
//! ```

use seatline_faults::{
    driver::SaleConfig,
    run_scenario,
    scenario::{env_u64, Options, Scenario},
};
use std::time::Duration;

/// The sale is well under way: some holds were won.
const HOLDS_BEFORE_FAULT: usize = 5;

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
#[ignore = "restarts its own services: run with --ignored --test-threads=1"]
async fn temporal_killed_and_restarted_mid_sale() {
    let down = Duration::from_secs(5);
    run_scenario(
        "temporal_killed_and_restarted_mid_sale",
        Options::default(),
        SaleConfig::with_outage(down + Duration::from_secs(15)),
        move |sc, progress| async move {
            progress.holds_won_at_least(HOLDS_BEFORE_FAULT).await;
            sc.fault_started();
            sc.kill_temporal().await?;
            tokio::time::sleep(down).await;
            sc.start_temporal().await?;
            sc.fault_ended();
            Ok(())
        },
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
#[ignore = "restarts its own services: run with --ignored --test-threads=1"]
async fn postgres_restarted_mid_sale() {
    run_scenario(
        "postgres_restarted_mid_sale",
        Options::default(),
        SaleConfig::with_outage(Duration::from_secs(10)),
        |sc, progress| async move {
            progress.holds_won_at_least(HOLDS_BEFORE_FAULT).await;
            sc.fault_started();
            sc.restart_postgres().await?;
            sc.fault_ended();
            Ok(())
        },
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
#[ignore = "restarts its own services: run with --ignored --test-threads=1"]
async fn redis_restarted_without_saving_mid_sale() {
    run_scenario(
        "redis_restarted_without_saving_mid_sale",
        Options::default(),
        SaleConfig::with_outage(Duration::from_secs(10)),
        |sc, progress| async move {
            progress.holds_won_at_least(HOLDS_BEFORE_FAULT).await;
            sc.fault_started();
            sc.restart_redis_nosave().await?;
            sc.fault_ended();
            Ok(())
        },
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
#[ignore = "restarts its own services: run with --ignored --test-threads=1"]
async fn redis_data_lost_mid_sale() {
    run_scenario(
        "redis_data_lost_mid_sale",
        Options::default(),
        SaleConfig::with_outage(Duration::from_secs(10)),
        |sc, progress| async move {
            progress.holds_won_at_least(HOLDS_BEFORE_FAULT).await;
            sc.fault_started();
            sc.lose_redis().await?;
            sc.fault_ended();
            Ok(())
        },
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
#[ignore = "restarts its own services: run with --ignored --test-threads=1"]
async fn redis_paused_for_ten_seconds() {
    let pause = Duration::from_secs(10);
    run_scenario(
        "redis_paused_for_ten_seconds",
        Options::default(),
        SaleConfig::with_outage(pause),
        move |sc, progress| async move {
            progress.holds_won_at_least(HOLDS_BEFORE_FAULT).await;
            sc.fault_started();
            sc.pause_redis(pause).await?;
            sc.fault_ended();
            Ok(())
        },
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
#[ignore = "restarts its own services: run with --ignored --test-threads=1"]
async fn every_worker_killed_for_thirty_seconds() {
    let outage = Duration::from_secs(env_u64("FAULT_WORKER_OUTAGE_SECONDS", 30));
    run_scenario(
        "every_worker_killed_for_thirty_seconds",
        Options::default(),
        SaleConfig::with_outage(outage),
        move |sc, progress| async move {
            progress.holds_won_at_least(HOLDS_BEFORE_FAULT).await;
            sc.fault_started();
            sc.kill_workers();
            tokio::time::sleep(outage).await;
            sc.start_workers().await?;
            sc.fault_ended();
            Ok(())
        },
    )
    .await;
}

/// The API is down (20 s, `FAULT_API_OUTAGE_SECONDS`; 120 for the full variant) while card
/// buyers pay at the provider, whose webhooks fail meanwhile; one more payment is signed ten
/// minutes off (`sign_skew_seconds`), so its webhook is refused whatever happens.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
#[ignore = "restarts its own services: run with --ignored --test-threads=1"]
async fn webhooks_failing_while_the_api_is_down() {
    let outage = Duration::from_secs(env_u64("FAULT_API_OUTAGE_SECONDS", 20));
    let mut config = SaleConfig::with_outage(outage);
    config.skew_buyers = 1;
    // Buyers linger on the provider's page, so their payments land while the API is down.
    config.card_think_ms = (500, 4_000);
    run_scenario(
        "webhooks_failing_while_the_api_is_down",
        Options::default(),
        config,
        move |sc, progress| async move {
            progress.checkouts_at_least(3).await;
            sc.fault_started();
            sc.stop_api();
            tokio::time::sleep(outage).await;
            sc.start_api().await?;
            sc.fault_ended();
            Ok(())
        },
    )
    .await;
}

/// Every third reservation's first claim sleeps 8 s inside its transaction (a trigger on the
/// fault database only), longer than the hold's timeouts.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
#[ignore = "restarts its own services: run with --ignored --test-threads=1"]
async fn a_hold_slower_than_its_timeout() {
    let name = "a_hold_slower_than_its_timeout";
    let scenario = Scenario::start(name, Options::default())
        .await
        .unwrap_or_else(|e| panic!("{name}: {e:#}"));
    let sale = seatline_faults::driver::Sale::prepare(
        &scenario,
        SaleConfig::with_outage(Duration::from_secs(20)),
    )
    .await
    .unwrap_or_else(|e| panic!("{name}: {e:#}"));
    let slow = SlowHolds::install(&scenario, sale.schedule.to_string())
        .await
        .unwrap_or_else(|e| panic!("{name}: installing the trigger: {e:#}"));
    scenario.fault_started();
    let result = sale.run(|_, _| async { Ok(()) }).await;
    let slowed = slow.remove().await;
    scenario.fault_ended();
    println!("[{name}] first claims slowed by 8 s: {slowed}");
    let checks = seatline_faults::verify(&scenario, &sale, &result).await;
    scenario.finish().await;
    let broken: Vec<String> = checks
        .iter()
        .filter(|c| !c.pass)
        .map(|c| format!("{}: {}", c.name, c.detail))
        .collect();
    assert!(
        broken.is_empty(),
        "{name}: {} problem(s):\n  {}",
        broken.len(),
        broken.join("\n  ")
    );
    assert!(
        slowed != "0",
        "{name}: no hold was slowed, the fault was not injected"
    );
}

/// The trigger of `a_hold_slower_than_its_timeout`. Which reservations were slowed is written
/// through dblink in a transaction of its own, so a hold attempt rolled back by a timeout does
/// not forget it, and its retry runs at full speed.
struct SlowHolds {
    scenario: std::sync::Arc<Scenario>,
    removed: bool,
}

const DROP_TRIGGER: &str =
    "DROP TRIGGER IF EXISTS fault_slow_hold ON reservation_seats; DROP FUNCTION IF EXISTS fault_slow_hold();";

impl SlowHolds {
    async fn install(
        scenario: &std::sync::Arc<Scenario>,
        schedule: String,
    ) -> anyhow::Result<Self> {
        let port = scenario.stack.pg_port;
        let db = seatline_faults::stack::DATABASE;
        let sql = format!(
            r#"
CREATE EXTENSION IF NOT EXISTS dblink;
CREATE TABLE IF NOT EXISTS fault_slow_seen (
    reservation_id uuid PRIMARY KEY, n bigint NOT NULL, slowed boolean NOT NULL,
    at timestamptz NOT NULL DEFAULT clock_timestamp());
CREATE SEQUENCE IF NOT EXISTS fault_slow_counter;
CREATE OR REPLACE FUNCTION fault_slow_hold() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public AS $fn$
DECLARE n bigint;
BEGIN
    IF NEW.schedule_id <> '{schedule}'::uuid THEN RETURN NEW; END IF;
    IF EXISTS (SELECT 1 FROM fault_slow_seen WHERE reservation_id = NEW.reservation_id) THEN
        RETURN NEW;
    END IF;
    n := nextval('fault_slow_counter');
    PERFORM dblink_exec('port={port} dbname={db}', format(
        'INSERT INTO fault_slow_seen (reservation_id, n, slowed) VALUES (%L, %s, %L) ON CONFLICT DO NOTHING',
        NEW.reservation_id, n, n % 3 = 0));
    IF n % 3 = 0 THEN PERFORM pg_sleep(8); END IF;
    RETURN NEW;
END $fn$;
DROP TRIGGER IF EXISTS fault_slow_hold ON reservation_seats;
CREATE TRIGGER fault_slow_hold BEFORE INSERT ON reservation_seats
    FOR EACH ROW EXECUTE FUNCTION fault_slow_hold();
"#
        );
        scenario.exec_sql_superuser(&sql).await?;
        Ok(Self {
            scenario: scenario.clone(),
            removed: false,
        })
    }

    /// Drops the trigger; returns how many first claims it slowed.
    async fn remove(mut self) -> String {
        self.removed = true;
        if let Err(e) = self.scenario.exec_sql_superuser(DROP_TRIGGER).await {
            eprintln!("dropping the slow-hold trigger: {e:#}");
        }
        self.scenario
            .exec_sql_superuser("SELECT count(*) FROM fault_slow_seen WHERE slowed")
            .await
            .map(|s| s.trim().to_owned())
            .unwrap_or_else(|e| format!("unknown ({e:#})"))
    }
}

impl Drop for SlowHolds {
    fn drop(&mut self) {
        if !self.removed {
            let _ = self
                .scenario
                .stack
                .psql(seatline_faults::stack::DATABASE, DROP_TRIGGER);
        }
    }
}
