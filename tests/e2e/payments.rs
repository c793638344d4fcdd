use crate::common::*;
use futures::future::join_all;
use reqwest::Method;
use seatline_config::ExposeSecret;
use seatline_domain::ScheduleId;
use serde_json::{json, Value};
use std::time::Duration;

pub(crate) async fn checkout(api: &Api, user: &User, reservation: &str) -> Reply {
    api.as_user(
        user,
        Method::POST,
        &format!("/api/v1/reservations/{reservation}/checkout"),
        None,
    )
    .await
}

pub(crate) async fn event_kinds(api: &Api, user: &User, reservation: &str) -> Vec<String> {
    let events = api
        .get(
            &format!("/api/v1/reservations/{reservation}/events"),
            &user.token,
        )
        .await;
    events.body["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["kind"].as_str().unwrap().to_owned())
        .collect()
}

pub(crate) async fn wait_for_status(api: &Api, user: &User, reservation: &str, status: &str) {
    eventually(Duration::from_secs(20), || async {
        api.reservation(user, reservation).await.body["status"] == status
    })
    .await;
}

pub(crate) async fn held(app: &TestApp, cols: i32) -> (ScheduleId, Vec<i64>, User, String, i64) {
    let (schedule, seats) = app.schedule(1, cols).await;
    let buyer = app.api.user("Card buyer").await;
    let held = app.api.hold(&buyer, schedule, &seats[..1]).await;
    assert_eq!(held.status, 201, "{}", held.body);
    let amount = held.body["amount"].as_i64().unwrap();
    (schedule, seats, buyer, reservation_id(&held), amount)
}

pub(crate) async fn payment_rows(app: &TestApp, reservation: &str) -> Vec<(String, String)> {
    sqlx::query_as(
        "SELECT method, status FROM payments WHERE reservation_id = $1::uuid ORDER BY created_at",
    )
    .bind(reservation)
    .fetch_all(&app.pool)
    .await
    .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_card_payment_confirms_through_the_provider_webhook() {
    let app = TestApp::spawn().await;
    let api = &app.api;
    let (schedule, seats, buyer, id, amount) = held(&app, 2).await;
    let started = checkout(api, &buyer, &id).await;
    assert_eq!(started.status, 201, "{}", started.body);
    assert_eq!(started.body["amount"], amount);
    let payment = started.body["payment_id"].as_str().unwrap().to_owned();
    assert!(started.body["checkout_url"]
        .as_str()
        .unwrap()
        .contains(&payment));

    app.provider.complete(&payment, "SUCCEEDED", "normal").await;
    wait_for_status(api, &buyer, &id, "CONFIRMED").await;
    api.wait_seat(&buyer, schedule, seats[0], "SOLD").await;
    let kinds = event_kinds(api, &buyer, &id).await;
    for kind in [
        "HELD",
        "CHECKOUT_STARTED",
        "PAYMENT_WEBHOOK",
        "PAYMENT_APPLIED",
        "CONFIRMED",
    ] {
        assert!(
            kinds.contains(&kind.to_owned()),
            "{kind} missing from {kinds:?}"
        );
    }
    assert_eq!(
        payment_rows(&app, &id).await,
        vec![("CARD".into(), "APPLIED".into())]
    );
    assert_eq!(api.balance(&buyer).await, 0, "the balance is untouched");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_webhook_delivered_five_times_at_once_confirms_once() {
    let app = TestApp::spawn().await;
    let api = &app.api;
    let (_, _, buyer, id, _) = held(&app, 2).await;
    let payment = checkout(api, &buyer, &id).await.body["payment_id"]
        .as_str()
        .unwrap()
        .to_owned();
    app.provider
        .complete(&payment, "SUCCEEDED", "duplicate")
        .await;
    wait_for_status(api, &buyer, &id, "CONFIRMED").await;
    eventually(Duration::from_secs(10), || async {
        app.provider.payment(&payment).await["webhook_acknowledged"] == 5
    })
    .await;
    let kinds = event_kinds(api, &buyer, &id).await;
    let count = |k: &str| kinds.iter().filter(|x| *x == k).count();
    assert_eq!(count("PAYMENT_WEBHOOK"), 1, "{kinds:?}");
    assert_eq!(count("PAYMENT_WEBHOOK_DUPLICATE"), 4, "{kinds:?}");
    assert_eq!(count("PAYMENT_APPLIED"), 1, "{kinds:?}");
    assert_eq!(count("CONFIRMED"), 1, "{kinds:?}");
    assert_eq!(
        payment_rows(&app, &id).await,
        vec![("CARD".into(), "APPLIED".into())]
    );
    assert_eq!(app.provider.payment(&payment).await["refunded_amount"], 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_declined_card_then_a_successful_one_within_the_hold_confirms() {
    let app = TestApp::spawn().await;
    let api = &app.api;
    let (_, _, buyer, id, _) = held(&app, 2).await;
    let first = checkout(api, &buyer, &id).await.body["payment_id"]
        .as_str()
        .unwrap()
        .to_owned();
    app.provider.complete(&first, "FAILED", "normal").await;
    eventually(Duration::from_secs(10), || async {
        app.provider.payment(&first).await["webhook_acknowledged"] == 1
    })
    .await;
    assert_eq!(api.reservation(&buyer, &id).await.body["status"], "HELD");
    // The same payment retried with another card, delivered with a stale decline after it.
    app.provider
        .complete(&first, "SUCCEEDED", "out_of_order")
        .await;
    wait_for_status(api, &buyer, &id, "CONFIRMED").await;
    eventually(Duration::from_secs(10), || async {
        app.provider.payment(&first).await["webhook_acknowledged"]
            .as_u64()
            .unwrap()
            >= 3
    })
    .await;
    assert_eq!(
        api.reservation(&buyer, &id).await.body["status"],
        "CONFIRMED"
    );
    assert_eq!(
        payment_rows(&app, &id).await,
        vec![("CARD".into(), "APPLIED".into())]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_payment_that_succeeds_after_expiry_is_refunded() {
    let app = TestApp::spawn_with_hold(2).await;
    let api = &app.api;
    let (schedule, seats, buyer, id, amount) = held(&app, 2).await;
    let payment = checkout(api, &buyer, &id).await.body["payment_id"]
        .as_str()
        .unwrap()
        .to_owned();
    wait_for_status(api, &buyer, &id, "EXPIRED").await;

    app.provider.complete(&payment, "SUCCEEDED", "normal").await;
    wait_for_status(api, &buyer, &id, "REFUNDED").await;
    let at_provider = app.provider.payment(&payment).await;
    assert_eq!(at_provider["refunded_amount"], amount);
    assert_eq!(at_provider["refunds"].as_array().unwrap().len(), 1);
    assert_eq!(
        payment_rows(&app, &id).await,
        vec![("CARD".into(), "REFUNDED".into())]
    );
    assert!(event_kinds(api, &buyer, &id)
        .await
        .contains(&"REFUNDED".to_owned()));
    api.wait_seat(&buyer, schedule, seats[0], "AVAILABLE").await;
    // A late duplicate changes nothing and refunds nothing more.
    let redeliver = reqwest::Client::new()
        .post(format!(
            "{}/v1/payments/{payment}/redeliver",
            app.provider.base
        ))
        .send()
        .await
        .unwrap();
    assert!(redeliver.status().is_success());
    tokio::time::sleep(Duration::from_millis(800)).await;
    assert_eq!(
        app.provider.payment(&payment).await["refunds"]
            .as_array()
            .unwrap()
            .len(),
        1
    );
    assert_eq!(
        api.reservation(&buyer, &id).await.body["status"],
        "REFUNDED"
    );
}

/// The buyer pays from their balance and by card at the same moment: one confirms, the other
/// takes nothing or is refunded.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn balance_and_card_racing_confirm_exactly_once() {
    let app = TestApp::spawn().await;
    let api = &app.api;
    let (_, _, buyer, id, amount) = held(&app, 2).await;
    api.charge(&buyer, 1_000_000).await;
    let payment = checkout(api, &buyer, &id).await.body["payment_id"]
        .as_str()
        .unwrap()
        .to_owned();
    let (balance_pay, _) = futures::join!(
        api.pay(&buyer, &id),
        app.provider.complete(&payment, "SUCCEEDED", "normal")
    );
    wait_for_status(api, &buyer, &id, "CONFIRMED").await;
    if balance_pay.status == 200 {
        // Balance won: the card money goes back, and Seatline records the refund (just after
        // the provider makes it).
        eventually(Duration::from_secs(20), || async {
            app.provider.payment(&payment).await["refunded_amount"] == amount
                && payment_rows(&app, &id)
                    .await
                    .contains(&("CARD".into(), "REFUNDED".into()))
        })
        .await;
        assert_eq!(api.balance(&buyer).await, 1_000_000 - amount);
        let rows = payment_rows(&app, &id).await;
        assert!(
            rows.contains(&("BALANCE".into(), "APPLIED".into())),
            "{rows:?}"
        );
        assert!(
            rows.contains(&("CARD".into(), "REFUNDED".into())),
            "{rows:?}"
        );
    } else {
        // Card won: the balance was never touched.
        balance_pay.assert_error(409, "ALREADY_CONFIRMED");
        assert_eq!(api.balance(&buyer).await, 1_000_000);
        assert_eq!(app.provider.payment(&payment).await["refunded_amount"], 0);
        assert_eq!(
            payment_rows(&app, &id).await,
            vec![("CARD".into(), "APPLIED".into())]
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn forged_stale_unknown_and_wrong_amount_webhooks_change_nothing() {
    let app = TestApp::spawn().await;
    let api = &app.api;
    let (_, _, buyer, id, amount) = held(&app, 2).await;
    let payment = checkout(api, &buyer, &id).await.body["payment_id"]
        .as_str()
        .unwrap()
        .to_owned();
    let secret = app.settings.secrets.webhook.expose_secret().to_owned();
    let send = |body: Value, secret: String, at: i64| {
        let api = api.clone();
        async move {
            let raw = serde_json::to_vec(&body).unwrap();
            let signature = seatline_provider::webhook_signature::sign(&secret, at, &raw);
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
    };
    let now = chrono::Utc::now().timestamp();
    let good = json!({ "event_id": "evt_x", "reservation_id": id, "payment_id": payment,
                       "amount": amount, "status": "SUCCEEDED" });
    send(good.clone(), "not the secret".into(), now)
        .await
        .assert_error(401, "INVALID_SIGNATURE");
    send(good.clone(), secret.clone(), now - 3_600)
        .await
        .assert_error(401, "INVALID_SIGNATURE");
    let mut unknown = good.clone();
    unknown["reservation_id"] = json!(uuid::Uuid::new_v4());
    send(unknown, secret.clone(), now)
        .await
        .assert_error(404, "NOT_FOUND");
    let mut other_payment = good.clone();
    other_payment["payment_id"] = json!("pay_does_not_exist");
    send(other_payment, secret.clone(), now)
        .await
        .assert_error(404, "NOT_FOUND");
    let mut wrong = good.clone();
    wrong["amount"] = json!(amount - 1);
    send(wrong, secret.clone(), now)
        .await
        .assert_error(422, "AMOUNT_MISMATCH");
    // No signature at all, and a tampered body under a valid signature.
    let res = api
        .http
        .post(format!("{}/api/v1/payments/webhook", api.base))
        .json(&good)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 401);

    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(api.reservation(&buyer, &id).await.body["status"], "HELD");
    let recorded: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM payment_webhook_events WHERE reservation_id = $1::uuid",
    )
    .bind(&id)
    .fetch_one(&app.pool)
    .await
    .unwrap();
    assert_eq!(recorded, 0);
    assert_eq!(
        payment_rows(&app, &id).await,
        vec![("CARD".into(), "PENDING".into())]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn idempotency_keys_replay_refuse_changes_and_serialise_concurrent_replays() {
    let app = TestApp::spawn().await;
    let api = &app.api;
    let buyer = api.user("Careful").await;
    let charge = |key: &str, amount: i64| {
        let (api, buyer, key) = (api.clone(), buyer.clone(), key.to_owned());
        async move {
            let res = api
                .http
                .post(format!("{}/api/v1/users/me/balance/charges", api.base))
                .bearer_auth(&buyer.token)
                .header("Idempotency-Key", key)
                .json(&json!({ "amount": amount }))
                .send()
                .await
                .unwrap();
            let status = res.status();
            let replayed = res.headers().contains_key("idempotent-replayed");
            (
                Reply {
                    status,
                    body: res.json().await.unwrap(),
                },
                replayed,
            )
        }
    };
    let (first, replayed) = charge("k1", 5_000).await;
    assert_eq!((first.status.as_u16(), replayed), (200, false));
    let (again, replayed) = charge("k1", 5_000).await;
    assert_eq!((again.status.as_u16(), replayed), (200, true));
    assert_eq!(again.body, first.body);
    charge("k1", 6_000)
        .await
        .0
        .assert_error(409, "IDEMPOTENCY_KEY_REUSED");
    assert_eq!(api.balance(&buyer).await, 5_000);

    // Ten replays at once: one runs, the others wait their turn (409) or replay its answer.
    let replies = join_all((0..10).map(|_| charge("k2", 1_000))).await;
    for (r, _) in &replies {
        assert!(
            r.status == 200 || r.code() == "IDEMPOTENCY_IN_PROGRESS",
            "{}",
            r.body
        );
    }
    assert_eq!(api.balance(&buyer).await, 6_000, "charged once");

    // Keys are per user: another user's same key is theirs alone.
    let other = api.user("Other").await;
    let res = api
        .http
        .post(format!("{}/api/v1/users/me/balance/charges", api.base))
        .bearer_auth(&other.token)
        .header("Idempotency-Key", "k1")
        .json(&json!({ "amount": 5_000 }))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    assert_eq!(api.balance(&other).await, 5_000);

    // A replayed hold returns the same reservation, and starts no second workflow.
    let (schedule, seats) = app.schedule(1, 2).await;
    api.admit(&buyer, schedule).await;
    let queue = buyer.queue.lock().unwrap().clone().unwrap().1;
    let hold = || {
        api.http
            .post(format!("{}/api/v1/reservations", api.base))
            .bearer_auth(&buyer.token)
            .header("x-queue-token", &queue)
            .header("Idempotency-Key", "hold-1")
            .json(&json!({ "schedule_id": schedule, "seat_ids": [seats[0]] }))
            .send()
    };
    let a: Value = hold().await.unwrap().json().await.unwrap();
    let b = hold().await.unwrap();
    assert_eq!(b.status(), 201);
    let b: Value = b.json().await.unwrap();
    assert_eq!(a["reservation_id"], b["reservation_id"]);
    let count: i64 =
        sqlx::query_scalar("SELECT count(*) FROM reservations WHERE user_id = $1::uuid")
            .bind(&buyer.id)
            .fetch_one(&app.pool)
            .await
            .unwrap();
    assert_eq!(count, 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_double_click_on_pay_debits_once() {
    let app = TestApp::spawn().await;
    let api = &app.api;
    let (_, _, buyer, id, amount) = held(&app, 2).await;
    api.charge(&buyer, 1_000_000).await;
    let (a, b) = futures::join!(api.pay(&buyer, &id), api.pay(&buyer, &id));
    let ok = [&a, &b].iter().filter(|r| r.status == 200).count();
    assert_eq!(ok, 1, "{} / {}", a.body, b.body);
    let loser = if a.status == 200 { &b } else { &a };
    assert_eq!(loser.code(), "ALREADY_CONFIRMED", "{}", loser.body);
    assert_eq!(api.balance(&buyer).await, 1_000_000 - amount);
}
