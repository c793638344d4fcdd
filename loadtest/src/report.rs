use crate::Args;
use hdrhistogram::Histogram;
use serde_json::{json, Value};
use std::{
    collections::BTreeMap,
    sync::Mutex,
    time::{Duration, Instant},
};

/// Latency samples of one kind of request.
#[derive(Default, Clone)]
pub struct Samples {
    values: Vec<Duration>,
}

impl Samples {
    pub fn record(&mut self, d: Duration) {
        self.values.push(d);
    }

    pub fn len(&self) -> usize {
        self.values.len()
    }

    pub fn percentile(&self, p: f64) -> Duration {
        if self.values.is_empty() {
            return Duration::ZERO;
        }
        let mut sorted = self.values.clone();
        sorted.sort();
        let rank = ((p / 100.0) * (sorted.len() as f64 - 1.0)).round() as usize;
        sorted[rank.min(sorted.len() - 1)]
    }

    pub fn summary(&self, name: &str) -> Value {
        json!({
            "name": name,
            "count": self.len(),
            "p50_ms": ms(self.percentile(50.0)),
            "p95_ms": ms(self.percentile(95.0)),
            "p99_ms": ms(self.percentile(99.0)),
        })
    }
}

/// Milliseconds, two decimals.
pub fn ms(d: Duration) -> f64 {
    (d.as_secs_f64() * 1000.0 * 100.0).round() / 100.0
}

/// A latency histogram in microseconds (1 µs to 10 min, 3 significant digits): constant memory
/// however many requests a run sends.
#[derive(Clone)]
pub struct Latency {
    histogram: Histogram<u64>,
}

impl Default for Latency {
    fn default() -> Self {
        Self {
            histogram: Histogram::new_with_bounds(1, 600_000_000, 3).expect("valid bounds"),
        }
    }
}

impl Latency {
    pub fn record(&mut self, d: Duration) {
        self.histogram
            .saturating_record((d.as_micros() as u64).clamp(1, 600_000_000));
    }

    pub fn count(&self) -> u64 {
        self.histogram.len()
    }

    /// The latency at percentile `p` (0 to 100); zero without samples.
    pub fn percentile(&self, p: f64) -> Duration {
        if self.histogram.is_empty() {
            return Duration::ZERO;
        }
        Duration::from_micros(self.histogram.value_at_quantile(p / 100.0))
    }

    pub fn mean(&self) -> Duration {
        Duration::from_micros(self.histogram.mean().round() as u64)
    }

    pub fn summary(&self, seconds: f64) -> Value {
        json!({
            "count": self.count(),
            "rps": rate(self.count(), seconds),
            "mean_ms": ms(self.mean()),
            "p50_ms": ms(self.percentile(50.0)),
            "p95_ms": ms(self.percentile(95.0)),
            "p99_ms": ms(self.percentile(99.0)),
            "max_ms": ms(self.percentile(100.0)),
        })
    }
}

/// Per second, one decimal; zero over no time.
pub fn rate(count: u64, seconds: f64) -> f64 {
    if seconds <= 0.0 {
        return 0.0;
    }
    (count as f64 / seconds * 10.0).round() / 10.0
}

/// What one endpoint saw: latency of every answer and how many of each status (0: no answer).
#[derive(Default, Clone)]
pub struct EndpointStat {
    pub latency: Latency,
    pub statuses: BTreeMap<u16, u64>,
    /// `error.code` of the error answers.
    pub codes: BTreeMap<String, u64>,
}

/// Every endpoint's figures, shared by every task of a run.
pub struct Recorder {
    started: Instant,
    /// How long requests waited for a slot under the client's concurrency limit.
    waits: Mutex<Latency>,
    endpoints: Mutex<BTreeMap<&'static str, EndpointStat>>,
}

impl Default for Recorder {
    fn default() -> Self {
        Self {
            started: Instant::now(),
            waits: Mutex::default(),
            endpoints: Mutex::default(),
        }
    }
}

impl Recorder {
    #[cfg(test)]
    pub fn record(&self, endpoint: &'static str, status: u16, took: Duration) {
        self.record_with_code(endpoint, status, took, None);
    }

    pub fn record_with_code(
        &self,
        endpoint: &'static str,
        status: u16,
        took: Duration,
        code: Option<String>,
    ) {
        let mut endpoints = self.endpoints.lock().expect("recorder lock");
        let stat = endpoints.entry(endpoint).or_default();
        stat.latency.record(took);
        *stat.statuses.entry(status).or_default() += 1;
        if let Some(code) = code {
            *stat.codes.entry(code).or_default() += 1;
        }
    }

    pub fn record_wait(&self, waited: Duration) {
        self.waits.lock().expect("recorder lock").record(waited);
    }

    /// p50/p95/p99 of the client-side wait for a request slot.
    pub fn wait_summary(&self) -> Value {
        let waits = self.waits.lock().expect("recorder lock");
        json!({
            "p50_ms": ms(waits.percentile(50.0)),
            "p95_ms": ms(waits.percentile(95.0)),
            "p99_ms": ms(waits.percentile(99.0)),
        })
    }

    pub fn get(&self, endpoint: &str) -> EndpointStat {
        self.endpoints
            .lock()
            .expect("recorder lock")
            .get(endpoint)
            .cloned()
            .unwrap_or_default()
    }

    pub fn elapsed(&self) -> Duration {
        self.started.elapsed()
    }

    /// `{endpoint: {count, rps, p50_ms, ..., statuses}}` over `seconds`.
    pub fn summary(&self, seconds: f64) -> Value {
        let endpoints = self.endpoints.lock().expect("recorder lock");
        let mut out = serde_json::Map::new();
        for (name, stat) in endpoints.iter() {
            let mut s = stat.latency.summary(seconds);
            let statuses: serde_json::Map<String, Value> = stat
                .statuses
                .iter()
                .map(|(code, n)| (code.to_string(), json!(n)))
                .collect();
            s["statuses"] = Value::Object(statuses);
            if !stat.codes.is_empty() {
                s["error_codes"] = json!(stat.codes);
            }
            out.insert((*name).to_owned(), s);
        }
        Value::Object(out)
    }
}

/// One line per endpoint, for people.
pub fn print_endpoints(summary: &Value) {
    println!(
        "  {:<10} {:>9} {:>9} {:>9} {:>9} {:>9}  statuses / error codes",
        "endpoint", "count", "req/s", "p50 ms", "p95 ms", "p99 ms"
    );
    if let Some(map) = summary.as_object() {
        for (name, s) in map {
            println!(
                "  {:<10} {:>9} {:>9.1} {:>9.1} {:>9.1} {:>9.1}  {}{}",
                name,
                s["count"].as_u64().unwrap_or(0),
                s["rps"].as_f64().unwrap_or(0.0),
                s["p50_ms"].as_f64().unwrap_or(0.0),
                s["p95_ms"].as_f64().unwrap_or(0.0),
                s["p99_ms"].as_f64().unwrap_or(0.0),
                s["statuses"],
                s.get("error_codes")
                    .map(|c| format!(" {c}"))
                    .unwrap_or_default()
            );
        }
    }
}

/// Writes the JSON report to `--report` (or `default`, if any).
pub fn write(args: &Args, default: Option<&str>, report: &Value) -> anyhow::Result<()> {
    let path = match (args.raw_report(), default) {
        (Some(path), _) => path,
        (None, Some(default)) => default.to_owned(),
        (None, None) => return Ok(()),
    };
    std::fs::write(&path, serde_json::to_string_pretty(report)?)?;
    println!("report written to {path}");
    Ok(())
}

impl Args {
    fn raw_report(&self) -> Option<String> {
        self.options.get("report").cloned()
    }
}

/// A progress bar on stderr.
pub fn progress(len: u64, template: &str) -> indicatif::ProgressBar {
    let bar = indicatif::ProgressBar::new(len);
    if let Ok(style) = indicatif::ProgressStyle::with_template(template) {
        bar.set_style(style);
    }
    bar.enable_steady_tick(Duration::from_millis(250));
    bar
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_of_a_known_series() {
        let mut s = Samples::default();
        for ms in 1..=100 {
            s.record(Duration::from_millis(ms));
        }
        assert_eq!(s.percentile(50.0), Duration::from_millis(51));
        assert_eq!(s.percentile(95.0), Duration::from_millis(95));
        assert_eq!(s.percentile(100.0), Duration::from_millis(100));
        assert_eq!(Samples::default().percentile(50.0), Duration::ZERO);
    }

    #[test]
    fn histogram_percentiles_are_within_its_precision() {
        let mut l = Latency::default();
        for ms in 1..=1000 {
            l.record(Duration::from_millis(ms));
        }
        let close = |got: Duration, want_ms: f64| {
            let got = got.as_secs_f64() * 1000.0;
            assert!(
                (got - want_ms).abs() <= want_ms * 0.002,
                "{got} vs {want_ms}"
            );
        };
        close(l.percentile(50.0), 500.0);
        close(l.percentile(95.0), 950.0);
        close(l.percentile(99.0), 990.0);
        close(l.percentile(100.0), 1000.0);
        assert_eq!(l.count(), 1000);
        assert_eq!(Latency::default().percentile(99.0), Duration::ZERO);
    }

    #[test]
    fn recorder_counts_statuses_and_rates() {
        let r = Recorder::default();
        r.record("hold", 201, Duration::from_millis(10));
        r.record("hold", 409, Duration::from_millis(2));
        r.record("hold", 409, Duration::from_millis(3));
        let s = r.summary(2.0);
        assert_eq!(s["hold"]["count"], 3);
        assert_eq!(s["hold"]["rps"], 1.5);
        assert_eq!(s["hold"]["statuses"]["409"], 2);
        assert_eq!(rate(10, 0.0), 0.0);
    }
}
