#!/usr/bin/env bash
# Refreshes the committed .sqlx/ query data after a query or a migration changes. Builds check
# queries against a scratch database migrated from migrations/; nothing else needs a database.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cd "$ROOT"
start_postgres
create_database seatline_prepare fresh
url="$(database_url seatline_prepare)"
for f in migrations/*.sql; do
  PGPASSWORD="$PG_PASSWORD" psql -q -h "$PG_HOST" -p "$PG_PORT" -U "$PG_USER" -d seatline_prepare \
    -v ON_ERROR_STOP=1 -f "$f"
done
rm -rf .sqlx && mkdir -p .sqlx
# Every query lives in seatline-storage: touch it so its macros run again and write .sqlx/
touch storage/src/lib.rs
SQLX_OFFLINE=false DATABASE_URL="$url" SQLX_OFFLINE_DIR="$ROOT/.sqlx" cargo build -p seatline-storage -q
log "$(ls .sqlx | wc -l) queries prepared in .sqlx/"
