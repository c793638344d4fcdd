//! The authorization matrix: every endpoint that acts on someone's data, asked by an anonymous
//! caller, by another buyer and by each staff role, answers as the contract says and changes
//! nothing; only the owner gets through.

use crate::common::*;
use reqwest::Method;
use seatline_domain::{Email, Role};
use serde_json::{json, Value};

/// A signed-in account of `role`, as a token.
pub(crate) async fn staff(app: &TestApp, role: Role) -> String {
    let email = format!("{role}-{}@example.com", uuid::Uuid::new_v4());
    let api = &app.api;
    let created = api
        .send(
            Method::POST,
            "/api/v1/auth/signup",
            None,
            Some(json!({ "email": email, "password": "correct horse battery", "name": role.as_str() })),
        )
        .await;
    assert_eq!(created.status, 201, "{}", created.body);
    let email = Email::parse(&email).unwrap();
    assert!(
        seatline_storage::accounts::set_role(&app.pool, &email, role)
            .await
            .unwrap()
    );
    let login = api
        .send(
            Method::POST,
            "/api/v1/auth/login",
            None,
            Some(json!({ "email": email.as_str(), "password": "correct horse battery" })),
        )
        .await;
    assert_eq!(login.body["role"], role.as_str(), "{}", login.body);
    login.body["access_token"].as_str().unwrap().to_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn only_the_owner_reaches_a_reservation_and_refusals_change_nothing() {
    let app = TestApp::spawn().await;
    let api = &app.api;
    let (schedule, seats) = app.schedule(1, 4).await;
    let owner = api.user("Owner").await;
    assert_eq!(api.charge(&owner, 1_000_000).await.status, 200);
    let held = api.hold(&owner, schedule, &seats[..1]).await;
    assert_eq!(held.status, 201, "{}", held.body);
    let id = held.body["reservation_id"].as_str().unwrap().to_owned();
    let owner_queue = owner.queue.lock().unwrap().clone().unwrap().1;

    let other = api.user("Other").await;
    api.admit(&other, schedule).await;
    let other_queue = other.queue.lock().unwrap().clone().unwrap().1;
    let mut callers: Vec<(&str, Option<String>, Option<String>)> = vec![
        ("anonymous", None, None),
        (
            "another buyer",
            Some(other.token.clone()),
            Some(other_queue.clone()),
        ),
        // With the owner's queue token, stolen: still not theirs.
        (
            "another buyer, owner's queue token",
            Some(other.token.clone()),
            Some(owner_queue.clone()),
        ),
    ];
    for role in [Role::Organizer, Role::Operator, Role::Door] {
        callers.push((role.as_str(), Some(staff(&app, role).await), None));
    }

    let on = |suffix: &str| format!("/api/v1/reservations/{id}{suffix}");
    let endpoints: Vec<(Method, String)> = vec![
        (Method::GET, on("")),
        (Method::GET, on("/events")),
        (Method::POST, on("/payment")),
        (Method::POST, on("/cancel")),
        (Method::POST, on("/checkout")),
    ];
    for (who, token, queue) in &callers {
        for (method, path) in &endpoints {
            let reply = api
                .send_with(
                    method.clone(),
                    path,
                    token.as_deref(),
                    queue.as_deref(),
                    None,
                )
                .await;
            let (status, code) = if token.is_none() {
                (401, "UNAUTHORIZED")
            } else {
                (404, "NOT_FOUND")
            };
            assert_eq!(
                (reply.status.as_u16(), reply.code()),
                (status, code),
                "{who}: {method} {path}: {}",
                reply.body
            );
        }
        // Their own lists hold nothing of the owner's.
        if let Some(token) = token {
            let mine = api.get("/api/v1/users/me/reservations", token).await;
            let theirs: Vec<&Value> = mine.body["reservations"]
                .as_array()
                .unwrap()
                .iter()
                .filter(|r| r["reservation_id"] == id.as_str())
                .collect();
            assert!(theirs.is_empty(), "{who} sees the owner's reservation");
        }
    }

    // Nothing changed: still held, nothing paid, no card payment started, the seat still held.
    let now = api.reservation(&owner, &id).await;
    assert_eq!(now.body["status"], "HELD", "{}", now.body);
    assert_eq!(api.balance(&owner).await, 1_000_000);
    let payments: i64 =
        sqlx::query_scalar("SELECT count(*) FROM payments WHERE reservation_id = $1")
            .bind(uuid::Uuid::parse_str(&id).unwrap())
            .fetch_one(&app.pool)
            .await
            .unwrap();
    assert_eq!(payments, 0);
    let events = api.get(&on("/events"), &owner.token).await;
    let kinds: Vec<&str> = events.body["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["kind"].as_str().unwrap())
        .collect();
    assert_eq!(kinds, ["HELD"]);

    // The owner gets through.
    let paid = api.pay(&owner, &id).await;
    assert_eq!(paid.status, 200, "{}", paid.body);
    assert_eq!(paid.body["status"], "CONFIRMED");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn account_endpoints_answer_only_their_own_account() {
    let app = TestApp::spawn_api_only(settings(300)).await;
    let api = &app.api;
    let kim = api.user("Kim").await;
    let lee = api.user("Lee").await;
    assert_eq!(api.charge(&kim, 70_000).await.status, 200);
    for path in [
        "/api/v1/users/me/balance",
        "/api/v1/users/me/balance/history",
        "/api/v1/users/me/reservations",
        "/api/v1/auth/me",
    ] {
        api.send(Method::GET, path, None, None)
            .await
            .assert_error(401, "UNAUTHORIZED");
        let as_lee = api.get(path, &lee.token).await;
        assert_eq!(as_lee.status, 200, "{path}");
        assert!(
            !as_lee.body.to_string().contains(&kim.id),
            "{path} shows Kim to Lee"
        );
    }
    assert_eq!(api.balance(&lee).await, 0);
    assert_eq!(api.balance(&kim).await, 70_000);
    // Writes need a caller too, and change nothing without one.
    api.send(
        Method::POST,
        "/api/v1/users/me/balance/charges",
        None,
        Some(json!({ "amount": 1_000 })),
    )
    .await
    .assert_error(401, "UNAUTHORIZED");
    api.send(Method::POST, "/api/v1/auth/logout", None, None)
        .await
        .assert_error(401, "UNAUTHORIZED");
    assert_eq!(api.balance(&kim).await, 70_000);
}
