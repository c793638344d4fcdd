#!/usr/bin/env bash
# Refreshes the committed .sqlx/ query data after a query or a migration changes. Builds check
# queries against a scratch database migrated from migrations/; nothing else needs a database.
# `--check`: prepares into a scratch directory and fails if .sqlx/ differs (stale or missing).
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cd "$ROOT"
check="${1:-}"
start_postgres
create_database seatline_prepare fresh
url="$(database_url seatline_prepare)"
for f in migrations/*.sql; do
  PGPASSWORD="$PG_PASSWORD" psql -q -h "$PG_HOST" -p "$PG_PORT" -U "$PG_USER" -d seatline_prepare \
    -v ON_ERROR_STOP=1 -f "$f"
done
out="$ROOT/.sqlx"
[ "$check" = --check ] && out="$(mktemp -d)"
rm -rf "$out" && mkdir -p "$out"
# Every query lives in seatline-storage: touch it so its macros run again and write the data.
touch storage/src/lib.rs
SQLX_OFFLINE=false DATABASE_URL="$url" SQLX_OFFLINE_DIR="$out" cargo build -p seatline-storage -q
if [ "$check" = --check ]; then
  touch storage/src/lib.rs
  if ! diff -r -q "$ROOT/.sqlx" "$out"; then
    rm -rf "$out"
    die ".sqlx/ is out of date: run scripts/sqlx-prepare.sh and commit the result"
  fi
  rm -rf "$out"
  log ".sqlx/ matches every query"
else
  log "$(ls .sqlx | wc -l) queries prepared in .sqlx/"
fi
