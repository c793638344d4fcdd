#!/usr/bin/env bash
# Runs every test: unit tests, then end-to-end tests against a real Temporal dev server,
# PostgreSQL and Redis (started here when they are not running, stopped again afterwards).
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cd "$ROOT"

# What a reviewer would refuse, refused first: formatting, lints, stale query data.
if [ $# -eq 0 ] || [ "${SEATLINE_LINT:-}" = 1 ]; then
  log "checking formatting, lints and .sqlx/"
  cargo fmt --all -- --check
  cargo clippy --workspace --all-targets -q -- -D warnings
fi

start_services
if [ $# -eq 0 ] || [ "${SEATLINE_LINT:-}" = 1 ]; then
  "$ROOT/scripts/sqlx-prepare.sh" --check
fi
# Each run's task queues share a prefix; its workflows have no worker once the tests end.
export SEATLINE_TEST_RUN="${SEATLINE_TEST_RUN:-$(date +%s)-$$}"
cleanup() {
  "$TEMPORAL_BIN" workflow terminate --address "127.0.0.1:$TEMPORAL_PORT" \
    --query "TaskQueue STARTS_WITH 'test-$SEATLINE_TEST_RUN-' AND ExecutionStatus = 'Running'" \
    --reason "test run ended" --yes >/dev/null 2>&1 || true
  stop_services here
}
trap cleanup EXIT
# Two runs side by side need their own database and Redis db (SEATLINE_TEST_DB, SEATLINE_TEST_REDIS_DB).
TEST_DB="${SEATLINE_TEST_DB:-seatline_test}"
TEST_REDIS_DB="${SEATLINE_TEST_REDIS_DB:-1}"
create_database "$TEST_DB" fresh

export DATABASE_URL="$(database_url "$TEST_DB")"
export REDIS_URL="redis://127.0.0.1:$REDIS_PORT/$TEST_REDIS_DB"
export TEMPORAL_ADDRESS="http://127.0.0.1:$TEMPORAL_PORT"
export SEATLINE_BIN_DIR="$ROOT/target/debug"
export RUST_LOG="${RUST_LOG:-warn}"
redis-cli -p "$REDIS_PORT" -n "$TEST_REDIS_DB" flushdb >/dev/null

log "building"
cargo build --workspace --bins
status=0
# The fault-injection suite restarts its own services, so it runs alone, after the rest.
if cargo nextest --version >/dev/null 2>&1; then
  cargo nextest run --workspace --exclude seatline-faults --no-fail-fast "$@" || status=$?
else
  cargo test --workspace --exclude seatline-faults --no-fail-fast "$@" || status=$?
fi

fault_tests() {
  local result=0 out="$STACK_DIR/fault-suite.log"
  # No backtraces: the panic message (which invariant broke) stays next to its FAILED line.
  RUST_BACKTRACE=0 cargo test -p seatline-faults --test faults -- --ignored --test-threads=1 --nocapture 2>&1 \
    | tee "$out" || result=$?
  "$ROOT/faults/stop-stack.sh" || true
  if [ "$result" -ne 0 ]; then
    # CI keeps only the end of the output: repeat what broke there.
    log "fault suite failed; what broke:"
    grep -E '\] FAIL: |panicked at|^thread .* panicked' -A4 "$out" | cut -c1-1500 || true
  fi
  return $result
}
if [ "${SEATLINE_SKIP_FAULTS:-}" != 1 ] && [ $# -eq 0 ]; then
  log "fault-injection suite (a stack of its own; FAULT-REPORT lines are its figures)"
  fault_tests || status=$?
fi

# Property-based fuzzing of the whole API from its own /openapi.json (schemathesis, from
# PyPI): no 5xx, every answer in the documented shape and status, schema-valid requests
# accepted. Against a stack of its own with the rate limits off (the fuzzer is one client).
fuzz_api() {
  local venv="$STACK_DIR/fuzz-venv" bin="$ROOT/target/debug" db=seatline_fuzz redis_db=3
  if [ ! -x "$venv/bin/st" ]; then
    python3 -m venv "$venv"
    "$venv/bin/pip" install -q --disable-pip-version-check "schemathesis==4.32.5"
  fi
  create_database "$db" fresh
  redis-cli -p "$REDIS_PORT" -n "$redis_db" flushdb >/dev/null
  local pids=() result=0 port=18180
  (
    export DATABASE_URL="$(database_url "$db")" REDIS_URL="redis://127.0.0.1:$REDIS_PORT/$redis_db"
    export TASK_QUEUE="test-$SEATLINE_TEST_RUN-fuzz" PAYMENT_TASK_QUEUE="test-$SEATLINE_TEST_RUN-fuzz-payments"
    export PROVIDER_PORT=18190 PROVIDER_URL=http://127.0.0.1:18190
    export RATE_LIMIT_ACCOUNTS_PER_HOUR=0 RATE_LIMIT_LOGINS_PER_MINUTE=0
    export RATE_LIMIT_USER_REQUESTS_PER_SECOND=0 RATE_LIMIT_ADDRESS_REQUESTS_PER_SECOND=0
    "$bin/seatline-api" seed >"$STACK_DIR/fuzz-seed.log" 2>&1
    "$bin/seatline-provider" >"$STACK_DIR/fuzz-provider.log" 2>&1 & pids+=($!)
    "$bin/seatline-worker" >"$STACK_DIR/fuzz-worker.log" 2>&1 & pids+=($!)
    API_PORT=$port "$bin/seatline-api" >"$STACK_DIR/fuzz-api.log" 2>&1 & pids+=($!)
    for _ in $(seq 1 100); do curl -sf "http://127.0.0.1:$port/readyz" >/dev/null && break; sleep 0.2; done
    local token
    token="$(curl -sf -X POST "http://127.0.0.1:$port/api/v1/users" -H 'content-type: application/json' \
      -d '{"name":"Fuzzer"}' | python3 -c 'import json,sys; print(json.load(sys.stdin)["token"])')"
    # Logging out or refreshing would end the fuzzer's own session; both have their own tests.
    "$venv/bin/st" run "http://127.0.0.1:$port/openapi.json" --no-color \
      -H "Authorization: Bearer $token" --checks all --phases examples,coverage,fuzzing \
      --max-examples "${SEATLINE_FUZZ_EXAMPLES:-10}" --max-time "${SEATLINE_FUZZ_SECONDS:-150}" \
      --exclude-path /api/v1/auth/logout --exclude-path /api/v1/auth/refresh \
      --seed 7 || result=$?
    kill "${pids[@]}" 2>/dev/null || true
    wait "${pids[@]}" 2>/dev/null || true
    exit $result
  ) || result=$?
  return $result
}
if [ "${SEATLINE_SKIP_FUZZ:-}" != 1 ] && [ $# -eq 0 ]; then
  log "API fuzzing from /openapi.json (schemathesis)"
  fuzz_api || status=$?
fi

# The buyer's page, in headless Chromium, against a stack of its own: the mock provider, a
# worker, the API, and a second API with 3-second holds for the expiry test.
browser_tests() {
  apt_install chromium fonts-noto-cjk
  command -v npm >/dev/null || apt_install nodejs npm
  (cd tests/browser && npm ci --no-audit --no-fund --loglevel=error)
  local db=seatline_browser redis_db=2 bin="$ROOT/target/debug"
  create_database "$db" fresh
  redis-cli -p "$REDIS_PORT" -n "$redis_db" flushdb >/dev/null
  export DATABASE_URL="$(database_url "$db")" REDIS_URL="redis://127.0.0.1:$REDIS_PORT/$redis_db"
  export TASK_QUEUE="test-$SEATLINE_TEST_RUN-browser" PAYMENT_TASK_QUEUE="test-$SEATLINE_TEST_RUN-browser-payments"
  export PROVIDER_PORT=18090 PROVIDER_URL=http://127.0.0.1:18090 ADMISSION_TICK_MS=100 ADMISSION_RATE=1000
  # Every page test signs up from 127.0.0.1.
  export RATE_LIMIT_ACCOUNTS_PER_HOUR=0 RATE_LIMIT_LOGINS_PER_MINUTE=0 RATE_LIMIT_ADDRESS_REQUESTS_PER_SECOND=0
  "$bin/seatline-api" seed >"$STACK_DIR/browser-seed.log" 2>&1
  local pids=()
  "$bin/seatline-provider" >"$STACK_DIR/browser-provider.log" 2>&1 & pids+=($!)
  "$bin/seatline-worker" >"$STACK_DIR/browser-worker.log" 2>&1 & pids+=($!)
  API_PORT=18080 "$bin/seatline-api" >"$STACK_DIR/browser-api.log" 2>&1 & pids+=($!)
  API_PORT=18081 HOLD_SECONDS=3 "$bin/seatline-api" >"$STACK_DIR/browser-api-short.log" 2>&1 & pids+=($!)
  for port in 18080 18081; do
    for _ in $(seq 1 100); do curl -sf "http://127.0.0.1:$port/readyz" >/dev/null && break; sleep 0.2; done
  done
  local result=0
  (cd tests/browser && SEATLINE_URL=http://127.0.0.1:18080 SEATLINE_SHORT_HOLD_URL=http://127.0.0.1:18081 \
    node --test --test-concurrency=1 seatline.test.mjs i18n.test.mjs web.test.mjs) || result=$?
  kill "${pids[@]}" 2>/dev/null || true
  wait "${pids[@]}" 2>/dev/null || true
  return $result
}
if [ "${SEATLINE_SKIP_BROWSER:-}" != 1 ] && [ $# -eq 0 ]; then
  log "browser tests (screenshots in tests/browser/artifacts/)"
  browser_tests || status=$?
fi
exit $status
