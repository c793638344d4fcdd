//! Balance top-ups paid by card: the balance grows when the provider confirms the payment
//! (its signed webhook, or Seatline asking it), once, and never before or without it.

use crate::authz::staff;
use crate::common::*;
use futures::future::join_all;
use reqwest::Method;
use seatline_config::ExposeSecret;
use seatline_domain::Role;
use serde_json::{json, Value};
use std::time::Duration;

const TOPUPS: &str = "/api/v1/users/me/balance/topups";

/// Reconciliation after two seconds, a sweeper every second.
fn quick() -> seatline_config::Settings {
    let mut settings = settings(60);
    settings.worker.sweep_interval_seconds = 1;
    settings.payments.reconcile_after_seconds = 2;
    settings
}

async fn start_topup(api: &Api, user: &User, amount: i64, key: Option<&str>) -> Reply {
    let mut req = api
        .http
        .post(format!("{}{TOPUPS}", api.base))
        .bearer_auth(&user.token)
        .json(&json!({ "amount": amount }));
    if let Some(key) = key {
        req = req.header("Idempotency-Key", key);
    }
    let res = req.send().await.unwrap();
    let status = res.status();
    Reply {
        status,
        body: res.json().await.unwrap_or(Value::Null),
    }
}

async fn topup(api: &Api, user: &User, id: &str) -> Value {
    let reply = api.get(&format!("{TOPUPS}/{id}"), &user.token).await;
    assert_eq!(reply.status, 200, "{}", reply.body);
    reply.body
}

/// Sends a webhook signed with `secret`, as the provider would.
async fn webhook(api: &Api, secret: &str, body: &Value) -> Reply {
    let raw = serde_json::to_vec(body).unwrap();
    let signature =
        seatline_provider::webhook_signature::sign(secret, chrono::Utc::now().timestamp(), &raw);
    let res = api
        .http
        .post(format!("{}/api/v1/payments/webhook", api.base))
        .header("content-type", "application/json")
        .header("Seatline-Signature", signature)
        .body(raw)
        .send()
        .await
        .unwrap();
    let status = res.status();
    Reply {
        status,
        body: res.json().await.unwrap_or(Value::Null),
    }
}

async fn charges_from_topups(app: &TestApp, user: &User) -> Vec<(i64, uuid::Uuid)> {
    sqlx::query_as(
        "SELECT amount, topup_id FROM balance_history
         WHERE user_id = $1::uuid AND topup_id IS NOT NULL ORDER BY id",
    )
    .bind(&user.id)
    .fetch_all(&app.pool)
    .await
    .unwrap()
}

/// Paid at the provider, reported by its webhook five times and by ten forged-free signed
/// copies at the same instant: the balance grows by the amount exactly once, and not before.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_card_topup_credits_the_balance_once_and_only_when_the_provider_confirms_it() {
    let app = TestApp::spawn().await;
    let api = &app.api;
    let buyer = api.user("Top-up buyer").await;
    let started = start_topup(api, &buyer, 50_000, None).await;
    assert_eq!(started.status, 201, "{}", started.body);
    assert_eq!(started.body["status"], "PENDING");
    assert_eq!(started.body["amount"], 50_000);
    let id = started.body["topup_id"].as_str().unwrap().to_owned();
    let payment = started.body["payment_id"].as_str().unwrap().to_owned();
    assert!(started.body["checkout_url"]
        .as_str()
        .unwrap()
        .contains(&payment));
    // Nothing is credited on a promise.
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(api.balance(&buyer).await, 0);
    assert_eq!(topup(api, &buyer, &id).await["status"], "PENDING");

    let secret = app.settings.secrets.webhook.expose_secret().to_owned();
    let event = json!({ "event_id": "evt_topup", "reservation_id": format!("topup-{id}"),
                        "payment_id": payment, "amount": 50_000, "status": "SUCCEEDED" });
    let (_, copies) = tokio::join!(
        app.provider.complete(&payment, "SUCCEEDED", "duplicate"),
        join_all((0..10).map(|_| webhook(api, &secret, &event)))
    );
    for reply in &copies {
        assert_eq!(reply.status, 200, "{}", reply.body);
    }
    let first: Vec<_> = copies
        .iter()
        .filter(|r| r.body["duplicate"] == false)
        .collect();
    assert!(first.len() <= 1, "{} copies credited", first.len());
    let mut at_provider = Value::Null;
    for _ in 0..100 {
        at_provider = app.provider.payment(&payment).await;
        if at_provider["webhook_acknowledged"] == 5 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(at_provider["webhook_acknowledged"], 5, "{at_provider}");
    assert_eq!(api.balance(&buyer).await, 50_000);
    let charges = charges_from_topups(&app, &buyer).await;
    assert_eq!(charges.len(), 1, "{charges:?}");
    assert_eq!(charges[0].0, 50_000);
    let done = topup(api, &buyer, &id).await;
    assert_eq!(done["status"], "APPLIED", "{done}");
    assert!(done["settled_at"].is_string());
    assert!(done["checkout_url"].is_null(), "{done}");
    let history = api
        .get("/api/v1/users/me/balance/history", &buyer.token)
        .await;
    assert_eq!(history.body["entries"][0]["kind"], "CHARGE");
    assert_eq!(history.body["entries"][0]["topup_id"], id.as_str());
    // Its workflow ends once the top-up is settled.
    let temporal = seatline_worker::connect_temporal(&app.settings)
        .await
        .unwrap();
    let handle = temporal
        .get_workflow_handle::<temporalio_client::UntypedWorkflow>(format!("topup-{payment}"));
    let mut status = None;
    for _ in 0..100 {
        status = Some(handle.describe(Default::default()).await.unwrap().status());
        if status == Some(temporalio_client::WorkflowExecutionStatus::Completed) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(
        status,
        Some(temporalio_client::WorkflowExecutionStatus::Completed)
    );
}

/// The provider took the money but its webhook was refused (signed with a clock ten minutes
/// off) and never sent again: Seatline asks the provider and credits the top-up, once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_topup_whose_webhook_was_refused_is_reconciled_and_credited_once() {
    let app = TestApp::spawn_with(quick()).await;
    let api = &app.api;
    let buyer = api.user("Reconciled buyer").await;
    let started = start_topup(api, &buyer, 30_000, None).await;
    assert_eq!(started.status, 201, "{}", started.body);
    let id = started.body["topup_id"].as_str().unwrap().to_owned();
    let payment = started.body["payment_id"].as_str().unwrap().to_owned();
    let completed = reqwest::Client::new()
        .post(format!(
            "{}/v1/payments/{payment}/complete",
            app.provider.base
        ))
        .json(&json!({ "status": "SUCCEEDED", "mode": "normal", "sign_skew_seconds": 600 }))
        .send()
        .await
        .unwrap();
    assert!(completed.status().is_success());
    eventually(Duration::from_secs(20), || async {
        topup(api, &buyer, &id).await["status"] == "APPLIED"
    })
    .await;
    assert_eq!(
        app.provider.payment(&payment).await["webhook_acknowledged"],
        0,
        "the skewed webhook was refused"
    );
    let settled_by: String =
        sqlx::query_scalar("SELECT settled_by FROM balance_topups WHERE id = $1::uuid")
            .bind(&id)
            .fetch_one(&app.pool)
            .await
            .unwrap();
    assert_eq!(settled_by, "RECONCILIATION");
    assert_eq!(api.balance(&buyer).await, 30_000);
    // A late copy of the webhook changes nothing.
    let secret = app.settings.secrets.webhook.expose_secret().to_owned();
    let late = webhook(
        api,
        &secret,
        &json!({ "event_id": "evt_late", "reservation_id": format!("topup-{id}"),
                 "payment_id": payment, "amount": 30_000, "status": "SUCCEEDED" }),
    )
    .await;
    assert_eq!(late.status, 200, "{}", late.body);
    assert_eq!(late.body["duplicate"], true);
    assert_eq!(api.balance(&buyer).await, 30_000);
    assert_eq!(charges_from_topups(&app, &buyer).await.len(), 1);
}

/// The top-up's workflow is gone (terminated by hand, lost with a Temporal history) and the
/// provider's webhook was refused: the sweeper finds the pending top-up, a new workflow asks
/// the provider, and the payment it took is credited.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_topup_whose_workflow_is_gone_is_found_by_the_sweeper_and_credited() {
    let mut settings = quick();
    settings.payments.topup_checkout_seconds = 1;
    let app = TestApp::spawn_with(settings).await;
    let api = &app.api;
    let buyer = api.user("Forgotten buyer").await;
    let started = start_topup(api, &buyer, 40_000, None).await;
    assert_eq!(started.status, 201, "{}", started.body);
    let id = started.body["topup_id"].as_str().unwrap().to_owned();
    let payment = started.body["payment_id"].as_str().unwrap().to_owned();
    let temporal = seatline_worker::connect_temporal(&app.settings)
        .await
        .unwrap();
    temporal
        .get_workflow_handle::<temporalio_client::UntypedWorkflow>(format!("topup-{payment}"))
        .terminate(Default::default())
        .await
        .unwrap();
    let completed = reqwest::Client::new()
        .post(format!(
            "{}/v1/payments/{payment}/complete",
            app.provider.base
        ))
        .json(&json!({ "status": "SUCCEEDED", "mode": "normal", "sign_skew_seconds": 600 }))
        .send()
        .await
        .unwrap();
    assert!(completed.status().is_success());
    eventually(Duration::from_secs(30), || async {
        topup(api, &buyer, &id).await["status"] == "APPLIED"
    })
    .await;
    assert_eq!(api.balance(&buyer).await, 40_000);
    assert_eq!(charges_from_topups(&app, &buyer).await.len(), 1);
}

/// A declined card leaves the top-up open for another try; a top-up never paid is cancelled
/// at the provider once its time is up and ends FAILED, crediting nothing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_declined_then_abandoned_topup_is_cancelled_at_the_provider_and_credits_nothing() {
    let mut settings = quick();
    settings.payments.topup_checkout_seconds = 3;
    let app = TestApp::spawn_with(settings).await;
    let api = &app.api;
    let buyer = api.user("Undecided buyer").await;
    let started = start_topup(api, &buyer, 20_000, None).await;
    assert_eq!(started.status, 201, "{}", started.body);
    let id = started.body["topup_id"].as_str().unwrap().to_owned();
    let payment = started.body["payment_id"].as_str().unwrap().to_owned();
    app.provider.complete(&payment, "FAILED", "normal").await;
    eventually(Duration::from_secs(5), || async {
        topup(api, &buyer, &id).await["declines"] == 1
    })
    .await;
    assert_eq!(topup(api, &buyer, &id).await["status"], "PENDING");
    eventually(Duration::from_secs(20), || async {
        topup(api, &buyer, &id).await["status"] == "FAILED"
    })
    .await;
    assert_eq!(app.provider.payment(&payment).await["status"], "CANCELED");
    assert_eq!(api.balance(&buyer).await, 0);
    assert!(charges_from_topups(&app, &buyer).await.is_empty());
}

/// Forged, wrong-amount, mismatched and unknown top-up webhooks are refused and credit
/// nothing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn forged_and_mismatched_topup_webhooks_credit_nothing() {
    let app = TestApp::spawn().await;
    let api = &app.api;
    let buyer = api.user("Careful buyer").await;
    let started = start_topup(api, &buyer, 10_000, None).await;
    let id = started.body["topup_id"].as_str().unwrap().to_owned();
    let payment = started.body["payment_id"].as_str().unwrap().to_owned();
    let other = start_topup(api, &buyer, 10_000, None).await;
    let other_id = other.body["topup_id"].as_str().unwrap().to_owned();
    let secret = app.settings.secrets.webhook.expose_secret().to_owned();
    let good = json!({ "event_id": "evt_x", "reservation_id": format!("topup-{id}"),
                       "payment_id": payment, "amount": 10_000, "status": "SUCCEEDED" });
    webhook(api, "not the secret", &good)
        .await
        .assert_error(401, "INVALID_SIGNATURE");
    let mut wrong_amount = good.clone();
    wrong_amount["amount"] = json!(1_000_000);
    webhook(api, &secret, &wrong_amount)
        .await
        .assert_error(422, "AMOUNT_MISMATCH");
    // This payment named as the other top-up's.
    let mut crossed = good.clone();
    crossed["reservation_id"] = json!(format!("topup-{other_id}"));
    webhook(api, &secret, &crossed)
        .await
        .assert_error(404, "NOT_FOUND");
    let mut unknown = good.clone();
    unknown["reservation_id"] = json!(format!("topup-{}", uuid::Uuid::new_v4()));
    webhook(api, &secret, &unknown)
        .await
        .assert_error(404, "NOT_FOUND");
    let mut not_an_id = good.clone();
    not_an_id["reservation_id"] = json!("topup-12");
    webhook(api, &secret, &not_an_id)
        .await
        .assert_error(404, "NOT_FOUND");
    assert_eq!(api.balance(&buyer).await, 0);
    assert_eq!(topup(api, &buyer, &id).await["status"], "PENDING");
    assert_eq!(topup(api, &buyer, &other_id).await["status"], "PENDING");
}

/// A top-up is its owner's alone; amounts are checked; a buyer has at most
/// `MAX_PENDING_TOPUPS` waiting; an Idempotency-Key makes a double click one top-up.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn topups_are_private_bounded_and_idempotent() {
    let app = TestApp::spawn().await;
    let api = &app.api;
    let owner = api.user("Owner").await;
    // Five clicks at once under one key: one top-up, one provider payment.
    let clicks =
        join_all((0..5).map(|_| start_topup(api, &owner, 5_000, Some("double-click")))).await;
    let ids: std::collections::HashSet<String> = clicks
        .iter()
        .filter(|r| r.status == 201)
        .map(|r| r.body["topup_id"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(ids.len(), 1, "{clicks:?}");
    for reply in &clicks {
        assert!(
            reply.status == 201 || reply.code() == "IDEMPOTENCY_IN_PROGRESS",
            "{}",
            reply.body
        );
    }
    let id = ids.into_iter().next().unwrap();
    // Another body under that key is refused.
    start_topup(api, &owner, 6_000, Some("double-click"))
        .await
        .assert_error(409, "IDEMPOTENCY_KEY_REUSED");

    for amount in [0, -5, 10_000_001] {
        start_topup(api, &owner, amount, None)
            .await
            .assert_error(422, "VALIDATION_FAILED");
    }
    let malformed = api
        .http
        .post(format!("{}{TOPUPS}", api.base))
        .bearer_auth(&owner.token)
        .header("content-type", "application/json")
        .body("{\"amount\": ")
        .send()
        .await
        .unwrap();
    assert_eq!(malformed.status(), 400);

    // Two more fit (three pending at most), the fourth waits for one of them.
    for _ in 0..2 {
        assert_eq!(start_topup(api, &owner, 1_000, None).await.status, 201);
    }
    start_topup(api, &owner, 1_000, None)
        .await
        .assert_error(409, "TOO_MANY_PENDING_TOPUPS");
    let rows: i64 =
        sqlx::query_scalar("SELECT count(*) FROM balance_topups WHERE user_id = $1::uuid")
            .bind(&owner.id)
            .fetch_one(&app.pool)
            .await
            .unwrap();
    assert_eq!(rows, 3);

    // Nobody else sees it: anonymous, another buyer, each staff role.
    let other = api.user("Other").await;
    let path = format!("{TOPUPS}/{id}");
    api.send(Method::GET, &path, None, None)
        .await
        .assert_error(401, "UNAUTHORIZED");
    api.send(Method::GET, TOPUPS, None, None)
        .await
        .assert_error(401, "UNAUTHORIZED");
    api.send(Method::POST, TOPUPS, None, Some(json!({ "amount": 1_000 })))
        .await
        .assert_error(401, "UNAUTHORIZED");
    let mut tokens = vec![("another buyer", other.token.clone())];
    for role in [Role::Organizer, Role::Operator, Role::Door] {
        tokens.push((role.as_str(), staff(&app, role).await));
    }
    for (who, token) in &tokens {
        let reply = api.get(&path, token).await;
        assert_eq!(
            (reply.status.as_u16(), reply.code()),
            (404, "NOT_FOUND"),
            "{who}: {}",
            reply.body
        );
        let listed = api.get(TOPUPS, token).await;
        assert_eq!(listed.status, 200);
        assert!(!listed.body.to_string().contains(&id), "{who} sees it");
    }
    api.send(
        Method::GET,
        &format!("{TOPUPS}/not-an-id"),
        Some(&owner.token),
        None,
    )
    .await
    .assert_error(404, "NOT_FOUND");
    let mine = api.get(TOPUPS, &owner.token).await;
    assert_eq!(mine.body["topups"].as_array().unwrap().len(), 3);
    assert_eq!(api.balance(&owner).await, 0);
}
