#!/usr/bin/env bash
# Benchmark `dsar export` against a throwaway PostgreSQL server seeded by bench/seed.sql, and
# `dsar delete` (quarantine) and `dsar restore` of one subject seeded by bench/erase.sql.
#   bench/run.sh            full: ~1.3M rows in 8 tables; the whale subject owns ~251k of them;
#                           the eraser subject owns 1M + 1 rows of 2 other tables
#   bench/run.sh --quick    ~10x fewer rows (a smoke run, well under a minute once dsar is built)
# Prints one figure per line as `name: value` on stdout; everything else goes to stderr.
# On Debian it installs what it uses (age, postgresql, time, python3) when run as root.
# The erasure tables have a foreign key from events to customers (the realistic case, and the
# one that exercises delete's foreign-key checks); DSAR_BENCH_ERASE_FK=0 leaves it out.
set -euo pipefail
cd "$(dirname "$0")/.."
SHARED=${DSAR_SHARED:-../shared}

MODE=full
case "${1:-}" in
  "") ;;
  --quick) MODE=quick ;;
  -h | --help) sed -n '2,10p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
  *) echo "run.sh: unknown argument $1 (usage: bench/run.sh [--quick])" >&2; exit 2 ;;
esac

if [ "$MODE" = quick ]; then
  N_USERS=5000 WHALE_ORDERS=2000 WHALE_SESSIONS=1000 WHALE_TICKETS=100
  SMALL_ORDERS=200 SMALL_SESSIONS=100 SMALL_TICKETS=10
  ERASER_EVENTS=100000 ERASE_CUSTOMERS=2000
else
  N_USERS=50000 WHALE_ORDERS=20000 WHALE_SESSIONS=10000 WHALE_TICKETS=1000
  SMALL_ORDERS=2000 SMALL_SESSIONS=1000 SMALL_TICKETS=100
  ERASER_EVENTS=1000000 ERASE_CUSTOMERS=20000
fi
ERASE_OTHER_EVENTS=10
case "${DSAR_BENCH_ERASE_FK:-1}" in 0 | false | no) ERASE_FK=false ;; *) ERASE_FK=true ;; esac
RUNS=3
WHALE=whale@example.com
SMALL=small@example.com
ORDINARY=user1000@example.com
ERASER=eraser@example.com

log() { echo "bench: $*" >&2; }
figure() { echo "$1: $2"; }

# --- tools ------------------------------------------------------------------------------------
missing=()
for tool in age age-keygen psql gzip python3 /usr/bin/time; do
  command -v "$tool" >/dev/null || missing+=("$tool")
done
if [ ${#missing[@]} -gt 0 ]; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    log "installing age postgresql time python3 gzip (apt) for: ${missing[*]}"
    DEBIAN_FRONTEND=noninteractive apt-get update -qq >&2
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq age postgresql time python3 gzip >&2
  else
    log "missing ${missing[*]}; install: sudo apt-get install age postgresql time python3 gzip"
    exit 1
  fi
fi

log "building dsar (cargo build --release --locked)"
cargo build --release --locked >&2
DSAR=$PWD/target/release/dsar

# --- server, work dir, key --------------------------------------------------------------------
WORK=$(mktemp -d /tmp/dsar-bench.XXXXXX)
PGTEST_DIR=
cleanup() {
  if [ -n "$PGTEST_DIR" ]; then "$SHARED/ci/pg-down.sh" "$PGTEST_DIR" || true; fi
  rm -rf "$WORK"
}
trap cleanup EXIT
eval "$("$SHARED/ci/pg-up.sh")"
export BENCH_DATABASE_URL=$DATABASE_URL
log "server up at $BENCH_DATABASE_URL (mode: $MODE)"

age-keygen -o "$WORK/key.txt" 2>/dev/null
RECIPIENT=$(age-keygen -y "$WORK/key.txt")
echo "$RECIPIENT" >"$WORK/recipients.txt"
# The recovery key for the erasure benchmark: the map's recovery_recipients_file is
# "recovery.txt" next to the map, so the map is copied into $WORK beside it.
age-keygen -o "$WORK/recovery.key" 2>/dev/null
age-keygen -y "$WORK/recovery.key" >"$WORK/recovery.txt"
cp bench/erase.toml "$WORK/erase.toml"
mkdir -p "$WORK/out" "$WORK/state"

psql_q() { psql -X -q -At -v ON_ERROR_STOP=1 "$BENCH_DATABASE_URL" "$@"; }

# --- seed -------------------------------------------------------------------------------------
log "seeding ($N_USERS ordinary users)"
t0=$(date +%s.%N)
psql_q -f bench/seed.sql \
  -v n_users="$N_USERS" \
  -v whale_orders="$WHALE_ORDERS" -v whale_sessions="$WHALE_SESSIONS" -v whale_tickets="$WHALE_TICKETS" \
  -v small_orders="$SMALL_ORDERS" -v small_sessions="$SMALL_SESSIONS" -v small_tickets="$SMALL_TICKETS" >&2
t1=$(date +%s.%N)
TABLES="users addresses orders order_items payments sessions events support_tickets"
count_sql=$(for t in $TABLES; do printf '(SELECT count(*) FROM bench.%s) + ' "$t"; done)
ROWS_SEEDED=$(psql_q -c "SELECT ${count_sql}0")
log "seeded $ROWS_SEEDED rows in $(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.1f", b - a }') s"

# --- measuring --------------------------------------------------------------------------------
CONFIG=$PWD/bench/sources.toml
LAST_S= LAST_RSS= LAST_ROWS=

# One `dsar export` of the subject with email $1: sets LAST_S (wall seconds), LAST_RSS (peak
# RSS, KiB) and LAST_ROWS (rows in the archive, from --json).
dsar_export() {
  local a b
  a=$(date +%s.%N)
  /usr/bin/time -f %M -o "$WORK/rss" \
    "$DSAR" --config "$CONFIG" --state-dir "$WORK/state" export --subject "email=$1" \
    --out "$WORK/out" --quiet --json --recipients-file "$WORK/recipients.txt" >"$WORK/report.json"
  b=$(date +%s.%N)
  LAST_S=$(awk -v a="$a" -v b="$b" 'BEGIN { printf "%.3f", b - a }')
  LAST_RSS=$(tail -1 "$WORK/rss")
  LAST_ROWS=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["requests"][0]["rows"])' "$WORK/report.json")
  LAST_BYTES=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["requests"][0]["bytes"])' "$WORK/report.json")
  rm -f "$WORK/out"/*.zip.age
}

# The baseline for the subject with email $1: COPY | gzip | age, timed the same way.
baseline() {
  local a b
  a=$(date +%s.%N)
  psql -X -q -v ON_ERROR_STOP=1 -v email="$1" -f bench/baseline.sql "$BENCH_DATABASE_URL" \
    | gzip | age -r "$RECIPIENT" >/dev/null
  b=$(date +%s.%N)
  LAST_S=$(awk -v a="$a" -v b="$b" 'BEGIN { printf "%.3f", b - a }')
}

median() { printf '%s\n' "$@" | sort -g | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }
maximum() { printf '%s\n' "$@" | sort -g | tail -1; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", a / b }'; }

# Rows each subject owns, straight from the database: the export must find exactly these.
expected_rows() {
  psql_q -v email="$1" -f bench/baseline.sql | wc -l
}
check_rows() { # label expected got
  if [ "$2" != "$3" ]; then
    log "$1: dsar exported $3 rows but the baseline query returns $2"
    exit 1
  fi
}

WHALE_ROWS=$(expected_rows "$WHALE")
SMALL_ROWS=$(expected_rows "$SMALL")
ORDINARY_ROWS=$(expected_rows "$ORDINARY")
log "subjects: whale $WHALE_ROWS rows, small $SMALL_ROWS rows, ordinary $ORDINARY_ROWS rows"
BASELINE_BYTES=$(psql -X -q -v ON_ERROR_STOP=1 -v email="$WHALE" -f bench/baseline.sql "$BENCH_DATABASE_URL" \
  | gzip | age -r "$RECIPIENT" | wc -c)

log "warm-up: one untimed dsar export and one baseline of the whale"
dsar_export "$WHALE"
check_rows whale "$WHALE_ROWS" "$LAST_ROWS"
WHALE_BYTES=$LAST_BYTES
baseline "$WHALE"

log "ordinary subject ($ORDINARY), $RUNS runs"
times=()
for _ in $(seq "$RUNS"); do
  dsar_export "$ORDINARY"
  check_rows ordinary "$ORDINARY_ROWS" "$LAST_ROWS"
  times+=("$LAST_S")
done
SINGLE_S=$(median "${times[@]}")
log "  ${times[*]} s"

log "whale ($WHALE) and baseline, $RUNS runs each, interleaved"
times=() rss=() btimes=()
for _ in $(seq "$RUNS"); do
  dsar_export "$WHALE"
  check_rows whale "$WHALE_ROWS" "$LAST_ROWS"
  times+=("$LAST_S") rss+=("$LAST_RSS")
  baseline "$WHALE"
  btimes+=("$LAST_S")
done
WHALE_S=$(median "${times[@]}")
WHALE_RSS=$(maximum "${rss[@]}")
BASELINE_S=$(median "${btimes[@]}")
log "  dsar ${times[*]} s, peak RSS ${rss[*]} KiB; baseline ${btimes[*]} s"

log "small subject ($SMALL), $RUNS runs"
stimes=() srss=()
for _ in $(seq "$RUNS"); do
  dsar_export "$SMALL"
  check_rows small "$SMALL_ROWS" "$LAST_ROWS"
  stimes+=("$LAST_S") srss+=("$LAST_RSS")
done
SMALL_S=$(median "${stimes[@]}")
SMALL_RSS=$(maximum "${srss[@]}")
log "  ${stimes[*]} s, peak RSS ${srss[*]} KiB"

# --- erasure -----------------------------------------------------------------------------------
# `dsar delete` of the eraser (quarantine: every row encrypted into dsar.quarantine, in batches of
# the default batch_rows) against a bare DELETE of the same rows by customer_id, in one
# transaction. Each runs once, on its own byte-for-byte copy of the same database (CREATE
# DATABASE ... TEMPLATE after seeding and VACUUM ANALYZE), after the same CHECKPOINT and
# pg_prewarm: erasing is destructive, so a second run would need a fresh copy, and one 1M-row
# run is long enough not to need a median. `dsar restore` of the request is timed after it.
server_url() { echo "${BENCH_DATABASE_URL%/*}/$1"; }
ERASE_URL=$(server_url dsar_erase)
BARE_URL=$(server_url dsar_erase_bare)
psql_at() { local url=$1; shift; psql -X -q -At -v ON_ERROR_STOP=1 "$url" "$@"; }
elapsed() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.3f", b - a }'; }

log "erasure: seeding the eraser ($ERASER_EVENTS events) and $ERASE_CUSTOMERS other customers (foreign key: $ERASE_FK)"
psql_q -c "CREATE DATABASE dsar_erase"
psql_at "$ERASE_URL" -c "CREATE EXTENSION pg_prewarm"
psql_at "$ERASE_URL" -f bench/erase.sql -v eraser_rows="$ERASER_EVENTS" -v n_customers="$ERASE_CUSTOMERS" \
  -v other_events="$ERASE_OTHER_EVENTS" -v with_fk="$ERASE_FK" >&2
strategy=
if [ "$(psql_q -c "SHOW server_version_num")" -ge 150000 ]; then strategy=" STRATEGY = FILE_COPY"; fi
psql_q -c "CREATE DATABASE dsar_erase_bare TEMPLATE dsar_erase$strategy"

# The eraser's rows, live and quarantined, in the database at URL $1.
ERASER_ID=$(psql_at "$ERASE_URL" -c "SELECT customer_id FROM erase.customers WHERE email = '$ERASER'")
live_rows() {
  psql_at "$1" -c "SELECT (SELECT count(*) FROM erase.customers WHERE customer_id = $ERASER_ID)
                        + (SELECT count(*) FROM erase.events WHERE customer_id = $ERASER_ID)"
}
quarantined_rows() { psql_at "$1" -c "SELECT count(*) FROM dsar.quarantine"; }
# The same state before each measurement: nothing dirty left by the previous one, and the erase
# schema's tables and indexes read into shared buffers in the same order.
settle() {
  psql_at "$1" -c "CHECKPOINT" -c "SELECT count(pg_prewarm(c.oid)) FROM pg_class c
    JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = 'erase' AND c.relkind IN ('r', 'i')" >/dev/null
}
erase_check() { # label expected got
  if [ "$2" != "$3" ]; then
    log "erasure: $1: expected $2 rows, got $3"
    exit 1
  fi
}
json_rows() { # sum of "rows" over "counts" in the JSON report $1
  python3 -c 'import json,sys; print(sum(c["rows"] for c in json.load(open(sys.argv[1]))["counts"]))' "$1"
}

ERASE_ROWS=$(live_rows "$ERASE_URL")
erase_check "eraser's rows in the copy" "$ERASE_ROWS" "$(live_rows "$BARE_URL")"
log "erasure: the eraser owns $ERASE_ROWS rows"

log "erasure: bare DELETE of the eraser's rows (one transaction)"
settle "$BARE_URL"
a=$(date +%s.%N)
psql_at "$BARE_URL" -v id="$ERASER_ID" <<'SQL'
BEGIN;
DELETE FROM erase.events WHERE customer_id = :id;
DELETE FROM erase.customers WHERE customer_id = :id;
COMMIT;
SQL
b=$(date +%s.%N)
BARE_S=$(elapsed "$a" "$b")
erase_check "live after the bare DELETE" 0 "$(live_rows "$BARE_URL")"
psql_q -c "DROP DATABASE dsar_erase_bare"
log "  $BARE_S s"

log "erasure: dsar delete of the eraser (quarantine)"
settle "$ERASE_URL"
export ERASE_DATABASE_URL=$ERASE_URL
a=$(date +%s.%N)
/usr/bin/time -f %M -o "$WORK/rss" \
  "$DSAR" --config "$WORK/erase.toml" --state-dir "$WORK/state" delete --subject "email=$ERASER" \
  --yes --quiet --json >"$WORK/delete.json" || { log "erasure: dsar delete failed (exit $?)"; exit 1; }
b=$(date +%s.%N)
ERASE_S=$(elapsed "$a" "$b")
ERASE_RSS=$(tail -1 "$WORK/rss")
REQUEST_ID=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["request_id"])' "$WORK/delete.json")
erase_check "dsar delete's --json counts" "$ERASE_ROWS" "$(json_rows "$WORK/delete.json")"
erase_check "live after dsar delete" 0 "$(live_rows "$ERASE_URL")"
erase_check "in dsar.quarantine after dsar delete" "$ERASE_ROWS" "$(quarantined_rows "$ERASE_URL")"
log "  $ERASE_S s, peak RSS $ERASE_RSS KiB (request $REQUEST_ID)"

log "erasure: dsar restore of request $REQUEST_ID"
settle "$ERASE_URL"
a=$(date +%s.%N)
"$DSAR" --config "$WORK/erase.toml" --state-dir "$WORK/state" restore --request "$REQUEST_ID" \
  --identity "$WORK/recovery.key" --quiet --json >"$WORK/restore.json" || { log "erasure: dsar restore failed (exit $?)"; exit 1; }
b=$(date +%s.%N)
RESTORE_S=$(elapsed "$a" "$b")
erase_check "dsar restore's --json counts" "$ERASE_ROWS" "$(json_rows "$WORK/restore.json")"
erase_check "live after dsar restore" "$ERASE_ROWS" "$(live_rows "$ERASE_URL")"
erase_check "in dsar.quarantine after dsar restore" 0 "$(quarantined_rows "$ERASE_URL")"
log "  $RESTORE_S s"

log "load average at the end (1, 5, 15 min): $(cut -d' ' -f1-3 /proc/loadavg)"

# --- figures ----------------------------------------------------------------------------------
MEM=$(awk '/^MemTotal:/ { printf "%.1f GiB", $2 / 1048576 }' /proc/meminfo)
figure machine "$(nproc) cores, $MEM"
figure mode "$MODE"
figure rows_seeded "$ROWS_SEEDED"
figure single_subject_rows "$ORDINARY_ROWS"
figure single_subject_export_s "$SINGLE_S"
figure whale_rows "$WHALE_ROWS"
figure whale_export_s "$WHALE_S"
figure whale_rows_per_s "$(awk -v r="$WHALE_ROWS" -v s="$WHALE_S" 'BEGIN { printf "%.0f", r / s }')"
figure whale_peak_rss_kb "$WHALE_RSS"
figure whale_archive_bytes "$WHALE_BYTES"
figure baseline_copy_gzip_age_s "$BASELINE_S"
figure baseline_bytes "$BASELINE_BYTES"
figure whale_vs_baseline_ratio "$(ratio "$WHALE_S" "$BASELINE_S")"
figure small_rows "$SMALL_ROWS"
figure small_export_s "$SMALL_S"
figure small_peak_rss_kb "$SMALL_RSS"
figure rss_growth_ratio "$(ratio "$WHALE_RSS" "$SMALL_RSS")"
figure erase_rows "$ERASE_ROWS"
figure erase_quarantine_s "$ERASE_S"
figure erase_rows_per_s "$(awk -v r="$ERASE_ROWS" -v s="$ERASE_S" 'BEGIN { printf "%.0f", r / s }')"
figure erase_peak_rss_kb "$ERASE_RSS"
figure baseline_bare_delete_s "$BARE_S"
figure erase_vs_bare_delete_ratio "$(ratio "$ERASE_S" "$BARE_S")"
figure restore_s "$RESTORE_S"
figure restore_rows_per_s "$(awk -v r="$ERASE_ROWS" -v s="$RESTORE_S" 'BEGIN { printf "%.0f", r / s }')"
