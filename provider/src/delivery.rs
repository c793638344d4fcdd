//! Webhook delivery: signed POSTs to the payment's callback URL, retried with backoff until
//! a 2xx, a final rejection, or the end of the retry window ([`DeliveryPolicy`]).

use crate::{
    config::DeliveryPolicy,
    state::{Payment, SharedStore},
    webhook_signature,
};
use axum::body::Bytes;
use std::{
    sync::Arc,
    time::{Duration, Instant},
};

/// The wait after the first failed attempt; it doubles after each further one.
const FIRST_BACKOFF: Duration = Duration::from_millis(200);
const REQUEST_TIMEOUT: Duration = Duration::from_secs(10);

impl DeliveryPolicy {
    /// The wait after `failed_attempts` failures: 200 ms, doubling, at most `max_backoff`.
    pub(crate) fn backoff(&self, failed_attempts: u32) -> Duration {
        let doublings = failed_attempts.saturating_sub(1).min(30);
        FIRST_BACKOFF
            .saturating_mul(1u32 << doublings)
            .min(self.max_backoff)
    }

    /// The wait before the next attempt after `failed_attempts` failures, `elapsed` after
    /// the first attempt; `None` once the retry window is over. The last wait is shortened
    /// so that the final attempt falls at the end of the window.
    pub(crate) fn next_wait(&self, failed_attempts: u32, elapsed: Duration) -> Option<Duration> {
        let remaining = self.retry_for.checked_sub(elapsed)?;
        if remaining.is_zero() {
            return None;
        }
        Some(self.backoff(failed_attempts).min(remaining))
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Verdict {
    Acknowledged,
    /// Try again later: 5xx, 408, 409, 425, 429 (and anything else not 2xx or 4xx).
    Retry,
    /// A 4xx other than 408, 409, 425 and 429: the receiver rejects this event for good.
    GiveUp,
}

pub(crate) fn verdict(status: u16) -> Verdict {
    match status {
        200..=299 => Verdict::Acknowledged,
        408 | 409 | 425 | 429 => Verdict::Retry,
        400..=499 => Verdict::GiveUp,
        _ => Verdict::Retry,
    }
}

/// One event to send to one receiver.
#[derive(Debug, Clone)]
pub(crate) struct Delivery {
    pub payment_id: String,
    pub event_id: String,
    pub callback_url: String,
    /// Exactly these bytes are signed and sent, every time.
    pub body: Bytes,
    /// Added to the current time to make each attempt's signature timestamp (a provider
    /// whose clock is off); 0 normally.
    pub sign_skew_seconds: i64,
}

/// How a completion's event reaches the receiver.
#[derive(Debug, Clone)]
pub(crate) enum Plan {
    Once,
    /// The same event this many times, all at once.
    Duplicate(u32),
    /// Once, after this wait.
    Delay(Duration),
    /// The event, then (after it is settled) this stale event of the opposite outcome.
    OutOfOrder(Delivery),
}

impl Plan {
    /// How many deliveries the plan makes.
    fn deliveries(&self) -> u64 {
        match self {
            Plan::Once | Plan::Delay(_) => 1,
            Plan::Duplicate(n) => u64::from(*n),
            Plan::OutOfOrder(_) => 2,
        }
    }
}

/// How one delivery ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Settled {
    Acknowledged,
    /// A final 4xx.
    Rejected,
    /// Not acknowledged within the retry window.
    Expired,
}

#[derive(Clone)]
pub(crate) struct Deliverer {
    client: reqwest::Client,
    secret: Arc<str>,
    store: SharedStore,
    policy: DeliveryPolicy,
}

impl Deliverer {
    pub fn new(secret: &str, store: SharedStore, policy: DeliveryPolicy) -> anyhow::Result<Self> {
        let client = reqwest::Client::builder()
            .timeout(REQUEST_TIMEOUT)
            .redirect(reqwest::redirect::Policy::none())
            .user_agent(concat!(
                "seatline-mock-provider/",
                env!("CARGO_PKG_VERSION")
            ))
            .build()?;
        Ok(Self {
            client,
            secret: secret.into(),
            store,
            policy,
        })
    }

    /// Sends in background tasks according to `plan`; returns at once. Called with the
    /// store locked: `payment` (the delivery's own) counts the deliveries as in flight now,
    /// so a view taken right after already shows them.
    pub fn dispatch(&self, payment: &mut Payment, delivery: Delivery, plan: Plan) {
        payment.webhook_in_flight += plan.deliveries();
        let this = self.clone();
        match plan {
            Plan::Once => {
                tokio::spawn(async move { this.deliver(&delivery).await });
            }
            Plan::Duplicate(times) => {
                for _ in 0..times {
                    let (this, delivery) = (this.clone(), delivery.clone());
                    tokio::spawn(async move { this.deliver(&delivery).await });
                }
            }
            Plan::Delay(wait) => {
                tokio::spawn(async move {
                    tokio::time::sleep(wait).await;
                    this.deliver(&delivery).await
                });
            }
            Plan::OutOfOrder(stale) => {
                tokio::spawn(async move {
                    this.deliver(&delivery).await;
                    this.deliver(&stale).await
                });
            }
        }
    }

    /// Delivers one event with retries; true when the receiver acknowledged it.
    async fn deliver(&self, delivery: &Delivery) -> bool {
        let Delivery {
            payment_id,
            event_id,
            callback_url,
            body,
            sign_skew_seconds,
        } = delivery;
        let started = Instant::now();
        let mut attempt: u32 = 0;
        let settled = loop {
            attempt = attempt.saturating_add(1);
            self.record_attempt(payment_id);
            let timestamp = chrono::Utc::now()
                .timestamp()
                .saturating_add(*sign_skew_seconds);
            let signature = webhook_signature::sign(&self.secret, timestamp, body);
            let sent = self
                .client
                .post(callback_url)
                .header(reqwest::header::CONTENT_TYPE, "application/json")
                .header(webhook_signature::SIGNATURE_HEADER, signature)
                .body(body.clone())
                .send()
                .await;
            let failure = match sent {
                Ok(response) => {
                    let status = response.status().as_u16();
                    match verdict(status) {
                        Verdict::Acknowledged => {
                            tracing::info!(%payment_id, %event_id, attempt, status, "webhook acknowledged");
                            break Settled::Acknowledged;
                        }
                        Verdict::GiveUp => {
                            let answer = response.text().await.unwrap_or_default();
                            tracing::error!(
                                %payment_id, %event_id, attempt, status,
                                answer = %truncate(&answer, 500),
                                "webhook rejected by the receiver; not retrying"
                            );
                            self.record_failure(payment_id, format!("HTTP {status}"));
                            break Settled::Rejected;
                        }
                        Verdict::Retry => format!("HTTP {status}"),
                    }
                }
                Err(err) => error_chain(&err),
            };
            self.record_failure(payment_id, failure.clone());
            let Some(wait) = self.policy.next_wait(attempt, started.elapsed()) else {
                tracing::error!(
                    %payment_id, %event_id, attempt, %failure,
                    retried_for_s = started.elapsed().as_secs(),
                    "webhook undelivered within the retry window; giving up"
                );
                break Settled::Expired;
            };
            tracing::warn!(
                %payment_id, %event_id, attempt, %failure,
                retry_in_ms = wait.as_millis() as u64,
                "webhook delivery failed; retrying"
            );
            tokio::time::sleep(wait).await;
        };
        self.record_settled(payment_id, settled);
        settled == Settled::Acknowledged
    }

    fn record_attempt(&self, payment_id: &str) {
        if let Some(payment) = self.store.lock().payments.get_mut(payment_id) {
            payment.webhook_deliveries += 1;
        }
    }

    fn record_failure(&self, payment_id: &str, failure: String) {
        if let Some(payment) = self.store.lock().payments.get_mut(payment_id) {
            payment.webhook_last_failure = Some(failure);
        }
    }

    fn record_settled(&self, payment_id: &str, settled: Settled) {
        if let Some(payment) = self.store.lock().payments.get_mut(payment_id) {
            payment.webhook_in_flight = payment.webhook_in_flight.saturating_sub(1);
            match settled {
                Settled::Acknowledged => payment.webhook_acknowledged += 1,
                Settled::Rejected | Settled::Expired => payment.webhook_abandoned += 1,
            }
        }
    }
}

/// `outer: cause: root cause`.
fn error_chain(err: &dyn std::error::Error) -> String {
    let mut text = err.to_string();
    let mut source = err.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

fn truncate(text: &str, max_chars: usize) -> &str {
    match text.char_indices().nth(max_chars) {
        Some((at, _)) => &text[..at],
        None => text,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(waits: impl IntoIterator<Item = Duration>) -> Vec<u64> {
        waits.into_iter().map(|w| w.as_millis() as u64).collect()
    }

    #[test]
    fn backoff_doubles_from_200ms_up_to_the_cap() {
        let policy = DeliveryPolicy::default();
        assert_eq!(
            ms((1..=12).map(|n| policy.backoff(n))),
            [200, 400, 800, 1600, 3200, 6400, 12800, 25600, 51200, 60000, 60000, 60000]
        );
        assert_eq!(policy.backoff(0), FIRST_BACKOFF);
        assert_eq!(policy.backoff(u32::MAX), Duration::from_secs(60));

        let tight = DeliveryPolicy {
            max_backoff: Duration::from_secs(5),
            ..DeliveryPolicy::default()
        };
        assert_eq!(
            ms((1..=8).map(|n| tight.backoff(n))),
            [200, 400, 800, 1600, 3200, 5000, 5000, 5000]
        );
        let tiny = DeliveryPolicy {
            max_backoff: Duration::from_millis(5),
            ..DeliveryPolicy::default()
        };
        assert_eq!(ms((1..=3).map(|n| tiny.backoff(n))), [5, 5, 5]);
    }

    #[test]
    fn retries_last_for_the_whole_window() {
        let policy = DeliveryPolicy::default();
        // Simulate: attempts take no time, waits as the policy says.
        let mut elapsed = Duration::ZERO;
        let mut attempts = 1;
        while let Some(wait) = policy.next_wait(attempts, elapsed) {
            elapsed += wait;
            attempts += 1;
        }
        assert_eq!(
            elapsed,
            Duration::from_secs(86_400),
            "the last attempt ends the day"
        );
        // 9 waits reach the one-minute cap after ~102 s; then one a minute.
        assert!((1_440..1_450).contains(&attempts), "{attempts}");
        // An API that was down for 150 s still gets the event within a minute of coming back.
        let mut at = Duration::ZERO;
        let mut n = 1;
        while at < Duration::from_secs(150) {
            at += policy.next_wait(n, at).unwrap();
            n += 1;
        }
        assert!(at < Duration::from_secs(150 + 60), "{at:?}");
    }

    #[test]
    fn the_window_ends_the_retries() {
        let policy = DeliveryPolicy {
            retry_for: Duration::from_secs(10),
            max_backoff: Duration::from_secs(60),
        };
        assert_eq!(
            policy.next_wait(1, Duration::ZERO),
            Some(Duration::from_millis(200))
        );
        assert_eq!(
            policy.next_wait(10, Duration::from_millis(9_900)),
            Some(Duration::from_millis(100)),
            "the last wait lands on the end of the window"
        );
        assert_eq!(policy.next_wait(11, Duration::from_secs(10)), None);
        assert_eq!(policy.next_wait(11, Duration::from_secs(11)), None);
        let single = DeliveryPolicy {
            retry_for: Duration::ZERO,
            ..policy
        };
        assert_eq!(single.next_wait(1, Duration::ZERO), None);
    }

    #[test]
    fn verdicts() {
        assert_eq!(verdict(200), Verdict::Acknowledged);
        assert_eq!(verdict(204), Verdict::Acknowledged);
        for retried in [408, 409, 425, 429, 500, 502, 503, 504, 301] {
            assert_eq!(verdict(retried), Verdict::Retry, "{retried}");
        }
        for final_ in [400, 401, 403, 404, 410, 413, 422] {
            assert_eq!(verdict(final_), Verdict::GiveUp, "{final_}");
        }
    }

    #[test]
    fn plans_count_their_deliveries() {
        let d = Delivery {
            payment_id: "pay_1".into(),
            event_id: "evt_1".into(),
            callback_url: "http://127.0.0.1:1/hook".into(),
            body: Bytes::from_static(b"{}"),
            sign_skew_seconds: 0,
        };
        assert_eq!(Plan::Once.deliveries(), 1);
        assert_eq!(Plan::Delay(Duration::from_secs(1)).deliveries(), 1);
        assert_eq!(Plan::Duplicate(7).deliveries(), 7);
        assert_eq!(Plan::OutOfOrder(d).deliveries(), 2);
    }

    #[test]
    fn truncate_respects_characters() {
        assert_eq!(truncate("결제완료", 2), "결제");
        assert_eq!(truncate("ok", 10), "ok");
    }
}
