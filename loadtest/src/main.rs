//! `seatline-loadtest <scenario> [options]`: benchmarks against a running Seatline.
//!
//! Scenarios:
//!   sequential --count N   N reservations one after another (hold, then pay); p50/p95 of each.
//!   sellout --users U --rows R --cols C [--abandon 0.2] [--concurrency 256] [--think-ms 500]
//!           [--poll-ms 1000] [--poll-max-ms 10000] [--ramp-seconds 10] [--front-share 0.7]
//!           [--fast-users true] [--max-seconds 1800] [--hold-seconds HOLD_SECONDS]
//!           U buyers (tokio tasks) queue, read the seat map, contend for seats, pay or abandon,
//!           until every seat is SOLD; then the invariants are checked in PostgreSQL and
//!           Temporal (exit code 1 if one fails).
//!   seatmap [--schedule ID | --rows 100 --cols 150] [--concurrency 32] [--seconds 10]
//!           [--forms compact,full] [--if-none-match]
//!           seat-map reads per second and their latency at a fixed concurrency, per form
//!           (compact statuses, every seat in full; both gzip), against /healthz of the same
//!           process.
//!   baseline [--workflows 200] [--concurrency 20]
//!           a trivial one-activity workflow's rate on the same Temporal, against the rate of
//!           real reservations (hold, pay) through the API.
//!   prequeue [--entries 200000]
//!           the cost of checking a revealed pre-queue draw: every place from the seed, then
//!           sorted into the order of admission. Needs no server.
//!   all     seatmap, baseline and sellout in one run; options may be scoped to one scenario
//!           (`--seatmap-seconds 20`, `--sellout-users 5000`); `--report` defaults to
//!           loadtest-report.json.
//!
//! Common options: --url (default http://127.0.0.1:8080), --report FILE (JSON report).
//! DATABASE_URL, AUTH_SECRET, HOLD_SECONDS and the Temporal settings come from the same
//! environment variables as the server's. Every scenario creates a schedule of its own, so a
//! run never touches the demo data.

mod api;
mod baseline;
mod buyer;
mod invariants;
mod metrics;
mod prequeue;
mod queue;
mod report;
mod schedules;
mod seatmap;
mod sellout;
mod sequential;
mod users;

use std::collections::HashMap;

#[derive(Clone)]
pub struct Args {
    pub scenario: String,
    pub options: HashMap<String, String>,
    /// Inside `all`: `--<prefix>-<name>` wins over `--<name>`.
    pub prefix: Option<String>,
}

impl Args {
    fn parse() -> anyhow::Result<Self> {
        Self::from_iter(std::env::args().skip(1))
    }

    fn from_iter(raw: impl IntoIterator<Item = String>) -> anyhow::Result<Self> {
        let mut raw = raw.into_iter().peekable();
        let scenario = raw.next().unwrap_or_else(|| "help".into());
        let mut options = HashMap::new();
        while let Some(flag) = raw.next() {
            let name = flag
                .strip_prefix("--")
                .ok_or_else(|| anyhow::anyhow!("expected --option, got {flag}"))?;
            // A flag without a value (`--fast-users`) means true.
            let value = match raw.peek() {
                Some(next) if !next.starts_with("--") => raw.next().unwrap_or_default(),
                _ => "true".to_owned(),
            };
            options.insert(name.to_owned(), value);
        }
        Ok(Self {
            scenario,
            options,
            prefix: None,
        })
    }

    /// The same options, seen by one scenario of `all`.
    pub fn scoped(&self, prefix: &str) -> Self {
        Self {
            prefix: Some(prefix.to_owned()),
            ..self.clone()
        }
    }

    fn raw(&self, name: &str) -> Option<&String> {
        self.prefix
            .as_ref()
            .and_then(|p| self.options.get(&format!("{p}-{name}")))
            .or_else(|| self.options.get(name))
    }

    pub fn has(&self, name: &str) -> bool {
        self.raw(name).is_some()
    }

    pub fn text(&self, name: &str, default: &str) -> String {
        self.raw(name).cloned().unwrap_or_else(|| default.into())
    }

    pub fn number(&self, name: &str, default: u64) -> anyhow::Result<u64> {
        match self.raw(name) {
            None => Ok(default),
            Some(v) => v
                .parse()
                .map_err(|_| anyhow::anyhow!("--{name}: '{v}' is not a number")),
        }
    }

    pub fn float(&self, name: &str, default: f64) -> anyhow::Result<f64> {
        match self.raw(name) {
            None => Ok(default),
            Some(v) => v
                .parse()
                .map_err(|_| anyhow::anyhow!("--{name}: '{v}' is not a number")),
        }
    }

    pub fn flag(&self, name: &str, default: bool) -> anyhow::Result<bool> {
        match self.raw(name).map(String::as_str) {
            None => Ok(default),
            Some("true" | "yes" | "on" | "1") => Ok(true),
            Some("false" | "no" | "off" | "0") => Ok(false),
            Some(v) => anyhow::bail!("--{name}: '{v}' is not true or false"),
        }
    }

    pub fn url(&self) -> String {
        self.text("url", "http://127.0.0.1:8080")
            .trim_end_matches('/')
            .to_owned()
    }
}

const USAGE: &str =
    "usage: seatline-loadtest <sequential|queue|sellout|seatmap|baseline|all> [--option value ...]
  sequential [--count 200]
  queue      [--users 200000] [--concurrency 128] [--polls 5000]
  sellout    --users U --rows R --cols C [--abandon 0.2] [--concurrency 256] [--think-ms 500]
             [--poll-ms 1000] [--poll-max-ms 10000] [--ramp-seconds 10] [--fast-users true]
             [--max-seconds 1800]
  seatmap    [--schedule ID | --rows 100 --cols 150] [--concurrency 32] [--seconds 10]
             [--forms compact,full] [--if-none-match]
  baseline   [--workflows 200] [--concurrency 20]
  prequeue   [--entries 200000]   (no server: the cost of checking a pre-queue draw)
  all        every scenario above but sequential; scope options as --seatmap-seconds 20
common: --url http://127.0.0.1:8080  --report out.json";

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse()?;
    let passed = match args.scenario.as_str() {
        "sequential" => sequential::run(&args).await.map(|_| true)?,
        "sellout" => {
            let outcome = sellout::run(&args).await?;
            report::write(&args, None, &outcome.report)?;
            outcome.passed
        }
        "queue" => {
            let report = queue::run(&args).await?;
            report::write(&args, None, &report)?;
            true
        }
        "seatmap" => {
            let report = seatmap::run(&args).await?;
            report::write(&args, None, &report)?;
            true
        }
        "baseline" => {
            let report = baseline::run(&args).await?;
            report::write(&args, None, &report)?;
            true
        }
        "prequeue" => {
            let report = prequeue::run(&args)?;
            report::write(&args, None, &report)?;
            true
        }
        "all" => all(&args).await?,
        _ => {
            eprintln!("{USAGE}");
            true
        }
    };
    if !passed {
        eprintln!("an invariant failed");
        std::process::exit(1);
    }
    Ok(())
}

/// seatmap, baseline and sellout one after another, one JSON report.
async fn all(args: &Args) -> anyhow::Result<bool> {
    let started = std::time::Instant::now();
    println!("== seatmap ==");
    let seatmap = seatmap::run(&args.scoped("seatmap")).await?;
    println!("== baseline ==");
    let baseline = baseline::run(&args.scoped("baseline")).await?;
    println!("== sellout ==");
    let sellout = sellout::run(&args.scoped("sellout")).await?;
    let report = serde_json::json!({
        "scenario": "all",
        "url": args.url(),
        "seconds": started.elapsed().as_secs_f64(),
        "seatmap": seatmap,
        "baseline": baseline,
        "sellout": sellout.report,
        "passed": sellout.passed,
    });
    println!("== summary ==");
    for (key, form) in [("seatmap", "compact"), ("seatmap_full", "full")] {
        if seatmap[key].is_null() {
            continue;
        }
        println!(
            "seat map ({form}, gzip): {:.1} req/s, p95 {} ms ({:.4} of /healthz's rate)",
            seatmap[key]["rps"].as_f64().unwrap_or(0.0),
            seatmap[key]["p95_ms"],
            seatmap[key]["ratio_to_healthz"].as_f64().unwrap_or(0.0),
        );
    }
    println!(
        "workflows: baseline {:.1}/s, reservations {:.1}/s (ratio {:.2})",
        baseline["baseline"]["per_second"].as_f64().unwrap_or(0.0),
        baseline["reservations"]["per_second"]
            .as_f64()
            .unwrap_or(0.0),
        baseline["ratio_reservation_to_baseline"]
            .as_f64()
            .unwrap_or(0.0),
    );
    println!(
        "sellout: {} seats, sold out: {}, in {} s; invariants {}",
        sellout.report["seats"],
        sellout.report["sold_out"],
        sellout.report["time_to_sell_out_seconds"],
        if sellout.passed { "PASS" } else { "FAIL" }
    );
    report::write(args, Some("loadtest-report.json"), &report)?;
    Ok(sellout.passed)
}

#[cfg(test)]
mod tests {
    use super::Args;

    fn args(line: &str) -> Args {
        Args::from_iter(line.split_whitespace().map(str::to_owned)).unwrap()
    }

    #[test]
    fn flags_without_a_value_are_true_and_scopes_win() {
        let a = args("all --fast-users --users 10 --sellout-users 20 --abandon 0.5");
        assert!(a.flag("fast-users", false).unwrap());
        assert_eq!(a.number("users", 0).unwrap(), 10);
        assert_eq!(a.scoped("sellout").number("users", 0).unwrap(), 20);
        assert_eq!(a.scoped("seatmap").number("users", 0).unwrap(), 10);
        assert_eq!(a.float("abandon", 0.2).unwrap(), 0.5);
        assert!(a.number("abandon", 0).is_err());
        assert!(!args("sellout --fast-users false")
            .flag("fast-users", true)
            .unwrap());
    }
}
