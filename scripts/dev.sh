#!/usr/bin/env bash
# Runs the whole system: Temporal dev server (with its UI and search attributes), PostgreSQL,
# Redis, migrations, demo data, the worker and the API. Installs what is missing.
#   scripts/dev.sh          start everything, print the URLs, stop it all on Ctrl-C
#   scripts/dev.sh up -d    start everything and return (stop later with `scripts/dev.sh stop`)
#   scripts/dev.sh stop     stop the API, the worker and the services this script started
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

API_PORT="${API_PORT:-8080}"
PROFILE="${PROFILE:-debug}"
export DATABASE_URL="${DATABASE_URL:-$(database_url seatline)}"
export REDIS_URL="${REDIS_URL:-redis://127.0.0.1:$REDIS_PORT/0}"
export TEMPORAL_ADDRESS="${TEMPORAL_ADDRESS:-http://127.0.0.1:$TEMPORAL_PORT}"
export API_PORT
PROVIDER_PORT="${PROVIDER_PORT:-8090}"
export PROVIDER_PORT PROVIDER_URL="${PROVIDER_URL:-http://127.0.0.1:$PROVIDER_PORT}"

stop_all() {
  log "stopping the API, the worker and the mock payment provider"
  stop_pidfile "$STACK_DIR/api.pid"
  stop_pidfile "$STACK_DIR/worker.pid"
  stop_pidfile "$STACK_DIR/provider.pid"
  stop_services
}

start_process() {
  local name="$1"; shift
  if [ -f "$STACK_DIR/$name.pid" ] && kill -0 "$(cat "$STACK_DIR/$name.pid")" 2>/dev/null; then
    log "$name already running (pid $(cat "$STACK_DIR/$name.pid")), reusing it"
    return
  fi
  "$@" >"$STACK_DIR/$name.log" 2>&1 &
  echo $! >"$STACK_DIR/$name.pid"
}

case "${1:-up}" in
  stop) stop_all; exit 0 ;;
  up) ;;
  *) die "usage: scripts/dev.sh [up [-d] | stop]" ;;
esac
detach="${2:-}"

start_services
create_database seatline

log "building ($PROFILE)"
if [ "$PROFILE" = release ]; then cargo build --release --bins -q; else cargo build --bins -q; fi
BIN="$ROOT/target/$PROFILE"

log "migrations and demo data"
"$BIN/seatline-api" seed >"$STACK_DIR/seed.log" 2>&1 || { cat "$STACK_DIR/seed.log"; die "seeding failed"; }

start_process provider "$BIN/seatline-provider"
WORKER_METRICS_PORT="${WORKER_METRICS_PORT:-9464}" start_process worker "$BIN/seatline-worker"
start_process api "$BIN/seatline-api"
for _ in $(seq 1 100); do curl -sf "http://127.0.0.1:$API_PORT/readyz" >/dev/null && break; sleep 0.2; done
curl -sf "http://127.0.0.1:$API_PORT/readyz" >/dev/null || die "the API is not ready; see $STACK_DIR/api.log"

cat <<MSG

  Seatline is running.
    Web page      http://127.0.0.1:$API_PORT/
    API           http://127.0.0.1:$API_PORT/api/v1
    API docs      http://127.0.0.1:$API_PORT/docs
    Temporal UI   http://127.0.0.1:$TEMPORAL_UI_PORT
    Metrics       http://127.0.0.1:$API_PORT/metrics (worker: http://127.0.0.1:${WORKER_METRICS_PORT:-9464}/metrics)
    Mock payment provider  http://127.0.0.1:$PROVIDER_PORT
  Logs are in $STACK_DIR/. Stop with Ctrl-C or scripts/dev.sh stop.

MSG

[ "$detach" = "-d" ] && exit 0
trap 'stop_all; exit 0' INT TERM
while kill -0 "$(cat "$STACK_DIR/api.pid")" 2>/dev/null; do sleep 1; done
log "the API exited; see $STACK_DIR/api.log"
stop_all
