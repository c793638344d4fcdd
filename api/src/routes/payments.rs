//! Card payments: starting a checkout with the provider, and the provider's signed webhook.

use crate::{
    auth::AuthUser,
    error::{ApiError, ApiResult},
    extract::IdPath,
    state::AppState,
    waiting_room::{require_turn, QueueTokenHeader},
};
use axum::{body::Bytes, extract::State, http::HeaderMap, http::StatusCode, Json};
use chrono::Utc;
use seatline_domain::{ReservationId, ReservationStatus, ScheduleId};
use seatline_proto::{CardPaymentSignal, RefundCardPaymentInput};
use seatline_provider::webhook_signature::{self, SIGNATURE_HEADER};
use seatline_storage::{
    payments::{self, WebhookEvent},
    reservations,
};
use seatline_workflows::{RefundWorkflow, ReservationWorkflow};
use serde::Deserialize;
use serde_json::{json, Value};
use temporalio_client::{
    errors::WorkflowInteractionError, WorkflowIdConflictPolicy, WorkflowSignalOptions,
    WorkflowStartOptions,
};

/// Starts a card payment with the provider for a held reservation.
#[tracing::instrument(skip_all, fields(user_id = %user, reservation_id = %id))]
pub async fn checkout(
    State(state): State<AppState>,
    AuthUser(user): AuthUser,
    QueueTokenHeader(token): QueueTokenHeader,
    IdPath(id): IdPath,
) -> ApiResult<(StatusCode, Json<Value>)> {
    let id = ReservationId::from(id);
    let reservation = reservations::get_reservation(&state.pool, id)
        .await?
        .filter(|r| r.user_id == user.as_uuid())
        .ok_or(ApiError::NotFound("reservation"))?;
    match reservation.status() {
        Some(ReservationStatus::Held) => {}
        Some(ReservationStatus::Confirmed) => return Err(ApiError::AlreadyConfirmed),
        _ => return Err(ApiError::ReservationExpired),
    }
    require_turn(
        &state,
        user,
        token.as_deref(),
        ScheduleId::from(reservation.schedule_id),
    )
    .await?;
    let public = state.public_url.as_str();
    let response = state
        .http
        .post(format!("{}/v1/payments", state.settings.provider_url))
        .json(&json!({
            "reservation_id": id,
            "amount": reservation.amount,
            "currency": "KRW",
            "callback_url": format!("{public}/api/v1/payments/webhook"),
            "return_url": format!("{public}/#/reservation/{id}"),
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
    payments::create_card_payment(&state.pool, id, user, &payment_id, reservation.amount).await?;
    Ok((
        StatusCode::CREATED,
        Json(json!({
            "reservation_id": id,
            "payment_id": payment_id,
            "amount": reservation.amount,
            "status": "PENDING",
            "checkout_url": created["checkout_url"],
        })),
    ))
}

#[derive(Deserialize)]
struct WebhookBody {
    #[serde(default)]
    event_id: String,
    reservation_id: String,
    payment_id: String,
    amount: i64,
    status: String,
}

/// The provider's callback. Answers 2xx only once the event is durably recorded and handed to
/// the reservation's workflow (or, if that workflow has finished, to a refund).
#[tracing::instrument(skip_all, fields(reservation_id, payment_id))]
pub async fn webhook(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Bytes,
) -> ApiResult<Json<Value>> {
    let signature = headers
        .get(SIGNATURE_HEADER)
        .and_then(|v| v.to_str().ok())
        .ok_or(ApiError::InvalidSignature("missing signature"))?;
    webhook_signature::verify(
        &state.settings.webhook_secret,
        signature,
        &body,
        Utc::now().timestamp(),
        state.settings.webhook_tolerance_seconds,
    )
    .map_err(|e| {
        ApiError::InvalidSignature(match e {
            webhook_signature::SignatureError::Stale => "stale timestamp",
            webhook_signature::SignatureError::Malformed => "malformed signature",
            webhook_signature::SignatureError::Mismatch => "signature mismatch",
        })
    })?;
    let event: WebhookBody = serde_json::from_slice(&body)
        .map_err(|e| ApiError::MalformedJson(format!("webhook body: {e}")))?;
    let span = tracing::Span::current();
    span.record("reservation_id", event.reservation_id.as_str());
    span.record("payment_id", event.payment_id.as_str());
    if event.status != "SUCCEEDED" && event.status != "FAILED" {
        return Err(ApiError::Validation("status is SUCCEEDED or FAILED".into()));
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
            status: &event.status,
            event_id: &event.event_id,
            reservation,
            amount: event.amount,
        },
    )
    .await?;
    metrics::counter!("payment_webhooks_total", "status" => event.status.clone(),
                      "first" => record.first.to_string())
    .increment(1);
    if record.forwarded {
        return Ok(Json(json!({ "received": true, "duplicate": true })));
    }
    let signal = CardPaymentSignal {
        payment_id: event.payment_id.clone(),
        amount: event.amount,
    };
    let handle = state
        .temporal
        .get_workflow_handle::<ReservationWorkflow>(reservation.workflow_id());
    let sent = if event.status == "SUCCEEDED" {
        handle
            .signal(
                ReservationWorkflow::payment_succeeded,
                signal,
                WorkflowSignalOptions::default(),
            )
            .await
    } else {
        handle
            .signal(
                ReservationWorkflow::payment_failed,
                signal,
                WorkflowSignalOptions::default(),
            )
            .await
    };
    match sent {
        Ok(()) => {}
        Err(WorkflowInteractionError::NotFound(_)) if event.status == "SUCCEEDED" => {
            refund_late_payment(&state, reservation, &event.payment_id, event.amount).await?;
        }
        Err(WorkflowInteractionError::NotFound(_)) => {} // a decline for a finished reservation
        Err(err) => return Err(ApiError::Unavailable(anyhow::anyhow!("signal: {err}"))),
    }
    payments::mark_forwarded(&state.pool, &event.payment_id, &event.status).await?;
    Ok(Json(
        json!({ "received": true, "duplicate": !record.first }),
    ))
}

/// The reservation's workflow has finished: its seats are sold to this buyer by another
/// payment, or released. Either way this money goes back, once (`refund-<payment id>`).
async fn refund_late_payment(
    state: &AppState,
    reservation: ReservationId,
    payment_id: &str,
    amount: i64,
) -> ApiResult<()> {
    let current = payments::find_card_payment(&state.pool, payment_id).await?;
    if current.is_some_and(|p| p.status == "APPLIED" || p.status == "REFUNDED") {
        return Ok(());
    }
    let input = RefundCardPaymentInput {
        reservation_id: reservation.to_string(),
        payment_id: payment_id.to_owned(),
        amount,
        reason: "LATE_PAYMENT".to_owned(),
        payment_task_queue: state.settings.payment_task_queue.clone(),
    };
    let options = WorkflowStartOptions::new(
        state.settings.task_queue.clone(),
        format!("refund-{payment_id}"),
    )
    .id_conflict_policy(WorkflowIdConflictPolicy::UseExisting)
    .build();
    match state
        .temporal
        .start_workflow(RefundWorkflow::run, input, options)
        .await
    {
        Ok(_) | Err(temporalio_client::errors::WorkflowStartError::AlreadyStarted { .. }) => Ok(()),
        Err(err) => Err(ApiError::Unavailable(anyhow::anyhow!("refund: {err}"))),
    }
}
