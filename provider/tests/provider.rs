//! The provider over real HTTP, against a real webhook receiver.

use axum::{body::Bytes, extract::State, http::HeaderMap, http::StatusCode, routing::post, Router};
use reqwest::redirect::Policy;
use seatline_provider::{
    webhook_signature::{self, SIGNATURE_HEADER},
    DeliveryPolicy, MockProvider, ProviderConfig,
};
use serde_json::{json, Value};
use std::{
    collections::VecDeque,
    sync::{
        atomic::{AtomicBool, Ordering},
        Arc, Mutex,
    },
    time::{Duration, Instant},
};

const SECRET: &str = "integration-test-secret";

#[derive(Clone, Debug)]
struct Hit {
    body: Bytes,
    at: Instant,
    /// The `Seatline-Signature` header as received.
    signature: String,
    /// The receiver's clock when it arrived (unix seconds).
    received_unix: i64,
}

impl Hit {
    fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap()
    }

    /// The `t=` of the signature.
    fn signed_at(&self) -> i64 {
        self.signature
            .split(',')
            .find_map(|part| part.strip_prefix("t="))
            .expect("a t= in the signature")
            .parse()
            .unwrap()
    }
}

#[derive(Clone, Default)]
struct Receiver {
    hits: Arc<Mutex<Vec<Hit>>>,
    /// Statuses to answer, in order; 200 once empty.
    script: Arc<Mutex<VecDeque<u16>>>,
    bad_signatures: Arc<Mutex<u32>>,
}

async fn hook(State(r): State<Receiver>, headers: HeaderMap, body: Bytes) -> StatusCode {
    let now = chrono::Utc::now().timestamp();
    let signature = headers
        .get(SIGNATURE_HEADER)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    let json_type = headers
        .get("content-type")
        .is_some_and(|v| v == "application/json");
    if webhook_signature::verify(SECRET, signature, &body, now, 300).is_err() || !json_type {
        *r.bad_signatures.lock().unwrap() += 1;
    }
    r.hits.lock().unwrap().push(Hit {
        body,
        at: Instant::now(),
        signature: signature.to_owned(),
        received_unix: now,
    });
    let status = r.script.lock().unwrap().pop_front().unwrap_or(200);
    StatusCode::from_u16(status).unwrap()
}

struct Harness {
    base: String,
    callback_url: String,
    receiver: Receiver,
    http: reqwest::Client,
}

fn serve_receiver(listener: tokio::net::TcpListener, receiver: &Receiver) {
    let app = Router::new()
        .route("/webhook", post(hook))
        .with_state(receiver.clone());
    tokio::spawn(async move { axum::serve(listener, app).await });
}

fn config() -> ProviderConfig {
    ProviderConfig {
        port: 0,
        webhook_secret: SECRET.into(),
        ..Default::default()
    }
}

/// Retries every few milliseconds, for up to a minute.
fn impatient() -> DeliveryPolicy {
    DeliveryPolicy {
        retry_for: Duration::from_secs(60),
        max_backoff: Duration::from_millis(5),
    }
}

impl Harness {
    /// The provider as `main` builds it (retry policy from the environment).
    async fn start() -> Self {
        Self::with(MockProvider::build(config()).await.unwrap()).await
    }

    async fn start_with(policy: DeliveryPolicy) -> Self {
        Self::with(MockProvider::build_with(config(), policy).await.unwrap()).await
    }

    async fn with(provider: MockProvider) -> Self {
        let base = provider.base_url();
        assert_eq!(base, format!("http://127.0.0.1:{}", provider.port()));
        tokio::spawn(provider.run_until_stopped());

        let receiver = Receiver::default();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let callback_url = format!("http://{}/webhook", listener.local_addr().unwrap());
        serve_receiver(listener, &receiver);

        let http = reqwest::Client::builder()
            .redirect(Policy::none())
            .build()
            .unwrap();
        Self {
            base,
            callback_url,
            receiver,
            http,
        }
    }

    async fn post(&self, path: &str, body: Value, key: Option<&str>) -> (u16, Value) {
        let mut req = self.http.post(format!("{}{path}", self.base)).json(&body);
        if let Some(key) = key {
            req = req.header("Idempotency-Key", key);
        }
        let res = req.send().await.unwrap();
        let status = res.status().as_u16();
        (status, res.json().await.unwrap_or(Value::Null))
    }

    async fn get(&self, path: &str) -> (u16, Value) {
        let res = self
            .http
            .get(format!("{}{path}", self.base))
            .send()
            .await
            .unwrap();
        let status = res.status().as_u16();
        (status, res.json().await.unwrap_or(Value::Null))
    }

    async fn create(&self, amount: i64, return_url: Option<&str>) -> String {
        self.create_for("res-1", amount, &self.callback_url, return_url)
            .await
    }

    async fn create_for(
        &self,
        reservation_id: &str,
        amount: i64,
        callback_url: &str,
        return_url: Option<&str>,
    ) -> String {
        let (status, body) = self
            .post(
                "/v1/payments",
                json!({
                    "reservation_id": reservation_id,
                    "amount": amount,
                    "callback_url": callback_url,
                    "return_url": return_url,
                }),
                None,
            )
            .await;
        assert_eq!(status, 201, "{body}");
        body["payment_id"].as_str().unwrap().to_owned()
    }

    /// `POST .../cancel` with no body at all, as a reconciler may send it.
    async fn cancel(&self, payment_id: &str) -> (u16, Value) {
        let res = self
            .http
            .post(format!("{}/v1/payments/{payment_id}/cancel", self.base))
            .send()
            .await
            .unwrap();
        let status = res.status().as_u16();
        (status, res.json().await.unwrap_or(Value::Null))
    }

    /// The payment once no delivery of it is in flight any more.
    async fn settled(&self, payment_id: &str) -> Value {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let payment = self.payment(payment_id).await;
            if payment["webhook_in_flight"] == 0 {
                return payment;
            }
            assert!(Instant::now() < deadline, "still in flight: {payment}");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    async fn complete(&self, payment_id: &str, body: Value) -> (u16, Value) {
        self.post(&format!("/v1/payments/{payment_id}/complete"), body, None)
            .await
    }

    fn hits(&self) -> Vec<Hit> {
        self.receiver.hits.lock().unwrap().clone()
    }

    async fn wait_for_hits(&self, n: usize) -> Vec<Hit> {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let hits = self.hits();
            if hits.len() >= n {
                return hits;
            }
            assert!(
                Instant::now() < deadline,
                "only {} of {n} webhooks",
                hits.len()
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    async fn payment(&self, payment_id: &str) -> Value {
        let (status, body) = self.get(&format!("/v1/payments/{payment_id}")).await;
        assert_eq!(status, 200);
        body
    }

    fn assert_all_signed(&self) {
        assert_eq!(*self.receiver.bad_signatures.lock().unwrap(), 0);
    }
}

#[tokio::test]
async fn health() {
    let h = Harness::start().await;
    assert_eq!(h.get("/healthz").await, (200, json!({"status": "ok"})));
    let (status, body) = h.get("/nope").await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (404, Some("NOT_FOUND"))
    );
}

#[tokio::test]
async fn creating_payments() {
    let h = Harness::start().await;
    let request =
        json!({"reservation_id": "r-9", "amount": 165000, "callback_url": h.callback_url});
    let (status, created) = h.post("/v1/payments", request.clone(), Some("k1")).await;
    assert_eq!(status, 201);
    let id = created["payment_id"].as_str().unwrap();
    assert!(id.starts_with("pay_") && id.len() == 36, "{id}");
    assert_eq!(created["status"], "PENDING");
    assert_eq!(created["amount"], 165000);
    assert_eq!(created["checkout_url"], format!("{}/checkout/{id}", h.base));

    let (status, again) = h.post("/v1/payments", request.clone(), Some("k1")).await;
    assert_eq!(
        (status, &again["payment_id"]),
        (200, &created["payment_id"])
    );
    let (status, other) = h.post("/v1/payments", request.clone(), Some("k2")).await;
    assert_eq!(status, 201);
    assert_ne!(other["payment_id"], created["payment_id"]);
    let mut changed = request.clone();
    changed["amount"] = json!(1);
    let (status, err) = h.post("/v1/payments", changed, Some("k1")).await;
    assert_eq!(
        (status, err["error"]["code"].as_str()),
        (422, Some("IDEMPOTENCY_KEY_REUSED"))
    );

    let payment = h.payment(id).await;
    assert_eq!(payment["reservation_id"], "r-9");
    assert_eq!(payment["currency"], "KRW");
    assert_eq!(payment["status"], "PENDING");
    assert_eq!(payment["refunded_amount"], 0);
    assert_eq!(payment["refunds"], json!([]));
    assert_eq!(payment["webhook_deliveries"], 0);
    assert_eq!(payment["webhook_acknowledged"], 0);

    for (body, code) in [
        (
            json!({"reservation_id": "r", "amount": 0, "callback_url": h.callback_url}),
            "INVALID_AMOUNT",
        ),
        (
            json!({"reservation_id": "r", "amount": 5, "callback_url": "not a url"}),
            "INVALID_CALLBACK_URL",
        ),
        (
            json!({"reservation_id": "", "amount": 5, "callback_url": h.callback_url}),
            "INVALID_RESERVATION_ID",
        ),
        (json!({"amount": 5}), "INVALID_REQUEST"),
    ] {
        let (status, err) = h.post("/v1/payments", body, None).await;
        assert!((400..500).contains(&status));
        assert_eq!(err["error"]["code"], code);
    }
    let (status, err) = h.get("/v1/payments/pay_unknown").await;
    assert_eq!(
        (status, err["error"]["code"].as_str()),
        (404, Some("PAYMENT_NOT_FOUND"))
    );
}

#[tokio::test]
async fn normal_completion_sends_one_signed_event() {
    let h = Harness::start().await;
    let id = h.create(50_000, None).await;
    let (status, payment) = h.complete(&id, json!({"status": "SUCCEEDED"})).await;
    assert_eq!(
        (status, payment["status"].as_str()),
        (200, Some("SUCCEEDED"))
    );

    let hits = h.wait_for_hits(1).await;
    let event = hits[0].json();
    assert!(event["event_id"].as_str().unwrap().starts_with("evt_"));
    assert_eq!(event["payment_id"], id.as_str());
    assert_eq!(event["reservation_id"], "res-1");
    assert_eq!(event["amount"], 50_000);
    assert_eq!(event["status"], "SUCCEEDED");
    chrono::DateTime::parse_from_rfc3339(event["occurred_at"].as_str().unwrap()).unwrap();
    h.assert_all_signed();

    tokio::time::sleep(Duration::from_millis(100)).await;
    assert_eq!(h.hits().len(), 1);
    let payment = h.payment(&id).await;
    assert_eq!(payment["webhook_deliveries"], 1);
    assert_eq!(payment["webhook_acknowledged"], 1);

    let (status, err) = h.complete(&id, json!({"status": "FAILED"})).await;
    assert_eq!(
        (status, err["error"]["code"].as_str()),
        (409, Some("ALREADY_SUCCEEDED"))
    );
    let (status, err) = h.complete(&id, json!({"status": "SUCCEEDED"})).await;
    assert_eq!(
        (status, err["error"]["code"].as_str()),
        (409, Some("ALREADY_SUCCEEDED"))
    );
}

#[tokio::test]
async fn a_failed_payment_may_succeed_with_another_card() {
    let h = Harness::start().await;
    let id = h.create(1_000, None).await;
    assert_eq!(h.complete(&id, json!({"status": "FAILED"})).await.0, 200);
    let (status, err) = h.complete(&id, json!({"status": "FAILED"})).await;
    assert_eq!(
        (status, err["error"]["code"].as_str()),
        (409, Some("ALREADY_FAILED"))
    );
    let (status, err) = h.complete(&id, json!({"status": "PENDING"})).await;
    assert_eq!(
        (status, err["error"]["code"].as_str()),
        (400, Some("INVALID_STATUS"))
    );
    assert_eq!(h.complete(&id, json!({"status": "SUCCEEDED"})).await.0, 200);
    let hits = h.wait_for_hits(2).await;
    let mut statuses: Vec<String> = hits
        .iter()
        .map(|h| h.json()["status"].as_str().unwrap().to_owned())
        .collect();
    statuses.sort();
    assert_eq!(statuses, ["FAILED", "SUCCEEDED"]);
    assert_ne!(hits[0].json()["event_id"], hits[1].json()["event_id"]);
}

#[tokio::test]
async fn duplicate_mode_sends_the_same_bytes_many_times() {
    let h = Harness::start().await;
    let id = h.create(1_000, None).await;
    let body = json!({"status": "SUCCEEDED", "mode": "duplicate", "deliveries": 4});
    assert_eq!(h.complete(&id, body).await.0, 200);
    let hits = h.wait_for_hits(4).await;
    assert!(hits.iter().all(|hit| hit.body == hits[0].body));
    h.assert_all_signed();

    let id = h.create(1_000, None).await;
    assert_eq!(
        h.complete(&id, json!({"status": "FAILED", "mode": "duplicate"}))
            .await
            .0,
        200
    );
    let hits = h.wait_for_hits(9).await;
    assert_eq!(
        hits[4..]
            .iter()
            .filter(|hit| hit.json()["payment_id"] == id.as_str())
            .count(),
        5
    );
    let (status, _) = h
        .complete(
            &h.create(1, None).await,
            json!({"status": "FAILED", "mode": "duplicate", "deliveries": 0}),
        )
        .await;
    assert_eq!(status, 400);
}

#[tokio::test]
async fn delay_mode_waits() {
    let h = Harness::start().await;
    let id = h.create(1_000, None).await;
    let started = Instant::now();
    let body = json!({"status": "SUCCEEDED", "mode": "delay", "delay_ms": 400});
    assert_eq!(h.complete(&id, body).await.0, 200);
    let hits = h.wait_for_hits(1).await;
    assert!(hits[0].at - started >= Duration::from_millis(400));
}

#[tokio::test]
async fn out_of_order_mode_sends_a_stale_opposite_event_afterwards() {
    let h = Harness::start().await;
    let id = h.create(1_000, None).await;
    let (status, payment) = h
        .complete(&id, json!({"status": "SUCCEEDED", "mode": "out_of_order"}))
        .await;
    assert_eq!(
        (status, payment["status"].as_str()),
        (200, Some("SUCCEEDED"))
    );
    let hits = h.wait_for_hits(2).await;
    let (real, stale) = (hits[0].json(), hits[1].json());
    assert_eq!(real["status"], "SUCCEEDED");
    assert_eq!(stale["status"], "FAILED");
    assert_eq!(stale["payment_id"], real["payment_id"]);
    assert_ne!(stale["event_id"], real["event_id"]);
    let at = |v: &Value| {
        chrono::DateTime::parse_from_rfc3339(v["occurred_at"].as_str().unwrap()).unwrap()
    };
    assert_eq!(at(&real) - at(&stale), chrono::Duration::minutes(1));
    h.assert_all_signed();
    assert_eq!(h.payment(&id).await["status"], "SUCCEEDED");
}

#[tokio::test]
async fn retries_until_acknowledged() {
    let h = Harness::start().await;
    h.receiver.script.lock().unwrap().extend([500, 409, 503]);
    let id = h.create(1_000, None).await;
    assert_eq!(h.complete(&id, json!({"status": "SUCCEEDED"})).await.0, 200);
    let hits = h.wait_for_hits(4).await;
    assert!(hits.iter().all(|hit| hit.body == hits[0].body));
    // 200 ms, 400 ms, 800 ms between the attempts.
    assert!(hits[3].at - hits[0].at >= Duration::from_millis(1400));
    h.assert_all_signed();
    let payment = h.payment(&id).await;
    assert_eq!(payment["webhook_deliveries"], 4);
    assert_eq!(payment["webhook_acknowledged"], 1);
}

#[tokio::test]
async fn a_client_error_is_final() {
    let h = Harness::start().await;
    h.receiver.script.lock().unwrap().push_back(400);
    let id = h.create(1_000, None).await;
    assert_eq!(h.complete(&id, json!({"status": "SUCCEEDED"})).await.0, 200);
    h.wait_for_hits(1).await;
    tokio::time::sleep(Duration::from_millis(700)).await;
    assert_eq!(h.hits().len(), 1);
    let payment = h.payment(&id).await;
    assert_eq!(payment["webhook_deliveries"], 1);
    assert_eq!(payment["webhook_acknowledged"], 0);
}

#[tokio::test]
async fn redeliver_sends_the_latest_event_again() {
    let h = Harness::start().await;
    let id = h.create(1_000, None).await;
    let (status, err) = h
        .post(&format!("/v1/payments/{id}/redeliver"), json!({}), None)
        .await;
    assert_eq!(
        (status, err["error"]["code"].as_str()),
        (409, Some("NO_EVENT_YET"))
    );
    h.complete(&id, json!({"status": "SUCCEEDED", "mode": "out_of_order"}))
        .await;
    h.wait_for_hits(2).await;
    let (status, answer) = h
        .post(&format!("/v1/payments/{id}/redeliver"), json!({}), None)
        .await;
    assert_eq!(status, 202);
    let hits = h.wait_for_hits(3).await;
    assert_eq!(hits[2].body, hits[0].body);
    assert_eq!(answer["event_id"], hits[0].json()["event_id"]);
    assert_eq!(
        h.post("/v1/payments/pay_x/redeliver", json!({}), None)
            .await
            .0,
        404
    );
}

#[tokio::test]
async fn refunds() {
    let h = Harness::start().await;
    let id = h.create(10_000, None).await;
    let refund =
        |amount: i64| json!({"payment_id": id, "amount": amount, "reason": "seat released"});

    let (status, err) = h.post("/v1/refunds", refund(100), None).await;
    assert_eq!(
        (status, err["error"]["code"].as_str()),
        (400, Some("IDEMPOTENCY_KEY_REQUIRED"))
    );
    let (status, err) = h.post("/v1/refunds", refund(100), Some("a")).await;
    assert_eq!(
        (status, err["error"]["code"].as_str()),
        (409, Some("PAYMENT_NOT_SUCCEEDED"))
    );
    h.complete(&id, json!({"status": "SUCCEEDED"})).await;

    let (status, first) = h.post("/v1/refunds", refund(4_000), Some("a")).await;
    assert_eq!(status, 200, "{first}");
    assert!(first["refund_id"].as_str().unwrap().starts_with("re_"));
    assert_eq!(first["payment_id"], id.as_str());
    assert_eq!(first["amount"], 4_000);
    assert_eq!(first["status"], "SUCCEEDED");
    let (status, replay) = h.post("/v1/refunds", refund(4_000), Some("a")).await;
    assert_eq!((status, &replay["refund_id"]), (200, &first["refund_id"]));
    let (status, err) = h.post("/v1/refunds", refund(5_000), Some("a")).await;
    assert_eq!(
        (status, err["error"]["code"].as_str()),
        (422, Some("IDEMPOTENCY_KEY_REUSED"))
    );

    let (status, err) = h.post("/v1/refunds", refund(6_001), Some("b")).await;
    assert_eq!(
        (status, err["error"]["code"].as_str()),
        (400, Some("REFUND_EXCEEDS_PAYMENT"))
    );
    assert_eq!(h.post("/v1/refunds", refund(6_000), Some("b")).await.0, 200);
    let (status, err) = h.post("/v1/refunds", refund(1), Some("c")).await;
    assert_eq!(
        (status, err["error"]["code"].as_str()),
        (400, Some("REFUND_EXCEEDS_PAYMENT"))
    );
    let (status, err) = h.post("/v1/refunds", refund(0), Some("d")).await;
    assert_eq!(
        (status, err["error"]["code"].as_str()),
        (400, Some("INVALID_AMOUNT"))
    );

    let payment = h.payment(&id).await;
    assert_eq!(payment["refunded_amount"], 10_000);
    assert_eq!(payment["refunds"].as_array().unwrap().len(), 2);
    assert_eq!(payment["refunds"][0]["refund_id"], first["refund_id"]);
    assert_eq!(payment["refunds"][0]["amount"], 4_000);
    assert!(payment["refunds"][0]["created_at"].is_string());

    let unknown = json!({"payment_id": "pay_nope", "amount": 1, "reason": "x"});
    let (status, err) = h.post("/v1/refunds", unknown, Some("e")).await;
    assert_eq!(
        (status, err["error"]["code"].as_str()),
        (404, Some("PAYMENT_NOT_FOUND"))
    );
}

#[tokio::test]
async fn checkout_page_and_its_buttons() {
    let h = Harness::start().await;
    let (_, created) = h
        .post(
            "/v1/payments",
            json!({
                "reservation_id": "<b>res&1</b>",
                "amount": 1_234_000,
                "callback_url": h.callback_url,
                "return_url": "http://shop.example/reservations/1",
            }),
            None,
        )
        .await;
    let id = created["payment_id"].as_str().unwrap().to_owned();
    let page = h
        .http
        .get(created["checkout_url"].as_str().unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(page.status(), 200);
    assert!(page.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("text/html"));
    let html = page.text().await.unwrap();
    assert!(html.contains("₩1,234,000"));
    assert!(html.contains("&lt;b&gt;res&amp;1&lt;/b&gt;") && !html.contains("<b>res"));
    assert!(html.contains(r#"data-testid="provider-succeed""#));
    assert!(html.contains(r#"data-testid="provider-fail""#));
    assert!(html.contains("Pay / 결제") && html.contains("Decline / 거절"));
    assert!(
        !html.contains("http://") && !html.contains("https://"),
        "no external assets"
    );

    let press = |button: &'static str| {
        let url = format!("{}/checkout/{id}/{button}", h.base);
        let http = h.http.clone();
        async move {
            let res = http
                .post(url)
                .header("content-type", "application/x-www-form-urlencoded")
                .body("")
                .send()
                .await
                .unwrap();
            let location = res
                .headers()
                .get("location")
                .map(|v| v.to_str().unwrap().to_owned());
            (res.status().as_u16(), location)
        }
    };
    assert_eq!(
        press("fail").await,
        (303, Some("http://shop.example/reservations/1".into()))
    );
    assert_eq!(press("fail").await.0, 303, "a double submit is harmless");
    assert_eq!(
        press("succeed").await,
        (303, Some("http://shop.example/reservations/1".into()))
    );
    assert_eq!(press("succeed").await.0, 303);
    assert_eq!(press("fail").await.0, 409);
    let hits = h.wait_for_hits(2).await;
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert_eq!(h.hits().len(), 2);
    assert_eq!(
        hits.iter()
            .filter(|hit| hit.json()["status"] == "SUCCEEDED")
            .count(),
        1
    );
    assert_eq!(h.payment(&id).await["status"], "SUCCEEDED");

    // Without a return URL the buyer lands on the done page.
    let id = h.create(5_000, None).await;
    let res = h
        .http
        .post(format!("{}/checkout/{id}/succeed", h.base))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 303);
    assert_eq!(res.headers()["location"], "done");
    let done = h
        .http
        .get(format!("{}/checkout/{id}/done", h.base))
        .send()
        .await
        .unwrap();
    assert_eq!(done.status(), 200);
    assert!(done.text().await.unwrap().contains("Payment complete"));

    let missing = h
        .http
        .get(format!("{}/checkout/pay_missing", h.base))
        .send()
        .await
        .unwrap();
    assert_eq!(missing.status(), 404);
}

#[tokio::test]
async fn cancel_abandons_a_pending_payment() {
    let h = Harness::start().await;
    let id = h.create(30_000, Some("http://shop.example/r/1")).await;
    let (status, canceled) = h.cancel(&id).await;
    assert_eq!(status, 200, "{canceled}");
    assert_eq!(canceled["payment_id"], id.as_str());
    assert_eq!(canceled["reservation_id"], "res-1");
    assert_eq!(canceled["amount"], 30_000);
    assert_eq!(canceled["status"], "CANCELED");
    assert_eq!(canceled["refunded_amount"], 0);
    assert!(canceled["canceled_at"].is_string());

    // Idempotent: the same answer again, nothing changes.
    let (status, again) = h.cancel(&id).await;
    assert_eq!(status, 200);
    assert_eq!(again, canceled);
    // A JSON body is fine too.
    let (status, _) = h
        .post(&format!("/v1/payments/{id}/cancel"), json!({}), None)
        .await;
    assert_eq!(status, 200);
    assert_eq!(h.payment(&id).await, canceled);

    // Final: no completion, no refund, no page to pay on.
    for outcome in ["SUCCEEDED", "FAILED"] {
        let (status, err) = h.complete(&id, json!({"status": outcome})).await;
        assert_eq!(
            (status, err["error"]["code"].as_str()),
            (409, Some("PAYMENT_CANCELED")),
            "{err}"
        );
        assert!(err["error"]["message"].is_string());
    }
    let (status, err) = h.complete(&id, json!({"status": "CANCELED"})).await;
    assert_eq!(
        (status, err["error"]["code"].as_str()),
        (400, Some("INVALID_STATUS"))
    );
    let page = h
        .http
        .get(format!("{}/checkout/{id}", h.base))
        .send()
        .await
        .unwrap();
    assert_eq!(page.status(), 409);
    let html = page.text().await.unwrap();
    assert!(html.contains("Payment canceled"));
    assert!(!html.contains("provider-succeed") && !html.contains("provider-fail"));
    for button in ["succeed", "fail"] {
        let res = h
            .http
            .post(format!("{}/checkout/{id}/{button}", h.base))
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 409, "{button}");
        assert!(res.text().await.unwrap().contains("Payment canceled"));
    }
    let refund = json!({"payment_id": id, "amount": 1, "reason": "x"});
    let (status, err) = h.post("/v1/refunds", refund, Some("r1")).await;
    assert_eq!(
        (status, err["error"]["code"].as_str()),
        (409, Some("PAYMENT_NOT_SUCCEEDED"))
    );
    let (status, err) = h
        .post(&format!("/v1/payments/{id}/redeliver"), json!({}), None)
        .await;
    assert_eq!(
        (status, err["error"]["code"].as_str()),
        (409, Some("NO_EVENT_YET"))
    );

    tokio::time::sleep(Duration::from_millis(100)).await;
    assert!(h.hits().is_empty(), "a cancel sends no webhook");
    let payment = h.payment(&id).await;
    assert_eq!(payment["status"], "CANCELED");
    assert_eq!(payment["events"], json!([]));
    assert_eq!(payment["webhook_deliveries"], 0);

    let (status, err) = h.cancel("pay_unknown").await;
    assert_eq!(
        (status, err["error"]["code"].as_str()),
        (404, Some("PAYMENT_NOT_FOUND"))
    );
}

#[tokio::test]
async fn cancel_after_an_outcome_reports_the_outcome() {
    let h = Harness::start().await;
    let paid = h.create(10_000, None).await;
    h.complete(&paid, json!({"status": "SUCCEEDED"})).await;
    let key = "refund-1";
    let refund = json!({"payment_id": paid, "amount": 2_500, "reason": "fee"});
    assert_eq!(h.post("/v1/refunds", refund, Some(key)).await.0, 200);
    let (status, err) = h.cancel(&paid).await;
    assert_eq!(status, 409, "{err}");
    assert_eq!(err["error"]["code"], "PAYMENT_ALREADY_COMPLETED");
    assert!(err["error"]["message"]
        .as_str()
        .unwrap()
        .contains("SUCCEEDED"));
    let details = &err["error"]["details"];
    assert_eq!(details["status"], "SUCCEEDED");
    assert_eq!(details["payment_id"], paid.as_str());
    assert_eq!(details["reservation_id"], "res-1");
    assert_eq!(details["amount"], 10_000);
    assert_eq!(details["refunded_amount"], 2_500);
    // Asking again tells the same; the payment keeps its outcome.
    assert_eq!(h.cancel(&paid).await, (status, err));
    let payment = h.payment(&paid).await;
    assert_eq!(payment["status"], "SUCCEEDED");
    assert_eq!(payment["canceled_at"], Value::Null);

    // A decline is not an outcome yet (the buyer may try another card): it cancels, and
    // then no card can complete it.
    let declined = h.create(10_000, None).await;
    h.complete(&declined, json!({"status": "FAILED"})).await;
    let (status, canceled) = h.cancel(&declined).await;
    assert_eq!(status, 200, "{canceled}");
    assert_eq!(canceled["status"], "CANCELED");
    let (status, err) = h.complete(&declined, json!({"status": "SUCCEEDED"})).await;
    assert_eq!(
        (status, err["error"]["code"].as_str()),
        (409, Some("PAYMENT_CANCELED"))
    );
}

#[tokio::test]
async fn sign_skew_offsets_every_signature_of_the_completion() {
    let h = Harness::start_with(impatient()).await;
    let id = h.create(1_000, None).await;
    for skew in [86_401, -86_401] {
        let (status, err) = h
            .complete(
                &id,
                json!({"status": "SUCCEEDED", "sign_skew_seconds": skew}),
            )
            .await;
        assert_eq!(
            (status, err["error"]["code"].as_str()),
            (400, Some("INVALID_SIGN_SKEW"))
        );
    }
    let (status, err) = h
        .complete(
            &id,
            json!({"status": "SUCCEEDED", "sign_skew_seconds": 1.5}),
        )
        .await;
    assert_eq!(
        (status, err["error"]["code"].as_str()),
        (422, Some("INVALID_REQUEST"))
    );
    assert_eq!(
        h.payment(&id).await["status"],
        "PENDING",
        "nothing happened"
    );

    // Ahead by an hour, through a retry and a redelivery.
    h.receiver.script.lock().unwrap().push_back(503);
    let body = json!({"status": "SUCCEEDED", "sign_skew_seconds": 3600});
    assert_eq!(h.complete(&id, body).await.0, 200);
    h.wait_for_hits(2).await;
    let (status, _) = h
        .post(&format!("/v1/payments/{id}/redeliver"), json!({}), None)
        .await;
    assert_eq!(status, 202);
    let hits = h.wait_for_hits(3).await;
    for hit in &hits {
        let off = hit.signed_at() - hit.received_unix;
        assert!((3598..=3601).contains(&off), "signed {off} s ahead");
        // Authentic, just not at the receiver's time.
        assert_eq!(
            webhook_signature::verify(SECRET, &hit.signature, &hit.body, hit.signed_at(), 0),
            Ok(hit.signed_at())
        );
        assert_eq!(
            webhook_signature::verify(SECRET, &hit.signature, &hit.body, hit.received_unix, 300),
            Err(webhook_signature::SignatureError::Stale)
        );
    }
    assert_eq!(*h.receiver.bad_signatures.lock().unwrap(), 3);

    // Behind by two hours, on another completion (the skew is per completion).
    let late = h.create(1_000, None).await;
    let body = json!({"status": "FAILED", "sign_skew_seconds": -7200});
    assert_eq!(h.complete(&late, body).await.0, 200);
    let hits = h.wait_for_hits(4).await;
    let off = hits[3].signed_at() - hits[3].received_unix;
    assert!((-7201..=-7199).contains(&off), "signed {off} s off");

    // Without a skew the signature is on time.
    let on_time = h.create(1_000, None).await;
    assert_eq!(
        h.complete(
            &on_time,
            json!({"status": "SUCCEEDED", "sign_skew_seconds": 0})
        )
        .await
        .0,
        200
    );
    let hits = h.wait_for_hits(5).await;
    assert!((hits[4].signed_at() - hits[4].received_unix).abs() <= 1);
    assert_eq!(*h.receiver.bad_signatures.lock().unwrap(), 4);
}

#[tokio::test]
async fn retries_outlast_many_failures() {
    let h = Harness::start_with(impatient()).await;
    // Far past the old limit of 12 attempts, with every retryable answer.
    let answers = [503, 500, 502, 504, 408, 409, 425, 429];
    h.receiver
        .script
        .lock()
        .unwrap()
        .extend(answers.iter().cycle().take(30));
    let id = h.create(1_000, None).await;
    assert_eq!(h.complete(&id, json!({"status": "SUCCEEDED"})).await.0, 200);
    let hits = h.wait_for_hits(31).await;
    assert!(hits.iter().all(|hit| hit.body == hits[0].body));
    h.assert_all_signed();
    let payment = h.settled(&id).await;
    assert_eq!(payment["webhook_deliveries"], 31);
    assert_eq!(payment["webhook_acknowledged"], 1);
    assert_eq!(payment["webhook_abandoned"], 0);
    let last = answers[(30 - 1) % answers.len()];
    assert_eq!(payment["webhook_last_failure"], format!("HTTP {last}"));
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert_eq!(h.hits().len(), 31, "nothing after the acknowledgement");
}

/// A front for the receiver that, while `up` is false, drops every connection it accepts
/// (the receiver is down: the sender sees a connection error); then passes them through.
async fn flaky_front(receiver: std::net::SocketAddr, up: Arc<AtomicBool>) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    tokio::spawn(async move {
        loop {
            let Ok((mut inbound, _)) = listener.accept().await else {
                continue;
            };
            if !up.load(Ordering::SeqCst) {
                drop(inbound);
                continue;
            }
            tokio::spawn(async move {
                let mut outbound = tokio::net::TcpStream::connect(receiver).await.unwrap();
                let _ = tokio::io::copy_bidirectional(&mut inbound, &mut outbound).await;
            });
        }
    });
    format!("http://{address}/webhook")
}

#[tokio::test]
async fn a_receiver_that_is_down_gets_the_event_when_it_is_back() {
    let h = Harness::start_with(DeliveryPolicy {
        retry_for: Duration::from_secs(60),
        max_backoff: Duration::from_millis(20),
    })
    .await;
    let up = Arc::new(AtomicBool::new(false));
    let receiver_address = h
        .callback_url
        .trim_start_matches("http://")
        .trim_end_matches("/webhook")
        .parse()
        .unwrap();
    let callback_url = flaky_front(receiver_address, up.clone()).await;
    let id = h.create_for("res-down", 1_000, &callback_url, None).await;
    let (status, completed) = h.complete(&id, json!({"status": "SUCCEEDED"})).await;
    assert_eq!(status, 200);
    assert_eq!(completed["webhook_in_flight"], 1);
    tokio::time::sleep(Duration::from_millis(500)).await;
    let payment = h.payment(&id).await;
    assert!(
        payment["webhook_deliveries"].as_u64().unwrap() >= 3,
        "{payment}"
    );
    assert_eq!(payment["webhook_in_flight"], 1);
    assert_eq!(payment["webhook_acknowledged"], 0);
    let failure = payment["webhook_last_failure"].as_str().unwrap();
    assert!(
        !failure.starts_with("HTTP"),
        "a connection error: {failure}"
    );
    assert!(h.hits().is_empty());

    // The receiver comes back.
    up.store(true, Ordering::SeqCst);
    let hits = h.wait_for_hits(1).await;
    assert_eq!(hits[0].json()["payment_id"], id.as_str());
    h.assert_all_signed();
    let payment = h.settled(&id).await;
    assert_eq!(payment["webhook_acknowledged"], 1);
    assert_eq!(payment["webhook_abandoned"], 0);
    assert_eq!(h.hits().len(), 1);
}

#[tokio::test]
async fn a_final_rejection_gets_exactly_one_attempt() {
    let h = Harness::start_with(impatient()).await;
    h.receiver.script.lock().unwrap().push_back(422);
    let id = h.create(1_000, None).await;
    assert_eq!(h.complete(&id, json!({"status": "SUCCEEDED"})).await.0, 200);
    h.wait_for_hits(1).await;
    let payment = h.settled(&id).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(h.hits().len(), 1);
    assert_eq!(payment["webhook_deliveries"], 1);
    assert_eq!(payment["webhook_acknowledged"], 0);
    assert_eq!(payment["webhook_abandoned"], 1);
    assert_eq!(payment["webhook_last_failure"], "HTTP 422");
}

#[tokio::test]
async fn retries_stop_at_the_end_of_the_window() {
    let h = Harness::start_with(DeliveryPolicy {
        retry_for: Duration::from_millis(600),
        max_backoff: Duration::from_millis(25),
    })
    .await;
    h.receiver
        .script
        .lock()
        .unwrap()
        .extend(std::iter::repeat_n(503, 10_000));
    let id = h.create(1_000, None).await;
    assert_eq!(h.complete(&id, json!({"status": "SUCCEEDED"})).await.0, 200);
    let payment = h.settled(&id).await;
    let hits = h.hits();
    assert!(hits.len() >= 10, "{} attempts", hits.len());
    let span = hits[hits.len() - 1].at - hits[0].at;
    assert!(
        span >= Duration::from_millis(400) && span < Duration::from_secs(3),
        "{span:?}"
    );
    assert_eq!(payment["webhook_deliveries"], hits.len());
    assert_eq!(payment["webhook_acknowledged"], 0);
    assert_eq!(payment["webhook_abandoned"], 1);
    assert_eq!(payment["webhook_last_failure"], "HTTP 503");
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(h.hits().len(), hits.len(), "nothing after giving up");
}

#[tokio::test]
async fn listing_payments_for_invariant_checks() {
    let h = Harness::start().await;
    let (status, empty) = h.get("/v1/payments").await;
    assert_eq!((status, empty), (200, json!({"payments": []})));

    let first = h.create_for("res-a", 10_000, &h.callback_url, None).await;
    let second = h.create_for("res-a", 20_000, &h.callback_url, None).await;
    let other = h.create_for("res-b", 5_000, &h.callback_url, None).await;
    h.complete(&second, json!({"status": "SUCCEEDED"})).await;
    h.wait_for_hits(1).await;
    h.settled(&second).await;
    let refund = json!({"payment_id": second, "amount": 7_000, "reason": "x"});
    assert_eq!(h.post("/v1/refunds", refund, Some("k")).await.0, 200);
    assert_eq!(h.cancel(&first).await.0, 200);

    let (status, listed) = h.get("/v1/payments?reservation_id=res-a").await;
    assert_eq!(status, 200);
    let payments = listed["payments"].as_array().unwrap();
    assert_eq!(payments.len(), 2);
    assert_eq!(payments[0]["payment_id"], first.as_str(), "oldest first");
    assert_eq!(payments[0]["status"], "CANCELED");
    assert_eq!(payments[0]["amount"], 10_000);
    assert_eq!(payments[0]["refunded_amount"], 0);
    assert_eq!(payments[0]["webhook_deliveries"], 0);
    assert_eq!(payments[1]["payment_id"], second.as_str());
    assert_eq!(payments[1]["reservation_id"], "res-a");
    assert_eq!(payments[1]["status"], "SUCCEEDED");
    assert_eq!(payments[1]["refunded_amount"], 7_000);
    assert_eq!(payments[1]["webhook_deliveries"], 1);
    assert_eq!(payments[1]["webhook_acknowledged"], 1);
    assert_eq!(payments[1]["webhook_in_flight"], 0);
    assert_eq!(payments[1]["webhook_abandoned"], 0);
    assert_eq!(payments[1], h.payment(&second).await);

    let (_, all) = h.get("/v1/payments").await;
    let ids: Vec<&str> = all["payments"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["payment_id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, [first.as_str(), second.as_str(), other.as_str()]);
    assert_eq!(
        h.get("/v1/payments?reservation_id=nobody").await,
        (200, json!({"payments": []}))
    );
    let (status, err) = h.get("/v1/payments?reservation_id=").await;
    assert_eq!(
        (status, err["error"]["code"].as_str()),
        (400, Some("INVALID_RESERVATION_ID"))
    );
}
