use super::payments::create_provider_payment;
use crate::{
    auth::AuthUser,
    dto::{
        Balance, BalanceHistory, ChargeBalance, ErrorBody, PaymentWebhook, Topup, Topups,
        WebhookReceived,
    },
    error::{ApiError, ApiResult},
    extract::{IdPath, JsonBody},
    state::AppState,
    temporal::bounded,
};
use axum::{extract::State, http::StatusCode, Json};
use seatline_domain::{Amount, ProviderOutcome};
use seatline_proto::{ProviderReport, TopupInput};
use seatline_storage::{
    balance::{self, ChargeError},
    topups::{self, Settled, TopupError, TopupSource},
};
use seatline_workflows::{topup_workflow_id, TopupWorkflow};
use temporalio_client::{WorkflowIdConflictPolicy, WorkflowStartOptions};
use uuid::Uuid;

/// How a top-up names itself to the provider (its `reservation_id`), so the webhook knows it.
pub(crate) const TOPUP_REFERENCE: &str = "topup-";

/// The caller's balance.
#[utoipa::path(get, path = "/users/me/balance", tag = "balance", security(("bearer" = [])),
    responses(
        (status = 200, description = "the balance", body = Balance),
        (status = 401, description = "UNAUTHORIZED", body = ErrorBody),
    ))]
pub async fn get_balance(
    State(state): State<AppState>,
    AuthUser(user): AuthUser,
) -> ApiResult<Json<Balance>> {
    let balance = balance::get_balance(&state.pool, user)
        .await?
        .ok_or(ApiError::Unauthorized)?;
    Ok(Json(Balance { balance }))
}

/// Top the balance up for free (development mode only; production answers 403: use
/// `POST /users/me/balance/topups`, a card payment).
#[utoipa::path(post, path = "/users/me/balance/charges", tag = "balance",
    security(("bearer" = [])), request_body = ChargeBalance,
    params(("Idempotency-Key" = Option<String>, Header, description = "replays return the first answer")),
    responses(
        (status = 200, description = "the new balance", body = Balance),
        (status = 400, description = "MALFORMED_JSON", body = ErrorBody),
        (status = 401, description = "UNAUTHORIZED", body = ErrorBody),
        (status = 403, description = "FORBIDDEN: production mode has no free top-ups", body = ErrorBody),
        (status = 409, description = "IDEMPOTENCY_IN_PROGRESS · IDEMPOTENCY_KEY_REUSED", body = ErrorBody),
        (status = 422, description = "VALIDATION_FAILED · BALANCE_LIMIT_EXCEEDED", body = ErrorBody),
    ))]
pub async fn charge(
    State(state): State<AppState>,
    AuthUser(user): AuthUser,
    JsonBody(body): JsonBody<ChargeBalance>,
) -> ApiResult<Json<Balance>> {
    if state.settings.accounts.is_production() {
        return Err(ApiError::Forbidden(
            "free top-ups are off in production; top up by card: POST /api/v1/users/me/balance/topups",
        ));
    }
    let amount = Amount::parse_charge(body.amount)?;
    let balance = balance::charge(&state.pool, user, amount)
        .await
        .map_err(|e| match e {
            ChargeError::NoBalance => ApiError::Unauthorized,
            ChargeError::LimitExceeded => ApiError::BalanceLimitExceeded,
            ChargeError::Database(err) => err.into(),
        })?;
    Ok(Json(Balance { balance }))
}

/// CHARGE / USE / REFUND entries, newest first.
#[utoipa::path(get, path = "/users/me/balance/history", tag = "balance",
    security(("bearer" = [])),
    responses(
        (status = 200, description = "entries", body = BalanceHistory),
        (status = 401, description = "UNAUTHORIZED", body = ErrorBody),
    ))]
pub async fn history(
    State(state): State<AppState>,
    AuthUser(user): AuthUser,
) -> ApiResult<Json<BalanceHistory>> {
    let entries = balance::history(&state.pool, user).await?;
    Ok(Json(BalanceHistory {
        entries: entries.into_iter().map(Into::into).collect(),
    }))
}

/// Top the balance up by card: a payment at the provider. The balance grows once the provider
/// confirms it (its signed webhook, or Seatline asking it), never before; a payment the
/// buyer does not complete within `TOPUP_CHECKOUT_SECONDS` is cancelled.
#[utoipa::path(post, path = "/users/me/balance/topups", tag = "balance",
    security(("bearer" = [])), request_body = ChargeBalance,
    params(("Idempotency-Key" = Option<String>, Header, description = "replays return the first answer")),
    responses(
        (status = 201, description = "PENDING: send the buyer to checkout_url", body = Topup),
        (status = 400, description = "MALFORMED_JSON", body = ErrorBody),
        (status = 401, description = "UNAUTHORIZED", body = ErrorBody),
        (status = 409, description = "TOO_MANY_PENDING_TOPUPS · IDEMPOTENCY_IN_PROGRESS · IDEMPOTENCY_KEY_REUSED", body = ErrorBody),
        (status = 422, description = "VALIDATION_FAILED · BALANCE_LIMIT_EXCEEDED", body = ErrorBody),
    ))]
#[tracing::instrument(skip_all, fields(user_id = %user, topup_id))]
pub async fn start_topup(
    State(state): State<AppState>,
    AuthUser(user): AuthUser,
    JsonBody(body): JsonBody<ChargeBalance>,
) -> ApiResult<(StatusCode, Json<Topup>)> {
    let amount = Amount::parse_charge(body.amount)?;
    let id = Uuid::new_v4();
    tracing::Span::current().record("topup_id", tracing::field::display(id));
    let limit = state.settings.payments.max_pending_topups;
    topups::create_topup(
        &state.pool,
        id,
        user,
        amount,
        limit as i64,
        &state.settings.temporal.task_queue,
    )
    .await
    .map_err(|e| match e {
        TopupError::LimitExceeded => ApiError::BalanceLimitExceeded,
        TopupError::TooManyPending => ApiError::TooManyPendingTopups { limit },
        TopupError::NoBalance => ApiError::Unauthorized,
        TopupError::Database(err) => err.into(),
    })?;
    let public = state.public_url.as_str();
    let created = match create_provider_payment(
        &state,
        &format!("{TOPUP_REFERENCE}{id}"),
        amount.get(),
        &format!("{public}/#/bookings"),
    )
    .await
    {
        Ok(created) => created,
        Err(err) => {
            // The provider has no payment: nothing can settle this top-up.
            topups::discard_unstarted(&state.pool, id).await?;
            return Err(err);
        }
    };
    topups::attach_provider_payment(
        &state.pool,
        id,
        &created.payment_id,
        created.checkout_url.as_deref(),
    )
    .await?;
    // Followed from here until credited or abandoned, whether or not a webhook comes. If
    // Temporal can't be reached now, the webhook still credits and the sweeper starts it.
    let topup = topups::find_topup(&state.pool, id)
        .await?
        .ok_or(ApiError::NotFound("top-up"))?;
    if let Err(err) = follow_topup(&state, &topup, None).await {
        tracing::warn!(error = %err, "top-up workflow not started; the sweeper will start it");
    }
    Ok((StatusCode::CREATED, Json(topup.into())))
}

/// The caller's card top-ups, newest first.
#[utoipa::path(get, path = "/users/me/balance/topups", tag = "balance",
    security(("bearer" = [])),
    responses(
        (status = 200, description = "top-ups", body = Topups),
        (status = 401, description = "UNAUTHORIZED", body = ErrorBody),
    ))]
pub async fn list_topups(
    State(state): State<AppState>,
    AuthUser(user): AuthUser,
) -> ApiResult<Json<Topups>> {
    let topups = topups::list_topups(&state.pool, user).await?;
    Ok(Json(Topups {
        topups: topups.into_iter().map(Into::into).collect(),
    }))
}

/// One of the caller's card top-ups.
#[utoipa::path(get, path = "/users/me/balance/topups/{id}", tag = "balance",
    security(("bearer" = [])), params(("id" = Uuid, Path)),
    responses(
        (status = 200, description = "the top-up", body = Topup),
        (status = 401, description = "UNAUTHORIZED", body = ErrorBody),
        (status = 404, description = "NOT_FOUND: unknown, or someone else's", body = ErrorBody),
    ))]
pub async fn get_topup(
    State(state): State<AppState>,
    AuthUser(user): AuthUser,
    IdPath(id): IdPath,
) -> ApiResult<Json<Topup>> {
    let topup = topups::find_topup(&state.pool, id)
        .await?
        .filter(|t| t.user_id == user.as_uuid())
        .ok_or(ApiError::NotFound("top-up"))?;
    Ok(Json(topup.into()))
}

/// The provider's verified callback for a top-up (`reservation_id` = `topup-<id>`): a success
/// credits the balance in one transaction before the 2xx; a decline is counted (the buyer
/// may try another card). The top-up's workflow is told, so it stops asking the provider.
pub(crate) async fn topup_webhook(
    state: &AppState,
    topup_id: &str,
    event: &PaymentWebhook,
    outcome: ProviderOutcome,
) -> ApiResult<Json<WebhookReceived>> {
    let id = Uuid::parse_str(topup_id).map_err(|_| ApiError::NotFound("top-up"))?;
    let topup = topups::find_topup_by_payment(&state.pool, &event.payment_id)
        .await?
        .filter(|t| t.id == id)
        .ok_or(ApiError::NotFound("payment"))?;
    if event.amount != topup.amount {
        return Err(ApiError::AmountMismatch {
            expected: topup.amount,
            got: event.amount,
        });
    }
    let first = if outcome == ProviderOutcome::Succeeded {
        let settled =
            topups::settle_topup(&state.pool, &event.payment_id, true, TopupSource::Webhook)
                .await?;
        if let Settled::Credited { balance } = settled {
            tracing::info!(topup_id = %id, balance, "card top-up credited");
        }
        matches!(settled, Settled::Credited { .. })
    } else {
        topups::record_decline(&state.pool, &event.payment_id).await?;
        true
    };
    metrics::counter!("topup_webhooks_total", "status" => outcome.as_str(),
                      "first" => first.to_string())
    .increment(1);
    if outcome == ProviderOutcome::Succeeded {
        // Settled already; the workflow only needs to stop. If Temporal is down it finds the
        // top-up APPLIED the next time it asks.
        if let Err(err) = follow_topup(state, &topup, Some(outcome)).await {
            tracing::warn!(error = %err, "top-up workflow not told of the webhook");
        }
    }
    Ok(Json(WebhookReceived {
        received: true,
        duplicate: !first,
    }))
}

/// Starts the top-up's `TopupWorkflow` or, with an outcome, reports it (starting one if it is
/// gone). Temporal keeps one per provider payment id.
async fn follow_topup(
    state: &AppState,
    topup: &topups::Topup,
    outcome: Option<ProviderOutcome>,
) -> anyhow::Result<()> {
    let s = &state.settings;
    let payment_id = topup
        .provider_payment_id
        .clone()
        .ok_or_else(|| anyhow::anyhow!("the top-up has no provider payment"))?;
    let input = TopupInput {
        topup_id: topup.id.to_string(),
        payment_id: payment_id.clone(),
        amount: topup.amount,
        payment_task_queue: s.temporal.payment_task_queue.clone(),
        reconcile_after_seconds: s.payments.reconcile_after_seconds,
        abandon_at_ms: topup.created_at.timestamp_millis()
            + s.payments.topup_checkout_seconds as i64 * 1000,
    };
    let options = WorkflowStartOptions::new(
        s.temporal.task_queue.clone(),
        topup_workflow_id(&payment_id),
    )
    .id_conflict_policy(WorkflowIdConflictPolicy::UseExisting)
    .build();
    let started = match outcome {
        Some(outcome) => bounded(
            state,
            state.temporal.signal_with_start_workflow(
                TopupWorkflow::run,
                input,
                TopupWorkflow::provider_reported,
                ProviderReport::of(Some(outcome)),
                options,
            ),
        )
        .await?
        .map(|_| ()),
        None => bounded(
            state,
            state
                .temporal
                .start_workflow(TopupWorkflow::run, input, options),
        )
        .await?
        .map(|_| ()),
    };
    started.map_err(|e| anyhow::anyhow!("top-up workflow: {e}"))
}
