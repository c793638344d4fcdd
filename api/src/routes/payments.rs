//! Card payments: starting a checkout with the provider, and the provider's signed webhook.

use crate::{
    auth::AuthUser,
    dto::{Checkout, ErrorBody, PaymentWebhook, WebhookReceived},
    error::{ApiError, ApiResult},
    extract::IdPath,
    state::AppState,
    temporal::bounded,
    waiting_room::{require_hold_token, QueueTokenHeader},
};
use axum::{body::Bytes, extract::State, http::HeaderMap, http::StatusCode, Json};
use chrono::Utc;
use seatline_config::ExposeSecret;
use seatline_domain::{
    PaymentStatus, ProviderOutcome, ReservationId, ReservationStatus, ScheduleId,
};
use seatline_proto::{CheckoutInput, ProviderReport};
use seatline_provider::webhook_signature::{self, SIGNATURE_HEADER};
use seatline_storage::{
    payments::{self, OutcomeSource, WebhookEvent},
    reservations,
};
use seatline_workflows::{checkout_workflow_id, CheckoutWorkflow};
use serde_json::{json, Value};

use super::balance::{self, TOPUP_REFERENCE};
use temporalio_client::{WorkflowIdConflictPolicy, WorkflowStartOptions};

/// Start a card payment with the provider for a held reservation.
#[utoipa::path(post, path = "/reservations/{id}/checkout", tag = "payments",
    security(("bearer" = [])),
    params(("id" = Uuid, Path),
           ("X-Queue-Token" = Option<String>, Header, description = "the token of the turn the hold was made in; without it: 401 TOKEN_NOT_FOUND"),
           ("Idempotency-Key" = Option<String>, Header, description = "replays return the first answer")),
    responses(
        (status = 201, description = "PENDING: send the buyer to checkout_url", body = Checkout),
        (status = 401, description = "UNAUTHORIZED · TOKEN_NOT_FOUND", body = ErrorBody),
        (status = 404, description = "NOT_FOUND: unknown, or someone else's", body = ErrorBody),
        (status = 409, description = "RESERVATION_EXPIRED · ALREADY_CONFIRMED · IDEMPOTENCY_IN_PROGRESS · IDEMPOTENCY_KEY_REUSED", body = ErrorBody),
    ))]
#[tracing::instrument(skip_all, fields(user_id = %user, reservation_id = %id))]
pub async fn checkout(
    State(state): State<AppState>,
    AuthUser(user): AuthUser,
    QueueTokenHeader(token): QueueTokenHeader,
    IdPath(id): IdPath,
) -> ApiResult<(StatusCode, Json<Checkout>)> {
    let id = ReservationId::from(id);
    let reservation = reservations::get_reservation(&state.pool, id)
        .await?
        .filter(|r| r.user_id == user.as_uuid())
        .ok_or(ApiError::NotFound("reservation"))?;
    match reservation.status {
        ReservationStatus::Held => {}
        ReservationStatus::Confirmed => return Err(ApiError::AlreadyConfirmed),
        _ => return Err(ApiError::ReservationExpired),
    }
    // A live hold is proof of a turn: no Redis needed, and an ended turn does not matter.
    require_hold_token(
        &state,
        user,
        token.as_deref(),
        ScheduleId::from(reservation.schedule_id),
    )?;
    let public = state.public_url.as_str();
    let created = create_provider_payment(
        &state,
        &id.to_string(),
        reservation.amount,
        &format!("{public}/#/reservation/{id}"),
    )
    .await?;
    let payment_id = created.payment_id;
    payments::create_card_payment(&state.pool, id, user, &payment_id, reservation.amount).await?;
    // From here on the payment is followed until it is applied, refunded or abandoned,
    // whether or not the provider's webhook ever reaches us.
    start_checkout(
        &state,
        &reservation,
        &payment_id,
        ProviderReport::default(),
        false,
    )
    .await?;
    Ok((
        StatusCode::CREATED,
        Json(Checkout {
            reservation_id: id.as_uuid(),
            payment_id,
            amount: reservation.amount,
            status: PaymentStatus::Pending,
            checkout_url: created.checkout_url.map_or(Value::Null, Value::String),
        }),
    ))
}

/// A payment the provider created: its id, and where the buyer pays.
pub(crate) struct ProviderPayment {
    pub payment_id: String,
    pub checkout_url: Option<String>,
}

/// Creates a card payment at the provider for `reference` (a reservation id, or
/// `topup-<id>`); its webhook comes back to this API.
pub(crate) async fn create_provider_payment(
    state: &AppState,
    reference: &str,
    amount: i64,
    return_url: &str,
) -> ApiResult<ProviderPayment> {
    let public = state.public_url.as_str();
    let response = state
        .http
        .post(format!(
            "{}/v1/payments",
            state.settings.payments.provider_url
        ))
        .json(&json!({
            "reservation_id": reference,
            "amount": amount,
            "currency": "KRW",
            "callback_url": format!("{public}/api/v1/payments/webhook"),
            "return_url": return_url,
        }))
        .send()
        .await
        .map_err(|e| ApiError::Unavailable(anyhow::anyhow!("payment provider: {e}")))?;
    if !response.status().is_success() {
        return Err(ApiError::Unavailable(anyhow::anyhow!(
            "payment provider answered {}",
            response.status()
        )));
    }
    let created: Value = response
        .json()
        .await
        .map_err(|e| ApiError::Unavailable(anyhow::anyhow!("payment provider: {e}")))?;
    let payment_id = created["payment_id"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    if payment_id.is_empty() {
        return Err(ApiError::Unavailable(anyhow::anyhow!(
            "provider gave no payment id"
        )));
    }
    Ok(ProviderPayment {
        payment_id,
        checkout_url: created["checkout_url"].as_str().map(str::to_owned),
    })
}

/// The provider's callback. Answers 2xx only once the event is durably recorded and handed to
/// the reservation's workflow (or, if that workflow has finished, to a refund).
#[utoipa::path(post, path = "/payments/webhook", tag = "payments",
    request_body = PaymentWebhook,
    params(("Seatline-Signature" = String, Header, description = "t=<unix seconds>,v1=<hex HMAC-SHA256 of `<t>.<raw body>`>")),
    responses(
        (status = 200, description = "recorded (again, when duplicate)", body = WebhookReceived),
        (status = 400, description = "MALFORMED_JSON", body = ErrorBody),
        (status = 401, description = "INVALID_SIGNATURE (details.reason)", body = ErrorBody),
        (status = 404, description = "NOT_FOUND (unknown payment or reservation)", body = ErrorBody),
        (status = 422, description = "VALIDATION_FAILED · AMOUNT_MISMATCH (details.expected, details.got)", body = ErrorBody),
        (status = 503, description = "SERVICE_UNAVAILABLE: not recorded, the provider retries", body = ErrorBody),
    ))]
#[tracing::instrument(skip_all, fields(reservation_id, payment_id))]
pub async fn webhook(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Bytes,
) -> ApiResult<Json<WebhookReceived>> {
    let signature = headers
        .get(SIGNATURE_HEADER)
        .and_then(|v| v.to_str().ok())
        .ok_or(ApiError::InvalidSignature("missing signature"))?;
    webhook_signature::verify(
        state.settings.secrets.webhook.expose_secret(),
        signature,
        &body,
        Utc::now().timestamp(),
        state.settings.payments.webhook_tolerance_seconds,
    )
    .map_err(|e| {
        ApiError::InvalidSignature(match e {
            webhook_signature::SignatureError::Stale => "stale timestamp",
            webhook_signature::SignatureError::Malformed => "malformed signature",
            webhook_signature::SignatureError::Mismatch => "signature mismatch",
        })
    })?;
    let event: PaymentWebhook = serde_json::from_slice(&body)
        .map_err(|e| ApiError::MalformedJson(format!("webhook body: {e}")))?;
    let span = tracing::Span::current();
    span.record("reservation_id", event.reservation_id.as_str());
    span.record("payment_id", event.payment_id.as_str());
    let outcome = match event.status.parse() {
        Ok(o @ (ProviderOutcome::Succeeded | ProviderOutcome::Failed)) => o,
        _ => return Err(ApiError::Validation("status is SUCCEEDED or FAILED".into())),
    };
    if let Some(topup) = event.reservation_id.strip_prefix(TOPUP_REFERENCE) {
        return balance::topup_webhook(&state, topup, &event, outcome).await;
    }
    let reservation = ReservationId::parse(&event.reservation_id)
        .map_err(|_| ApiError::NotFound("reservation"))?;
    let payment = payments::find_card_payment(&state.pool, &event.payment_id)
        .await?
        .filter(|p| p.reservation_id == reservation.as_uuid())
        .ok_or(ApiError::NotFound("payment"))?;
    if event.amount != payment.amount {
        return Err(ApiError::AmountMismatch {
            expected: payment.amount,
            got: event.amount,
        });
    }
    let record = payments::record_webhook(
        &state.pool,
        WebhookEvent {
            provider_payment_id: &event.payment_id,
            status: outcome,
            event_id: &event.event_id,
            reservation,
            amount: event.amount,
            source: OutcomeSource::Webhook,
        },
    )
    .await?;
    metrics::counter!("payment_webhooks_total", "status" => outcome.as_str(),
                      "first" => record.first.to_string())
    .increment(1);
    if record.forwarded {
        return Ok(Json(WebhookReceived {
            received: true,
            duplicate: true,
        }));
    }
    // Recorded: from now on this outcome moves money. The payment's checkout workflow applies
    // or refunds it; if Temporal can't be reached the answer is 503 and the provider retries
    // (the sweeper would also find the payment unsettled).
    let held = reservations::get_reservation(&state.pool, reservation)
        .await?
        .ok_or(ApiError::NotFound("reservation"))?;
    let report = ProviderReport::of(Some(outcome));
    start_checkout(&state, &held, &event.payment_id, report, true).await?;
    payments::mark_forwarded(&state.pool, &event.payment_id, outcome).await?;
    Ok(Json(WebhookReceived {
        received: true,
        duplicate: !record.first,
    }))
}

/// Starts the payment's `CheckoutWorkflow`, or reports to the running one. Temporal keeps one
/// per payment id however often this runs.
async fn start_checkout(
    state: &AppState,
    reservation: &reservations::Reservation,
    payment_id: &str,
    report: ProviderReport,
    signal: bool,
) -> ApiResult<()> {
    let s = &state.settings;
    let input = CheckoutInput {
        reservation_id: reservation.id.to_string(),
        payment_id: payment_id.to_owned(),
        amount: reservation.amount,
        payment_task_queue: s.temporal.payment_task_queue.clone(),
        reconcile_after_seconds: s.payments.reconcile_after_seconds,
        abandon_at_ms: reservation.expires_at.timestamp_millis()
            + s.payments.reconcile_after_seconds as i64 * 1000,
    };
    let options = WorkflowStartOptions::new(
        s.temporal.task_queue.clone(),
        checkout_workflow_id(payment_id),
    )
    .id_conflict_policy(WorkflowIdConflictPolicy::UseExisting)
    .build();
    let started = if signal {
        bounded(
            state,
            state.temporal.signal_with_start_workflow(
                CheckoutWorkflow::run,
                input,
                CheckoutWorkflow::provider_reported,
                report,
                options,
            ),
        )
        .await
    } else {
        bounded(
            state,
            state
                .temporal
                .start_workflow(CheckoutWorkflow::run, input, options),
        )
        .await
    };
    match started {
        Ok(Ok(_)) => Ok(()),
        Ok(Err(err)) => Err(ApiError::Unavailable(anyhow::anyhow!(
            "checkout workflow: {err}"
        ))),
        Err(elapsed) => Err(ApiError::Unavailable(anyhow::anyhow!(
            "checkout workflow: {elapsed}"
        ))),
    }
}
