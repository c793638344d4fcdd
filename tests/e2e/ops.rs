use crate::common::*;
use reqwest::Method;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn health_readiness_metrics_and_docs_are_served() {
    let app = TestApp::spawn().await;
    let api = &app.api;
    let health = api.send(Method::GET, "/healthz", None, None).await;
    assert_eq!(health.status, 200);
    let ready = api.send(Method::GET, "/readyz", None, None).await;
    assert_eq!(ready.status, 200, "{}", ready.body);
    for dep in ["postgres", "redis", "temporal"] {
        assert_eq!(ready.body["checks"][dep], "ok");
    }

    let openapi = api.send(Method::GET, "/openapi.json", None, None).await;
    assert_eq!(openapi.status, 200);
    assert!(openapi.body["openapi"].as_str().unwrap().starts_with("3."));
    assert!(openapi.body["paths"]["/api/v1/reservations"]["post"].is_object());

    let docs = api
        .http
        .get(format!("{}/docs/", api.base))
        .send()
        .await
        .unwrap();
    assert_eq!(docs.status(), 200);
    let html = docs.text().await.unwrap();
    assert!(html.contains("swagger"), "a Swagger UI page");
    assert!(!html.contains("cdn"), "no CDN");

    api.user("Metered").await;
    let metrics = api
        .http
        .get(format!("{}/metrics", api.base))
        .send()
        .await
        .unwrap();
    let text = metrics.text().await.unwrap();
    assert!(text.contains("http_requests_total"), "{text}");
    assert!(text.contains("route=\"/api/v1/users\""), "{text}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concerts_and_schedules_show_remaining_seats() {
    let app = TestApp::spawn().await;
    let api = &app.api;
    let (schedule, seats) = app.schedule(2, 3).await;
    let concert: uuid::Uuid = sqlx::query_scalar("SELECT concert_id FROM schedules WHERE id = $1")
        .bind(schedule.as_uuid())
        .fetch_one(&app.pool)
        .await
        .unwrap();
    let buyer = api.user("Browser").await;
    let concerts = api.get("/api/v1/concerts", &buyer.token).await;
    assert!(concerts.body["concerts"]
        .as_array()
        .unwrap()
        .iter()
        .any(|c| c["id"] == concert.to_string()));
    api.hold(&buyer, schedule, &seats[..2]).await;
    let schedules = api
        .get(
            &format!("/api/v1/concerts/{concert}/schedules"),
            &buyer.token,
        )
        .await;
    let s = &schedules.body["schedules"][0];
    assert_eq!(s["total_seats"], 6);
    assert_eq!(s["available_seats"], 4);
    assert!(s["booking_opens_at"].is_string() && s["booking_closes_at"].is_string());

    // The lists are cached, for a second at most: another hold shows within that.
    let other = api.user("Other").await;
    assert_eq!(api.hold(&other, schedule, &seats[2..3]).await.status, 201);
    let path = format!("/api/v1/concerts/{concert}/schedules");
    let took = eventually(std::time::Duration::from_secs(3), || async {
        api.get(&path, &buyer.token).await.body["schedules"][0]["available_seats"] == 3
    })
    .await;
    assert!(took < std::time::Duration::from_millis(1_500), "{took:?}");
}
