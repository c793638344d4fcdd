//! The organizer's and the operator's side: a show put on sale from an uploaded layout with no
//! seeded data, edits seen by every API process within a second, withheld seats, the line
//! steered over HTTP, and a hold cancelled by an operator through its workflow.

use crate::authz::staff;
use crate::common::*;
use reqwest::Method;
use seatline_domain::{Role, ScheduleId};
use serde_json::{json, Value};
use std::time::{Duration, Instant};

async fn admin(api: &Api, method: Method, path: &str, token: &str, body: Option<Value>) -> Reply {
    api.send(method, &format!("/api/v1/admin{path}"), Some(token), body)
        .await
}

/// A `rows` by `cols` layout as CSV: the first two rows VIP, the rest R, drawn on a grid.
fn layout_csv(rows: i64, cols: i64) -> String {
    let mut csv = String::from("section,row,number,grade,x,y\n");
    for r in 1..=rows {
        for n in 1..=cols {
            let grade = if r <= 2 { "VIP" } else { "R" };
            csv.push_str(&format!("Floor,{r},{n},{grade},{},{}\n", n * 12, r * 12));
        }
    }
    csv
}

/// A published concert with one schedule on sale now, in a new hall; returns the schedule
/// and its seat ids (in row, then number order).
async fn on_sale(
    api: &Api,
    organizer: &str,
    rows: i64,
    cols: i64,
    extra: Value,
) -> (ScheduleId, Vec<i64>) {
    let hall = admin(
        api,
        Method::POST,
        "/halls",
        organizer,
        Some(json!({ "name": "Test hall",
                      "grades": [{ "grade": "VIP", "price": 150000 }, { "grade": "R", "price": 90000 }],
                      "seats_csv": layout_csv(rows, cols) })),
    )
    .await;
    assert_eq!(hall.status, 201, "{}", hall.body);
    let concert = admin(
        api,
        Method::POST,
        "/concerts",
        organizer,
        Some(json!({ "title": "Organized show", "artist": "Band", "venue": "Arena" })),
    )
    .await;
    assert_eq!(concert.status, 201, "{}", concert.body);
    let concert_id = concert.body["concert_id"].as_str().unwrap().to_owned();
    let now = chrono::Utc::now();
    let mut body = json!({
        "hall_id": hall.body["hall_id"],
        "starts_at": now + chrono::Duration::days(2),
        "booking_opens_at": now - chrono::Duration::minutes(1),
        "booking_closes_at": now + chrono::Duration::days(1),
    });
    for (k, v) in extra.as_object().unwrap() {
        body[k] = v.clone();
    }
    let schedule = admin(
        api,
        Method::POST,
        &format!("/concerts/{concert_id}/schedules"),
        organizer,
        Some(body),
    )
    .await;
    assert_eq!(schedule.status, 201, "{}", schedule.body);
    let id = ScheduleId::parse(schedule.body["schedule_id"].as_str().unwrap()).unwrap();
    for path in [
        format!("/concerts/{concert_id}/publish"),
        format!("/schedules/{id}/publish"),
    ] {
        let published = admin(api, Method::POST, &path, organizer, None).await;
        assert_eq!(published.status, 200, "{path}: {}", published.body);
    }
    let seats: Vec<i64> = sqlx::query_scalar(
        "SELECT s.id FROM seat_inventory i JOIN seats s ON s.id = i.seat_id
         WHERE i.schedule_id = $1 ORDER BY s.row_number, s.seat_number",
    )
    .bind(id.as_uuid())
    .fetch_all(
        &seatline_storage::connect(&std::env::var("DATABASE_URL").unwrap(), 1)
            .await
            .unwrap(),
    )
    .await
    .unwrap();
    (id, seats)
}

/// An organizer uploads a 15,000-seat hall, creates and publishes a concert and schedule with
/// its own prices and per-buyer cap; a buyer finds it, queues, holds and pays. No seeded data.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_organizer_puts_a_fifteen_thousand_seat_hall_on_sale_and_a_buyer_buys_from_it() {
    let app = TestApp::spawn().await;
    let api = &app.api;
    let organizer = staff(&app, Role::Organizer).await;
    let started = Instant::now();
    let (schedule, seats) = on_sale(
        api,
        &organizer,
        100,
        150,
        json!({ "prices": [{ "grade": "VIP", "price": 200000 }], "seats_per_buyer": 2 }),
    )
    .await;
    eprintln!(
        "[organizer] 15,000-seat layout uploaded, concert and schedule created and published in {:?}",
        started.elapsed()
    );
    assert_eq!(seats.len(), 15_000);
    let buyer = api.user("Organized buyer").await;
    // Buyers see it (listings are at most a second old).
    eventually(Duration::from_secs(3), || async {
        let concerts = api.get("/api/v1/concerts", &buyer.token).await;
        concerts.body.to_string().contains("Organized show")
    })
    .await;
    assert_eq!(api.charge(&buyer, 1_000_000).await.status, 200);
    api.admit(&buyer, schedule).await;
    let held = api.hold(&buyer, schedule, &seats[..1]).await;
    assert_eq!(held.status, 201, "{}", held.body);
    assert_eq!(held.body["amount"], 200000, "the schedule's VIP price");
    let id = reservation_id(&held);
    // The schedule's cap of two seats per buyer.
    let more = api.hold(&buyer, schedule, &seats[500..502]).await;
    more.assert_error(409, "PURCHASE_LIMIT_REACHED");
    let paid = api.pay(&buyer, &id).await;
    assert_eq!(paid.body["status"], "CONFIRMED", "{}", paid.body);
    // A grade with a sold seat keeps its price; another grade's can change.
    let vip = admin(
        api,
        Method::PATCH,
        &format!("/schedules/{schedule}"),
        &organizer,
        Some(json!({ "prices": [{ "grade": "VIP", "price": 1 }] })),
    )
    .await;
    vip.assert_error(409, "SCHEDULE_HAS_SALES");
    let r = admin(
        api,
        Method::PATCH,
        &format!("/schedules/{schedule}"),
        &organizer,
        Some(json!({ "prices": [{ "grade": "R", "price": 80000 }] })),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.body);
    let events = admin(api, Method::GET, "/events", &organizer, None).await;
    let actions: Vec<&str> = events.body["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["action"].as_str().unwrap())
        .collect();
    for action in [
        "HALL_CREATED",
        "CONCERT_CREATED",
        "SCHEDULE_CREATED",
        "CONCERT_PUBLISHED",
        "SCHEDULE_PUBLISHED",
        "SCHEDULE_UPDATED",
    ] {
        assert!(
            actions.contains(&action),
            "{action} missing from {actions:?}"
        );
    }
}

/// Two API processes: what the organizer changes on one (withheld seats, a price, the
/// publication) the other serves within a second; withheld seats can't be held.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn edits_reach_every_api_process_within_a_second_and_withheld_seats_cannot_be_held() {
    let app = TestApp::spawn().await;
    let api = &app.api;
    let organizer = staff(&app, Role::Organizer).await;
    let (schedule, seats) = on_sale(api, &organizer, 4, 5, json!({})).await;
    let (_other_process, other) = start_api_process(&app.settings).await;
    let buyer = other.user("Second-process buyer").await;
    other.admit(&buyer, schedule).await;
    other
        .wait_seat(&buyer, schedule, seats[0], "AVAILABLE")
        .await;

    let withheld = admin(
        api,
        Method::POST,
        &format!("/schedules/{schedule}/withheld"),
        &organizer,
        Some(json!({ "seat_ids": [seats[0], seats[1]], "reason": "press" })),
    )
    .await;
    assert_eq!(withheld.status, 200, "{}", withheld.body);
    assert_eq!(withheld.body["changed"], json!([seats[0], seats[1]]));
    other
        .wait_seat(&buyer, schedule, seats[0], "WITHHELD")
        .await;
    other
        .hold(&buyer, schedule, &seats[..1])
        .await
        .assert_error(409, "SEAT_UNAVAILABLE");
    // Even past the pre-check, the database refuses it.
    let mut redis = redis::Client::open(app.settings.redis.url.as_str())
        .unwrap()
        .get_multiplexed_async_connection()
        .await
        .unwrap();
    let _: () = redis::cmd("HDEL")
        .arg(format!("sm:{{{schedule}}}:seats"))
        .arg(seats[1])
        .query_async(&mut redis)
        .await
        .unwrap();
    other
        .hold(&buyer, schedule, &seats[1..2])
        .await
        .assert_error(409, "SEAT_UNAVAILABLE");

    let released = admin(
        api,
        Method::POST,
        &format!("/schedules/{schedule}/withheld/release"),
        &organizer,
        Some(json!({ "seat_ids": [seats[0]] })),
    )
    .await;
    assert_eq!(
        released.body["changed"],
        json!([seats[0]]),
        "{}",
        released.body
    );
    other
        .wait_seat(&buyer, schedule, seats[0], "AVAILABLE")
        .await;
    assert_eq!(other.hold(&buyer, schedule, &seats[..1]).await.status, 201);

    // A new price for R, served by the other process within a second.
    let r_seat = *seats.last().unwrap();
    let repriced = admin(
        api,
        Method::PATCH,
        &format!("/schedules/{schedule}"),
        &organizer,
        Some(json!({ "prices": [{ "grade": "R", "price": 77000 }] })),
    )
    .await;
    assert_eq!(repriced.status, 200, "{}", repriced.body);
    let path = format!("/api/v1/schedules/{schedule}/seats");
    let reader = other.reader(schedule).await;
    let took = eventually(Duration::from_secs(1), || async {
        let map = other.as_user(&reader, Method::GET, &path, None).await;
        map.body["seats"]
            .as_array()
            .unwrap()
            .iter()
            .any(|s| s["seat_id"] == r_seat && s["price"] == 77000)
    })
    .await;
    eprintln!("[organizer] a price change reached the other API process in {took:?}");

    // Unpublished: gone from the other process' listing within a second.
    let concerts_path = "/api/v1/concerts";
    assert!(other
        .get(concerts_path, &buyer.token)
        .await
        .body
        .to_string()
        .contains("Organized show"));
    let concert: String =
        sqlx::query_scalar("SELECT concert_id::text FROM schedules WHERE id = $1")
            .bind(schedule.as_uuid())
            .fetch_one(&app.pool)
            .await
            .unwrap();
    let hidden = admin(
        api,
        Method::POST,
        &format!("/concerts/{concert}/unpublish"),
        &organizer,
        None,
    )
    .await;
    assert_eq!(hidden.status, 200);
    eventually(Duration::from_millis(1_500), || async {
        !other
            .get(concerts_path, &buyer.token)
            .await
            .body
            .to_string()
            .contains(&concert)
    })
    .await;
}

/// Bad layouts are refused with the rows named; buyers, other organizers, operators and
/// anonymous callers get nowhere, and nothing changes.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_layouts_get_422_with_their_rows_and_nobody_else_gets_in() {
    let app = TestApp::spawn().await;
    let api = &app.api;
    let organizer = staff(&app, Role::Organizer).await;
    let bad = admin(
        api,
        Method::POST,
        "/halls",
        &organizer,
        Some(
            json!({ "name": "Bad hall", "grades": [{ "grade": "R", "price": 1000 }],
                      "seats": [
                        { "row": 1, "number": 1, "grade": "R", "x": 0, "y": 0 },
                        { "row": 1, "number": 1, "grade": "R", "x": 10, "y": 0 },
                        { "row": 1, "number": 2, "grade": "GOLD" },
                        { "row": 1, "number": 3, "grade": "R", "x": 0, "y": 0 } ] }),
        ),
    )
    .await;
    bad.assert_error(422, "LAYOUT_INVALID");
    let rows: Vec<i64> = bad.body["error"]["details"]["problems"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["row"].as_i64().unwrap())
        .collect();
    assert_eq!(rows, [2, 3, 4], "{}", bad.body);
    let halls: i64 = sqlx::query_scalar("SELECT count(*) FROM halls WHERE name = 'Bad hall'")
        .fetch_one(&app.pool)
        .await
        .unwrap();
    assert_eq!(halls, 0);

    let (schedule, seats) = on_sale(api, &organizer, 2, 3, json!({})).await;
    let concert: String =
        sqlx::query_scalar("SELECT concert_id::text FROM schedules WHERE id = $1")
            .bind(schedule.as_uuid())
            .fetch_one(&app.pool)
            .await
            .unwrap();
    let buyer = api.user("Curious buyer").await;
    let rival = staff(&app, Role::Organizer).await;
    let operator = staff(&app, Role::Operator).await;
    let door = staff(&app, Role::Door).await;
    let writes: Vec<(Method, String, Value)> = vec![
        (
            Method::POST,
            "/halls".into(),
            json!({ "name": "x", "grades": [{ "grade": "R", "price": 1 }], "seats_csv": "row,number,grade\n1,1,R\n" }),
        ),
        (
            Method::POST,
            "/concerts".into(),
            json!({ "title": "x", "artist": "x", "venue": "x" }),
        ),
        (
            Method::PATCH,
            format!("/concerts/{concert}"),
            json!({ "title": "Stolen" }),
        ),
        (
            Method::POST,
            format!("/concerts/{concert}/unpublish"),
            json!({}),
        ),
        (
            Method::PATCH,
            format!("/schedules/{schedule}"),
            json!({ "prices": [{ "grade": "R", "price": 1 }] }),
        ),
        (
            Method::POST,
            format!("/schedules/{schedule}/unpublish"),
            json!({}),
        ),
        (
            Method::POST,
            format!("/schedules/{schedule}/withheld"),
            json!({ "seat_ids": [seats[0]], "reason": "mine" }),
        ),
    ];
    for (method, path, body) in &writes {
        let anonymous = api
            .send(
                method.clone(),
                &format!("/api/v1/admin{path}"),
                None,
                Some(body.clone()),
            )
            .await;
        anonymous.assert_error(401, "UNAUTHORIZED");
        for (who, token) in [
            ("buyer", &buyer.token),
            ("operator", &operator),
            ("door", &door),
        ] {
            let reply = admin(api, method.clone(), path, token, Some(body.clone())).await;
            assert_eq!(
                (reply.status.as_u16(), reply.code()),
                (403, "FORBIDDEN"),
                "{who}: {method} {path}: {}",
                reply.body
            );
        }
        // Another organizer may create their own, not touch this one's.
        if path.contains(&concert) || path.contains(&schedule.to_string()) {
            let reply = admin(api, method.clone(), path, &rival, Some(body.clone())).await;
            reply.assert_error(404, "NOT_FOUND");
        }
    }
    for path in ["/halls", "/concerts", "/events"] {
        for token in [&buyer.token, &door] {
            admin(api, Method::GET, path, token, None)
                .await
                .assert_error(403, "FORBIDDEN");
        }
    }
    for (method, path) in [
        (Method::POST, format!("/schedules/{schedule}/admission")),
        (Method::GET, format!("/schedules/{schedule}/sales")),
    ] {
        let reply = admin(
            api,
            method.clone(),
            &path,
            &buyer.token,
            Some(json!({ "action": "PAUSE" })),
        )
        .await;
        reply.assert_error(403, "FORBIDDEN");
    }
    admin(
        api,
        Method::GET,
        &format!("/schedules/{schedule}/sales"),
        &rival,
        None,
    )
    .await
    .assert_error(404, "NOT_FOUND");
    // Nothing changed.
    let title: String = sqlx::query_scalar("SELECT title FROM concerts WHERE id = $1::uuid")
        .bind(&concert)
        .fetch_one(&app.pool)
        .await
        .unwrap();
    assert_eq!(title, "Organized show");
    let withheld: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM seat_inventory WHERE schedule_id = $1 AND status <> 'AVAILABLE'",
    )
    .bind(schedule.as_uuid())
    .fetch_one(&app.pool)
    .await
    .unwrap();
    assert_eq!(withheld, 0);
    let published: bool =
        sqlx::query_scalar("SELECT published_at IS NOT NULL FROM schedules WHERE id = $1")
            .bind(schedule.as_uuid())
            .fetch_one(&app.pool)
            .await
            .unwrap();
    assert!(published);
}

/// An operator pauses the line (nobody else is admitted), resumes it, sees the sales view, and
/// cancels a buyer's hold through its workflow: the seat goes back and the audit log says
/// OPERATOR and why.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_operator_pauses_and_resumes_the_line_and_cancels_a_hold_through_its_workflow() {
    let app = TestApp::spawn().await;
    let api = &app.api;
    let (schedule, seats) = app.schedule(1, 4).await;
    let operator = staff(&app, Role::Operator).await;
    let first = api.user("First in line").await;
    api.admit(&first, schedule).await;
    let paused = admin(
        api,
        Method::POST,
        &format!("/schedules/{schedule}/admission"),
        &operator,
        Some(json!({ "action": "PAUSE" })),
    )
    .await;
    assert_eq!(paused.status, 200, "{}", paused.body);
    assert_eq!(paused.body["paused"], true);
    let second = api.user("Second in line").await;
    let joined = api.join(&second, schedule).await;
    let queue_token = joined.body["token"].as_str().unwrap().to_owned();
    tokio::time::sleep(Duration::from_secs(1)).await;
    let standing = api.standing(&second, &queue_token).await;
    assert_eq!(standing.body["status"], "WAITING", "{}", standing.body);
    let resumed = admin(
        api,
        Method::POST,
        &format!("/schedules/{schedule}/admission"),
        &operator,
        Some(json!({ "action": "RESUME" })),
    )
    .await;
    assert_eq!(resumed.body["paused"], false, "{}", resumed.body);
    eventually(Duration::from_secs(5), || async {
        api.standing(&second, &queue_token).await.body["status"] == "ACTIVE"
    })
    .await;
    admin(
        api,
        Method::POST,
        &format!("/schedules/{schedule}/admission"),
        &operator,
        Some(json!({ "action": "RETUNE", "admission_rate": 50.0, "active_cap": 10 })),
    )
    .await;
    admin(
        api,
        Method::POST,
        &format!("/schedules/{schedule}/admission"),
        &operator,
        Some(json!({ "action": "JUMP" })),
    )
    .await
    .assert_error(422, "VALIDATION_FAILED");

    let held = api.hold(&first, schedule, &seats[..1]).await;
    assert_eq!(held.status, 201, "{}", held.body);
    let id = reservation_id(&held);
    let started = Instant::now();
    let sales = admin(
        api,
        Method::GET,
        &format!("/schedules/{schedule}/sales"),
        &operator,
        None,
    )
    .await;
    eprintln!(
        "[organizer] the sales view answered in {:?}",
        started.elapsed()
    );
    assert_eq!(sales.status, 200, "{}", sales.body);
    assert_eq!(sales.body["grades"][0]["held"], 1, "{}", sales.body);
    admin(
        api,
        Method::POST,
        &format!("/reservations/{id}/cancel"),
        &operator,
        Some(json!({ "reason": "" })),
    )
    .await
    .assert_error(422, "VALIDATION_FAILED");
    let cancelled = admin(
        api,
        Method::POST,
        &format!("/reservations/{id}/cancel"),
        &operator,
        Some(json!({ "reason": "bought with a stolen account" })),
    )
    .await;
    assert_eq!(cancelled.status, 204, "{}", cancelled.body);
    assert_eq!(
        api.reservation(&first, &id).await.body["status"],
        "CANCELLED"
    );
    api.wait_seat(&first, schedule, seats[0], "AVAILABLE").await;
    let events = api
        .get(&format!("/api/v1/reservations/{id}/events"), &first.token)
        .await;
    let cancel = events.body["events"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["kind"] == "CANCELLED")
        .cloned()
        .unwrap();
    assert_eq!(cancel["actor"], "OPERATOR", "{cancel}");
    assert_eq!(cancel["details"]["reason"], "bought with a stolen account");
    // A second cancel finds nothing to cancel.
    admin(
        api,
        Method::POST,
        &format!("/reservations/{id}/cancel"),
        &operator,
        Some(json!({ "reason": "again" })),
    )
    .await
    .assert_error(409, "RESERVATION_EXPIRED");
}
