//! `seatline-loadtest <scenario> [options]`: benchmarks against a running Seatline.
//!
//! Scenarios:
//!   sequential --count N   N reservations one after another (hold, then pay); p50/p95 of each.
//!
//! Options: --url (default http://127.0.0.1:8080). DATABASE_URL is used to create a schedule
//! of its own, so a run never touches the demo data.

mod report;
mod sequential;

use std::collections::HashMap;

pub struct Args {
    pub scenario: String,
    pub options: HashMap<String, String>,
}

impl Args {
    fn parse() -> anyhow::Result<Self> {
        let mut raw = std::env::args().skip(1);
        let scenario = raw.next().unwrap_or_else(|| "help".into());
        let mut options = HashMap::new();
        while let Some(flag) = raw.next() {
            let name = flag
                .strip_prefix("--")
                .ok_or_else(|| anyhow::anyhow!("expected --option, got {flag}"))?;
            let value = raw
                .next()
                .ok_or_else(|| anyhow::anyhow!("--{name} needs a value"))?;
            options.insert(name.to_owned(), value);
        }
        Ok(Self { scenario, options })
    }

    pub fn text(&self, name: &str, default: &str) -> String {
        self.options
            .get(name)
            .cloned()
            .unwrap_or_else(|| default.into())
    }

    pub fn number(&self, name: &str, default: u64) -> anyhow::Result<u64> {
        match self.options.get(name) {
            None => Ok(default),
            Some(v) => v
                .parse()
                .map_err(|_| anyhow::anyhow!("--{name}: '{v}' is not a number")),
        }
    }
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse()?;
    match args.scenario.as_str() {
        "sequential" => sequential::run(&args).await,
        _ => {
            eprintln!("usage: seatline-loadtest sequential [--count 200] [--url URL]");
            Ok(())
        }
    }
}
