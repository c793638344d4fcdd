//! The provider's HTTP API and checkout pages.

use crate::{
    checkout,
    delivery::{Deliverer, Delivery, Plan},
    error::ApiError,
    payment::{cancel, check_refund, new_id, transition, PaymentStatus, WebhookEvent},
    state::{LatestEvent, Payment, PaymentRequest, Refund, SentEvent, SharedStore},
};
use axum::{
    body::Bytes,
    extract::{rejection::QueryRejection, FromRequest, Path, Query, State},
    http::{HeaderMap, StatusCode},
    response::{Html, IntoResponse, Redirect, Response},
    routing::{get, post},
    Json, Router,
};
use chrono::Utc;
use serde::Deserialize;
use serde_json::{json, Value};
use std::{sync::Arc, time::Duration};

const IDEMPOTENCY_KEY: &str = "idempotency-key";
const MAX_DUPLICATES: u32 = 100;
const MAX_DELAY_MS: u64 = 10 * 60 * 1000;
/// `sign_skew_seconds` of `/complete` is within ± one day.
const MAX_SIGN_SKEW_SECONDS: i64 = 86_400;

#[derive(Clone)]
pub(crate) struct AppState {
    pub store: SharedStore,
    pub deliverer: Deliverer,
    pub public_url: Arc<str>,
}

pub(crate) fn router(state: AppState) -> Router {
    Router::new()
        .route("/healthz", get(healthz))
        .route("/v1/payments", post(create_payment).get(list_payments))
        .route("/v1/payments/{payment_id}", get(get_payment))
        .route("/v1/payments/{payment_id}/complete", post(complete))
        .route("/v1/payments/{payment_id}/cancel", post(cancel_payment))
        .route("/v1/payments/{payment_id}/redeliver", post(redeliver))
        .route("/v1/refunds", post(create_refund))
        .route("/checkout/{payment_id}", get(checkout_page))
        .route("/checkout/{payment_id}/succeed", post(checkout_succeed))
        .route("/checkout/{payment_id}/fail", post(checkout_fail))
        .route("/checkout/{payment_id}/done", get(done_page))
        .fallback(|| async { ApiError::new(StatusCode::NOT_FOUND, "NOT_FOUND", "no such route") })
        .method_not_allowed_fallback(|| async {
            ApiError::new(
                StatusCode::METHOD_NOT_ALLOWED,
                "METHOD_NOT_ALLOWED",
                "method not allowed",
            )
        })
        .with_state(state)
}

/// `axum::Json` whose rejections are our JSON errors.
#[derive(FromRequest)]
#[from_request(via(axum::Json), rejection(ApiError))]
struct JsonBody<T>(T);

async fn healthz() -> Json<Value> {
    Json(json!({ "status": "ok" }))
}

fn checkout_url(public_url: &str, payment_id: &str) -> String {
    format!("{public_url}/checkout/{payment_id}")
}

fn payment_view(payment: &Payment, public_url: &str) -> Value {
    let refunds: Vec<Value> = payment
        .refunds
        .iter()
        .map(|r| {
            json!({
                "refund_id": r.refund_id,
                "amount": r.amount,
                "reason": r.reason,
                "created_at": r.created_at,
            })
        })
        .collect();
    let events: Vec<Value> = payment
        .events
        .iter()
        .map(|e| {
            json!({
                "event_id": e.event.event_id,
                "status": e.event.status,
                "occurred_at": e.event.occurred_at,
                "stale": e.stale,
            })
        })
        .collect();
    json!({
        "payment_id": payment.payment_id,
        "reservation_id": payment.request.reservation_id,
        "amount": payment.request.amount,
        "currency": payment.request.currency,
        "status": payment.status,
        "checkout_url": checkout_url(public_url, &payment.payment_id),
        "created_at": payment.created_at,
        "canceled_at": payment.canceled_at,
        "refunded_amount": payment.refunded_amount(),
        "refunds": refunds,
        "events": events,
        "webhook_deliveries": payment.webhook_deliveries,
        "webhook_acknowledged": payment.webhook_acknowledged,
        "webhook_in_flight": payment.webhook_in_flight,
        "webhook_abandoned": payment.webhook_abandoned,
        "webhook_last_failure": payment.webhook_last_failure,
    })
}

fn idempotency_key(headers: &HeaderMap) -> Result<Option<String>, ApiError> {
    let Some(raw) = headers.get(IDEMPOTENCY_KEY) else {
        return Ok(None);
    };
    let key = raw.to_str().map(str::trim).map_err(|_| {
        ApiError::bad_request(
            "INVALID_IDEMPOTENCY_KEY",
            "Idempotency-Key must be visible ASCII",
        )
    })?;
    if key.is_empty() || key.len() > 255 {
        return Err(ApiError::bad_request(
            "INVALID_IDEMPOTENCY_KEY",
            "Idempotency-Key must be 1 to 255 characters",
        ));
    }
    Ok(Some(key.to_owned()))
}

fn http_url(raw: &str, field: &str, code: &'static str) -> Result<String, ApiError> {
    let raw = raw.trim();
    match reqwest::Url::parse(raw) {
        Ok(url) if matches!(url.scheme(), "http" | "https") && url.has_host() => Ok(raw.to_owned()),
        _ => Err(ApiError::bad_request(
            code,
            format!("{field} must be an absolute http(s) URL"),
        )),
    }
}

#[derive(Deserialize)]
struct CreatePaymentBody {
    reservation_id: String,
    amount: i64,
    currency: Option<String>,
    callback_url: String,
    return_url: Option<String>,
}

impl CreatePaymentBody {
    fn validate(self) -> Result<PaymentRequest, ApiError> {
        let reservation_id = self.reservation_id.trim().to_owned();
        if reservation_id.is_empty() || reservation_id.len() > 200 {
            return Err(ApiError::bad_request(
                "INVALID_RESERVATION_ID",
                "reservation_id must be 1 to 200 characters",
            ));
        }
        if self.amount <= 0 {
            return Err(ApiError::bad_request(
                "INVALID_AMOUNT",
                "amount must be positive",
            ));
        }
        let currency = match self.currency.as_deref().map(str::trim) {
            None | Some("") => "KRW".to_owned(),
            Some(c) if c.len() == 3 && c.chars().all(|ch| ch.is_ascii_alphabetic()) => {
                c.to_ascii_uppercase()
            }
            Some(_) => {
                return Err(ApiError::bad_request(
                    "INVALID_CURRENCY",
                    "currency must be a three-letter code such as KRW",
                ))
            }
        };
        let callback_url = http_url(&self.callback_url, "callback_url", "INVALID_CALLBACK_URL")?;
        let return_url = match self.return_url.as_deref().map(str::trim) {
            None | Some("") => None,
            Some(url) => Some(http_url(url, "return_url", "INVALID_RETURN_URL")?),
        };
        Ok(PaymentRequest {
            reservation_id,
            amount: self.amount,
            currency,
            callback_url,
            return_url,
        })
    }
}

/// `POST /v1/payments`.
async fn create_payment(
    State(state): State<AppState>,
    headers: HeaderMap,
    JsonBody(body): JsonBody<CreatePaymentBody>,
) -> Result<Response, ApiError> {
    let key = idempotency_key(&headers)?;
    let request = body.validate()?;
    let mut store = state.store.lock();
    if let Some(key) = &key {
        if let Some(existing) = store.payment_keys.get(key) {
            let payment = &store.payments[existing];
            if payment.request != request {
                return Err(ApiError::key_reused());
            }
            return Ok((
                StatusCode::OK,
                Json(created_view(payment, &state.public_url)),
            )
                .into_response());
        }
    }
    let payment = Payment {
        payment_id: new_id("pay"),
        request,
        status: PaymentStatus::Pending,
        created_at: Utc::now(),
        canceled_at: None,
        refunds: Vec::new(),
        events: Vec::new(),
        latest_event: None,
        webhook_deliveries: 0,
        webhook_acknowledged: 0,
        webhook_in_flight: 0,
        webhook_abandoned: 0,
        webhook_last_failure: None,
    };
    tracing::info!(
        payment_id = %payment.payment_id,
        reservation_id = %payment.request.reservation_id,
        amount = payment.request.amount,
        "payment created"
    );
    let view = created_view(&payment, &state.public_url);
    if let Some(key) = key {
        store.payment_keys.insert(key, payment.payment_id.clone());
    }
    store.payments.insert(payment.payment_id.clone(), payment);
    Ok((StatusCode::CREATED, Json(view)).into_response())
}

fn created_view(payment: &Payment, public_url: &str) -> Value {
    json!({
        "payment_id": payment.payment_id,
        "reservation_id": payment.request.reservation_id,
        "status": payment.status,
        "amount": payment.request.amount,
        "currency": payment.request.currency,
        "checkout_url": checkout_url(public_url, &payment.payment_id),
    })
}

/// `GET /v1/payments/{payment_id}`.
async fn get_payment(
    State(state): State<AppState>,
    Path(payment_id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let store = state.store.lock();
    let payment = store
        .payments
        .get(&payment_id)
        .ok_or_else(|| ApiError::payment_not_found(&payment_id))?;
    Ok(Json(payment_view(payment, &state.public_url)))
}

#[derive(Deserialize)]
struct ListQuery {
    reservation_id: Option<String>,
}

/// `GET /v1/payments[?reservation_id=...]`: every payment (of that reservation), oldest
/// first, each as `GET /v1/payments/{payment_id}` shows it. For invariant checks.
async fn list_payments(
    State(state): State<AppState>,
    query: Result<Query<ListQuery>, QueryRejection>,
) -> Result<Json<Value>, ApiError> {
    let Query(query) =
        query.map_err(|e| ApiError::bad_request("INVALID_REQUEST", e.body_text()))?;
    let filter = match query.reservation_id.as_deref().map(str::trim) {
        None => None,
        Some("") => {
            return Err(ApiError::bad_request(
                "INVALID_RESERVATION_ID",
                "reservation_id, when given, must not be empty",
            ))
        }
        Some(id) => Some(id),
    };
    let store = state.store.lock();
    let mut payments: Vec<&Payment> = store
        .payments
        .values()
        .filter(|p| filter.is_none_or(|id| p.request.reservation_id == id))
        .collect();
    payments.sort_by(|a, b| (a.created_at, &a.payment_id).cmp(&(b.created_at, &b.payment_id)));
    let views: Vec<Value> = payments
        .into_iter()
        .map(|p| payment_view(p, &state.public_url))
        .collect();
    Ok(Json(json!({ "payments": views })))
}

/// `POST /v1/payments/{payment_id}/cancel`: an abandoned PENDING payment becomes CANCELED
/// (final); again on a CANCELED one is harmless. A payment with an outcome keeps it: 409
/// `PAYMENT_ALREADY_COMPLETED` with that outcome in `details.status`.
async fn cancel_payment(
    State(state): State<AppState>,
    Path(payment_id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let mut store = state.store.lock();
    let payment = store
        .payments
        .get_mut(&payment_id)
        .ok_or_else(|| ApiError::payment_not_found(&payment_id))?;
    let from = payment.status;
    match cancel(from) {
        Ok(to) => {
            if from != to {
                payment.status = to;
                payment.canceled_at = Some(Utc::now());
                tracing::info!(
                    %payment_id, reservation_id = %payment.request.reservation_id,
                    "payment canceled"
                );
            }
            Ok(Json(payment_view(payment, &state.public_url)))
        }
        Err(err) => {
            tracing::info!(%payment_id, status = from.as_str(), "cancel refused: the payment already completed");
            Err(ApiError::from(err).with_details(json!({
                "payment_id": payment.payment_id,
                "reservation_id": payment.request.reservation_id,
                "status": payment.status,
                "amount": payment.request.amount,
                "refunded_amount": payment.refunded_amount(),
            })))
        }
    }
}

#[derive(Debug, Clone, Copy, Default, Deserialize)]
#[serde(rename_all = "snake_case")]
enum Mode {
    #[default]
    Normal,
    Duplicate,
    Delay,
    OutOfOrder,
}

#[derive(Deserialize)]
struct CompleteBody {
    status: PaymentStatus,
    #[serde(default)]
    mode: Mode,
    deliveries: Option<u32>,
    delay_ms: Option<u64>,
    /// Signs every delivery of this completion's event at `now + sign_skew_seconds`.
    sign_skew_seconds: Option<i64>,
}

/// How to deliver, before the stale event (which needs the real one) exists.
enum PlanKind {
    Once,
    Duplicate(u32),
    Delay(Duration),
    OutOfOrder,
}

impl CompleteBody {
    fn plan(&self) -> Result<PlanKind, ApiError> {
        Ok(match self.mode {
            Mode::Normal => PlanKind::Once,
            Mode::Duplicate => {
                let n = self.deliveries.unwrap_or(5);
                if !(1..=MAX_DUPLICATES).contains(&n) {
                    return Err(ApiError::bad_request(
                        "INVALID_DELIVERIES",
                        format!("deliveries must be 1 to {MAX_DUPLICATES}"),
                    ));
                }
                PlanKind::Duplicate(n)
            }
            Mode::Delay => {
                let ms = self.delay_ms.unwrap_or(3000);
                if ms > MAX_DELAY_MS {
                    return Err(ApiError::bad_request(
                        "INVALID_DELAY",
                        format!("delay_ms must be at most {MAX_DELAY_MS}"),
                    ));
                }
                PlanKind::Delay(Duration::from_millis(ms))
            }
            Mode::OutOfOrder => PlanKind::OutOfOrder,
        })
    }

    fn sign_skew_seconds(&self) -> Result<i64, ApiError> {
        let skew = self.sign_skew_seconds.unwrap_or(0);
        if !(-MAX_SIGN_SKEW_SECONDS..=MAX_SIGN_SKEW_SECONDS).contains(&skew) {
            return Err(ApiError::bad_request(
                "INVALID_SIGN_SKEW",
                format!("sign_skew_seconds must be within ±{MAX_SIGN_SKEW_SECONDS}"),
            ));
        }
        Ok(skew)
    }
}

enum Completion {
    /// The payment moved; its view after the move.
    Done(Value),
    /// Already in the asked-for state (a double submit from the page): nothing sent.
    Unchanged,
}

fn serialize_event(event: &WebhookEvent) -> Bytes {
    Bytes::from(serde_json::to_vec(event).expect("a webhook event always serializes"))
}

/// Moves the payment to `to`, records the event and sends it according to `plan`.
fn complete_payment(
    state: &AppState,
    payment_id: &str,
    to: PaymentStatus,
    plan: PlanKind,
    sign_skew_seconds: i64,
    same_state_is_ok: bool,
) -> Result<Completion, ApiError> {
    let mut store = state.store.lock();
    let payment = store
        .payments
        .get_mut(payment_id)
        .ok_or_else(|| ApiError::payment_not_found(payment_id))?;
    if same_state_is_ok && payment.status == to {
        return Ok(Completion::Unchanged);
    }
    let from = payment.status;
    payment.status = transition(from, to)?;
    let event = WebhookEvent::new(
        &payment.request.reservation_id,
        &payment.payment_id,
        payment.request.amount,
        to,
        Utc::now(),
    );
    let body = serialize_event(&event);
    let delivery = Delivery {
        payment_id: payment.payment_id.clone(),
        event_id: event.event_id.clone(),
        callback_url: payment.request.callback_url.clone(),
        body: body.clone(),
        sign_skew_seconds,
    };
    tracing::info!(
        %payment_id, from = from.as_str(), to = to.as_str(), event_id = %event.event_id,
        sign_skew_seconds, "payment completed"
    );
    payment.latest_event = Some(LatestEvent {
        event_id: event.event_id.clone(),
        body,
        sign_skew_seconds,
    });
    let stale = matches!(plan, PlanKind::OutOfOrder).then(|| event.stale_opposite());
    payment.events.push(SentEvent {
        event,
        stale: false,
    });
    let plan = match (plan, stale) {
        (PlanKind::Duplicate(n), _) => Plan::Duplicate(n),
        (PlanKind::Delay(wait), _) => Plan::Delay(wait),
        (PlanKind::OutOfOrder, Some(stale)) => {
            let stale_delivery = Delivery {
                event_id: stale.event_id.clone(),
                body: serialize_event(&stale),
                ..delivery.clone()
            };
            payment.events.push(SentEvent {
                event: stale,
                stale: true,
            });
            Plan::OutOfOrder(stale_delivery)
        }
        (PlanKind::Once | PlanKind::OutOfOrder, _) => Plan::Once,
    };
    // Under the lock: the deliveries count as in flight in the view below.
    state.deliverer.dispatch(payment, delivery, plan);
    Ok(Completion::Done(payment_view(payment, &state.public_url)))
}

/// `POST /v1/payments/{payment_id}/complete`: the automation hook.
async fn complete(
    State(state): State<AppState>,
    Path(payment_id): Path<String>,
    JsonBody(body): JsonBody<CompleteBody>,
) -> Result<Json<Value>, ApiError> {
    let plan = body.plan()?;
    let skew = body.sign_skew_seconds()?;
    match complete_payment(&state, &payment_id, body.status, plan, skew, false)? {
        Completion::Done(view) => Ok(Json(view)),
        Completion::Unchanged => unreachable!("only the checkout page accepts an unchanged state"),
    }
}

/// `POST /v1/payments/{payment_id}/redeliver`: the latest event once more.
async fn redeliver(
    State(state): State<AppState>,
    Path(payment_id): Path<String>,
) -> Result<Response, ApiError> {
    let mut store = state.store.lock();
    let payment = store
        .payments
        .get_mut(&payment_id)
        .ok_or_else(|| ApiError::payment_not_found(&payment_id))?;
    let latest = payment.latest_event.clone().ok_or_else(|| {
        ApiError::new(
            StatusCode::CONFLICT,
            "NO_EVENT_YET",
            "the payment has not been completed, there is no event to redeliver",
        )
    })?;
    let delivery = Delivery {
        payment_id: payment.payment_id.clone(),
        event_id: latest.event_id,
        callback_url: payment.request.callback_url.clone(),
        body: latest.body,
        sign_skew_seconds: latest.sign_skew_seconds,
    };
    tracing::info!(%payment_id, event_id = %delivery.event_id, "redelivering the latest event");
    let answer = json!({ "payment_id": payment_id, "event_id": delivery.event_id });
    state.deliverer.dispatch(payment, delivery, Plan::Once);
    Ok((StatusCode::ACCEPTED, Json(answer)).into_response())
}

#[derive(Deserialize)]
struct RefundBody {
    payment_id: String,
    amount: i64,
    #[serde(default)]
    reason: Option<String>,
}

fn refund_view(payment_id: &str, refund: &Refund) -> Value {
    json!({
        "refund_id": refund.refund_id,
        "payment_id": payment_id,
        "amount": refund.amount,
        "reason": refund.reason,
        "status": "SUCCEEDED",
        "created_at": refund.created_at,
    })
}

/// `POST /v1/refunds`: back to the card, at most what was captured, once per key.
async fn create_refund(
    State(state): State<AppState>,
    headers: HeaderMap,
    JsonBody(body): JsonBody<RefundBody>,
) -> Result<Json<Value>, ApiError> {
    let key = idempotency_key(&headers)?.ok_or_else(|| {
        ApiError::bad_request(
            "IDEMPOTENCY_KEY_REQUIRED",
            "refunds require an Idempotency-Key header",
        )
    })?;
    let mut guard = state.store.lock();
    let store = &mut *guard;
    if let Some((payment_id, refund_id)) = store.refund_keys.get(&key) {
        let refund = store.payments[payment_id]
            .refunds
            .iter()
            .find(|r| &r.refund_id == refund_id)
            .expect("a keyed refund is stored on its payment");
        if *payment_id != body.payment_id || refund.amount != body.amount {
            return Err(ApiError::key_reused());
        }
        return Ok(Json(refund_view(payment_id, refund)));
    }
    let payment = store
        .payments
        .get_mut(&body.payment_id)
        .ok_or_else(|| ApiError::payment_not_found(&body.payment_id))?;
    check_refund(
        payment.status,
        payment.request.amount,
        payment.refunded_amount(),
        body.amount,
    )?;
    let refund = Refund {
        refund_id: new_id("re"),
        amount: body.amount,
        reason: body.reason.unwrap_or_default(),
        created_at: Utc::now(),
    };
    tracing::info!(
        payment_id = %payment.payment_id, refund_id = %refund.refund_id, amount = refund.amount,
        reason = %refund.reason, "refunded"
    );
    let view = refund_view(&payment.payment_id, &refund);
    store
        .refund_keys
        .insert(key, (payment.payment_id.clone(), refund.refund_id.clone()));
    payment.refunds.push(refund);
    Ok(Json(view))
}

fn html_status(status: StatusCode, html: String) -> Response {
    (status, Html(html)).into_response()
}

fn unknown_payment_page() -> Response {
    html_status(
        StatusCode::NOT_FOUND,
        checkout::message_page(
            "결제를 찾을 수 없습니다 / Payment not found",
            "이 결제는 존재하지 않습니다. / There is no such payment.",
            None,
        ),
    )
}

/// `GET /checkout/{payment_id}`; 409 (without buttons) for a canceled payment.
async fn checkout_page(State(state): State<AppState>, Path(payment_id): Path<String>) -> Response {
    match state.store.lock().payments.get(&payment_id) {
        Some(payment) if payment.status == PaymentStatus::Canceled => {
            html_status(StatusCode::CONFLICT, checkout::checkout_page(payment))
        }
        Some(payment) => Html(checkout::checkout_page(payment)).into_response(),
        None => unknown_payment_page(),
    }
}

/// `GET /checkout/{payment_id}/done`.
async fn done_page(State(state): State<AppState>, Path(payment_id): Path<String>) -> Response {
    match state.store.lock().payments.get(&payment_id) {
        Some(payment) => Html(checkout::done_page(payment)).into_response(),
        None => unknown_payment_page(),
    }
}

async fn checkout_succeed(
    State(state): State<AppState>,
    Path(payment_id): Path<String>,
) -> Response {
    checkout_complete(&state, &payment_id, PaymentStatus::Succeeded)
}

async fn checkout_fail(State(state): State<AppState>, Path(payment_id): Path<String>) -> Response {
    checkout_complete(&state, &payment_id, PaymentStatus::Failed)
}

/// The buyer pressed Pay or Decline: complete (normal delivery), then 303 to the return URL.
/// Pressing the same button twice changes nothing and lands in the same place.
fn checkout_complete(state: &AppState, payment_id: &str, to: PaymentStatus) -> Response {
    let outcome = complete_payment(state, payment_id, to, PlanKind::Once, 0, true);
    let store = state.store.lock();
    let Some(payment) = store.payments.get(payment_id) else {
        return unknown_payment_page();
    };
    match outcome {
        Ok(_) => match &payment.request.return_url {
            Some(url) => Redirect::to(url).into_response(),
            // Relative to /checkout/{id}/succeed: /checkout/{id}/done.
            None => Redirect::to("done").into_response(),
        },
        Err(err) => {
            let heading = match err.code {
                "ALREADY_SUCCEEDED" => "이미 결제되었습니다 / Already paid",
                "PAYMENT_CANCELED" => "취소된 결제입니다 / Payment canceled",
                _ => "처리할 수 없습니다 / Cannot complete the payment",
            };
            let message = match err.code {
                "ALREADY_SUCCEEDED" => {
                    "이 결제는 이미 완료되어 변경할 수 없습니다. / This payment has already succeeded and cannot change."
                        .to_owned()
                }
                "PAYMENT_CANCELED" => checkout::CANCELED_MESSAGE.to_owned(),
                _ => err.message.clone(),
            };
            html_status(
                err.status,
                checkout::message_page(heading, &message, Some(payment)),
            )
        }
    }
}
