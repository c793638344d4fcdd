use std::time::Duration;

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

    pub fn summary(&self, name: &str) -> serde_json::Value {
        let ms = |d: Duration| (d.as_secs_f64() * 1000.0 * 100.0).round() / 100.0;
        serde_json::json!({
            "name": name,
            "count": self.len(),
            "p50_ms": ms(self.percentile(50.0)),
            "p95_ms": ms(self.percentile(95.0)),
            "p99_ms": ms(self.percentile(99.0)),
        })
    }
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
}
