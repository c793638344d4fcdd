#!/usr/bin/env bash
# Runs every test: unit tests, then end-to-end tests against a real Temporal dev server,
# PostgreSQL and Redis (started here when they are not running, stopped again afterwards).
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cd "$ROOT"

start_services
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
if cargo nextest --version >/dev/null 2>&1; then
  cargo nextest run --workspace --no-fail-fast "$@"
else
  cargo test --workspace --no-fail-fast "$@"
fi
