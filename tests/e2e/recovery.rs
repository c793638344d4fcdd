//! Recovery without the happy path: webhooks that never arrive, forged signals, holds whose
//! workflow is gone, answers that were lost, turns that ended under a hold, a lost line.

use crate::common::*;
use crate::payments::{checkout, event_kinds, held, payment_rows, wait_for_status};
use seatline_domain::{ReservationId, ScheduleId, UserId};
use seatline_proto::CardPaymentSignal;
use seatline_workflows::ReservationWorkflow;
use serde_json::json;
use std::time::Duration;
use temporalio_client::WorkflowSignalOptions;

/// Settings for these tests: a sweeper every second, reconciliation after two seconds.
fn quick(hold_seconds: u64) -> seatline_config::Settings {
    let mut settings = settings(hold_seconds);
    settings.worker.sweep_interval_seconds = 1;
    settings.worker.sweep_grace_seconds = 1;
    settings.payments.reconcile_after_seconds = 2;
    settings
}

/// The provider completes the payment but signs its webhook with a clock ten minutes off:
/// the API refuses it (401) and the provider never sends it again. Seatline asks the
/// provider itself and applies the payment.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_success_whose_webhook_was_refused_is_reconciled_and_applied() {
    let app = TestApp::spawn_with(quick(60)).await;
    let api = &app.api;
    let (_, _, buyer, id, _) = held(&app, 2).await;
    let payment = checkout(api, &buyer, &id).await.body["payment_id"]
        .as_str()
        .unwrap()
        .to_owned();
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
    wait_for_status(api, &buyer, &id, "CONFIRMED").await;
    assert_eq!(
        app.provider.payment(&payment).await["webhook_acknowledged"],
        0,
        "the skewed webhook was refused"
    );
    let kinds = event_kinds(api, &buyer, &id).await;
    assert!(
        kinds.contains(&"PAYMENT_RECONCILED".to_owned()),
        "{kinds:?}"
    );
    assert_eq!(
        payment_rows(&app, &id).await,
        vec![("CARD".into(), "APPLIED".into())]
    );
    assert_eq!(app.provider.payment(&payment).await["refunded_amount"], 0);
}

/// A checkout the buyer never finishes: once the hold is over the payment is cancelled at
/// the provider (nobody can pay it any more) and ends FAILED; the seats went back.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_abandoned_checkout_is_cancelled_at_the_provider_and_ends_failed() {
    let app = TestApp::spawn_with(quick(3)).await;
    let api = &app.api;
    let (_, _, buyer, id, _) = held(&app, 2).await;
    let payment = checkout(api, &buyer, &id).await.body["payment_id"]
        .as_str()
        .unwrap()
        .to_owned();
    wait_for_status(api, &buyer, &id, "EXPIRED").await;
    eventually(Duration::from_secs(20), || async {
        payment_rows(&app, &id).await == vec![("CARD".to_owned(), "FAILED".to_owned())]
    })
    .await;
    assert_eq!(app.provider.payment(&payment).await["status"], "CANCELED");
    let kinds = event_kinds(api, &buyer, &id).await;
    assert!(kinds.contains(&"PAYMENT_ABANDONED".to_owned()), "{kinds:?}");
}

/// Anyone who can reach Temporal could signal `payment_succeeded` with a pending payment id.
/// Without a verified provider event behind it, it confirms nothing and refunds nothing; the
/// genuine payment still confirms afterwards.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_forged_payment_signal_confirms_nothing() {
    let app = TestApp::spawn().await;
    let api = &app.api;
    let (_, _, buyer, id, amount) = held(&app, 2).await;
    let payment = checkout(api, &buyer, &id).await.body["payment_id"]
        .as_str()
        .unwrap()
        .to_owned();
    let temporal = seatline_worker::connect_temporal(&app.settings)
        .await
        .unwrap();
    temporal
        .get_workflow_handle::<ReservationWorkflow>(format!("reservation-{id}"))
        .signal(
            ReservationWorkflow::payment_succeeded,
            CardPaymentSignal {
                payment_id: payment.clone(),
                amount,
            },
            WorkflowSignalOptions::default(),
        )
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert_eq!(api.reservation(&buyer, &id).await.body["status"], "HELD");
    assert_eq!(
        payment_rows(&app, &id).await,
        vec![("CARD".into(), "PENDING".into())]
    );
    assert_eq!(app.provider.payment(&payment).await["refunded_amount"], 0);

    app.provider.complete(&payment, "SUCCEEDED", "normal").await;
    wait_for_status(api, &buyer, &id, "CONFIRMED").await;
    assert_eq!(
        payment_rows(&app, &id).await,
        vec![("CARD".into(), "APPLIED".into())]
    );
}

/// A hold committed in the database with no workflow to release it (an attempt that
/// finished after its workflow gave up): the sweeper releases it once it is past expiry,
/// through the normal release path, and says so in the audit log.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hold_whose_workflow_is_gone_is_swept_after_expiry() {
    let app = TestApp::spawn_with(quick(60)).await;
    let (schedule, seats) = app.schedule(1, 3).await;
    let buyer = app.api.user("Stranded").await;
    let stranded = ReservationId::new();
    seatline_storage::reservations::hold_seats(
        &app.pool,
        seatline_storage::reservations::HoldRequest {
            max_seats_per_buyer: None,
            reservation: stranded,
            user: UserId::parse(&buyer.id).unwrap(),
            schedule,
            seat_ids: &seats[..2],
            expiry: seatline_storage::reservations::HoldExpiry::At(
                chrono::Utc::now() - chrono::Duration::seconds(5),
            ),
        },
    )
    .await
    .unwrap();
    eventually(Duration::from_secs(15), || async {
        api_status(&app, &stranded).await == "EXPIRED"
    })
    .await;
    let reader = app.api.reader(schedule).await;
    for seat in &seats[..2] {
        app.api
            .wait_seat(&reader, schedule, *seat, "AVAILABLE")
            .await;
    }
    let swept: Vec<(String, String)> = sqlx::query_as(
        "SELECT kind, actor FROM reservation_events
         WHERE reservation_id = $1 AND details->>'swept' = 'true'",
    )
    .bind(stranded.as_uuid())
    .fetch_all(&app.pool)
    .await
    .unwrap();
    assert_eq!(swept, vec![("EXPIRED".to_owned(), "SYSTEM".to_owned())]);
    // The seats can be held again.
    let again = app.api.hold(&buyer, schedule, &seats[..2]).await;
    assert_eq!(again.status, 201, "{}", again.body);
}

async fn api_status(app: &TestApp, id: &ReservationId) -> String {
    sqlx::query_scalar("SELECT status FROM reservations WHERE id = $1")
        .bind(id.as_uuid())
        .fetch_one(&app.pool)
        .await
        .unwrap()
}

/// No worker runs, so the hold can't be decided in time: the buyer hears 503 within the
/// Temporal call timeout. When a worker is back, the same request with the same
/// Idempotency-Key returns the hold, not 409 on the buyer's own seats.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hold_whose_answer_was_lost_is_returned_to_the_retry() {
    let mut settings = settings(60);
    settings.temporal.call_timeout_ms = 1_500;
    let app = TestApp::spawn_api_only(settings.clone()).await;
    let (schedule, seats) = app.bare_schedule(1, 3).await;
    let buyer = app.api.user("Patient").await;
    // The admission controller needs a worker; admit the buyer with one, then stop it.
    let first = Process::start("seatline-worker", &settings, &[]);
    let token = app.api.admit(&buyer, schedule).await;
    first.kill();
    let hold = |key: &'static str| {
        let api = app.api.clone();
        let (user, token) = (buyer.token.clone(), token.clone());
        let body = json!({ "schedule_id": schedule, "seat_ids": &seats[..2] });
        async move {
            let res = api
                .http
                .post(format!("{}/api/v1/reservations", api.base))
                .bearer_auth(user)
                .header("x-queue-token", token)
                .header("idempotency-key", key)
                .json(&body)
                .send()
                .await
                .unwrap();
            let status = res.status().as_u16();
            (status, res.json::<serde_json::Value>().await.unwrap())
        }
    };
    let started = std::time::Instant::now();
    let (status, body) = hold("hold-once").await;
    assert_eq!(status, 503, "{body}");
    assert!(started.elapsed() < Duration::from_secs(5), "bounded wait");
    let _second = Process::start("seatline-worker", &settings, &[]);
    // The first hold is decided once the worker is back; its retry then finds it.
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    let answer = loop {
        let answer = hold("hold-once").await;
        if answer.0 == 201 || std::time::Instant::now() > deadline {
            break answer;
        }
        assert!(
            answer.0 == 503
                || answer.0 == 409 && answer.1["error"]["code"] == "IDEMPOTENCY_IN_PROGRESS",
            "only 'try again' until the hold is decided: {answer:?}"
        );
        tokio::time::sleep(Duration::from_millis(300)).await;
    };
    assert_eq!(answer.1["status"], "HELD", "{}", answer.1);
    let id = answer.1["reservation_id"].as_str().unwrap().to_owned();
    let count: i64 =
        sqlx::query_scalar("SELECT count(*) FROM reservations WHERE user_id = $1::uuid")
            .bind(&buyer.id)
            .fetch_one(&app.pool)
            .await
            .unwrap();
    assert_eq!(count, 1, "one reservation for the buyer, {id}");
    // Replayed once more: the same reservation.
    let (status, again) = hold("hold-once").await;
    assert_eq!(
        (status, again["reservation_id"].as_str()),
        (201, Some(id.as_str()))
    );
}

/// The buyer's turn ends under a live hold (it timed out, or Redis lost it): paying the hold
/// still works, because the hold is the proof of the turn.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_live_hold_can_be_paid_after_the_turn_is_gone() {
    let app = TestApp::spawn().await;
    let api = &app.api;
    let (schedule, seats) = app.schedule(1, 2).await;
    let buyer = api.user("Late payer").await;
    api.charge(&buyer, 1_000_000).await;
    let held = api.hold(&buyer, schedule, &seats[..1]).await;
    assert_eq!(held.status, 201, "{}", held.body);
    let id = reservation_id(&held);
    let mut redis = redis_conn(&app).await;
    let _: () = redis::cmd("ZREM")
        .arg(format!("wr:{{{schedule}}}:active"))
        .arg(&buyer.id)
        .query_async(&mut redis)
        .await
        .unwrap();
    let paid = api.pay(&buyer, &id).await;
    assert_eq!(paid.status, 200, "{}", paid.body);
    assert_eq!(paid.body["status"], "CONFIRMED");
}

async fn redis_conn(app: &TestApp) -> redis::aio::MultiplexedConnection {
    redis::Client::open(app.settings.redis.url.as_str())
        .unwrap()
        .get_multiplexed_async_connection()
        .await
        .unwrap()
}

/// Redis loses a schedule's line while people wait. Each waiting buyer's signed token
/// carries their place: they are put back at it, newcomers go after them, and admission
/// continues in the original order.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lost_line_keeps_everyones_place() {
    let mut settings = settings(60);
    settings.waiting_room.active_cap = 1;
    let app = TestApp::spawn_with(settings).await;
    let api = &app.api;
    let (_, schedule) = seatline_storage::demo::create_isolated_schedule(&app.pool, 1, 4)
        .await
        .unwrap();
    let users = api.users(5).await;
    let mut tokens = Vec::new();
    for u in &users {
        let joined = api.join(u, schedule).await;
        assert_eq!(joined.status, 201, "{}", joined.body);
        tokens.push(joined.body["token"].as_str().unwrap().to_owned());
    }
    // The first is admitted (cap 1); the others wait at 1..4. Let the controller record
    // the line's highest place, then lose the line.
    eventually(Duration::from_secs(10), || async {
        api.standing(&users[0], &tokens[0]).await.body["status"] == "ACTIVE"
    })
    .await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    lose_line(&app, schedule).await;
    // A newcomer joins before anyone polls again: they go after the five.
    let newcomer = api.user("newcomer").await;
    let joined = api.join(&newcomer, schedule).await;
    assert_eq!(joined.status, 201, "{}", joined.body);
    let newcomer_token = joined.body["token"].as_str().unwrap().to_owned();
    // Everyone polls: each is back in line in the original order (the first's turn was
    // lost with the line, so they are first again).
    let mut order = Vec::new();
    for (u, t) in users.iter().zip(&tokens) {
        order.push(api.standing(u, t).await.body.clone());
    }
    let positions: Vec<u64> = order
        .iter()
        .map(|s| s["position"].as_u64().unwrap_or(0))
        .collect();
    let mut sorted = positions.clone();
    sorted.sort();
    assert_eq!(positions, sorted, "original order kept: {order:?}");
    let newcomer_now = api.standing(&newcomer, &newcomer_token).await;
    assert!(
        newcomer_now.body["position"].as_u64().unwrap() >= 5
            || newcomer_now.body["status"] == "WAITING",
        "{}",
        newcomer_now.body
    );
    // Admission goes on in that order: the first of the old line is admitted again first.
    eventually(Duration::from_secs(10), || async {
        api.standing(&users[0], &tokens[0]).await.body["status"] == "ACTIVE"
    })
    .await;
    for (u, t) in users.iter().zip(&tokens).skip(1) {
        assert_eq!(api.standing(u, t).await.body["status"], "WAITING");
    }
    assert_eq!(
        api.standing(&newcomer, &newcomer_token).await.body["status"],
        "WAITING"
    );
}

/// Deletes a schedule's waiting-room keys, as a Redis that lost its data would.
async fn lose_line(app: &TestApp, schedule: ScheduleId) {
    let mut redis = redis_conn(app).await;
    let keys: Vec<String> = redis::cmd("KEYS")
        .arg(format!("wr:{{{schedule}}}:*"))
        .query_async(&mut redis)
        .await
        .unwrap();
    let _: () = redis::cmd("DEL")
        .arg(keys)
        .query_async(&mut redis)
        .await
        .unwrap();
}

/// The provider reports a success before the hold's deadline, but no worker runs until after
/// it: the timer and the report reach the workflow in the wrong order. The payment was made in
/// time, so the reservation is confirmed, not expired and refunded.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_card_payment_made_before_the_deadline_confirms_even_if_the_timer_wins() {
    let settings = quick(6);
    let app = TestApp::spawn_api_only(settings.clone()).await;
    let api = &app.api;
    let first = Process::start("seatline-worker", &settings, &[]);
    let (_, _, buyer, id, _) = held(&app, 2).await;
    let payment = checkout(api, &buyer, &id).await.body["payment_id"]
        .as_str()
        .unwrap()
        .to_owned();
    first.kill();
    app.provider.complete(&payment, "SUCCEEDED", "normal").await;
    eventually(Duration::from_secs(10), || async {
        app.provider.payment(&payment).await["webhook_acknowledged"] == 1
    })
    .await;
    let expires_at: chrono::DateTime<chrono::Utc> =
        sqlx::query_scalar("SELECT expires_at FROM reservations WHERE id = $1::uuid")
            .bind(&id)
            .fetch_one(&app.pool)
            .await
            .unwrap();
    let wait = (expires_at - chrono::Utc::now())
        .to_std()
        .unwrap_or_default();
    tokio::time::sleep(wait + Duration::from_secs(1)).await;
    let _second = Process::start("seatline-worker", &settings, &[]);
    wait_for_status(api, &buyer, &id, "CONFIRMED").await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_eq!(
        api.reservation(&buyer, &id).await.body["status"],
        "CONFIRMED"
    );
    assert_eq!(
        payment_rows(&app, &id).await,
        vec![("CARD".into(), "APPLIED".into())]
    );
    assert_eq!(app.provider.payment(&payment).await["refunded_amount"], 0);
}

/// Redis says a seat is held with an older version than PostgreSQL has (a restored snapshot,
/// a lagging replica): a sweeper corrects it from PostgreSQL and the seat can be held, so a
/// stale Redis can't keep a free seat unavailable. (Every test's worker runs a sweeper over
/// the shared database, so which one corrects it is not asserted.)
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stale_redis_cannot_keep_a_free_seat_unavailable() {
    let app = TestApp::spawn_with(quick(60)).await;
    let (schedule, seats) = app.schedule(1, 3).await;
    let buyer = app.api.user("Patient buyer").await;
    app.api.admit(&buyer, schedule).await;
    // The map is in Redis (a read loads it), then goes stale for one seat.
    app.api
        .wait_seat(&buyer, schedule, seats[0], "AVAILABLE")
        .await;
    let mut redis = redis_conn(&app).await;
    let key = format!("sm:{{{schedule}}}:seats");
    let _: () = redis::cmd("HSET")
        .arg(&key)
        .arg(seats[0])
        .arg(format!("H:-1:{}", uuid::Uuid::new_v4()))
        .query_async(&mut redis)
        .await
        .unwrap();
    let stale_seat = seats[0];
    eventually(Duration::from_secs(10), || {
        let (mut redis, key) = (redis.clone(), key.clone());
        async move {
            let now: String = redis::cmd("HGET")
                .arg(&key)
                .arg(stale_seat)
                .query_async(&mut redis)
                .await
                .unwrap();
            now.starts_with("A:")
        }
    })
    .await;
    let held = app.api.hold(&buyer, schedule, &seats[..1]).await;
    assert_eq!(held.status, 201, "{}", held.body);
}

/// A client that opens a connection and trickles its headers is cut off after
/// `HTTP_HEADER_READ_TIMEOUT_SECONDS`, instead of holding the connection forever.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_that_never_finishes_its_headers_is_cut_off() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut settings = settings(60);
    settings.http.header_read_timeout_seconds = 1;
    let app = TestApp::spawn_api_only(settings).await;
    let address = app.api.base.trim_start_matches("http://").to_owned();
    let mut stream = tokio::net::TcpStream::connect(&address).await.unwrap();
    stream
        .write_all(b"GET /healthz HTTP/1.1\r\nHost: seatline\r\n")
        .await
        .unwrap();
    let started = std::time::Instant::now();
    let mut buf = Vec::new();
    let read = tokio::time::timeout(Duration::from_secs(5), stream.read_to_end(&mut buf)).await;
    assert!(read.is_ok(), "the connection was still open after 5 s");
    assert!(
        started.elapsed() < Duration::from_secs(4),
        "closed after {:?}",
        started.elapsed()
    );
    // A complete request on a new connection is served as usual.
    let ok = app
        .api
        .http
        .get(format!("{}/healthz", app.api.base))
        .send()
        .await
        .unwrap();
    assert!(ok.status().is_success());
}
