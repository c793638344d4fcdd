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

    let page = api.http.get(format!("{}/", api.base)).send().await.unwrap();
    let policy = page.headers()["content-security-policy"].to_str().unwrap();
    assert!(policy.contains("script-src 'self'"), "{policy}");
    assert!(policy.contains("frame-ancestors 'none'"), "{policy}");
    assert!(!policy.contains("unsafe-inline"), "{policy}");
    assert_eq!(page.headers()["x-content-type-options"], "nosniff");

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

/// The operations of the HTTP contract (DESIGN.md) that Seatline serves so far.
const CONTRACT: &[(&str, &str)] = &[
    ("post", "/api/v1/users"),
    ("post", "/api/v1/auth/signup"),
    ("post", "/api/v1/auth/login"),
    ("post", "/api/v1/auth/refresh"),
    ("post", "/api/v1/auth/logout"),
    ("get", "/api/v1/concerts"),
    ("get", "/api/v1/concerts/{concert_id}/schedules"),
    ("post", "/api/v1/queue/tokens"),
    ("get", "/api/v1/queue/tokens/current"),
    ("get", "/api/v1/schedules/{schedule_id}/seats"),
    ("get", "/api/v1/schedules/{schedule_id}/seats/stream"),
    ("post", "/api/v1/reservations"),
    ("get", "/api/v1/reservations/{id}"),
    ("post", "/api/v1/reservations/{id}/payment"),
    ("post", "/api/v1/reservations/{id}/cancel"),
    ("post", "/api/v1/reservations/{id}/checkout"),
    ("get", "/api/v1/reservations/{id}/events"),
    ("get", "/api/v1/users/me/reservations"),
    ("get", "/api/v1/users/me/balance"),
    ("post", "/api/v1/users/me/balance/charges"),
    ("get", "/api/v1/users/me/balance/history"),
    ("post", "/api/v1/payments/webhook"),
    ("get", "/healthz"),
    ("get", "/readyz"),
    ("get", "/metrics"),
];

/// The document is derived from the router (each route is added with its handler's
/// annotation), so this checks the other direction: every documented operation is served,
/// and what it answers to an anonymous caller and to a buyer sending `{}` is a status the
/// document lists for it, with an error code the document names there.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_documented_operation_is_served_and_answers_as_documented() {
    let app = TestApp::spawn().await;
    let api = &app.api;
    let doc = api
        .send(Method::GET, "/openapi.json", None, None)
        .await
        .body;
    let paths = doc["paths"].as_object().expect("paths");
    for (method, path) in CONTRACT {
        assert!(
            paths[*path][*method].is_object(),
            "{method} {path} is not documented"
        );
    }
    let buyer = api.user("Prober").await;
    let mut probed = 0;
    for (path, item) in paths {
        let concrete = path
            .split('/')
            .map(|segment| {
                if segment.starts_with('{') {
                    uuid::Uuid::new_v4().to_string()
                } else {
                    segment.to_owned()
                }
            })
            .collect::<Vec<_>>()
            .join("/");
        for (method, operation) in item.as_object().unwrap() {
            let Ok(verb) = method.to_uppercase().parse::<Method>() else {
                continue;
            };
            let body =
                (verb == Method::POST || verb == Method::PATCH).then(|| serde_json::json!({}));
            for token in [None, Some(buyer.token.as_str())] {
                let reply = api.send(verb.clone(), &concrete, token, body.clone()).await;
                let label = format!("{method} {concrete} (token: {})", token.is_some());
                assert!(
                    !["ROUTE_NOT_FOUND", "METHOD_NOT_ALLOWED"].contains(&reply.code()),
                    "{label} is documented but not served: {}",
                    reply.body
                );
                let listed = &operation["responses"][reply.status.as_str()];
                assert!(
                    listed.is_object(),
                    "{label} answered {} which its document does not list: {}",
                    reply.status,
                    reply.body
                );
                if reply.status.as_u16() >= 400 {
                    let description = listed["description"].as_str().unwrap_or("");
                    assert!(
                        description.contains(reply.code()),
                        "{label} answered {} {}, not named in \"{description}\"",
                        reply.status,
                        reply.code()
                    );
                }
                probed += 1;
            }
        }
    }
    assert!(probed >= 2 * CONTRACT.len(), "probed {probed} answers");
}
