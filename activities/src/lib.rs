//! Activities of the reservation workflow. Business outcomes (a seat taken, a balance too low)
//! are non-retryable failures with a type the workflow matches on; anything else is an
//! infrastructure error and retries.

use chrono::{DateTime, Utc};
use redis::aio::ConnectionManager;
use seatline_domain::{
    HoldResult, PaymentStatus, ProviderOutcome, RefundResult, ReservationId, ReservationStatus,
    ScheduleId, SeatSelection, UserId,
};
use seatline_proto::{
    failure, AdmitBatchInput, AdmitBatchOutcome, ConfirmOutcome, ConfirmWithBalanceInput,
    ConfirmWithCardInput, HeldSeat, HoldOutcome, HoldSeatsInput, ReleaseHoldInput,
};
use seatline_proto::{
    CardPaymentStatus, CheckCardPaymentInput, CheckTopupPaymentInput, RefundCardPaymentInput,
    RefundOutcome, TopupOutcome,
};
use seatline_storage::topups::{self, Settled, TopupSource};
use seatline_storage::{catalog, seat_cache, waiting_room};
use seatline_storage::{
    payments::{self, OutcomeSource, RefundError, WebhookEvent},
    reservations::{self, ConfirmError, HoldError, HoldExpiry, HoldRequest},
    Actor, Pool,
};
use seatline_workflows::activity_definitions;
use std::sync::Arc;
use tracing::Instrument;

mod sweeper;
pub use sweeper::SweeperActivities;
use temporalio_common::error::ApplicationFailure;
use temporalio_macros::activities;
use temporalio_sdk::activities::{ActivityContext, ActivityError};

pub struct ReservationActivities {
    pool: Pool,
    redis: ConnectionManager,
}

impl ReservationActivities {
    pub fn new(pool: Pool, redis: ConnectionManager) -> Self {
        Self { pool, redis }
    }

    /// Tells the seat map (Redis, then every API process) what PostgreSQL just committed for
    /// a reservation's seats. Part of every step: if Redis is unreachable the step retries.
    async fn publish_seats(&self, reservation: ReservationId) -> Result<(), ActivityError> {
        publish_seats(&self.pool, &self.redis, reservation).await
    }
}

#[activities]
impl ReservationActivities {
    #[activity(definition = activity_definitions::HoldSeats)]
    pub async fn hold_seats(
        self: Arc<Self>,
        _ctx: ActivityContext,
        input: HoldSeatsInput,
    ) -> Result<HoldOutcome, ActivityError> {
        let reservation = parse(ReservationId::parse(&input.reservation_id))?;
        let user = parse(UserId::parse(&input.user_id))?;
        let schedule = parse(ScheduleId::parse(&input.schedule_id))?;
        let seats = parse(SeatSelection::parse(&input.seat_ids))?.raw();
        let expiry = if input.hold_seconds > 0 {
            HoldExpiry::After(std::time::Duration::from_secs(input.hold_seconds))
        } else {
            HoldExpiry::At(
                DateTime::<Utc>::from_timestamp_millis(input.expires_at_ms)
                    .ok_or_else(|| business("BadInput", "expires_at_ms is out of range"))?,
            )
        };
        // `reservations::hold_seats` carries the reservation and user ids in its span.
        let request = HoldRequest {
            reservation,
            user,
            schedule,
            seat_ids: &seats,
            expiry,
            max_seats_per_buyer: (input.max_seats_per_buyer > 0)
                .then_some(input.max_seats_per_buyer),
        };
        let held = reservations::hold_seats(&self.pool, request).await;
        if held.is_ok() {
            self.publish_seats(reservation).await?;
        }
        match held {
            Ok(held) => Ok(HoldOutcome {
                status: HoldResult::Held.as_str().to_owned(),
                amount: held.amount,
                expires_at_ms: held.expires_at.timestamp_millis(),
                seats: held
                    .seats
                    .into_iter()
                    .map(|s| HeldSeat {
                        seat_id: s.seat_id,
                        row_number: s.row,
                        seat_number: s.number,
                        grade: s.grade,
                        price: s.price,
                    })
                    .collect(),
                unavailable_seat_ids: vec![],
            }),
            Err(HoldError::Unavailable(ids)) | Err(HoldError::UnknownSeats(ids)) => {
                tracing::info!(?ids, "hold refused: seats unavailable");
                Err(ActivityError::application(
                    ApplicationFailure::builder("seats unavailable")
                        .type_name(failure::SEAT_UNAVAILABLE.to_owned())
                        .non_retryable(true)
                        .details(ids)
                        .build(),
                ))
            }
            Err(HoldError::PurchaseLimit { limit, owned }) => {
                tracing::info!(limit, owned, "hold refused: the buyer's limit");
                Err(ActivityError::application(
                    ApplicationFailure::builder("the buyer's seat limit is reached")
                        .type_name(failure::PURCHASE_LIMIT_REACHED.to_owned())
                        .non_retryable(true)
                        .details(vec![i64::from(limit), i64::from(owned)])
                        .build(),
                ))
            }
            Err(HoldError::Ended(status)) => {
                tracing::info!(%status, "hold retried after its reservation ended");
                Err(ActivityError::application(
                    ApplicationFailure::builder("the reservation has ended")
                        .type_name(failure::SEAT_UNAVAILABLE.to_owned())
                        .non_retryable(true)
                        .details(seats)
                        .build(),
                ))
            }
            Err(HoldError::Database(err)) => Err(retryable(err)),
        }
    }

    #[activity(definition = activity_definitions::ConfirmWithBalance)]
    pub async fn confirm_with_balance(
        self: Arc<Self>,
        _ctx: ActivityContext,
        input: ConfirmWithBalanceInput,
    ) -> Result<ConfirmOutcome, ActivityError> {
        let reservation = parse(ReservationId::parse(&input.reservation_id))?;
        let user = parse(UserId::parse(&input.user_id))?;
        let confirmed = reservations::confirm_with_balance(&self.pool, reservation, user).await;
        if confirmed.is_ok() {
            self.publish_seats(reservation).await?;
        }
        match confirmed {
            Ok(done) => Ok(ConfirmOutcome {
                balance: done.balance,
                amount: done.amount,
            }),
            Err(ConfirmError::InsufficientBalance { balance, amount }) => {
                Err(ActivityError::application(
                    ApplicationFailure::builder("insufficient balance")
                        .type_name(failure::INSUFFICIENT_BALANCE.to_owned())
                        .non_retryable(true)
                        .details(ConfirmOutcome { balance, amount })
                        .build(),
                ))
            }
            Err(ConfirmError::NotHeld(status)) => Err(business(
                failure::NOT_HELD,
                &format!("reservation is {status}"),
            )),
            Err(ConfirmError::NotFound) | Err(ConfirmError::Unverified) => {
                Err(business(failure::NOT_HELD, "no such reservation"))
            }
            Err(ConfirmError::Database(err)) => Err(retryable(err)),
        }
    }

    #[activity(definition = activity_definitions::ReleaseHold)]
    pub async fn release_hold(
        self: Arc<Self>,
        _ctx: ActivityContext,
        input: ReleaseHoldInput,
    ) -> Result<String, ActivityError> {
        let reservation = parse(ReservationId::parse(&input.reservation_id))?;
        let to: ReservationStatus = parse(input.reason.parse())?;
        let actor: Actor = input.actor.parse().unwrap_or(Actor::System);
        let status = reservations::release_hold(&self.pool, reservation, to, actor, &input.note)
            .await
            .map_err(retryable)?;
        self.publish_seats(reservation).await?;
        Ok(status.map(|s| s.as_str().to_owned()).unwrap_or_default())
    }

    #[activity(definition = activity_definitions::ConfirmWithCard)]
    pub async fn confirm_with_card(
        self: Arc<Self>,
        _ctx: ActivityContext,
        input: ConfirmWithCardInput,
    ) -> Result<ConfirmOutcome, ActivityError> {
        let reservation = parse(ReservationId::parse(&input.reservation_id))?;
        let confirmed =
            reservations::confirm_with_card(&self.pool, reservation, &input.payment_id).await;
        if confirmed.is_ok() {
            self.publish_seats(reservation).await?;
        }
        match confirmed {
            Ok(done) => {
                // Paid: the buyer's turn in the waiting room is over.
                let mut redis = self.redis.clone();
                if let Err(err) = waiting_room::end_turn(
                    &mut redis,
                    ScheduleId::from(done.schedule),
                    UserId::from(done.user),
                )
                .await
                {
                    tracing::warn!(error = %err, "could not end the buyer's turn; it times out");
                }
                Ok(ConfirmOutcome {
                    balance: 0,
                    amount: done.amount,
                })
            }
            Err(ConfirmError::NotHeld(status)) => Err(business(
                failure::NOT_HELD,
                &format!("reservation is {status}"),
            )),
            Err(ConfirmError::NotFound) => Err(business(
                failure::NOT_HELD,
                "no such reservation or payment",
            )),
            Err(ConfirmError::Unverified) => {
                tracing::warn!(payment_id = %input.payment_id, "payment signal without a verified provider event; ignored");
                Err(business(
                    failure::PAYMENT_UNVERIFIED,
                    "no verified provider event for this payment",
                ))
            }
            Err(ConfirmError::InsufficientBalance { .. }) => {
                Err(business(failure::NOT_HELD, "unexpected balance outcome"))
            }
            Err(ConfirmError::Database(err)) => Err(retryable(err)),
        }
    }

    #[activity(definition = activity_definitions::AdmitBatch)]
    pub async fn admit_batch(
        self: Arc<Self>,
        _ctx: ActivityContext,
        input: AdmitBatchInput,
    ) -> Result<AdmitBatchOutcome, ActivityError> {
        let schedule = parse(ScheduleId::parse(&input.schedule_id))?;
        let mut redis = self.redis.clone();
        if catalog::unsold_seats(&self.pool, schedule)
            .await
            .map_err(retryable)?
            == 0
        {
            waiting_room::mark_sold_out(&mut redis, schedule)
                .await
                .map_err(retryable_redis)?;
            return Ok(AdmitBatchOutcome {
                sold_out: true,
                ..Default::default()
            });
        }
        // Nobody is admitted before booking opens: the pre-queue is drawn, not raced.
        if !catalog::booking_has_opened(&self.pool, schedule)
            .await
            .map_err(retryable)?
        {
            return Ok(AdmitBatchOutcome::default());
        }
        let step = waiting_room::admit(
            &mut redis,
            schedule,
            (input.turn_seconds as i64) * 1000,
            input.max_batch,
            input.active_cap,
        )
        .await
        .map_err(retryable_redis)?;
        if step.admitted > 0 || step.waiting > 0 {
            waiting_room::record_highest_place(&self.pool, schedule, step.highest_place)
                .await
                .map_err(retryable)?;
        }
        if input.measured_rate > 0.0 {
            waiting_room::set_rate(&mut redis, schedule, input.measured_rate)
                .await
                .map_err(retryable_redis)?;
        }
        Ok(AdmitBatchOutcome {
            admitted: step.admitted,
            served: step.served,
            active: step.active,
            waiting: step.waiting,
            sold_out: false,
        })
    }
}

/// Activities that talk to the payment provider; they run on the payment task queue, on
/// workers that scale and fail apart from the seat workers.
pub struct PaymentActivities {
    pool: Pool,
    http: reqwest::Client,
    provider_url: String,
}

impl PaymentActivities {
    pub fn new(pool: Pool, provider_url: String) -> Self {
        let http = reqwest::Client::builder()
            .timeout(std::time::Duration::from_secs(10))
            .build()
            .expect("HTTP client");
        Self {
            pool,
            http,
            provider_url,
        }
    }
}

#[activities]
impl PaymentActivities {
    /// Reconciliation: asks the provider what became of a card payment. A final outcome is
    /// recorded as a verified event (the same record a signed webhook makes), so it moves
    /// money exactly as the webhook would have. With `abandon`, a payment still pending is
    /// cancelled at the provider first (the buyer's hold is over), and ends FAILED.
    #[activity(definition = activity_definitions::CheckCardPayment)]
    pub async fn check_card_payment(
        self: Arc<Self>,
        _ctx: ActivityContext,
        input: CheckCardPaymentInput,
    ) -> Result<CardPaymentStatus, ActivityError> {
        let span = tracing::info_span!("check_card_payment", reservation_id = %input.reservation_id,
                                       payment_id = %input.payment_id);
        self.check_card_payment_inner(input).instrument(span).await
    }

    /// Refunds a card payment that did not confirm its reservation, through the provider.
    /// The provider's idempotency key makes retries refund once.
    #[activity(definition = activity_definitions::RefundCardPayment)]
    pub async fn refund_card_payment(
        self: Arc<Self>,
        _ctx: ActivityContext,
        input: RefundCardPaymentInput,
    ) -> Result<RefundOutcome, ActivityError> {
        let span = tracing::info_span!("refund_card_payment", reservation_id = %input.reservation_id,
                                       payment_id = %input.payment_id);
        self.refund_card_payment_inner(input).instrument(span).await
    }

    /// Reconciliation of a card top-up: asks the provider and settles a final outcome exactly
    /// as the verified webhook would have (a success credits once, however often this runs).
    #[activity(definition = activity_definitions::CheckTopupPayment)]
    pub async fn check_topup_payment(
        self: Arc<Self>,
        _ctx: ActivityContext,
        input: CheckTopupPaymentInput,
    ) -> Result<TopupOutcome, ActivityError> {
        let span = tracing::info_span!("check_topup_payment", topup_id = %input.topup_id,
                                       payment_id = %input.payment_id);
        self.check_topup_payment_inner(input).instrument(span).await
    }
}

impl PaymentActivities {
    async fn refund_card_payment_inner(
        &self,
        input: RefundCardPaymentInput,
    ) -> Result<RefundOutcome, ActivityError> {
        match payments::refundable(&self.pool, &input.payment_id).await {
            Ok(true) => {}
            Ok(false) => {
                return Ok(RefundOutcome {
                    outcome: RefundResult::AlreadyRefunded.as_str().to_owned(),
                    refund_id: String::new(),
                })
            }
            Err(RefundError::Applied) | Err(RefundError::NotFound) => {
                return Err(business(
                    failure::PAYMENT_APPLIED,
                    "the payment confirmed its reservation or is unknown",
                ))
            }
            Err(RefundError::Unverified) => {
                return Err(business(
                    failure::PAYMENT_UNVERIFIED,
                    "no verified provider event for this payment",
                ))
            }
            Err(RefundError::Database(err)) => return Err(retryable(err)),
        }
        let response = self
            .http
            .post(format!("{}/v1/refunds", self.provider_url))
            .header("Idempotency-Key", format!("refund-{}", input.payment_id))
            .json(&serde_json::json!({
                "payment_id": input.payment_id,
                "amount": input.amount,
                "reason": input.reason,
            }))
            .send()
            .await
            .map_err(|e| ActivityError::application(ApplicationFailure::new(e)))?;
        if !response.status().is_success() {
            let status = response.status();
            let body = response.text().await.unwrap_or_default();
            tracing::warn!(%status, body, "the provider refused the refund; retrying");
            return Err(ActivityError::application(ApplicationFailure::new(
                format!("provider answered {status}"),
            )));
        }
        let refund: serde_json::Value = response
            .json()
            .await
            .map_err(|e| ActivityError::application(ApplicationFailure::new(e)))?;
        let refund_id = refund["refund_id"].as_str().unwrap_or_default().to_owned();
        match payments::record_refund(&self.pool, &input.payment_id, &refund_id, &input.reason)
            .await
        {
            Ok(()) => Ok(RefundOutcome {
                outcome: RefundResult::Refunded.as_str().to_owned(),
                refund_id,
            }),
            Err(RefundError::Database(err)) => Err(retryable(err)),
            Err(_) => Err(business(failure::PAYMENT_APPLIED, "payment not refundable")),
        }
    }

    async fn check_card_payment_inner(
        &self,
        input: CheckCardPaymentInput,
    ) -> Result<CardPaymentStatus, ActivityError> {
        let reservation = parse(ReservationId::parse(&input.reservation_id))?;
        let Some(payment) = payments::find_card_payment(&self.pool, &input.payment_id)
            .await
            .map_err(retryable)?
            .filter(|p| p.reservation_id == reservation.as_uuid())
        else {
            return Err(business("BadInput", "no such card payment"));
        };
        let mut status = self.provider_status(&input.payment_id).await?;
        if input.abandon && matches!(status, ProviderOutcome::Pending | ProviderOutcome::Failed) {
            status = self.cancel_at_provider(&input.payment_id).await?;
        }
        let (recorded, source, event_id) = match status {
            ProviderOutcome::Succeeded => (
                ProviderOutcome::Succeeded,
                OutcomeSource::Reconciliation,
                "reconciliation",
            ),
            ProviderOutcome::Abandoned => (
                ProviderOutcome::Failed,
                OutcomeSource::Abandoned,
                "abandoned",
            ),
            _ => return Ok(CardPaymentStatus::of(status)),
        };
        payments::record_webhook(
            &self.pool,
            WebhookEvent {
                provider_payment_id: &input.payment_id,
                status: recorded,
                event_id,
                reservation,
                amount: payment.amount,
                source,
            },
        )
        .await
        .map_err(retryable)?;
        tracing::info!(%status, "card payment outcome settled by asking the provider");
        Ok(CardPaymentStatus::of(status))
    }

    async fn check_topup_payment_inner(
        &self,
        input: CheckTopupPaymentInput,
    ) -> Result<TopupOutcome, ActivityError> {
        // The provider took no money for a payment it does not know.
        let mut status = self
            .provider_lookup(&input.payment_id)
            .await?
            .unwrap_or(ProviderOutcome::Abandoned);
        if input.abandon && matches!(status, ProviderOutcome::Pending | ProviderOutcome::Failed) {
            status = self.cancel_at_provider(&input.payment_id).await?;
        }
        let settled = match status {
            ProviderOutcome::Succeeded => {
                topups::settle_topup(
                    &self.pool,
                    &input.payment_id,
                    true,
                    TopupSource::Reconciliation,
                )
                .await
            }
            ProviderOutcome::Abandoned => {
                topups::settle_topup(&self.pool, &input.payment_id, false, TopupSource::Abandoned)
                    .await
            }
            _ => {
                return Ok(TopupOutcome {
                    status: PaymentStatus::Pending.as_str().to_owned(),
                })
            }
        }
        .map_err(retryable)?;
        let status = match settled {
            Settled::Credited { .. } => {
                tracing::info!("card top-up credited by asking the provider");
                metrics::counter!("topups_reconciled_total").increment(1);
                PaymentStatus::Applied
            }
            Settled::Failed => PaymentStatus::Failed,
            Settled::AlreadySettled(status) => status,
            Settled::Unknown => return Err(business("BadInput", "no such card top-up")),
        };
        Ok(TopupOutcome {
            status: status.as_str().to_owned(),
        })
    }

    /// SUCCEEDED, FAILED, PENDING or ABANDONED, as the provider has it now.
    async fn provider_status(&self, payment_id: &str) -> Result<ProviderOutcome, ActivityError> {
        self.provider_lookup(payment_id).await?.ok_or_else(|| {
            business(
                failure::UNKNOWN_PAYMENT,
                "the provider does not know this payment",
            )
        })
    }

    /// As `provider_status`; `None` when the provider does not know the payment.
    async fn provider_lookup(
        &self,
        payment_id: &str,
    ) -> Result<Option<ProviderOutcome>, ActivityError> {
        let response = self
            .http
            .get(format!("{}/v1/payments/{payment_id}", self.provider_url))
            .send()
            .await
            .map_err(provider_unreachable)?;
        if response.status() == reqwest::StatusCode::NOT_FOUND {
            return Ok(None);
        }
        if !response.status().is_success() {
            return Err(provider_unreachable(format!(
                "provider answered {}",
                response.status()
            )));
        }
        let payment: serde_json::Value = response.json().await.map_err(provider_unreachable)?;
        Ok(Some(provider_word(
            payment["status"].as_str().unwrap_or_default(),
        )))
    }

    /// Cancels a payment the buyer did not complete in time; the provider answers 409 if it
    /// succeeded meanwhile, and then that success counts.
    async fn cancel_at_provider(&self, payment_id: &str) -> Result<ProviderOutcome, ActivityError> {
        let response = self
            .http
            .post(format!(
                "{}/v1/payments/{payment_id}/cancel",
                self.provider_url
            ))
            .header("Idempotency-Key", format!("cancel-{payment_id}"))
            .send()
            .await
            .map_err(provider_unreachable)?;
        match response.status().as_u16() {
            200..=299 => Ok(ProviderOutcome::Abandoned),
            409 => self.provider_status(payment_id).await,
            other => Err(provider_unreachable(format!("provider answered {other}"))),
        }
    }
}

/// The provider API's payment statuses in Seatline's words (the provider says CANCELED for a
/// payment Seatline abandoned).
fn provider_word(status: &str) -> ProviderOutcome {
    match status {
        "CANCELED" | "CANCELLED" => ProviderOutcome::Abandoned,
        other => other.parse().unwrap_or(ProviderOutcome::Pending),
    }
}

fn provider_unreachable(err: impl std::fmt::Display) -> ActivityError {
    tracing::warn!(error = %err, "payment provider unreachable; the activity will retry");
    ActivityError::application(ApplicationFailure::new(err.to_string()))
}

/// Tells the seat map (Redis, then every API process) what PostgreSQL just committed for a
/// reservation's seats. Part of every step: if Redis is unreachable the step retries.
pub(crate) async fn publish_seats(
    pool: &Pool,
    redis: &ConnectionManager,
    reservation: ReservationId,
) -> Result<(), ActivityError> {
    let mut redis = redis.clone();
    seat_cache::publish_reservation(&mut redis, pool, reservation.as_uuid())
        .await
        .map_err(retryable_cache)
}

pub(crate) fn retryable_cache(err: seat_cache::CacheError) -> ActivityError {
    match err {
        seat_cache::CacheError::Redis(e) => retryable_redis(e),
        seat_cache::CacheError::Database(e) => retryable(e),
    }
}

fn retryable_redis(err: redis::RedisError) -> ActivityError {
    tracing::warn!(error = %err, "redis error; the activity will retry");
    ActivityError::application(ApplicationFailure::new(err))
}

fn business(kind: &str, message: &str) -> ActivityError {
    ActivityError::application(
        ApplicationFailure::builder(message.to_owned())
            .type_name(kind.to_owned())
            .non_retryable(true)
            .build(),
    )
}

/// Inputs come from our own workflow; a bad one is a bug that retrying won't fix.
fn parse<T>(parsed: Result<T, seatline_domain::ParseError>) -> Result<T, ActivityError> {
    parsed.map_err(|e| business("BadInput", &e.to_string()))
}

fn retryable(err: sqlx::Error) -> ActivityError {
    tracing::warn!(error = %err, "database error; the activity will retry");
    ActivityError::application(ApplicationFailure::new(err))
}
