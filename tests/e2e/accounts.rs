//! Accounts, sessions, roles, production mode, rate limits and the per-buyer seat cap.

use crate::common::*;
use futures::{future::join_all, StreamExt};
use reqwest::Method;
use serde_json::{json, Value};
use std::time::Duration;

fn email(tag: &str) -> String {
    format!("{tag}-{}@Example.com", uuid::Uuid::new_v4())
}

async fn signup(api: &Api, email: &str, password: &str) -> Reply {
    api.send(
        Method::POST,
        "/api/v1/auth/signup",
        None,
        Some(json!({ "email": email, "password": password, "name": "Kim" })),
    )
    .await
}

async fn login(api: &Api, email: &str, password: &str) -> Reply {
    api.send(
        Method::POST,
        "/api/v1/auth/login",
        None,
        Some(json!({ "email": email, "password": password })),
    )
    .await
}

async fn refresh(api: &Api, token: &Value) -> Reply {
    api.send(
        Method::POST,
        "/api/v1/auth/refresh",
        None,
        Some(json!({ "refresh_token": token })),
    )
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sign_up_log_in_refresh_and_log_out_across_two_api_processes() {
    let app = TestApp::spawn().await;
    let api = &app.api;
    // A second API process: a logout on one must hold on the other.
    let other = TestApp::spawn_api_only(app.settings.clone()).await;
    let address = email("kim");
    let created = signup(api, &address, "correct horse battery").await;
    assert_eq!(created.status, 201, "{}", created.body);
    assert_eq!(created.body["role"], "buyer");
    assert_eq!(created.body["token_type"], "Bearer");
    let user_id = created.body["user_id"].as_str().unwrap().to_owned();

    // The email is one account whatever its case and spaces.
    let again = signup(
        api,
        &format!("  {}  ", address.to_uppercase()),
        "another password!",
    )
    .await;
    again.assert_error(409, "EMAIL_TAKEN");

    // Wrong password and unknown email answer alike.
    login(api, &address, "wrong password!!")
        .await
        .assert_error(401, "INVALID_CREDENTIALS");
    login(api, &email("nobody"), "correct horse battery")
        .await
        .assert_error(401, "INVALID_CREDENTIALS");

    let session = login(api, &address.to_lowercase(), "correct horse battery").await;
    assert_eq!(session.status, 200, "{}", session.body);
    assert_eq!(session.body["user_id"], user_id);
    let access = session.body["access_token"].as_str().unwrap().to_owned();
    let me = api.get("/api/v1/auth/me", &access).await;
    assert_eq!(me.status, 200, "{}", me.body);
    assert_eq!(me.body["email"], address.to_lowercase());
    assert_eq!(me.body["role"], "buyer");
    // A signed-up buyer buys like any other: a balance of their own.
    assert_eq!(
        api.get("/api/v1/users/me/balance", &access).await.body["balance"],
        0
    );

    // Refresh: new tokens; the spent refresh token, shown again, ends the session.
    let first_refresh = session.body["refresh_token"].clone();
    let renewed = refresh(api, &first_refresh).await;
    assert_eq!(renewed.status, 200, "{}", renewed.body);
    let renewed_access = renewed.body["access_token"].as_str().unwrap().to_owned();
    assert_eq!(
        other
            .api
            .get("/api/v1/auth/me", &renewed_access)
            .await
            .status,
        200
    );
    refresh(api, &first_refresh)
        .await
        .assert_error(401, "UNAUTHORIZED");
    // The thief's reuse ended the session for the holder of the newest token too.
    refresh(api, &renewed.body["refresh_token"])
        .await
        .assert_error(401, "UNAUTHORIZED");
    eventually(Duration::from_secs(3), || {
        let (api, t) = (other.api.clone(), renewed_access.clone());
        async move { api.get("/api/v1/auth/me", &t).await.status == 401 }
    })
    .await;

    // Logout ends that session only: on this process at once, on the other within seconds.
    let second = login(api, &address, "correct horse battery").await;
    let third = login(api, &address, "correct horse battery").await;
    let (second_access, third_access) = (
        second.body["access_token"].as_str().unwrap().to_owned(),
        third.body["access_token"].as_str().unwrap().to_owned(),
    );
    let out = api
        .send(
            Method::POST,
            "/api/v1/auth/logout",
            Some(&second_access),
            None,
        )
        .await;
    assert_eq!(out.status, 204, "{}", out.body);
    api.get("/api/v1/auth/me", &second_access)
        .await
        .assert_error(401, "UNAUTHORIZED");
    eventually(Duration::from_secs(3), || {
        let (api, t) = (other.api.clone(), second_access.clone());
        async move { api.get("/api/v1/auth/me", &t).await.status == 401 }
    })
    .await;
    refresh(api, &second.body["refresh_token"])
        .await
        .assert_error(401, "UNAUTHORIZED");
    assert_eq!(api.get("/api/v1/auth/me", &third_access).await.status, 200);

    // Forged and garbage tokens.
    for forged in ["", "garbage", "a.b", &format!("{}x", third_access)] {
        api.get("/api/v1/auth/me", forged)
            .await
            .assert_error(401, "UNAUTHORIZED");
    }
    refresh(api, &json!("not a token"))
        .await
        .assert_error(401, "UNAUTHORIZED");
    refresh(api, &json!(format!("{}.AAAA", uuid::Uuid::new_v4())))
        .await
        .assert_error(401, "UNAUTHORIZED");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_sign_ups_are_refused_and_create_nothing() {
    let app = TestApp::spawn().await;
    let api = &app.api;
    // The database is shared with tests that sign up at the same time: count these emails only.
    let (short, long, missing_fields) = (email("short"), email("long"), email("m"));
    for (address, password) in [
        ("not-an-email", "long enough password"),
        ("kim@", "long enough password"),
        (&*short, "short"),
        (&*long, &*"x".repeat(129)),
    ] {
        signup(api, address, password)
            .await
            .assert_error(422, "VALIDATION_FAILED");
    }
    let missing = api
        .send(
            Method::POST,
            "/api/v1/auth/signup",
            None,
            Some(json!({ "email": missing_fields })),
        )
        .await;
    missing.assert_error(422, "VALIDATION_FAILED");
    let tried: Vec<String> = ["not-an-email", "kim@", &short, &long, &missing_fields]
        .iter()
        .map(|e| e.trim().to_lowercase())
        .collect();
    let created: i64 = sqlx::query_scalar("SELECT count(*) FROM users WHERE email = ANY($1)")
        .bind(&tried)
        .fetch_one(&app.pool)
        .await
        .unwrap();
    assert_eq!(created, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn twenty_concurrent_sign_ups_with_one_email_make_one_account() {
    let app = TestApp::spawn().await;
    let address = email("race");
    let replies = join_all((0..20).map(|_| {
        let (api, address) = (app.api.clone(), address.clone());
        async move { signup(&api, &address, "correct horse battery").await }
    }))
    .await;
    let created = replies.iter().filter(|r| r.status == 201).count();
    assert_eq!(
        created,
        1,
        "{:?}",
        replies.iter().map(|r| r.status).collect::<Vec<_>>()
    );
    for r in replies.iter().filter(|r| r.status != 201) {
        r.assert_error(409, "EMAIL_TAKEN");
    }
    let accounts: i64 = sqlx::query_scalar("SELECT count(*) FROM users WHERE email = $1")
        .bind(address.to_lowercase())
        .fetch_one(&app.pool)
        .await
        .unwrap();
    assert_eq!(accounts, 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_access_token_expires_and_a_refresh_renews_it() {
    let mut settings = settings(300);
    settings.accounts.access_token_ttl_seconds = 1;
    let app = TestApp::spawn_api_only(settings).await;
    let api = &app.api;
    let created = signup(api, &email("ttl"), "correct horse battery").await;
    assert_eq!(created.body["expires_in"], 1);
    let access = created.body["access_token"].as_str().unwrap().to_owned();
    tokio::time::sleep(Duration::from_millis(2_100)).await;
    api.get("/api/v1/auth/me", &access)
        .await
        .assert_error(401, "UNAUTHORIZED");
    let renewed = refresh(api, &created.body["refresh_token"]).await;
    assert_eq!(renewed.status, 200, "{}", renewed.body);
    let fresh = renewed.body["access_token"].as_str().unwrap();
    assert_eq!(api.get("/api/v1/auth/me", fresh).await.status, 200);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_granted_role_shows_from_the_next_refresh() {
    let app = TestApp::spawn_api_only(settings(300)).await;
    let api = &app.api;
    let address = email("staff");
    let created = signup(api, &address, "correct horse battery").await;
    let status = std::process::Command::new(bin_dir().join("seatline-api"))
        .args(["grant-role", &address, "operator"])
        .env("DATABASE_URL", &app.settings.database.url)
        .env("RUST_LOG", "warn")
        .status()
        .unwrap();
    assert!(status.success());
    let renewed = refresh(api, &created.body["refresh_token"]).await;
    assert_eq!(renewed.body["role"], "operator", "{}", renewed.body);
    let me = api
        .get(
            "/api/v1/auth/me",
            renewed.body["access_token"].as_str().unwrap(),
        )
        .await;
    assert_eq!(me.body["role"], "operator");
    let unknown = std::process::Command::new(bin_dir().join("seatline-api"))
        .args(["grant-role", &email("nobody"), "operator"])
        .env("DATABASE_URL", &app.settings.database.url)
        .env("RUST_LOG", "off")
        .status()
        .unwrap();
    assert!(!unknown.success());
    let bad_role = std::process::Command::new(bin_dir().join("seatline-api"))
        .args(["grant-role", &address, "admin"])
        .env("DATABASE_URL", &app.settings.database.url)
        .env("RUST_LOG", "off")
        .status()
        .unwrap();
    assert!(!bad_role.success());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn production_mode_has_no_demo_login_and_no_free_money() {
    let mut settings = settings(300);
    settings.accounts.environment = seatline_config::Environment::Production;
    let app = TestApp::spawn_api_only(settings).await;
    let api = &app.api;
    let demo = api
        .send(
            Method::POST,
            "/api/v1/users",
            None,
            Some(json!({ "name": "Demo" })),
        )
        .await;
    demo.assert_error(403, "FORBIDDEN");
    let methods = api
        .send(Method::GET, "/api/v1/auth/methods", None, None)
        .await;
    assert_eq!(
        methods.body,
        json!({ "password": true, "demo": false, "free_topups": false })
    );
    let created = signup(api, &email("prod"), "correct horse battery").await;
    assert_eq!(created.status, 201, "{}", created.body);
    let access = created.body["access_token"].as_str().unwrap();
    let charge = api
        .post(
            "/api/v1/users/me/balance/charges",
            access,
            json!({ "amount": 50_000 }),
        )
        .await;
    charge.assert_error(403, "FORBIDDEN");
    assert_eq!(
        api.get("/api/v1/users/me/balance", access).await.body["balance"],
        0
    );
    // A top-up is a card payment: nothing until the provider confirms it, then the amount.
    let topup = api
        .post(
            "/api/v1/users/me/balance/topups",
            access,
            json!({ "amount": 50_000 }),
        )
        .await;
    assert_eq!(topup.status, 201, "{}", topup.body);
    assert_eq!(
        api.get("/api/v1/users/me/balance", access).await.body["balance"],
        0
    );
    let payment = topup.body["payment_id"].as_str().unwrap();
    app.provider.complete(payment, "SUCCEEDED", "normal").await;
    eventually(std::time::Duration::from_secs(10), || async {
        api.get("/api/v1/users/me/balance", access).await.body["balance"] == 50_000
    })
    .await;
}

#[test]
fn production_processes_refuse_to_start_with_development_secrets() {
    for binary in ["seatline-api", "seatline-worker"] {
        let out = std::process::Command::new(bin_dir().join(binary))
            .env_clear()
            .env("SEATLINE_ENV", "production")
            .env("RUST_LOG", "off")
            .output()
            .unwrap();
        assert!(!out.status.success(), "{binary} started");
        let said = String::from_utf8_lossy(&out.stderr);
        assert!(said.contains("AUTH_SECRET"), "{binary}: {said}");
    }
}

/// A sign-up or login from `ip`, as a proxy in front of the API would say it.
async fn post_from(api: &Api, ip: &str, path: &str, body: Value) -> Reply {
    let res = api
        .http
        .post(format!("{}{path}", api.base))
        .header("x-forwarded-for", format!("{ip}, 10.0.0.1"))
        .json(&body)
        .send()
        .await
        .unwrap();
    let status = res.status();
    let retry_after = res.headers().get("retry-after").cloned();
    let body: Value = res.json().await.unwrap();
    if status == 429 {
        assert!(retry_after.is_some(), "429 without Retry-After: {body}");
    }
    Reply { status, body }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sign_ups_logins_and_busy_accounts_are_rate_limited() {
    let mut settings = settings(300);
    settings.limits.accounts_per_hour = 3;
    settings.limits.logins_per_minute = 2;
    settings.limits.user_requests_per_second = 2;
    // Behind a proxy: each client has an address of its own (here one per run, as the
    // buckets live in the shared Redis).
    settings.limits.trust_forwarded_for = true;
    let app = TestApp::spawn_api_only(settings).await;
    let api = &app.api;
    let id = uuid::Uuid::new_v4();
    let [a, b, c, d] = [0, 1, 2, 3].map(|i| id.as_bytes()[i] % 250 + 1);
    let ip = format!("{a}.{b}.{c}.{d}");
    let mut answers = Vec::new();
    for i in 0..6 {
        let body = json!({ "email": email(&format!("burst{i}")), "password": "correct horse battery", "name": "Bot" });
        answers.push(post_from(api, &ip, "/api/v1/auth/signup", body).await);
    }
    let statuses: Vec<u16> = answers.iter().map(|r| r.status.as_u16()).collect();
    assert_eq!(
        statuses.iter().filter(|s| **s == 201).count(),
        3,
        "{statuses:?}"
    );
    for r in answers.iter().filter(|r| r.status == 429) {
        r.assert_error(429, "RATE_LIMITED");
        assert!(
            r.body["error"]["details"]["retry_after_seconds"]
                .as_u64()
                .unwrap()
                >= 1
        );
    }
    // The demo login counts against the same per-address budget.
    post_from(api, &ip, "/api/v1/users", json!({ "name": "Bot" }))
        .await
        .assert_error(429, "RATE_LIMITED");
    // Another address is not slowed by the first.
    let elsewhere = format!("{d}.{c}.{b}.{a}");
    let body =
        json!({ "email": email("elsewhere"), "password": "correct horse battery", "name": "Kim" });
    assert_eq!(
        post_from(api, &elsewhere, "/api/v1/auth/signup", body)
            .await
            .status,
        201
    );

    // Logins: per address and per email (guessing one account's password from many
    // addresses is slowed too).
    let created: Vec<&Reply> = answers.iter().filter(|r| r.status == 201).collect();
    let address: String = sqlx::query_scalar("SELECT email FROM users WHERE id = $1")
        .bind(uuid::Uuid::parse_str(created[0].body["user_id"].as_str().unwrap()).unwrap())
        .fetch_one(&app.pool)
        .await
        .unwrap();
    let mut statuses = Vec::new();
    for n in 0..5 {
        let from = format!("{a}.{b}.{n}.{d}");
        let body = json!({ "email": address, "password": "a wrong password" });
        statuses.push(
            post_from(api, &from, "/api/v1/auth/login", body)
                .await
                .status
                .as_u16(),
        );
    }
    assert_eq!(&statuses[..2], &[401, 401], "{statuses:?}");
    assert!(statuses[2..].iter().all(|s| *s == 429), "{statuses:?}");

    // One account firing many requests at once: 2 a second, a burst of 4.
    let access = created[1].body["access_token"].as_str().unwrap().to_owned();
    let replies = join_all((0..12).map(|_| {
        let (api, t) = (api.clone(), access.clone());
        async move { api.get("/api/v1/users/me/balance", &t).await }
    }))
    .await;
    let throttled: Vec<&Reply> = replies.iter().filter(|r| r.status == 429).collect();
    assert!(throttled.len() >= 6, "{} of 12 throttled", throttled.len());
    throttled[0].assert_error(429, "RATE_LIMITED");
    // Another account is not slowed by the first.
    let other = created[2].body["access_token"].as_str().unwrap();
    assert_eq!(api.get("/api/v1/users/me/balance", other).await.status, 200);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn one_buyer_gets_at_most_their_share_even_asking_all_at_once() {
    let mut settings = settings(300);
    settings.limits.max_seats_per_buyer = 4;
    let app = TestApp::spawn_with(settings).await;
    let api = &app.api;
    let (schedule, seats) = app.schedule(2, 6).await;
    let buyer = api.user("Scalper").await;
    api.admit(&buyer, schedule).await;
    // Eight holds of one seat each, all at once: the pre-check passes them all, the hold
    // activity (the buyer's row lock) lets four through.
    let replies = join_all(seats[..8].iter().map(|seat| {
        let (api, buyer, seat) = (api.clone(), buyer.clone(), *seat);
        async move { api.hold(&buyer, schedule, &[seat]).await }
    }))
    .await;
    let held: Vec<&Reply> = replies.iter().filter(|r| r.status == 201).collect();
    assert_eq!(
        held.len(),
        4,
        "{:?}",
        replies
            .iter()
            .map(|r| (r.status, r.code().to_owned()))
            .collect::<Vec<_>>()
    );
    for r in replies.iter().filter(|r| r.status != 201) {
        r.assert_error(409, "PURCHASE_LIMIT_REACHED");
        assert_eq!(r.body["error"]["details"]["limit"], 4);
    }
    let in_db: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM reservation_seats rs JOIN reservations r ON r.id = rs.reservation_id
         WHERE r.user_id = $1 AND r.schedule_id = $2 AND r.status = 'HELD'",
    )
    .bind(uuid::Uuid::parse_str(&buyer.id).unwrap())
    .bind(schedule.as_uuid())
    .fetch_one(&app.pool)
    .await
    .unwrap();
    assert_eq!(in_db, 4);
    // Refused holds left no seat behind: only the four held seats are not available.
    let statuses: Vec<(i64, String)> =
        sqlx::query_as("SELECT seat_id, status FROM seat_inventory WHERE schedule_id = $1")
            .bind(schedule.as_uuid())
            .fetch_all(&app.pool)
            .await
            .unwrap();
    let unavailable = statuses.iter().filter(|(_, s)| s != "AVAILABLE").count();
    assert_eq!(unavailable, 4, "{statuses:?}");

    // A fifth seat in one more hold is refused up front, with what the buyer has.
    let free: Vec<i64> = statuses
        .iter()
        .filter(|(id, s)| s == "AVAILABLE" && seats.contains(id))
        .map(|(id, _)| *id)
        .collect();
    let more = api.hold(&buyer, schedule, &free[..1]).await;
    more.assert_error(409, "PURCHASE_LIMIT_REACHED");
    assert_eq!(more.body["error"]["details"]["owned"], 4);
    // Giving a hold back makes room again.
    let first = held[0].body["reservation_id"].as_str().unwrap();
    assert_eq!(api.cancel(&buyer, first).await.status, 200);
    assert_eq!(api.hold(&buyer, schedule, &free[..1]).await.status, 201);
    // Another buyer is not limited by the first.
    let other = api.user("Fan").await;
    assert_eq!(api.hold(&other, schedule, &free[1..3]).await.status, 201);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn many_accounts_from_one_address_share_its_limit() {
    let mut settings = settings(300);
    settings.limits.address_requests_per_second = 2;
    settings.limits.trust_forwarded_for = true;
    let app = TestApp::spawn_api_only(settings).await;
    let api = &app.api;
    let id = uuid::Uuid::new_v4();
    let [a, b, c, d] = [4, 5, 6, 7].map(|i| id.as_bytes()[i] % 250 + 1);
    let (crowded, quiet) = (format!("{a}.{b}.{c}.{d}"), format!("{d}.{c}.{b}.{a}"));
    let users = api.users(4).await;
    let get_from = |ip: String, token: String| {
        let api = api.clone();
        async move {
            api.http
                .get(format!("{}/api/v1/users/me/balance", api.base))
                .bearer_auth(token)
                .header("x-forwarded-for", ip)
                .send()
                .await
                .unwrap()
                .status()
                .as_u16()
        }
    };
    // Four accounts, three requests each, all from one address: 2 a second, burst 4.
    let statuses = join_all(
        users
            .iter()
            .flat_map(|u| std::iter::repeat_n(u.token.clone(), 3))
            .map(|t| get_from(crowded.clone(), t)),
    )
    .await;
    let limited = statuses.iter().filter(|s| **s == 429).count();
    assert!(limited >= 6, "{statuses:?}");
    assert!(
        statuses.iter().all(|s| *s == 200 || *s == 429),
        "{statuses:?}"
    );
    // The same accounts from another address are not limited by the first.
    assert_eq!(get_from(quiet, users[0].token.clone()).await, 200);
}

/// An anonymous request is never replayed from another's answer: two demo logins under one
/// Idempotency-Key are two accounts, and no stored answer holds their tokens.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn anonymous_idempotency_keys_are_not_shared() {
    let app = TestApp::spawn_api_only(settings(300)).await;
    let api = &app.api;
    let key = uuid::Uuid::new_v4().to_string();
    let mut ids = Vec::new();
    for name in ["First", "Second"] {
        let res = api
            .http
            .post(format!("{}/api/v1/users", api.base))
            .header("idempotency-key", &key)
            .json(&json!({ "name": name }))
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 201);
        assert!(res.headers().get("idempotent-replayed").is_none());
        let body: Value = res.json().await.unwrap();
        ids.push(body["user_id"].as_str().unwrap().to_owned());
    }
    assert_ne!(ids[0], ids[1]);
    let stored: i64 = sqlx::query_scalar("SELECT count(*) FROM idempotency_keys WHERE key = $1")
        .bind(&key)
        .fetch_one(&app.pool)
        .await
        .unwrap();
    assert_eq!(stored, 0);
}

/// One account tries 50 holds of 4 seats: the cap stops it at 4 seats, and every refusal is
/// answered before a workflow exists.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hoarder_gets_four_seats_and_costs_one_workflow() {
    let mut settings = settings(300);
    settings.limits.max_seats_per_buyer = 4;
    let app = TestApp::spawn_with(settings).await;
    let api = &app.api;
    let (schedule, seats) = app.schedule(10, 20).await;
    let hoarder = api.user("Hoarder").await;
    let mut statuses = Vec::new();
    for chunk in seats.chunks(4).take(50) {
        let reply = api.hold(&hoarder, schedule, chunk).await;
        if reply.status != 201 {
            reply.assert_error(409, "PURCHASE_LIMIT_REACHED");
        }
        statuses.push(reply.status.as_u16());
    }
    assert_eq!(
        statuses.iter().filter(|s| **s == 201).count(),
        1,
        "{statuses:?}"
    );
    // Visibility is eventually consistent: give it a moment, then count.
    tokio::time::sleep(Duration::from_millis(1_500)).await;
    let client = seatline_worker::connect_temporal(&app.settings)
        .await
        .unwrap();
    let workflows = client
        .count_workflows(
            format!("WorkflowType = 'ReservationWorkflow' AND ScheduleId = '{schedule}'"),
            Default::default(),
        )
        .await
        .unwrap()
        .count();
    assert_eq!(
        workflows, 1,
        "only the one hold that was allowed started a workflow"
    );
}

/// 2,000 sign-ups and 2,000 queue joins from one address within seconds: past the limits
/// they get 429, and a buyer at another address is not slowed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn floods_from_one_address_are_limited_and_others_are_not() {
    let mut settings = settings(300);
    settings.limits.accounts_per_hour = 30;
    settings.limits.address_requests_per_second = 50;
    settings.limits.trust_forwarded_for = true;
    let app = TestApp::spawn_api_only(settings).await;
    let api = &app.api;
    let (schedule, _) = app.bare_schedule(1, 5).await;
    let id = uuid::Uuid::new_v4();
    let [a, b, c, d] = [8, 9, 10, 11].map(|i| id.as_bytes()[i] % 250 + 1);
    let (flood, calm) = (format!("{a}.{b}.{c}.{d}"), format!("{d}.{c}.{b}.{a}"));

    let signups: Vec<u16> = futures::stream::iter(0..2_000)
        .map(|i| {
            let (api, flood) = (api.clone(), flood.clone());
            async move {
                let body = json!({ "email": email(&format!("flood{i}")), "password": "correct horse battery", "name": "Bot" });
                post_from(&api, &flood, "/api/v1/auth/signup", body).await.status.as_u16()
            }
        })
        .buffer_unordered(64)
        .collect()
        .await;
    let created = signups.iter().filter(|s| **s == 201).count();
    assert!(created <= 11, "{created} sign-ups got through");
    assert_eq!(
        signups.iter().filter(|s| **s == 429).count(),
        2_000 - created
    );

    let joiner = api.user("Flooder").await;
    let started = std::time::Instant::now();
    let joins: Vec<u16> = futures::stream::iter(0..2_000)
        .map(|_| {
            let (api, flood, token) = (api.clone(), flood.clone(), joiner.token.clone());
            async move {
                api.http
                    .post(format!("{}/api/v1/queue/tokens", api.base))
                    .bearer_auth(token)
                    .header("x-forwarded-for", flood)
                    .json(&json!({ "schedule_id": schedule }))
                    .send()
                    .await
                    .unwrap()
                    .status()
                    .as_u16()
            }
        })
        .buffer_unordered(64)
        .collect()
        .await;
    // 50 a second with a burst of 100, over however long the flood took.
    let allowed = 100 + 50 * (started.elapsed().as_secs() as usize + 1);
    let joined = joins.iter().filter(|s| **s == 201).count();
    assert!(
        (1..=allowed).contains(&joined),
        "{joined} joins got through, {allowed} allowed"
    );
    assert!(joined < 2_000 / 2, "{joined} of 2,000 joins got through");
    assert!(
        joins.iter().all(|s| *s == 201 || *s == 429),
        "only joins and 429s"
    );

    // Meanwhile, elsewhere: a buyer signs up and joins as if nothing happened.
    let body =
        json!({ "email": email("calm"), "password": "correct horse battery", "name": "Calm" });
    let calm_signup = post_from(api, &calm, "/api/v1/auth/signup", body).await;
    assert_eq!(calm_signup.status, 201, "{}", calm_signup.body);
    let calm_join = api
        .http
        .post(format!("{}/api/v1/queue/tokens", api.base))
        .bearer_auth(calm_signup.body["access_token"].as_str().unwrap())
        .header("x-forwarded-for", &calm)
        .json(&json!({ "schedule_id": schedule }))
        .send()
        .await
        .unwrap();
    assert_eq!(calm_join.status(), 201);
}
