use crate::common::*;
use reqwest::Method;
use serde_json::json;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_input_gets_a_4xx_with_the_error_shape_and_changes_nothing() {
    let app = TestApp::spawn().await;
    let api = &app.api;
    let (schedule, seats) = app.schedule(1, 3).await;
    let buyer = api.user("Careful").await;
    api.charge(&buyer, 5_000).await;

    // Malformed JSON and wrong types.
    let raw = api
        .http
        .post(format!("{}/api/v1/users/me/balance/charges", api.base))
        .bearer_auth(&buyer.token)
        .header("content-type", "application/json")
        .body("{\"amount\": 12")
        .send()
        .await
        .unwrap();
    assert_eq!(raw.status(), 400);
    let body: serde_json::Value = raw.json().await.unwrap();
    assert_eq!(body["error"]["code"], "MALFORMED_JSON");
    api.post(
        "/api/v1/users/me/balance/charges",
        &buyer.token,
        json!({ "amount": "lots" }),
    )
    .await
    .assert_error(422, "VALIDATION_FAILED");
    api.post(
        "/api/v1/users/me/balance/charges",
        &buyer.token,
        json!({ "amount": 1.5 }),
    )
    .await
    .assert_error(422, "VALIDATION_FAILED");
    api.post(
        "/api/v1/reservations",
        &buyer.token,
        json!({ "schedule_id": schedule, "seat_ids": "1" }),
    )
    .await
    .assert_error(422, "VALIDATION_FAILED");
    api.send(
        Method::POST,
        "/api/v1/users",
        None,
        Some(json!({ "name": "" })),
    )
    .await
    .assert_error(422, "VALIDATION_FAILED");
    api.send(Method::POST, "/api/v1/users", None, Some(json!({})))
        .await
        .assert_error(422, "VALIDATION_FAILED");

    // Negative, zero and huge amounts.
    for amount in [
        json!(-5),
        json!(0),
        json!(10_000_001),
        json!(i64::MAX),
        json!(1e30),
    ] {
        api.post(
            "/api/v1/users/me/balance/charges",
            &buyer.token,
            json!({ "amount": amount }),
        )
        .await
        .assert_error(422, "VALIDATION_FAILED");
    }

    // Unknown ids and bad seat lists.
    let unknown = uuid::Uuid::new_v4();
    api.get(&format!("/api/v1/reservations/{unknown}"), &buyer.token)
        .await
        .assert_error(404, "NOT_FOUND");
    api.get("/api/v1/reservations/not-a-uuid", &buyer.token)
        .await
        .assert_error(404, "NOT_FOUND");
    api.pay(&buyer, &unknown.to_string())
        .await
        .assert_error(404, "NOT_FOUND");
    api.cancel(&buyer, "12345")
        .await
        .assert_error(404, "NOT_FOUND");
    api.get(
        &format!("/api/v1/concerts/{unknown}/schedules"),
        &buyer.token,
    )
    .await
    .assert_error(404, "NOT_FOUND");
    api.get(&format!("/api/v1/schedules/{unknown}/seats"), &buyer.token)
        .await
        .assert_error(404, "NOT_FOUND");
    api.post(
        "/api/v1/reservations",
        &buyer.token,
        json!({ "schedule_id": unknown, "seat_ids": [seats[0]] }),
    )
    .await
    .assert_error(404, "NOT_FOUND");
    api.hold(&buyer, schedule, &[])
        .await
        .assert_error(422, "VALIDATION_FAILED");
    api.hold(&buyer, schedule, &[seats[0], seats[0]])
        .await
        .assert_error(422, "VALIDATION_FAILED");
    api.hold(&buyer, schedule, &[1, 2, 3, 4, 5])
        .await
        .assert_error(422, "VALIDATION_FAILED");
    api.hold(&buyer, schedule, &[-1])
        .await
        .assert_error(422, "VALIDATION_FAILED");
    api.hold(&buyer, schedule, &[i64::MAX])
        .await
        .assert_error(422, "UNKNOWN_SEATS");

    // Garbage, forged and missing tokens.
    let forged = format!("{}x", buyer.token);
    for token in ["garbage", "a.b", forged.as_str(), ""] {
        api.get("/api/v1/users/me/balance", token)
            .await
            .assert_error(401, "UNAUTHORIZED");
        api.post(
            "/api/v1/reservations",
            token,
            json!({ "schedule_id": schedule, "seat_ids": [seats[0]] }),
        )
        .await
        .assert_error(401, "UNAUTHORIZED");
    }
    api.send(Method::GET, "/api/v1/users/me/balance", None, None)
        .await
        .assert_error(401, "UNAUTHORIZED");

    // Unknown routes and methods.
    api.get("/api/v1/nowhere", &buyer.token)
        .await
        .assert_error(404, "ROUTE_NOT_FOUND");
    api.send(
        Method::DELETE,
        "/api/v1/reservations",
        Some(&buyer.token),
        None,
    )
    .await
    .assert_error(405, "METHOD_NOT_ALLOWED");

    // Nothing changed.
    assert_eq!(api.balance(&buyer).await, 5_000);
    let mine = api.get("/api/v1/users/me/reservations", &buyer.token).await;
    assert_eq!(mine.body["reservations"], json!([]));
    for (_, status) in api.seat_statuses(&buyer, schedule).await {
        assert_eq!(status, "AVAILABLE");
    }
}
