//! Webhook delivery: signed POSTs to the payment's callback URL, retried until a 2xx.

use crate::{state::SharedStore, webhook_signature};
use axum::body::Bytes;
use std::{sync::Arc, time::Duration};

/// Attempts per delivery, the first included.
pub(crate) const MAX_ATTEMPTS: u32 = 12;
const FIRST_BACKOFF: Duration = Duration::from_millis(200);
const MAX_BACKOFF: Duration = Duration::from_secs(5);
const REQUEST_TIMEOUT: Duration = Duration::from_secs(10);

/// The wait after `failed_attempts` failures: 200 ms, doubling, at most 5 s.
pub(crate) fn backoff(failed_attempts: u32) -> Duration {
    let doublings = failed_attempts.saturating_sub(1).min(16);
    (FIRST_BACKOFF * (1u32 << doublings)).min(MAX_BACKOFF)
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Verdict {
    Acknowledged,
    Retry,
    /// A 4xx other than 408, 409 and 429: the receiver rejects this event for good.
    GiveUp,
}

pub(crate) fn verdict(status: u16) -> Verdict {
    match status {
        200..=299 => Verdict::Acknowledged,
        408 | 409 | 429 => Verdict::Retry,
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

#[derive(Clone)]
pub(crate) struct Deliverer {
    client: reqwest::Client,
    secret: Arc<str>,
    store: SharedStore,
}

impl Deliverer {
    pub fn new(secret: &str, store: SharedStore) -> anyhow::Result<Self> {
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
        })
    }

    /// Sends in background tasks according to `plan`; returns at once.
    pub fn dispatch(&self, delivery: Delivery, plan: Plan) {
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
    pub async fn deliver(&self, delivery: &Delivery) -> bool {
        let Delivery {
            payment_id,
            event_id,
            callback_url,
            body,
        } = delivery;
        for attempt in 1..=MAX_ATTEMPTS {
            self.record(payment_id, false);
            let timestamp = chrono::Utc::now().timestamp();
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
                            self.record(payment_id, true);
                            tracing::info!(%payment_id, %event_id, attempt, status, "webhook acknowledged");
                            return true;
                        }
                        Verdict::GiveUp => {
                            let answer = response.text().await.unwrap_or_default();
                            tracing::error!(
                                %payment_id, %event_id, attempt, status,
                                answer = %truncate(&answer, 500),
                                "webhook rejected by the receiver; not retrying"
                            );
                            return false;
                        }
                        Verdict::Retry => format!("HTTP {status}"),
                    }
                }
                Err(err) => error_chain(&err),
            };
            if attempt == MAX_ATTEMPTS {
                tracing::error!(%payment_id, %event_id, attempt, %failure, "webhook undelivered; giving up");
                return false;
            }
            let wait = backoff(attempt);
            tracing::warn!(
                %payment_id, %event_id, attempt, %failure,
                retry_in_ms = wait.as_millis() as u64,
                "webhook delivery failed; retrying"
            );
            tokio::time::sleep(wait).await;
        }
        false
    }

    fn record(&self, payment_id: &str, acknowledged: bool) {
        if let Some(payment) = self.store.lock().payments.get_mut(payment_id) {
            if acknowledged {
                payment.webhook_acknowledged += 1;
            } else {
                payment.webhook_deliveries += 1;
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

    #[test]
    fn backoff_doubles_from_200ms_up_to_5s() {
        let waits: Vec<u64> = (1..MAX_ATTEMPTS)
            .map(|n| backoff(n).as_millis() as u64)
            .collect();
        assert_eq!(
            waits,
            [200, 400, 800, 1600, 3200, 5000, 5000, 5000, 5000, 5000, 5000]
        );
        assert_eq!(backoff(1000), MAX_BACKOFF);
    }

    #[test]
    fn verdicts() {
        assert_eq!(verdict(200), Verdict::Acknowledged);
        assert_eq!(verdict(204), Verdict::Acknowledged);
        for retried in [408, 409, 429, 500, 502, 503, 301] {
            assert_eq!(verdict(retried), Verdict::Retry, "{retried}");
        }
        for final_ in [400, 401, 403, 404, 410, 422] {
            assert_eq!(verdict(final_), Verdict::GiveUp, "{final_}");
        }
    }

    #[test]
    fn truncate_respects_characters() {
        assert_eq!(truncate("결제완료", 2), "결제");
        assert_eq!(truncate("ok", 10), "ok");
    }
}
