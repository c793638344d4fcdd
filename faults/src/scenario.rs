//! One scenario's Seatline processes on the shared fault stack: the mock provider, the workers
//! and one API on a fixed port, all on task queues of the scenario's own, and the faults a
//! scenario injects into them and into the stack's services.

use crate::stack::{self, Stack};
use anyhow::{bail, Context, Result};
use seatline_config::Settings;
use std::{
    collections::BTreeMap,
    fs::{self, OpenOptions},
    path::PathBuf,
    process::{Child, Command, Stdio},
    sync::{Arc, Mutex},
    time::{Duration, Instant},
};

/// The secrets every process of a scenario shares (development values, never production).
const WEBHOOK_SECRET: &str = "seatline-faults-webhook-secret";
const AUTH_SECRET: &str = "seatline-faults-auth-secret";
const QUEUE_TOKEN_SECRET: &str = "seatline-faults-queue-secret";

#[derive(Debug, Clone)]
pub struct Options {
    /// `HOLD_SECONDS` of the processes.
    pub hold_seconds: u64,
    /// How many `seatline-worker` processes.
    pub workers: usize,
}

impl Default for Options {
    fn default() -> Self {
        Self {
            hold_seconds: env_u64("FAULT_HOLD_SECONDS", 6),
            workers: env_u64("FAULT_WORKERS", 2) as usize,
        }
    }
}

pub fn env_u64(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(default)
}

/// A free TCP port on loopback, kept for the scenario (the API comes back on the same one).
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

/// A Seatline process with its output in `.stack/faults/<scenario>-<name>.log`.
struct Proc {
    name: String,
    child: Child,
    pidfile: PathBuf,
}

impl Proc {
    fn kill(mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = fs::remove_file(&self.pidfile);
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = fs::remove_file(&self.pidfile);
    }
}

#[derive(Default)]
struct Procs {
    provider: Option<Proc>,
    api: Option<Proc>,
    workers: Vec<Proc>,
    /// Workers started so far, for log names.
    worker_starts: usize,
}

/// When the scenario's fault began and ended, relative to the scenario's start.
#[derive(Debug, Default, Clone, Copy)]
pub struct FaultWindow {
    pub started: Option<Instant>,
    pub ended: Option<Instant>,
}

pub struct Scenario {
    pub name: String,
    pub stack: &'static Stack,
    pub options: Options,
    /// The environment of every Seatline process (also what `settings` was read from).
    pub env: BTreeMap<String, String>,
    pub settings: Settings,
    pub api_port: u16,
    pub api_base: String,
    pub provider_base: String,
    pub pool: sqlx::PgPool,
    pub started: Instant,
    /// Never held while another lock of the scenario is taken.
    procs: Mutex<Procs>,
    /// Processes whose log this scenario has begun (restarts append to it).
    logs_begun: Mutex<std::collections::HashSet<String>>,
    window: Mutex<FaultWindow>,
}

impl Scenario {
    /// Starts (or reuses) the stack, then the scenario's provider, workers and API.
    pub async fn start(name: &str, options: Options) -> Result<Arc<Self>> {
        let stack = tokio::task::spawn_blocking(|| -> Result<&'static Stack> {
            let stack = Stack::get()?;
            stack.ensure_up()?;
            Ok(stack)
        })
        .await??;
        let api_port = free_port();
        let provider_port = free_port();
        let api_base = format!("http://127.0.0.1:{api_port}");
        let provider_base = format!("http://127.0.0.1:{provider_port}");
        let task_queue = format!("faults-{}-{name}", stack.run_id);
        let mut env = BTreeMap::new();
        let mut set = |k: &str, v: String| {
            env.insert(k.to_owned(), v);
        };
        set("DATABASE_URL", stack.database_url());
        set("REDIS_URL", stack.redis_url());
        set("TEMPORAL_ADDRESS", stack.temporal_address());
        set("TASK_QUEUE", task_queue.clone());
        set("PAYMENT_TASK_QUEUE", format!("{task_queue}-payments"));
        set("PROVIDER_URL", provider_base.clone());
        set("WEBHOOK_SECRET", WEBHOOK_SECRET.into());
        set("HOLD_SECONDS", options.hold_seconds.to_string());
        set("AUTH_SECRET", AUTH_SECRET.into());
        set("QUEUE_TOKEN_SECRET", QUEUE_TOKEN_SECRET.into());
        set(
            "DATABASE_MAX_CONNECTIONS",
            env_u64("FAULT_DATABASE_MAX_CONNECTIONS", 8).to_string(),
        );
        set("ADMISSION_TICK_MS", "100".into());
        set("ADMISSION_RATE", "500".into());
        set("ADMISSION_ACTIVE_CAP", "200".into());
        // 150 buyers from one address: the per-client limits would be the fault.
        set("RATE_LIMIT_ACCOUNTS_PER_HOUR", "0".into());
        set("RATE_LIMIT_LOGINS_PER_MINUTE", "0".into());
        set("RATE_LIMIT_USER_REQUESTS_PER_SECOND", "0".into());
        set("RATE_LIMIT_ADDRESS_REQUESTS_PER_SECOND", "0".into());
        // The scenarios' buyers retry after a lost hold; the limit is tested elsewhere.
        set("MAX_SEATS_PER_BUYER", "1000".into());
        set("API_HOST", "127.0.0.1".into());
        set("API_PORT", api_port.to_string());
        set("API_PUBLIC_URL", api_base.clone());
        set("SWEEP_INTERVAL_SECONDS", "2".into());
        set("RECONCILE_AFTER_SECONDS", "3".into());
        set("RUST_LOG", "warn".into());
        set("RUST_BACKTRACE", "1".into());
        // Only for the provider, but harmless for the others.
        set("PROVIDER_HOST", "127.0.0.1".into());
        set("PROVIDER_PORT", provider_port.to_string());
        set("PROVIDER_WEBHOOK_MAX_BACKOFF_MS", "1000".into());
        let settings =
            Settings::from_lookup(|k| env.get(k).cloned()).map_err(|e| anyhow::anyhow!("{e}"))?;
        let pool = seatline_storage::connect(&stack.database_url(), 10)
            .await
            .context("connecting to the fault database")?;
        let scenario = Arc::new(Self {
            name: name.to_owned(),
            stack,
            options,
            env,
            settings,
            api_port,
            api_base,
            provider_base,
            pool,
            started: Instant::now(),
            procs: Mutex::default(),
            logs_begun: Mutex::default(),
            window: Mutex::default(),
        });
        scenario.start_provider().await?;
        // The API migrates the fresh database; workers start after it.
        scenario.start_api().await?;
        scenario.start_workers().await?;
        eprintln!(
            "[faults] {name}: API {} , provider {}, {} worker(s), task queue {task_queue}; logs {}/{name}-*.log",
            scenario.api_base,
            scenario.provider_base,
            scenario.options.workers,
            stack.dir.display()
        );
        Ok(scenario)
    }

    pub fn task_queues(&self) -> [String; 2] {
        [
            self.settings.temporal.task_queue.clone(),
            self.settings.temporal.payment_task_queue.clone(),
        ]
    }

    fn spawn(&self, binary: &str, name: &str, extra: &[(&str, &str)]) -> Result<Proc> {
        let log_path = self.stack.dir.join(format!("{}-{name}.log", self.name));
        // A scenario's first start of a process begins its log afresh; restarts append.
        let first = self
            .logs_begun
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(name.to_owned());
        let log = OpenOptions::new()
            .create(true)
            .append(!first)
            .write(true)
            .truncate(first)
            .open(&log_path)
            .with_context(|| format!("opening {}", log_path.display()))?;
        let mut cmd = Command::new(self.stack.bin_dir.join(binary));
        cmd.env_clear();
        for key in ["PATH", "HOME", "LANG"] {
            if let Ok(v) = std::env::var(key) {
                cmd.env(key, v);
            }
        }
        cmd.envs(&self.env);
        for (k, v) in extra {
            cmd.env(k, v);
        }
        let child = cmd
            .stdin(Stdio::null())
            .stdout(log.try_clone()?)
            .stderr(log)
            .spawn()
            .with_context(|| format!("starting {binary}"))?;
        let pidfile = self
            .stack
            .pid_dir()
            .join(format!("{}-{name}.pid", self.name));
        fs::write(&pidfile, child.id().to_string())?;
        Ok(Proc {
            name: name.to_owned(),
            child,
            pidfile,
        })
    }

    fn procs(&self) -> std::sync::MutexGuard<'_, Procs> {
        self.procs.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Waits for `url` to answer 2xx; fails at once if the process `name` exits meanwhile.
    async fn wait_http_ok(
        &self,
        url: String,
        what: &str,
        name: &str,
        within: Duration,
    ) -> Result<()> {
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(2))
            .build()?;
        let started = Instant::now();
        loop {
            if let Ok(r) = http.get(&url).send().await {
                if r.status().is_success() {
                    return Ok(());
                }
            }
            if let Some(exit) = self.exited(name) {
                bail!(
                    "{what} exited ({exit}) before it was ready: {}",
                    self.log_tail(name)
                );
            }
            if started.elapsed() > within {
                bail!(
                    "{what} not ready within {within:?} ({url}); see {}/{}-*.log",
                    self.stack.dir.display(),
                    self.name
                );
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }

    async fn start_provider(&self) -> Result<()> {
        let proc = self.spawn("seatline-provider", "provider", &[])?;
        self.procs().provider = Some(proc);
        self.wait_http_ok(
            format!("{}/healthz", self.provider_base),
            "the provider",
            "provider",
            Duration::from_secs(30),
        )
        .await
    }

    /// Starts the API on the scenario's port and waits for `/readyz`.
    pub async fn start_api(&self) -> Result<()> {
        {
            let mut procs = self.procs();
            if procs.api.is_some() {
                bail!("the API is already running");
            }
            procs.api = Some(self.spawn("seatline-api", "api", &[])?);
        }
        self.wait_http_ok(
            format!("{}/readyz", self.api_base),
            "the API",
            "api",
            Duration::from_secs(90),
        )
        .await
    }

    /// SIGKILL the API; the port stays the scenario's.
    pub fn stop_api(&self) {
        if let Some(api) = self.procs().api.take() {
            api.kill();
        }
    }

    pub async fn start_workers(&self) -> Result<()> {
        let mut procs = self.procs();
        for _ in 0..self.options.workers {
            procs.worker_starts += 1;
            let name = format!("worker-{}", procs.worker_starts);
            let proc = self.spawn("seatline-worker", &name, &[])?;
            procs.workers.push(proc);
        }
        Ok(())
    }

    /// SIGKILL every worker.
    pub fn kill_workers(&self) {
        let workers: Vec<Proc> = self.procs().workers.drain(..).collect();
        for w in workers {
            eprintln!("[faults] {}: killing {}", self.name, w.name);
            w.kill();
        }
    }

    /// How the process `name` (provider, api) exited, if it did.
    fn exited(&self, name: &str) -> Option<String> {
        let mut procs = self.procs();
        let proc = match name {
            "provider" => procs.provider.as_mut(),
            "api" => procs.api.as_mut(),
            _ => None,
        }?;
        match proc.child.try_wait() {
            Ok(Some(status)) => Some(status.to_string()),
            _ => None,
        }
    }

    /// The last lines of a process's log that are not backtrace frames.
    pub fn log_tail(&self, name: &str) -> String {
        let path = self.stack.dir.join(format!("{}-{name}.log", self.name));
        let text = fs::read_to_string(&path).unwrap_or_default();
        let lines: Vec<&str> = text
            .lines()
            .filter(|l| {
                let t = l.trim_start();
                !(t.starts_with("at ")
                    || t.split(':')
                        .next()
                        .is_some_and(|n| n.parse::<u32>().is_ok()))
            })
            .filter(|l| !l.trim().is_empty())
            .collect();
        format!(
            "{} (from {})",
            lines[lines.len().saturating_sub(12)..].join(" / "),
            path.display()
        )
    }

    /// Processes that died by themselves (not killed by a fault): a crash is worth knowing.
    pub fn dead_processes(&self) -> Vec<String> {
        let mut procs = self.procs();
        let mut dead = Vec::new();
        let Procs {
            provider,
            api,
            workers,
            ..
        } = &mut *procs;
        for p in provider.iter_mut().chain(api.iter_mut()).chain(workers) {
            if let Ok(Some(status)) = p.child.try_wait() {
                dead.push(format!("{} exited: {status}", p.name));
            }
        }
        dead
    }

    // --- faults in the stack's services --------------------------------------------------

    async fn blocking<T: Send + 'static>(
        &self,
        f: impl FnOnce(&'static Stack) -> Result<T> + Send + 'static,
    ) -> Result<T> {
        let stack = self.stack;
        tokio::task::spawn_blocking(move || f(stack)).await?
    }

    pub async fn kill_temporal(&self) -> Result<()> {
        self.blocking(|s| s.kill_temporal()).await
    }

    pub async fn start_temporal(&self) -> Result<()> {
        self.blocking(|s| s.start_temporal()).await
    }

    pub async fn restart_postgres(&self) -> Result<()> {
        self.blocking(|s| s.restart_postgres()).await
    }

    pub async fn restart_redis_nosave(&self) -> Result<()> {
        self.blocking(|s| s.restart_redis_nosave()).await
    }

    pub async fn lose_redis(&self) -> Result<()> {
        self.blocking(|s| s.lose_redis()).await
    }

    /// SIGSTOP Redis for `pause`, then SIGCONT (also if this future is dropped meanwhile).
    pub async fn pause_redis(&self, pause: Duration) -> Result<()> {
        struct Resume(u32);
        impl Drop for Resume {
            fn drop(&mut self) {
                let _ = stack::signal(self.0, "CONT");
            }
        }
        let pid = self.stack.redis_pid().context("no Redis pid")?;
        stack::signal(pid, "STOP")?;
        let _resume = Resume(pid);
        tokio::time::sleep(pause).await;
        Ok(())
    }

    /// Runs SQL on the fault database as the application's role.
    pub async fn exec_sql(&self, sql: &str) -> Result<u64> {
        Ok(sqlx::raw_sql(sql)
            .execute(&self.pool)
            .await?
            .rows_affected())
    }

    /// Runs SQL on the fault database as the superuser (`psql` as `postgres`).
    pub async fn exec_sql_superuser(&self, sql: &str) -> Result<String> {
        let sql = sql.to_owned();
        self.blocking(move |s| s.psql(stack::DATABASE, &sql)).await
    }

    // --- the fault window -------------------------------------------------------------------

    pub fn fault_started(&self) {
        let mut w = self.window.lock().unwrap_or_else(|e| e.into_inner());
        w.started = Some(Instant::now());
        eprintln!(
            "[faults] {}: fault starts ({:.1} s after the scenario started)",
            self.name,
            self.started.elapsed().as_secs_f64()
        );
    }

    pub fn fault_ended(&self) {
        let mut w = self.window.lock().unwrap_or_else(|e| e.into_inner());
        w.ended = Some(Instant::now());
        eprintln!(
            "[faults] {}: fault ends ({:.1} s after the scenario started)",
            self.name,
            self.started.elapsed().as_secs_f64()
        );
    }

    pub fn window(&self) -> FaultWindow {
        *self.window.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Stops the scenario's processes and ends what is still open on its task queues (the
    /// checks are done by then), so the next scenario starts clean.
    pub async fn finish(&self) {
        {
            let mut procs = self.procs();
            procs.workers.drain(..).for_each(Proc::kill);
            if let Some(api) = procs.api.take() {
                api.kill();
            }
            if let Some(provider) = procs.provider.take() {
                provider.kill();
            }
        }
        let queues = self.task_queues();
        let temporal = self.stack.root.join(".stack/venv/bin/temporal");
        let address = format!("127.0.0.1:{}", self.stack.temporal_port);
        let _ = tokio::task::spawn_blocking(move || {
            let query = format!(
                "(TaskQueue = '{}' OR TaskQueue = '{}') AND ExecutionStatus = 'Running'",
                queues[0], queues[1]
            );
            let _ = Command::new(temporal)
                .args(["workflow", "terminate", "--address", &address])
                .args([
                    "--query",
                    &query,
                    "--reason",
                    "fault scenario ended",
                    "--yes",
                ])
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status();
        })
        .await;
    }
}

impl Drop for Scenario {
    fn drop(&mut self) {
        let procs = std::mem::take(&mut *self.procs());
        drop(procs);
    }
}
