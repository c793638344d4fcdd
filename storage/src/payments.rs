//! Card payments made through the provider: checkout, webhook events, refunds.

use crate::{decode, reservations::record_event, Actor};
use seatline_domain::{AuditKind, PaymentStatus, ProviderOutcome, ReservationId, UserId};
use serde_json::json;
use sqlx::PgPool;
use uuid::Uuid;

#[derive(Debug, Clone)]
pub struct CardPayment {
    pub id: Uuid,
    pub reservation_id: Uuid,
    pub user_id: Uuid,
    pub amount: i64,
    pub status: PaymentStatus,
}

/// Records a checkout: a PENDING card payment the provider knows as `provider_payment_id`.
#[tracing::instrument(skip(pool), fields(reservation_id = %reservation, user_id = %user))]
pub async fn create_card_payment(
    pool: &PgPool,
    reservation: ReservationId,
    user: UserId,
    provider_payment_id: &str,
    amount: i64,
) -> Result<Uuid, sqlx::Error> {
    let id = Uuid::new_v4();
    let mut tx = pool.begin().await?;
    sqlx::query!(
        "INSERT INTO payments (id, reservation_id, user_id, method, provider_payment_id, amount, status)
         VALUES ($1, $2, $3, 'CARD', $4, $5, 'PENDING')",
        id,
        reservation.as_uuid(),
        user.as_uuid(),
        provider_payment_id,
        amount
    )
    .execute(&mut *tx)
    .await?;
    record_event(
        &mut tx,
        reservation,
        AuditKind::CheckoutStarted,
        Actor::User,
        json!({ "payment_id": provider_payment_id, "amount": amount }),
    )
    .await?;
    tx.commit().await?;
    Ok(id)
}

#[tracing::instrument(skip(pool))]
pub async fn find_card_payment(
    pool: &PgPool,
    provider_payment_id: &str,
) -> Result<Option<CardPayment>, sqlx::Error> {
    let row = sqlx::query!(
        "SELECT id, reservation_id, user_id, amount, status FROM payments
         WHERE provider_payment_id = $1",
        provider_payment_id
    )
    .fetch_optional(pool)
    .await?;
    row.map(|r| {
        Ok(CardPayment {
            id: r.id,
            reservation_id: r.reservation_id,
            user_id: r.user_id,
            amount: r.amount,
            status: decode(&r.status)?,
        })
    })
    .transpose()
}

/// Where a verified outcome of a card payment came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OutcomeSource {
    /// The provider's webhook, its signature checked.
    Webhook,
    /// Seatline asked the provider's API (reconciliation).
    Reconciliation,
    /// Seatline cancelled a payment the buyer never completed.
    Abandoned,
}

impl OutcomeSource {
    fn audit_kind(self, first: bool) -> AuditKind {
        match (self, first) {
            (OutcomeSource::Webhook, true) => AuditKind::PaymentWebhook,
            (OutcomeSource::Webhook, false) => AuditKind::PaymentWebhookDuplicate,
            (OutcomeSource::Reconciliation, _) => AuditKind::PaymentReconciled,
            (OutcomeSource::Abandoned, _) => AuditKind::PaymentAbandoned,
        }
    }

    fn actor(self) -> Actor {
        match self {
            OutcomeSource::Webhook => Actor::Provider,
            _ => Actor::System,
        }
    }
}

pub struct WebhookEvent<'a> {
    pub provider_payment_id: &'a str,
    /// Succeeded or Failed: the outcomes the provider reports.
    pub status: ProviderOutcome,
    pub event_id: &'a str,
    pub reservation: ReservationId,
    pub amount: i64,
    pub source: OutcomeSource,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WebhookRecord {
    /// The first delivery of this outcome of this payment.
    pub first: bool,
    /// Already handed to the payment's checkout workflow.
    pub forwarded: bool,
}

/// Records a verified outcome of a card payment durably, once per payment and outcome; later
/// deliveries only count. Every delivery lands in the audit log. A failure never overrides a
/// success. Only outcomes recorded here move money (`confirm_with_card`, refunds).
#[tracing::instrument(skip(pool, event), fields(reservation_id = %event.reservation))]
pub async fn record_webhook(
    pool: &PgPool,
    event: WebhookEvent<'_>,
) -> Result<WebhookRecord, sqlx::Error> {
    let mut tx = pool.begin().await?;
    let row = sqlx::query!(
        r#"INSERT INTO payment_webhook_events (provider_payment_id, status, event_id, reservation_id, amount)
           VALUES ($1, $2, $3, $4, $5)
           ON CONFLICT (provider_payment_id, status)
           DO UPDATE SET deliveries = payment_webhook_events.deliveries + 1
           RETURNING deliveries, forwarded_at IS NOT NULL AS "forwarded!""#,
        event.provider_payment_id,
        event.status.as_str(),
        event.event_id,
        event.reservation.as_uuid(),
        event.amount
    )
    .fetch_one(&mut *tx)
    .await?;
    let first = row.deliveries == 1;
    if event.status == ProviderOutcome::Failed {
        sqlx::query!(
            "UPDATE payments SET status = 'FAILED', updated_at = now()
             WHERE provider_payment_id = $1 AND status = 'PENDING'",
            event.provider_payment_id
        )
        .execute(&mut *tx)
        .await?;
    }
    record_event(
        &mut tx,
        event.reservation,
        event.source.audit_kind(first),
        event.source.actor(),
        json!({ "payment_id": event.provider_payment_id, "status": event.status.as_str(),
                "event_id": event.event_id, "amount": event.amount, "delivery": row.deliveries }),
    )
    .await?;
    tx.commit().await?;
    Ok(WebhookRecord {
        first,
        forwarded: row.forwarded,
    })
}

/// Whether the provider's success of this payment was verified and recorded (by the signed
/// webhook or by asking the provider), as opposed to merely claimed by a signal.
#[tracing::instrument(skip(db))]
pub async fn success_verified<'e>(
    db: impl sqlx::PgExecutor<'e>,
    provider_payment_id: &str,
) -> Result<bool, sqlx::Error> {
    sqlx::query_scalar!(
        r#"SELECT EXISTS (SELECT 1 FROM payment_webhook_events
                          WHERE provider_payment_id = $1 AND status = 'SUCCEEDED') AS "verified!""#,
        provider_payment_id
    )
    .fetch_one(db)
    .await
}

/// A card payment that should have been settled by now: neither applied, refunded nor
/// abandoned (a decline is not final) although its hold ended more than `after_seconds` ago.
#[derive(Debug, Clone)]
pub struct Unsettled {
    pub provider_payment_id: String,
    pub reservation_id: Uuid,
    pub amount: i64,
    pub hold_expires_at: chrono::DateTime<chrono::Utc>,
}

/// Claims up to `limit` unsettled card payments for a nudge: each is returned at most once
/// per ten minutes, whichever sweeper asks.
#[tracing::instrument(skip(pool))]
pub async fn unsettled_card_payments(
    pool: &PgPool,
    after_seconds: i64,
    limit: i64,
) -> Result<Vec<Unsettled>, sqlx::Error> {
    sqlx::query_as!(
        Unsettled,
        r#"WITH due AS (
             SELECT p.id FROM payments p JOIN reservations r ON r.id = p.reservation_id
             WHERE p.method = 'CARD' AND p.status IN ('PENDING', 'FAILED')
               AND p.provider_payment_id IS NOT NULL
               AND r.expires_at < now() - make_interval(secs => $1)
               AND (p.nudged_at IS NULL OR p.nudged_at < now() - interval '10 minutes')
               AND NOT EXISTS (SELECT 1 FROM reservation_events e
                               WHERE e.reservation_id = p.reservation_id
                                 AND e.kind = 'PAYMENT_ABANDONED'
                                 AND e.details->>'payment_id' = p.provider_payment_id)
             ORDER BY r.expires_at LIMIT $2
             FOR UPDATE OF p SKIP LOCKED)
           UPDATE payments p SET nudged_at = now()
           FROM due, reservations r
           WHERE p.id = due.id AND r.id = p.reservation_id
           RETURNING p.provider_payment_id AS "provider_payment_id!", p.reservation_id, p.amount,
                     r.expires_at AS hold_expires_at"#,
        after_seconds as f64,
        limit
    )
    .fetch_all(pool)
    .await
}

#[tracing::instrument(skip(pool))]
pub async fn mark_forwarded(
    pool: &PgPool,
    provider_payment_id: &str,
    status: ProviderOutcome,
) -> Result<(), sqlx::Error> {
    sqlx::query!(
        "UPDATE payment_webhook_events SET forwarded_at = now()
         WHERE provider_payment_id = $1 AND status = $2 AND forwarded_at IS NULL",
        provider_payment_id,
        status.as_str()
    )
    .execute(pool)
    .await?;
    Ok(())
}

#[derive(Debug, thiserror::Error)]
pub enum RefundError {
    #[error("the payment confirmed its reservation; it is never refunded")]
    Applied,
    #[error("no such card payment")]
    NotFound,
    #[error("no verified provider event says this payment succeeded")]
    Unverified,
    #[error(transparent)]
    Database(#[from] sqlx::Error),
}

/// Whether a card payment may be refunded: it exists and did not confirm its reservation.
/// Returns false when it was refunded already.
#[tracing::instrument(skip(pool))]
pub async fn refundable(pool: &PgPool, provider_payment_id: &str) -> Result<bool, RefundError> {
    let payment = find_card_payment(pool, provider_payment_id)
        .await?
        .ok_or(RefundError::NotFound)?;
    match payment.status {
        PaymentStatus::Applied => Err(RefundError::Applied),
        PaymentStatus::Refunded => Ok(false),
        _ if !success_verified(pool, provider_payment_id).await? => Err(RefundError::Unverified),
        _ => Ok(true),
    }
}

/// Records a refund the provider made: payment REFUNDED, a reservation that had expired or
/// been cancelled becomes REFUNDED, audit event. Safe to repeat.
#[tracing::instrument(skip(pool))]
pub async fn record_refund(
    pool: &PgPool,
    provider_payment_id: &str,
    refund_id: &str,
    reason: &str,
) -> Result<(), RefundError> {
    let mut tx = pool.begin().await?;
    let payment = sqlx::query!(
        "SELECT reservation_id, status, amount FROM payments WHERE provider_payment_id = $1 FOR UPDATE",
        provider_payment_id
    )
    .fetch_optional(&mut *tx)
    .await?
    .ok_or(RefundError::NotFound)?;
    match decode::<PaymentStatus>(&payment.status)? {
        PaymentStatus::Applied => return Err(RefundError::Applied),
        PaymentStatus::Refunded => return Ok(()),
        _ => {}
    }
    sqlx::query!(
        "UPDATE payments SET status = 'REFUNDED', refund_id = $2, updated_at = now()
         WHERE provider_payment_id = $1",
        provider_payment_id,
        refund_id
    )
    .execute(&mut *tx)
    .await?;
    sqlx::query!(
        "UPDATE reservations SET status = 'REFUNDED', updated_at = now()
         WHERE id = $1 AND status IN ('EXPIRED', 'CANCELLED')",
        payment.reservation_id
    )
    .execute(&mut *tx)
    .await?;
    record_event(
        &mut tx,
        ReservationId::from(payment.reservation_id),
        AuditKind::Refunded,
        Actor::System,
        json!({ "payment_id": provider_payment_id, "refund_id": refund_id,
                "amount": payment.amount, "method": "CARD", "reason": reason }),
    )
    .await?;
    tx.commit().await?;
    Ok(())
}
