//! Reading the API's Prometheus counters before and after a run.

/// The sum of every sample of `name` whose labels include all of `labels` (`key="value"`).
pub fn sum(text: &str, name: &str, labels: &[(&str, &str)]) -> f64 {
    text.lines()
        .filter(|line| !line.starts_with('#'))
        .filter_map(|line| {
            let rest = line.strip_prefix(name)?;
            let (label_text, value) = if let Some(inner) = rest.strip_prefix('{') {
                let (inner, value) = inner.split_once('}')?;
                (inner, value)
            } else if rest.starts_with(' ') {
                ("", rest)
            } else {
                return None; // another metric whose name starts with `name`
            };
            let wanted = labels
                .iter()
                .all(|(k, v)| label_text.split(',').any(|l| l == format!("{k}=\"{v}\"")));
            let value = value.split_whitespace().next()?.parse::<f64>().ok()?;
            wanted.then_some(value)
        })
        .sum()
}

/// The counters a sellout reports on, read from one scrape.
#[derive(Debug, Default, Clone, Copy, serde::Serialize)]
pub struct HoldCounters {
    pub workflows_started: f64,
    pub rejected_precheck: f64,
    pub rejected_database: f64,
    /// Pre-check winners sent back with 503 BUSY: no workflow, nothing held.
    pub rejected_busy: f64,
    pub won: f64,
}

impl HoldCounters {
    pub fn parse(text: &str) -> Self {
        Self {
            workflows_started: sum(text, "reservation_workflows_started_total", &[]),
            rejected_precheck: sum(text, "holds_rejected_total", &[("stage", "precheck")]),
            rejected_database: sum(text, "holds_rejected_total", &[("stage", "database")]),
            rejected_busy: sum(text, "holds_rejected_total", &[("stage", "busy")]),
            won: sum(text, "holds_won_total", &[]),
        }
    }

    pub fn delta(&self, before: &Self) -> Self {
        Self {
            workflows_started: self.workflows_started - before.workflows_started,
            rejected_precheck: self.rejected_precheck - before.rejected_precheck,
            rejected_database: self.rejected_database - before.rejected_database,
            rejected_busy: self.rejected_busy - before.rejected_busy,
            won: self.won - before.won,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const TEXT: &str = r#"# TYPE holds_rejected_total counter
holds_rejected_total{stage="precheck"} 120
holds_rejected_total{stage="database"} 3
holds_won_total 40
reservation_workflows_started_total 43
reservation_workflows_started_total_extra 999
http_requests_total{method="POST",path="/api/v1/reservations",status="201"} 40
http_requests_total{method="POST",path="/api/v1/reservations",status="409"} 123
"#;

    #[test]
    fn sums_by_name_and_labels() {
        assert_eq!(sum(TEXT, "holds_rejected_total", &[]), 123.0);
        assert_eq!(
            sum(TEXT, "holds_rejected_total", &[("stage", "database")]),
            3.0
        );
        assert_eq!(sum(TEXT, "reservation_workflows_started_total", &[]), 43.0);
        assert_eq!(
            sum(TEXT, "http_requests_total", &[("status", "409")]),
            123.0
        );
        assert_eq!(sum(TEXT, "missing_total", &[]), 0.0);
        let c = HoldCounters::parse(TEXT);
        let d = c.delta(&HoldCounters::default());
        assert_eq!(d.won, 40.0);
        assert_eq!(d.rejected_precheck, 120.0);
    }
}
