use futures::future::join_all;
use reqwest::{Client, Method, StatusCode};
use seatline_api::Application;
use seatline_config::ExposeSecret;
use seatline_config::Settings;
use seatline_domain::ScheduleId;
use seatline_storage::Pool;
use seatline_worker::SeatlineWorker;
use serde_json::{json, Value};
use std::{
    path::PathBuf,
    process::{Child, Command, Stdio},
    sync::{Arc, Mutex},
    time::{Duration, Instant},
};

/// Settings from the environment `scripts/test.sh` exports, with a task queue of the test's own.
pub fn settings(hold_seconds: u64) -> Settings {
    seatline_config::init_tracing("warn");
    let mut settings = Settings::from_env().expect("test settings");
    settings.http.host = "127.0.0.1".into();
    settings.http.port = 0;
    settings.database.max_connections = 10;
    let run = std::env::var("SEATLINE_TEST_RUN").unwrap_or_else(|_| "local".into());
    settings.temporal.task_queue = format!("test-{run}-{}", uuid::Uuid::new_v4());
    settings.temporal.payment_task_queue = format!("{}-payments", settings.temporal.task_queue);
    settings.hold = seatline_domain::HoldDuration::parse(hold_seconds).unwrap();
    // A waiting room that lets test buyers in quickly; the queue tests set their own.
    settings.waiting_room.tick_ms = 100;
    settings.waiting_room.admission_rate = 2_000.0;
    settings.waiting_room.active_cap = 1_000;
    // Every test buyer comes from 127.0.0.1 and some fire many requests at once; the rate
    // limit tests turn the limits on for an API of their own.
    settings.limits.accounts_per_hour = 0;
    settings.limits.logins_per_minute = 0;
    settings.limits.user_requests_per_second = 0;
    settings.limits.address_requests_per_second = 0;
    // Tests that buy more than a buyer's share use one buyer; the limit test sets its own.
    settings.limits.max_seats_per_buyer = 1_000;
    // One reader account watches a thousand streams in the stream test.
    settings.limits.streams_per_account = 10_000;
    settings
}

/// A worker on a thread of its own (the SDK's worker future is not `Send`); returns once it
/// is built and polling.
pub async fn spawn_worker(settings: &Settings) {
    let settings = settings.clone();
    let (ready, built) = tokio::sync::oneshot::channel();
    std::thread::spawn(move || {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap();
        runtime.block_on(async move {
            let worker = SeatlineWorker::build(&settings)
                .await
                .expect("worker builds");
            let _ = ready.send(());
            worker.run().await
        })
    });
    built.await.expect("worker started");
}

/// An API and a worker, in this process, started exactly as `main` starts them.
pub struct TestApp {
    pub api: Api,
    pub pool: Pool,
    pub provider: Provider,
    pub settings: Settings,
}

/// Starts the mock payment provider in this process; returns its URL.
pub async fn spawn_provider(settings: &Settings) -> String {
    let provider = seatline_provider::MockProvider::build(seatline_provider::ProviderConfig {
        host: "127.0.0.1".into(),
        port: 0,
        public_url: None,
        webhook_secret: settings.secrets.webhook.expose_secret().to_owned(),
    })
    .await
    .expect("provider builds");
    let url = provider.base_url();
    tokio::spawn(provider.run_until_stopped());
    url
}

/// The mock provider's automation hooks, as the provider's own page would use them.
#[derive(Clone)]
pub struct Provider {
    pub base: String,
    http: Client,
}

impl Provider {
    pub fn new(base: String) -> Self {
        Self {
            base,
            http: Client::new(),
        }
    }

    /// Completes a payment as the buyer would on the provider's page; `mode` is how the
    /// provider delivers the webhook (normal, duplicate, delay, out_of_order).
    pub async fn complete(&self, payment_id: &str, status: &str, mode: &str) -> Value {
        let res = self
            .http
            .post(format!("{}/v1/payments/{payment_id}/complete", self.base))
            .json(&json!({ "status": status, "mode": mode, "deliveries": 5, "delay_ms": 500 }))
            .send()
            .await
            .unwrap();
        assert!(
            res.status().is_success(),
            "complete: {}",
            res.text().await.unwrap()
        );
        res.json().await.unwrap()
    }

    pub async fn payment(&self, payment_id: &str) -> Value {
        self.http
            .get(format!("{}/v1/payments/{payment_id}", self.base))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap()
    }
}

impl TestApp {
    pub async fn spawn() -> Self {
        Self::spawn_with_hold(300).await
    }

    pub async fn spawn_with_hold(hold_seconds: u64) -> Self {
        Self::spawn_with(settings(hold_seconds)).await
    }

    pub async fn spawn_with(settings: Settings) -> Self {
        let app = Self::spawn_api_only(settings).await;
        spawn_worker(&app.settings).await;
        app
    }

    /// The API (and the mock payment provider) alone; the test brings its own workers.
    pub async fn spawn_api_only(mut settings: Settings) -> Self {
        let provider = spawn_provider(&settings).await;
        settings.payments.provider_url = provider.clone();
        let app = Application::build(settings.clone())
            .await
            .expect("API builds");
        let base = format!("http://127.0.0.1:{}", app.port());
        tokio::spawn(app.run_until_stopped());
        let pool = seatline_storage::connect(&settings.database.url, 5)
            .await
            .expect("database");
        Self {
            api: Api::new(base),
            pool,
            provider: Provider::new(provider),
            settings,
        }
    }

    /// A schedule of `rows` by `cols` seats that no other test touches; returns it and its seat ids.
    pub async fn schedule(&self, rows: i32, cols: i32) -> (ScheduleId, Vec<i64>) {
        let (schedule, seats) = self.bare_schedule(rows, cols).await;
        // Admit the seat-map reader now: once a schedule sells out nobody new gets in.
        self.api.reader(schedule).await;
        (schedule, seats)
    }

    /// A schedule nobody has queued for yet.
    pub async fn bare_schedule(&self, rows: i32, cols: i32) -> (ScheduleId, Vec<i64>) {
        let (_, schedule) =
            seatline_storage::demo::create_isolated_schedule(&self.pool, rows, cols)
                .await
                .expect("schedule");
        let seats = seatline_storage::catalog::seat_map(&self.pool, schedule)
            .await
            .unwrap()
            .into_iter()
            .map(|s| s.seat_id)
            .collect();
        (schedule, seats)
    }
}

#[derive(Clone)]
pub struct Api {
    pub base: String,
    pub http: Client,
    readers: Arc<Mutex<std::collections::HashMap<ScheduleId, User>>>,
}

#[derive(Debug)]
pub struct Reply {
    pub status: StatusCode,
    pub body: Value,
}

impl Reply {
    pub fn code(&self) -> &str {
        self.body["error"]["code"].as_str().unwrap_or("")
    }

    /// Every error has the documented shape.
    pub fn assert_error(&self, status: u16, code: &str) {
        assert_eq!(self.status.as_u16(), status, "body: {}", self.body);
        assert_eq!(self.code(), code, "body: {}", self.body);
        assert!(self.body["error"]["message"].is_string(), "{}", self.body);
        assert!(self.body["error"]["details"].is_object(), "{}", self.body);
    }
}

impl Api {
    pub fn new(base: String) -> Self {
        let http = Client::builder()
            .timeout(Duration::from_secs(60))
            .pool_max_idle_per_host(64)
            .build()
            .unwrap();
        Self {
            base,
            http,
            readers: Default::default(),
        }
    }

    pub async fn send(
        &self,
        method: Method,
        path: &str,
        token: Option<&str>,
        body: Option<Value>,
    ) -> Reply {
        self.send_with(method, path, token, None, body).await
    }

    pub async fn send_with(
        &self,
        method: Method,
        path: &str,
        token: Option<&str>,
        queue_token: Option<&str>,
        body: Option<Value>,
    ) -> Reply {
        let mut req = self.http.request(method, format!("{}{}", self.base, path));
        if let Some(token) = token {
            req = req.bearer_auth(token);
        }
        if let Some(queue_token) = queue_token {
            req = req.header("x-queue-token", queue_token);
        }
        if let Some(body) = body {
            req = req.json(&body);
        }
        let res = req.send().await.expect("request reaches the API");
        let status = res.status();
        let text = res.text().await.unwrap();
        let body = serde_json::from_str(&text).unwrap_or(Value::String(text));
        Reply { status, body }
    }

    pub async fn get(&self, path: &str, token: &str) -> Reply {
        self.send(Method::GET, path, Some(token), None).await
    }

    pub async fn post(&self, path: &str, token: &str, body: Value) -> Reply {
        self.send(Method::POST, path, Some(token), Some(body)).await
    }

    pub async fn user(&self, name: &str) -> User {
        let reply = self
            .send(
                Method::POST,
                "/api/v1/users",
                None,
                Some(json!({ "name": name })),
            )
            .await;
        assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.body);
        User {
            id: reply.body["user_id"].as_str().unwrap().to_owned(),
            token: reply.body["token"].as_str().unwrap().to_owned(),
            queue: Default::default(),
        }
    }

    /// Joins the schedule's queue and waits for the user's turn; the user keeps the token.
    pub async fn admit(&self, user: &User, schedule: ScheduleId) -> String {
        if let Some((s, token)) = user.queue.lock().unwrap().clone() {
            if s == schedule {
                return token;
            }
        }
        let joined = self
            .post(
                "/api/v1/queue/tokens",
                &user.token,
                json!({ "schedule_id": schedule }),
            )
            .await;
        assert_eq!(joined.status, 201, "{}", joined.body);
        let token = joined.body["token"].as_str().unwrap().to_owned();
        let api = self.clone();
        let (t, u) = (token.clone(), user.token.clone());
        eventually(Duration::from_secs(30), || {
            let (api, t, u) = (api.clone(), t.clone(), u.clone());
            async move {
                let now = api
                    .send_with(
                        Method::GET,
                        "/api/v1/queue/tokens/current",
                        Some(&u),
                        Some(&t),
                        None,
                    )
                    .await;
                now.body["status"] == "ACTIVE"
            }
        })
        .await;
        *user.queue.lock().unwrap() = Some((schedule, token.clone()));
        token
    }

    /// Joins the queue; returns the whole answer (token, status, position, eta_seconds).
    pub async fn join(&self, user: &User, schedule: ScheduleId) -> Reply {
        self.post(
            "/api/v1/queue/tokens",
            &user.token,
            json!({ "schedule_id": schedule }),
        )
        .await
    }

    /// Where the holder of `queue_token` stands.
    pub async fn standing(&self, user: &User, queue_token: &str) -> Reply {
        self.send_with(
            Method::GET,
            "/api/v1/queue/tokens/current",
            Some(&user.token),
            Some(queue_token),
            None,
        )
        .await
    }

    /// An admitted user who only reads the seat map (the map is the same for everyone).
    pub async fn reader(&self, schedule: ScheduleId) -> User {
        let cached = self.readers.lock().unwrap().get(&schedule).cloned();
        if let Some(reader) = cached {
            return reader;
        }
        let reader = self.user("seat map reader").await;
        self.admit(&reader, schedule).await;
        self.readers
            .lock()
            .unwrap()
            .insert(schedule, reader.clone());
        reader
    }

    /// A request as `user`, with their queue token if they have one.
    pub async fn as_user(
        &self,
        user: &User,
        method: Method,
        path: &str,
        body: Option<Value>,
    ) -> Reply {
        let queue = user.queue.lock().unwrap().clone().map(|(_, t)| t);
        self.send_with(method, path, Some(&user.token), queue.as_deref(), body)
            .await
    }

    pub async fn users(&self, n: usize) -> Vec<User> {
        join_all((0..n).map(|i| {
            let api = self.clone();
            async move { api.user(&format!("buyer {i}")).await }
        }))
        .await
    }

    pub async fn charge(&self, user: &User, amount: i64) -> Reply {
        self.post(
            "/api/v1/users/me/balance/charges",
            &user.token,
            json!({ "amount": amount }),
        )
        .await
    }

    pub async fn balance(&self, user: &User) -> i64 {
        let reply = self.get("/api/v1/users/me/balance", &user.token).await;
        assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
        reply.body["balance"].as_i64().unwrap()
    }

    /// Holds seats, first waiting for the user's turn in the queue if they have none yet.
    pub async fn hold(&self, user: &User, schedule: ScheduleId, seats: &[i64]) -> Reply {
        if user.queue.lock().unwrap().is_none() {
            self.admit(user, schedule).await;
        }
        let body = json!({ "schedule_id": schedule, "seat_ids": seats });
        self.as_user(user, Method::POST, "/api/v1/reservations", Some(body))
            .await
    }

    pub async fn pay(&self, user: &User, reservation: &str) -> Reply {
        let path = format!("/api/v1/reservations/{reservation}/payment");
        self.as_user(user, Method::POST, &path, None).await
    }

    pub async fn cancel(&self, user: &User, reservation: &str) -> Reply {
        self.send(
            Method::POST,
            &format!("/api/v1/reservations/{reservation}/cancel"),
            Some(&user.token),
            None,
        )
        .await
    }

    pub async fn reservation(&self, user: &User, reservation: &str) -> Reply {
        self.get(&format!("/api/v1/reservations/{reservation}"), &user.token)
            .await
    }

    /// A ticket for the schedule's seat-change stream, as the page gets one.
    pub async fn stream_ticket(&self, user: &User, schedule: ScheduleId) -> String {
        let path = format!("/api/v1/schedules/{schedule}/seats/stream-tickets");
        let reply = self.as_user(user, Method::POST, &path, None).await;
        assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.body);
        reply.body["ticket"].as_str().unwrap().to_owned()
    }

    /// Seat id → status, from the seat map.
    pub async fn seat_statuses(&self, user: &User, schedule: ScheduleId) -> Vec<(i64, String)> {
        let reader = self.reader(schedule).await;
        let reply = self
            .as_user(
                &reader,
                Method::GET,
                &format!("/api/v1/schedules/{schedule}/seats"),
                None,
            )
            .await;
        let _ = user;
        assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
        reply.body["seats"]
            .as_array()
            .unwrap()
            .iter()
            .map(|s| {
                (
                    s["seat_id"].as_i64().unwrap(),
                    s["status"].as_str().unwrap().to_owned(),
                )
            })
            .collect()
    }

    /// Waits (up to 2 s: the seat map is served from a cache kept in step within a second)
    /// until the map shows `status` for `seat`.
    pub async fn wait_seat(&self, user: &User, schedule: ScheduleId, seat: i64, status: &str) {
        let started = Instant::now();
        loop {
            let now = self.seat_status(user, schedule, seat).await;
            if now == status {
                return;
            }
            assert!(
                started.elapsed() < Duration::from_secs(2),
                "seat {seat} is {now}, not {status}"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    pub async fn seat_status(&self, user: &User, schedule: ScheduleId, seat: i64) -> String {
        self.seat_statuses(user, schedule)
            .await
            .into_iter()
            .find(|(id, _)| *id == seat)
            .map(|(_, s)| s)
            .expect("seat on the map")
    }
}

#[derive(Clone, Debug)]
pub struct User {
    #[allow(dead_code)] // used by the tests that check ownership in the database
    pub id: String,
    pub token: String,
    /// The schedule this user queued for, and their queue token.
    pub queue: Arc<Mutex<Option<(ScheduleId, String)>>>,
}

/// Polls `check` until it holds or `within` passes; returns how long it took.
pub async fn eventually<F, Fut>(within: Duration, mut check: F) -> Duration
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let started = Instant::now();
    loop {
        if check().await {
            return started.elapsed();
        }
        assert!(
            started.elapsed() < within,
            "condition not met within {within:?}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Where `scripts/test.sh` built the Seatline binaries (`SEATLINE_BIN_DIR`).
pub fn bin_dir() -> PathBuf {
    std::env::var("SEATLINE_BIN_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|_| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../target/debug"))
}

/// A Seatline binary built by `scripts/test.sh`, run as its own process.
pub struct Process {
    pub child: Child,
}

impl Process {
    pub fn start(binary: &str, settings: &Settings, extra_env: &[(&str, String)]) -> Self {
        let mut cmd = Command::new(bin_dir().join(binary));
        let (w, l) = (&settings.waiting_room, &settings.limits);
        let env: [(&str, String); 20] = [
            ("DATABASE_URL", settings.database.url.clone()),
            ("REDIS_URL", settings.redis.url.clone()),
            ("TEMPORAL_ADDRESS", settings.temporal.address.clone()),
            ("TASK_QUEUE", settings.temporal.task_queue.clone()),
            (
                "PAYMENT_TASK_QUEUE",
                settings.temporal.payment_task_queue.clone(),
            ),
            ("PROVIDER_URL", settings.payments.provider_url.clone()),
            (
                "WEBHOOK_SECRET",
                settings.secrets.webhook.expose_secret().to_owned(),
            ),
            ("HOLD_SECONDS", settings.hold.as_secs().to_string()),
            (
                "AUTH_SECRET",
                settings.secrets.auth.expose_secret().to_owned(),
            ),
            ("DATABASE_MAX_CONNECTIONS", "8".to_owned()),
            ("ADMISSION_TICK_MS", w.tick_ms.to_string()),
            ("ADMISSION_RATE", w.admission_rate.to_string()),
            ("ADMISSION_ACTIVE_CAP", w.active_cap.to_string()),
            (
                "RATE_LIMIT_ACCOUNTS_PER_HOUR",
                l.accounts_per_hour.to_string(),
            ),
            (
                "RATE_LIMIT_LOGINS_PER_MINUTE",
                l.logins_per_minute.to_string(),
            ),
            (
                "RATE_LIMIT_USER_REQUESTS_PER_SECOND",
                l.user_requests_per_second.to_string(),
            ),
            (
                "RATE_LIMIT_ADDRESS_REQUESTS_PER_SECOND",
                l.address_requests_per_second.to_string(),
            ),
            ("MAX_STREAMS_PER_ACCOUNT", l.streams_per_account.to_string()),
            ("MAX_SEATS_PER_BUYER", l.max_seats_per_buyer.to_string()),
            (
                "ACCESS_TOKEN_TTL_SECONDS",
                settings.accounts.access_token_ttl_seconds.to_string(),
            ),
        ];
        cmd.envs(env)
            .env("RUST_LOG", "warn")
            .stdout(Stdio::null())
            .stderr(Stdio::inherit());
        for (k, v) in extra_env {
            cmd.env(k, v);
        }
        let child = cmd
            .spawn()
            .unwrap_or_else(|e| panic!("starting {binary}: {e}"));
        Self { child }
    }

    /// SIGKILL: no chance to finish anything.
    pub fn kill(mut self) {
        self.child.kill().expect("kill");
        self.child.wait().expect("reap");
    }
}

impl Drop for Process {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A free TCP port on loopback.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Starts an API process and waits until it is ready.
pub async fn start_api_process(settings: &Settings) -> (Process, Api) {
    let port = free_port();
    let process = Process::start("seatline-api", settings, &[("API_PORT", port.to_string())]);
    let api = Api::new(format!("http://127.0.0.1:{port}"));
    let probe = api.clone();
    eventually(Duration::from_secs(30), || {
        let probe = probe.clone();
        async move {
            probe
                .http
                .get(format!("{}/readyz", probe.base))
                .send()
                .await
                .is_ok_and(|r| r.status().is_success())
        }
    })
    .await;
    (process, api)
}

pub fn reservation_id(reply: &Reply) -> String {
    reply.body["reservation_id"]
        .as_str()
        .expect("reservation id")
        .to_owned()
}
