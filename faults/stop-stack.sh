#!/usr/bin/env bash
# Stops what the fault-injection suite (faults/) started: its PostgreSQL cluster
# (seatline_faults), its Redis and its Temporal dev server, and any Seatline process a
# crashed run left behind. Safe to run when nothing is running. Ports as the suite reads them:
# FAULT_REDIS_PORT (56379); the cluster and Temporal are found by name and pidfile.
set -uo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
DIR="$ROOT/.stack/faults"
REDIS_PORT="${FAULT_REDIS_PORT:-56379}"
CLUSTER=seatline_faults

log() { printf '\033[1;34m[faults]\033[0m %s\n' "$*" >&2; }
as_root() { if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi; }

# stop_pid PID: TERM, then KILL after 5 s.
stop_pid() {
  local pid="$1"
  kill -0 "$pid" 2>/dev/null || return 0
  kill -CONT "$pid" 2>/dev/null || true
  kill "$pid" 2>/dev/null || true
  for _ in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || return 0; sleep 0.1; done
  kill -9 "$pid" 2>/dev/null || true
}

# pid_of FILE NAME: the pid in FILE if that process is alive and its command line has NAME.
pid_of() {
  local file="$1" name="$2" pid
  [ -f "$file" ] || return 1
  pid="$(cat "$file" 2>/dev/null)"
  [ -n "$pid" ] && [ -r "/proc/$pid/cmdline" ] || return 1
  tr '\0' ' ' <"/proc/$pid/cmdline" | grep -q -- "$name" || return 1
  echo "$pid"
}

if [ -d "$DIR/pids" ]; then
  for f in "$DIR"/pids/*.pid; do
    [ -f "$f" ] || continue
    if pid="$(pid_of "$f" seatline-)"; then
      log "stopping leftover $(basename "$f" .pid) ($pid)"
      stop_pid "$pid"
    fi
    rm -f "$f"
  done
fi

if pid="$(pid_of "$DIR/temporal.pid" temporal)"; then
  log "stopping the fault suite's Temporal ($pid)"
  stop_pid "$pid"
fi
rm -f "$DIR/temporal.pid"

if pid="$(pid_of "$DIR/redis.pid" redis-server)"; then
  log "stopping the fault suite's Redis ($pid)"
  kill -CONT "$pid" 2>/dev/null || true
  timeout 5 redis-cli -p "$REDIS_PORT" shutdown nosave >/dev/null 2>&1 || true
  for _ in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
  stop_pid "$pid"
fi
rm -f "$DIR/redis.pid"

if [ -d /usr/lib/postgresql ]; then
  v="$(ls /usr/lib/postgresql | sort -n | tail -1)"
  if [ -n "$v" ] && [ -d "/etc/postgresql/$v/$CLUSTER" ]; then
    if as_root pg_ctlcluster "$v" "$CLUSTER" status >/dev/null 2>&1; then
      log "stopping the PostgreSQL cluster $v/$CLUSTER"
      as_root pg_ctlcluster "$v" "$CLUSTER" stop -m fast || true
    fi
  fi
fi
exit 0
