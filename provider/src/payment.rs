//! The payment state machine, refund limits and the webhook event: pure code, no I/O.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum PaymentStatus {
    Pending,
    Succeeded,
    Failed,
    /// Abandoned and cancelled by the merchant while PENDING or declined: final, it never
    /// completes.
    Canceled,
}

impl PaymentStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "PENDING",
            Self::Succeeded => "SUCCEEDED",
            Self::Failed => "FAILED",
            Self::Canceled => "CANCELED",
        }
    }

    /// The other final outcome: what a stale, out-of-order event claims.
    pub fn opposite(self) -> Self {
        match self {
            Self::Succeeded => Self::Failed,
            Self::Failed | Self::Pending | Self::Canceled => Self::Succeeded,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum TransitionError {
    #[error("the payment already succeeded")]
    AlreadySucceeded,
    #[error("the payment already failed")]
    AlreadyFailed,
    #[error("the payment was canceled; it can no longer be completed")]
    Canceled,
    #[error("a payment completes as SUCCEEDED or FAILED")]
    InvalidTarget,
}

/// Completing a payment: PENDING→SUCCEEDED, PENDING→FAILED and FAILED→SUCCEEDED (the buyer
/// tried again with another card). Nothing leaves SUCCEEDED or CANCELED.
pub fn transition(
    from: PaymentStatus,
    to: PaymentStatus,
) -> Result<PaymentStatus, TransitionError> {
    use PaymentStatus::*;
    match (from, to) {
        (_, Pending | Canceled) => Err(TransitionError::InvalidTarget),
        (Canceled, _) => Err(TransitionError::Canceled),
        (Succeeded, _) => Err(TransitionError::AlreadySucceeded),
        (Failed, Failed) => Err(TransitionError::AlreadyFailed),
        (Pending, Succeeded) | (Pending, Failed) | (Failed, Succeeded) => Ok(to),
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum CancelError {
    /// The payment already reached an outcome (SUCCEEDED or FAILED), carried here.
    #[error("the payment already completed as {}", .0.as_str())]
    AlreadyCompleted(PaymentStatus),
}

/// Cancelling an abandoned payment: PENDING or FAILED (declined, so far) → CANCELED, and
/// CANCELED stays CANCELED (a repeated cancel is harmless). A success keeps it.
pub fn cancel(from: PaymentStatus) -> Result<PaymentStatus, CancelError> {
    use PaymentStatus::*;
    match from {
        // A declined payment may still be retried with another card until it is cancelled.
        Pending | Failed | Canceled => Ok(Canceled),
        Succeeded => Err(CancelError::AlreadyCompleted(from)),
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum RefundError {
    #[error("a refund amount must be positive")]
    InvalidAmount,
    #[error("only a succeeded payment can be refunded")]
    NotSucceeded,
    #[error("refunds would exceed the payment: at most {refundable} is left to refund")]
    ExceedsPayment { refundable: i64 },
}

/// May `amount` be refunded from a payment in `status` that captured `captured` and has
/// already refunded `refunded`? The total refunded never exceeds what was captured.
pub fn check_refund(
    status: PaymentStatus,
    captured: i64,
    refunded: i64,
    amount: i64,
) -> Result<(), RefundError> {
    if amount <= 0 {
        return Err(RefundError::InvalidAmount);
    }
    if status != PaymentStatus::Succeeded {
        return Err(RefundError::NotSucceeded);
    }
    let refundable = captured.saturating_sub(refunded).max(0);
    if amount > refundable {
        return Err(RefundError::ExceedsPayment { refundable });
    }
    Ok(())
}

/// The body of a webhook delivery.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WebhookEvent {
    pub event_id: String,
    pub reservation_id: String,
    pub payment_id: String,
    pub amount: i64,
    pub status: PaymentStatus,
    /// RFC 3339, UTC.
    pub occurred_at: DateTime<Utc>,
}

impl WebhookEvent {
    pub fn new(
        reservation_id: &str,
        payment_id: &str,
        amount: i64,
        status: PaymentStatus,
        occurred_at: DateTime<Utc>,
    ) -> Self {
        Self {
            event_id: new_id("evt"),
            reservation_id: reservation_id.to_owned(),
            payment_id: payment_id.to_owned(),
            amount,
            status,
            occurred_at,
        }
    }

    /// A stale event of the opposite outcome, one minute older, with its own id: what a real
    /// provider may deliver after the true one. Receivers must not go backwards on it.
    pub fn stale_opposite(&self) -> Self {
        Self::new(
            &self.reservation_id,
            &self.payment_id,
            self.amount,
            self.status.opposite(),
            self.occurred_at - chrono::Duration::minutes(1),
        )
    }
}

/// `<prefix>_<uuid v4 without dashes>`.
pub(crate) fn new_id(prefix: &str) -> String {
    format!("{prefix}_{}", uuid::Uuid::new_v4().simple())
}

#[cfg(test)]
mod tests {
    use super::PaymentStatus::*;
    use super::*;

    #[test]
    fn allowed_transitions() {
        assert_eq!(transition(Pending, Succeeded), Ok(Succeeded));
        assert_eq!(transition(Pending, Failed), Ok(Failed));
        assert_eq!(transition(Failed, Succeeded), Ok(Succeeded));
    }

    #[test]
    fn nothing_leaves_succeeded() {
        for to in [Succeeded, Failed] {
            assert_eq!(
                transition(Succeeded, to),
                Err(TransitionError::AlreadySucceeded)
            );
        }
    }

    #[test]
    fn refused_transitions() {
        assert_eq!(
            transition(Failed, Failed),
            Err(TransitionError::AlreadyFailed)
        );
        for from in [Pending, Succeeded, Failed, Canceled] {
            for to in [Pending, Canceled] {
                assert_eq!(transition(from, to), Err(TransitionError::InvalidTarget));
            }
        }
    }

    #[test]
    fn nothing_leaves_canceled() {
        for to in [Succeeded, Failed] {
            assert_eq!(transition(Canceled, to), Err(TransitionError::Canceled));
        }
    }

    #[test]
    fn only_unsucceeded_payments_cancel() {
        assert_eq!(cancel(Pending), Ok(Canceled));
        assert_eq!(cancel(Failed), Ok(Canceled));
        assert_eq!(cancel(Canceled), Ok(Canceled));
        assert_eq!(
            cancel(Succeeded),
            Err(CancelError::AlreadyCompleted(Succeeded))
        );
    }

    #[test]
    fn refunds_up_to_the_captured_amount() {
        assert_eq!(check_refund(Succeeded, 10_000, 0, 10_000), Ok(()));
        assert_eq!(check_refund(Succeeded, 10_000, 4_000, 6_000), Ok(()));
        assert_eq!(check_refund(Succeeded, 10_000, 4_000, 1), Ok(()));
        assert_eq!(
            check_refund(Succeeded, 10_000, 4_000, 6_001),
            Err(RefundError::ExceedsPayment { refundable: 6_000 })
        );
        assert_eq!(
            check_refund(Succeeded, 10_000, 10_000, 1),
            Err(RefundError::ExceedsPayment { refundable: 0 })
        );
        assert_eq!(
            check_refund(Succeeded, 10_000, 0, i64::MAX),
            Err(RefundError::ExceedsPayment { refundable: 10_000 })
        );
    }

    #[test]
    fn refunds_need_a_positive_amount_and_a_succeeded_payment() {
        assert_eq!(
            check_refund(Succeeded, 10_000, 0, 0),
            Err(RefundError::InvalidAmount)
        );
        assert_eq!(
            check_refund(Succeeded, 10_000, 0, -5),
            Err(RefundError::InvalidAmount)
        );
        for status in [Pending, Failed, Canceled] {
            assert_eq!(
                check_refund(status, 10_000, 0, 100),
                Err(RefundError::NotSucceeded)
            );
        }
    }

    #[test]
    fn stale_opposite_is_older_and_distinct() {
        let now = Utc::now();
        let event = WebhookEvent::new("r1", "pay_1", 5_000, Succeeded, now);
        let stale = event.stale_opposite();
        assert_eq!(stale.status, Failed);
        assert_eq!(stale.occurred_at, now - chrono::Duration::minutes(1));
        assert_ne!(stale.event_id, event.event_id);
        assert_eq!(
            (&stale.payment_id, &stale.reservation_id, stale.amount),
            (&event.payment_id, &event.reservation_id, event.amount)
        );
        assert!(event.event_id.starts_with("evt_") && event.event_id.len() == 36);
    }

    #[test]
    fn event_json_uses_upper_case_status_and_rfc3339() {
        let at = DateTime::parse_from_rfc3339("2025-01-02T03:04:05Z")
            .unwrap()
            .with_timezone(&Utc);
        let event = WebhookEvent::new("r1", "pay_1", 5_000, Failed, at);
        let json = serde_json::to_value(&event).unwrap();
        assert_eq!(json["status"], "FAILED");
        assert_eq!(serde_json::to_value(Canceled).unwrap(), "CANCELED");
        assert_eq!(
            serde_json::from_value::<PaymentStatus>("CANCELED".into()).unwrap(),
            Canceled
        );
        assert_eq!(json["occurred_at"], "2025-01-02T03:04:05Z");
    }
}
