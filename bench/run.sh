#!/usr/bin/env bash
# Benchmark `dsar export` against a throwaway PostgreSQL server seeded by bench/seed.sql, and
# `dsar delete` (quarantine) and `dsar restore` of one subject seeded by bench/erase.sql (against
# a bare DELETE, and against the same rows deleted by key in batches: the floor of any erasure
# by plan; each also as the CPU time the machine spent on it, dsar's and the server's), and
# `dsar export`/`delete --subjects-file` of 10,000 ordinary users (1,000 with --quick), and
# `dsar check --erased` (the erasure register) over the erasure tables of a restored backup; then
# the export and erasure figures on MariaDB and SQLite (bench/other_kinds.sh).
#   bench/run.sh            full: ~1.3M rows in 8 tables; the whale subject owns ~251k of them;
#                           the eraser subject owns 1M + 1 rows of 2 other tables
#   bench/run.sh --quick    ~10x fewer rows (a smoke run, well under a minute once dsar is built)
# Prints one figure per line as `name: value` on stdout; everything else goes to stderr.
# On Debian it installs what it uses (age, postgresql, mariadb, sqlite3, time, python3) as root.
# The erasure tables have a foreign key from events to customers (the realistic case, and the
# one that exercises delete's foreign-key checks); DSAR_BENCH_ERASE_FK=0 leaves it out.
set -euo pipefail
cd "$(dirname "$0")/.."

MODE=full
case "${1:-}" in
  "") ;;
  --quick) MODE=quick ;;
  -h | --help) sed -n '2,12p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
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
# dsar's default batch_rows (DEFAULT_BATCH_ROWS in src/config/validate.rs): the erasure floor
# takes its keys in batches of it, and the batch delete's DELETE count is checked against it.
DEFAULT_BATCH_ROWS=2500
WHALE=whale@example.com
SMALL=small@example.com
ORDINARY=user1000@example.com
ERASER=eraser@example.com

. bench/lib.sh

# --- tools ------------------------------------------------------------------------------------
missing=()
for tool in age age-keygen psql gzip python3 /usr/bin/time sqlite3; do
  command -v "$tool" >/dev/null || missing+=("$tool")
done
if [ ${#missing[@]} -gt 0 ]; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    log "installing age postgresql time python3 gzip sqlite3 (apt) for: ${missing[*]}"
    DEBIAN_FRONTEND=noninteractive apt-get update -qq >&2
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq age postgresql time python3 gzip sqlite3 >&2
  else
    log "missing ${missing[*]}; install: sudo apt-get install age postgresql time python3 gzip sqlite3"
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
  if [ -n "$PGTEST_DIR" ]; then scripts/server.sh down "$PGTEST_DIR" || true; fi
  rm -rf "$WORK"
}
trap cleanup EXIT
eval "$(scripts/server.sh up postgres)"
export BENCH_DATABASE_URL=$DATABASE_URL
log "server up at $BENCH_DATABASE_URL (mode: $MODE)"

# pg_stat_statements counts the statements of the batch export and delete below. It has to be
# preloaded: set it and restart the server (pg_ctl restart reuses the options server.sh gave it,
# from postmaster.opts), as the user that runs the server.
PGBIN=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1)
if [ "$(id -u)" = 0 ]; then RUNAS=(runuser -u postgres --); else RUNAS=(); fi
psql -X -q -v ON_ERROR_STOP=1 "$BENCH_DATABASE_URL" -c "ALTER SYSTEM SET shared_preload_libraries = 'pg_stat_statements'"
"${RUNAS[@]}" "$PGBIN/pg_ctl" -D "$PGTEST_DIR/data" -l "$PGTEST_DIR/server.log" -w -t 60 restart >/dev/null
psql -X -q -v ON_ERROR_STOP=1 "$BENCH_DATABASE_URL" -c "CREATE EXTENSION pg_stat_statements" -c "CREATE EXTENSION pg_prewarm" \
  -c "ALTER SYSTEM SET pg_stat_statements.track = 'none'" -c "SELECT pg_reload_conf()" >/dev/null
log "pg_stat_statements loaded (server restarted); tracking off until the batch benchmark"

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
# Nothing dirty in the page cache before a measurement: the test server runs with fsync=off, so
# its CHECKPOINT leaves what it wrote (seeding, the erasure copies: hundreds of MB measured) to
# the kernel's background writeback, which would then compete with the fsyncs of whatever is
# measured next (dsar fsyncs its archives and records; the baselines write nothing).
settle_disk() { sync; }
# Nothing is deleted while the bench measures: ext4 without a journal (this machine's) steps
# over every inode freed in the last 60 s (360 s while its inode table block is unwritten) on
# each file it creates, so a database dropped just before (hundreds of files) slowed each of
# the batch export's 20,000 file creations (measured: 10,000 archives took 6.27 s after three
# dropped copies of the erasure database, 5.73 s a minute later), and the batch's 10,000
# archives removed would slow the SQLite erasure's journal files next. The copies made for
# one measurement, and the batch export's archives, stay until the end, when the server's
# data goes with the work dir.

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
psql_q -c "CHECKPOINT"
settle_disk

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

# The same rows as a raw COPY to nowhere (no compression, no encryption): the speed of reading
# them at all, which the issue's aim for the export (0.7× of it) is measured against.
raw_copy() {
  local a b
  a=$(date +%s.%N)
  psql -X -q -v ON_ERROR_STOP=1 -v email="$1" -f bench/baseline.sql "$BENCH_DATABASE_URL" >/dev/null
  b=$(date +%s.%N)
  LAST_S=$(awk -v a="$a" -v b="$b" 'BEGIN { printf "%.3f", b - a }')
}

maximum() { printf '%s\n' "$@" | sort -g | tail -1; }

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

log "whale ($WHALE), baseline and raw COPY, $RUNS runs each, interleaved"
times=() rss=() btimes=() rtimes=()
for _ in $(seq "$RUNS"); do
  dsar_export "$WHALE"
  check_rows whale "$WHALE_ROWS" "$LAST_ROWS"
  times+=("$LAST_S") rss+=("$LAST_RSS")
  baseline "$WHALE"
  btimes+=("$LAST_S")
  raw_copy "$WHALE"
  rtimes+=("$LAST_S")
done
WHALE_S=$(median "${times[@]}")
WHALE_RSS=$(maximum "${rss[@]}")
BASELINE_S=$(median "${btimes[@]}")
RAW_COPY_S=$(median "${rtimes[@]}")
log "  dsar ${times[*]} s, peak RSS ${rss[*]} KiB; baseline ${btimes[*]} s; raw COPY ${rtimes[*]} s"

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
# CPU time the whole machine spent busy (user, nice, system, irq, softirq, steal of every core,
# in clock ticks): an erasure's work is the server's as much as dsar's, and on a machine whose
# cores are all busy, that work over the cores is the least wall time it can take.
busy_ticks() { awk '/^cpu / { print $2 + $3 + $4 + $7 + $8 + $9; exit }' /proc/stat; }
CLK_TCK=$(getconf CLK_TCK)
cpu_s() { awk -v a="$1" -v b="$2" -v hz="$CLK_TCK" 'BEGIN { printf "%.2f", (b - a) / hz }'; }

log "erasure: seeding the eraser ($ERASER_EVENTS events) and $ERASE_CUSTOMERS other customers (foreign key: $ERASE_FK)"
psql_q -c "CREATE DATABASE dsar_erase"
psql_at "$ERASE_URL" -c "CREATE EXTENSION pg_prewarm"
psql_at "$ERASE_URL" -f bench/erase.sql -v eraser_rows="$ERASER_EVENTS" -v n_customers="$ERASE_CUSTOMERS" \
  -v other_events="$ERASE_OTHER_EVENTS" -v with_fk="$ERASE_FK" >&2
strategy=
if [ "$(psql_q -c "SHOW server_version_num")" -ge 150000 ]; then strategy=" STRATEGY = FILE_COPY"; fi
psql_q -c "CREATE DATABASE dsar_erase_bare TEMPLATE dsar_erase$strategy"
psql_q -c "CREATE DATABASE dsar_erase_keyed TEMPLATE dsar_erase$strategy"

# The eraser's rows, live and quarantined, in the database at URL $1.
ERASER_ID=$(psql_at "$ERASE_URL" -c "SELECT customer_id FROM erase.customers WHERE email = '$ERASER'")
live_rows() {
  psql_at "$1" -c "SELECT (SELECT count(*) FROM erase.customers WHERE customer_id = $ERASER_ID)
                        + (SELECT count(*) FROM erase.events WHERE customer_id = $ERASER_ID)"
}
# Rows, not entries: a quarantined batch is one entry (a bundle) that says how many rows it holds.
quarantined_rows() { psql_at "$1" -c "SELECT coalesce(sum(coalesce(sealed_rows, 1)), 0) FROM dsar.quarantine"; }
# The same state before each measurement: nothing dirty left by the previous one, and the erase
# schema's tables and indexes read into shared buffers in the same order.
settle() {
  psql_at "$1" -c "CHECKPOINT" -c "SELECT count(pg_prewarm(c.oid)) FROM pg_class c
    JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = 'erase' AND c.relkind IN ('r', 'i')" >/dev/null
  settle_disk
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

# Run the SQL on stdin against the copy `$1` (settled first), as the eraser (`:id`); check none
# of the eraser's rows is left (the copy stays: nothing is deleted while the bench measures),
# and set TIMED_S to how long the SQL took, TIMED_CPU_S to the CPU the machine spent meanwhile.
timed_erasure() { # url database label
  local a b ta tb
  settle "$1"
  ta=$(busy_ticks)
  a=$(date +%s.%N)
  psql_at "$1" -v id="$ERASER_ID" >/dev/null
  b=$(date +%s.%N)
  tb=$(busy_ticks)
  TIMED_S=$(elapsed "$a" "$b")
  TIMED_CPU_S=$(cpu_s "$ta" "$tb")
  erase_check "live after the $3" 0 "$(live_rows "$1")"
  log "  $TIMED_S s, $TIMED_CPU_S s of CPU (the machine's, every core)"
}

log "erasure: bare DELETE of the eraser's rows (one transaction)"
timed_erasure "$BARE_URL" dsar_erase_bare "bare DELETE" <<'SQL'
BEGIN;
DELETE FROM erase.events WHERE customer_id = :id;
DELETE FROM erase.customers WHERE customer_id = :id;
COMMIT;
SQL
BARE_S=$TIMED_S
BARE_CPU_S=$TIMED_CPU_S

# The floor of an erasure by plan: the eraser's keys collected in batches of the default
# batch_rows, then the same rows deleted by those keys, a batch per transaction, every column
# returned as text, as dsar's batches take them, and nothing else (no sealing, no quarantine, no
# client work). A bare DELETE by customer reads one index range; by keys, each row is an index
# probe and its RETURNING row is kept and rendered. (The heredoc expands $DEFAULT_BATCH_ROWS:
# the DO block's dollar quotes are escaped.)
log "erasure: keyed DELETE … RETURNING of the eraser's rows, $DEFAULT_BATCH_ROWS keys per transaction"
timed_erasure "$(server_url dsar_erase_keyed)" dsar_erase_keyed "keyed DELETEs" <<SQL
CREATE TEMP TABLE batches AS
  SELECT batch, array_agg(event_id) AS ids
  FROM (SELECT event_id, (row_number() OVER (ORDER BY event_id) - 1) / $DEFAULT_BATCH_ROWS AS batch
        FROM erase.events WHERE customer_id = :id) k
  GROUP BY batch;
DO \$\$
DECLARE keys bigint[]; n bigint;
BEGIN
  FOR keys IN SELECT ids FROM batches ORDER BY batch LOOP
    WITH gone AS (
      DELETE FROM erase.events t0 WHERE t0.event_id = ANY (keys)
      RETURNING t0.event_id::text, t0.customer_id::text, t0.occurred_at::text, t0.kind::text, t0.payload::text)
    SELECT count(*) INTO n FROM gone;
    COMMIT;
  END LOOP;
END \$\$;
DELETE FROM erase.customers WHERE customer_id = :id
  RETURNING customer_id::text, email::text, full_name::text, created_at::text;
SQL
KEYED_S=$TIMED_S
KEYED_CPU_S=$TIMED_CPU_S

log "erasure: dsar delete of the eraser (quarantine)"
settle "$ERASE_URL"
export ERASE_DATABASE_URL=$ERASE_URL
ta=$(busy_ticks)
a=$(date +%s.%N)
/usr/bin/time -f '%M %U %S' -o "$WORK/rss" \
  "$DSAR" --config "$WORK/erase.toml" --state-dir "$WORK/state" delete --subject "email=$ERASER" \
  --yes --quiet --json >"$WORK/delete.json" || { log "erasure: dsar delete failed (exit $?)"; exit 1; }
b=$(date +%s.%N)
tb=$(busy_ticks)
ERASE_S=$(elapsed "$a" "$b")
ERASE_CPU_S=$(cpu_s "$ta" "$tb")
read -r ERASE_RSS erase_user erase_sys < <(tail -1 "$WORK/rss")
ERASE_OWN_CPU_S=$(awk -v u="$erase_user" -v s="$erase_sys" 'BEGIN { printf "%.2f", u + s }')
REQUEST_ID=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["request_id"])' "$WORK/delete.json")
erase_check "dsar delete's --json counts" "$ERASE_ROWS" "$(json_rows "$WORK/delete.json")"
erase_check "live after dsar delete" 0 "$(live_rows "$ERASE_URL")"
erase_check "in dsar.quarantine after dsar delete" "$ERASE_ROWS" "$(quarantined_rows "$ERASE_URL")"
log "  $ERASE_S s, $ERASE_CPU_S s of CPU ($ERASE_OWN_CPU_S s of it dsar's), peak RSS $ERASE_RSS KiB (request $REQUEST_ID)"

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

# --- wide rows -------------------------------------------------------------------------------
# Memory when rows are wide: one subject owning WIDE_ROWS documents of ~50 KB each (uncompressed
# text, stored out of line) is deleted and restored with the default batch_rows. A batch holds
# about 1 MiB of rows (the plan sizes its chunks by the first rows' size) and a restore range
# at most two bundles, so peak RSS stays under 64 MiB; by rows alone this took 314 MiB
# (delete) and 578 MiB (restore). The rows are checked to come back exactly (an md5 of them).
if [ "$MODE" = quick ]; then WIDE_ROWS=300; else WIDE_ROWS=3000; fi
log "wide rows: $WIDE_ROWS documents of ~50 KB, deleted and restored"
psql_q -c "CREATE DATABASE dsar_wide"
WIDE_URL=$(server_url dsar_wide)
psql_at "$WIDE_URL" -v n="$WIDE_ROWS" >/dev/null <<'SQL'
CREATE EXTENSION pg_prewarm;
CREATE SCHEMA erase; -- empty: settle() reads the erase schema's tables into the buffers
CREATE TABLE docs (doc_id bigint PRIMARY KEY, email text NOT NULL, body text NOT NULL);
ALTER TABLE docs ALTER COLUMN body SET STORAGE EXTERNAL;
INSERT INTO docs
SELECT g, CASE WHEN g <= :n THEN 'wide@example.com' ELSE 'other' || g || '@example.com' END,
       (SELECT string_agg(md5(g::text || '.' || i::text), '') FROM generate_series(1, 1600) i)
FROM generate_series(1, :n + 100) g;
CREATE INDEX ON docs (email);
VACUUM ANALYZE docs;
SQL
wide_digest() { psql_at "$WIDE_URL" -c "SELECT count(*) || ' ' || coalesce(md5(string_agg(body, '' ORDER BY doc_id)), '') FROM docs WHERE email = 'wide@example.com'"; }
WIDE_BEFORE=$(wide_digest)
cat >"$WORK/wide.toml" <<'TOML'
[settings]
recovery_recipients_file = "recovery.txt"
[subject]
keys = ["email"]
[[sources]]
name = "wide"
kind = "postgres"
url = "env:WIDE_DATABASE_URL"
[[sources.tables]]
table = "public.docs"
match = { email = "email" }
on_delete = "quarantine"
TOML
settle "$WIDE_URL"
WIDE_DATABASE_URL=$WIDE_URL /usr/bin/time -f %M -o "$WORK/rss" "$DSAR" --config "$WORK/wide.toml" \
  --state-dir "$WORK/state" delete --subject "email=wide@example.com" --yes --quiet --json >"$WORK/wide.json" ||
  { log "wide rows: dsar delete failed (exit $?)"; exit 1; }
WIDE_ERASE_RSS=$(tail -1 "$WORK/rss")
erase_check "wide rows live after dsar delete" "0 " "$(wide_digest)"
WIDE_REQUEST=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["request_id"])' "$WORK/wide.json")
WIDE_DATABASE_URL=$WIDE_URL /usr/bin/time -f %M -o "$WORK/rss" "$DSAR" --config "$WORK/wide.toml" \
  --state-dir "$WORK/state" restore --request "$WIDE_REQUEST" --identity "$WORK/recovery.key" --quiet --json >/dev/null ||
  { log "wide rows: dsar restore failed (exit $?)"; exit 1; }
WIDE_RESTORE_RSS=$(tail -1 "$WORK/rss")
erase_check "wide rows after dsar restore (count and md5)" "$WIDE_BEFORE" "$(wide_digest)"
log "  delete peak RSS $WIDE_ERASE_RSS KiB, restore peak RSS $WIDE_RESTORE_RSS KiB"

# --- erasure register -------------------------------------------------------------------------
# `dsar check --erased` after a restore from backup: a copy of the erase database is taken (the
# backup), an ordinary customer is deleted with events matched straight by customer_id (so the
# register names erase.events, with its 1M+ rows), and the check then runs against the copy,
# where that customer is live again. It reads customers and events once each, in keyset pages,
# hashing every customer_id and email; memory holds the register's hashes and one page. The
# baseline: COPY of the same columns to /dev/null.
log "register: dsar check --erased over the erase tables of a restored backup"
REG_URL=$(server_url dsar_register_backup)
psql_q -c "CREATE DATABASE dsar_register_backup TEMPLATE dsar_erase$strategy"
sed 's/^via = { table = "erase.customers".*$/match = { customer_id = "customer_id" }/' "$WORK/erase.toml" >"$WORK/register.toml"
REG_ID=$(psql_at "$ERASE_URL" -c "SELECT min(customer_id) FROM erase.customers WHERE customer_id <> $ERASER_ID")
ERASE_DATABASE_URL=$ERASE_URL "$DSAR" --config "$WORK/register.toml" --state-dir "$WORK/state" \
  delete --subject "customer_id=$REG_ID" --yes --quiet || { log "register: dsar delete failed (exit $?)"; exit 1; }
REG_OWNED=$(psql_at "$REG_URL" -c "SELECT (SELECT count(*) FROM erase.customers WHERE customer_id = $REG_ID)
                                        + (SELECT count(*) FROM erase.events WHERE customer_id = $REG_ID)")
REG_SCANNED=$(psql_at "$REG_URL" -c "SELECT (SELECT count(*) FROM erase.customers) + (SELECT count(*) FROM erase.events)")
settle "$REG_URL"
a=$(date +%s.%N)
set +e
ERASE_DATABASE_URL=$REG_URL /usr/bin/time -f %M -o "$WORK/rss" \
  "$DSAR" --config "$WORK/register.toml" --state-dir "$WORK/state" check --erased --json >"$WORK/check_erased.json" 2>"$WORK/check_erased.err"
code=$?
set -e
b=$(date +%s.%N)
[ "$code" = 3 ] || { log "register: dsar check --erased exited $code, not 3 (someone is live again)"; exit 1; }
REG_S=$(elapsed "$a" "$b")
REG_RSS=$(tail -1 "$WORK/rss")
REG_FOUND=$(python3 -c 'import json,sys; print(sum(t["rows"] for f in json.load(open(sys.argv[1]))["found"] for t in f["tables"]))' "$WORK/check_erased.json")
erase_check "rows check --erased finds live again" "$REG_OWNED" "$REG_FOUND"
settle "$REG_URL"
a=$(date +%s.%N)
psql_at "$REG_URL" -c "COPY (SELECT customer_id, email FROM erase.customers) TO STDOUT" >/dev/null
psql_at "$REG_URL" -c "COPY (SELECT event_id, customer_id FROM erase.events) TO STDOUT" >/dev/null
b=$(date +%s.%N)
REG_BASE_S=$(elapsed "$a" "$b")
log "  $REG_S s over $REG_SCANNED rows, peak RSS $REG_RSS KiB; COPY of the same columns $REG_BASE_S s"

# --- batch ------------------------------------------------------------------------------------
# `dsar export --subjects-file` of $BATCH_SUBJECTS ordinary users (user3.. of seed.sql, a handful of
# rows each) in batches of $BATCH_SIZE, against one COPY per table of the same rows | gzip | age
# (bench/batch_baseline.sql); then `dsar delete --subjects-file` of the same users (one request,
# quarantine) against a bare DELETE of the same rows in one transaction (bench/batch_delete.sql),
# each on its own copy of the bench database made after the export, after the same CHECKPOINT and
# pg_prewarm. Each runs once (the export writes one archive per subject; erasing is destructive).
# pg_stat_statements (tracking switched on here and reset before each dsar run) counts the
# statements: the export must run each table's SELECT once per batch, and delete's capture one
# INSERT ... SELECT per table for the whole request (and one more for its completion check).
if [ "$MODE" = quick ]; then BATCH_SUBJECTS=1000; else BATCH_SUBJECTS=10000; fi
BATCH_SIZE=100
N_TABLES=$(wc -w <<<"$TABLES")
BATCHES=$(( (BATCH_SUBJECTS + BATCH_SIZE - 1) / BATCH_SIZE ))
SUBJECTS_CSV=$WORK/subjects.csv
{ echo email; for i in $(seq 3 $((BATCH_SUBJECTS + 2))); do echo "user$i@example.com"; done; } >"$SUBJECTS_CSV"
BATCH_DEL_URL=$(server_url dsar_batch_delete)
BATCH_BARE_URL=$(server_url dsar_batch_bare)
settle_bench() {
  psql_at "$1" -c "CHECKPOINT" -c "SELECT count(pg_prewarm(c.oid)) FROM pg_class c
    JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = 'bench' AND c.relkind IN ('r', 'i')" >/dev/null
  settle_disk
}
batch_check() { # label expected got
  if [ "$2" != "$3" ]; then
    log "batch: $1: expected $2, got $3"
    exit 1
  fi
}
stats_reset() { psql_q -c "SELECT pg_stat_statements_reset()" >/dev/null; }
# Sum of calls of the statements run in database $1 whose text matches the LIKE pattern $2.
stmt_calls() { # db like-pattern [not-like-pattern]
  psql_q -v db="$1" -v pat="$2" -v not="${3:-}" <<'SQL'
SELECT coalesce(sum(s.calls), 0) FROM pg_stat_statements s JOIN pg_database d ON d.oid = s.dbid
WHERE d.datname = :'db' AND s.query LIKE :'pat' AND (:'not' = '' OR s.query NOT LIKE :'not');
SQL
}
bench_total_rows() { psql_at "$1" -c "SELECT ${count_sql}0"; }
psql_q -c "ALTER SYSTEM SET pg_stat_statements.track = 'top'" -c "SELECT pg_reload_conf()" >/dev/null

BATCH_ROWS=$(psql -X -q -v ON_ERROR_STOP=1 -f bench/batch_baseline.sql "$BENCH_DATABASE_URL" <"$SUBJECTS_CSV" | wc -l)
log "batch: $BATCH_SUBJECTS subjects own $BATCH_ROWS rows; $BATCHES batches of $BATCH_SIZE"

log "batch: dsar export --subjects-file ($BATCH_SUBJECTS subjects, --batch-size $BATCH_SIZE)"
# One timed `dsar export --subjects-file` of the batch's subjects: state dir $1, out dir $2,
# --batch-size $3, --json to $4; sets LAST_S and LAST_RSS (KiB). The caller settles the server.
batch_export() {
  local a b
  mkdir -p "$2"
  a=$(date +%s.%N)
  /usr/bin/time -f %M -o "$WORK/rss" \
    "$DSAR" --config "$CONFIG" --state-dir "$1" export --subjects-file "$SUBJECTS_CSV" \
    --batch-size "$3" --out "$2" --quiet --json --recipients-file "$WORK/recipients.txt" \
    >"$4" || { log "batch: dsar export --batch-size $3 failed (exit $?)"; exit 1; }
  b=$(date +%s.%N)
  LAST_S=$(elapsed "$a" "$b")
  LAST_RSS=$(tail -1 "$WORK/rss")
}
settle_bench "$BENCH_DATABASE_URL"
stats_reset
batch_export "$WORK/state" "$WORK/out" "$BATCH_SIZE" "$WORK/batch_export.json"
BATCH_EXPORT_S=$LAST_S
BATCH_EXPORT_RSS=$LAST_RSS
DB=${BENCH_DATABASE_URL##*/}
# Per table: the calls of its export SELECT (the statement reading the table as t0; parents in
# its conditions and joins are t1 and further); identity expansion (email -> user_id) reads
# users as t0 too, but returns only the two keys as text.
per_table=()
export_selects=0
for t in $TABLES; do
  c=$(stmt_calls "$DB" "SELECT %FROM \"bench\".\"$t\" t0 %" '%, t0."email"::text, t0."user_id"::text FROM%')
  per_table+=("$t=$c")
  export_selects=$((export_selects + c))
done
BATCH_EXPORT_STATEMENTS=$(psql_q -v db="$DB" <<'SQL'
SELECT coalesce(sum(s.calls), 0) FROM pg_stat_statements s JOIN pg_database d ON d.oid = s.dbid
WHERE d.datname = :'db' AND s.query NOT LIKE '%pg_stat_statements%';
SQL
)
psql_q -v db="$DB" >"$WORK/batch_export_statements.txt" <<'SQL'
SELECT s.calls || E'\t' || s.rows || E'\t' || left(regexp_replace(s.query, '\s+', ' ', 'g'), 160)
FROM pg_stat_statements s JOIN pg_database d ON d.oid = s.dbid
WHERE d.datname = :'db' AND s.query NOT LIKE '%pg_stat_statements%' ORDER BY s.calls DESC, s.query;
SQL
batch_check "dsar export's --json counts" "$BATCH_ROWS" "$(json_rows "$WORK/batch_export.json")"
batch_check "completed requests in dsar export's --json" "$BATCH_SUBJECTS" \
  "$(python3 -c 'import json,sys; print(sum(r["state"] == "completed" for r in json.load(open(sys.argv[1]))["requests"]))' "$WORK/batch_export.json")"
batch_check "archives written" "$BATCH_SUBJECTS" "$(find "$WORK/out" -name '*.zip.age' | wc -l)"
log "  $BATCH_EXPORT_S s, peak RSS $BATCH_EXPORT_RSS KiB; export SELECTs per table: ${per_table[*]}; $BATCH_EXPORT_STATEMENTS statements in all:"
sed 's/^/bench:     /' "$WORK/batch_export_statements.txt" >&2
track_statements=$(psql_q -c "SHOW pg_stat_statements.track")
batch_check "pg_stat_statements.track" top "$track_statements"
# The claim itself: one export SELECT per table per batch, never one per subject.
for entry in "${per_table[@]}"; do
  batch_check "export SELECTs of table ${entry%%=*} (one per batch)" "$BATCHES" "${entry#*=}"
done

log "batch: baseline COPY | gzip | age of the same rows"
settle_bench "$BENCH_DATABASE_URL"
a=$(date +%s.%N)
psql -X -q -v ON_ERROR_STOP=1 -f bench/batch_baseline.sql "$BENCH_DATABASE_URL" <"$SUBJECTS_CSV" \
  | gzip | age -r "$RECIPIENT" >/dev/null
b=$(date +%s.%N)
BATCH_COPY_S=$(elapsed "$a" "$b")
log "  $BATCH_COPY_S s"

# The two copies for the erasure: no session may be connected to the template.
psql_q -c "CREATE DATABASE dsar_batch_delete TEMPLATE $DB$strategy" -c "CREATE DATABASE dsar_batch_bare TEMPLATE $DB$strategy"
BENCH_TOTAL=$(bench_total_rows "$BATCH_DEL_URL")
batch_check "rows in the bare-DELETE copy" "$BENCH_TOTAL" "$(bench_total_rows "$BATCH_BARE_URL")"

log "batch: bare DELETE of the same rows (one transaction)"
settle_bench "$BATCH_BARE_URL"
a=$(date +%s.%N)
psql -X -q -v ON_ERROR_STOP=1 -f bench/batch_delete.sql "$BATCH_BARE_URL" <"$SUBJECTS_CSV"
b=$(date +%s.%N)
BATCH_BARE_S=$(elapsed "$a" "$b")
batch_check "rows removed by the bare DELETE" "$BATCH_ROWS" "$((BENCH_TOTAL - $(bench_total_rows "$BATCH_BARE_URL")))"
log "  $BATCH_BARE_S s"

log "batch: dsar delete --subjects-file ($BATCH_SUBJECTS subjects, one request, quarantine)"
# The bench map with the recovery recipients delete needs, next to $WORK/recovery.txt.
{ printf '[settings]\nrecovery_recipients_file = "recovery.txt"\n\n'; cat bench/sources.toml; } >"$WORK/batch.toml"
settle_bench "$BATCH_DEL_URL"
stats_reset
a=$(date +%s.%N)
BENCH_DATABASE_URL=$BATCH_DEL_URL /usr/bin/time -f %M -o "$WORK/rss" \
  "$DSAR" --config "$WORK/batch.toml" --state-dir "$WORK/state" delete --subjects-file "$SUBJECTS_CSV" \
  --yes --quiet --json >"$WORK/batch_delete.json" || { log "batch: dsar delete failed (exit $?)"; exit 1; }
b=$(date +%s.%N)
BATCH_DELETE_S=$(elapsed "$a" "$b")
BATCH_DELETE_RSS=$(tail -1 "$WORK/rss")
batch_check "dsar delete's --json counts" "$BATCH_ROWS" "$(json_rows "$WORK/batch_delete.json")"
batch_check "rows removed by dsar delete" "$BATCH_ROWS" "$((BENCH_TOTAL - $(bench_total_rows "$BATCH_DEL_URL")))"
batch_check "in dsar.quarantine after dsar delete" "$BATCH_ROWS" "$(quarantined_rows "$BATCH_DEL_URL")"
# Capture: one INSERT INTO a pending temp table per table; then the quarantined DELETE ... RETURNING
# batches, ceil(rows / batch_rows) per table (batch_rows: the default).
CAPTURE_STATEMENTS=$(stmt_calls dsar_batch_delete 'INSERT INTO pg_temp.%SELECT%FROM "bench".%')
DELETE_STATEMENTS=$(stmt_calls dsar_batch_delete 'DELETE FROM "bench".%')
EXPECTED_DELETES=$(python3 -c 'import json,sys; print(sum(-(-c["rows"] // int(sys.argv[2])) for c in json.load(open(sys.argv[1]))["counts"]))' "$WORK/batch_delete.json" "$DEFAULT_BATCH_ROWS")
psql_q >"$WORK/batch_delete_statements.txt" <<'SQL'
SELECT s.calls || E'\t' || s.rows || E'\t' || left(regexp_replace(s.query, '\s+', ' ', 'g'), 160)
FROM pg_stat_statements s JOIN pg_database d ON d.oid = s.dbid
WHERE d.datname = 'dsar_batch_delete' AND s.query ~ '^(INSERT|DELETE|SELECT \(CASE)' ORDER BY s.calls DESC, s.query;
SQL
log "  $BATCH_DELETE_S s, peak RSS $BATCH_DELETE_RSS KiB; capture statements $CAPTURE_STATEMENTS, DELETE statements $DELETE_STATEMENTS (ceil(rows/$DEFAULT_BATCH_ROWS) per table: $EXPECTED_DELETES):"
sed 's/^/bench:     /' "$WORK/batch_delete_statements.txt" >&2
# One capture per table for all subjects, and one DELETE per batch of rows: never one per subject.
# The capture runs twice per table: the plan, then the completion check after the last batch
# (what appeared meanwhile), which finds nothing here.
batch_check "capture statements (plan and completion check, per table)" "$((2 * N_TABLES))" "$CAPTURE_STATEMENTS"
batch_check "DELETE statements (one per batch of rows)" "$EXPECTED_DELETES" "$DELETE_STATEMENTS"

# The batch export's memory whatever --batch-size: the same subjects again in one batch (the
# largest --batch-size, all of them), into a state dir and an out dir of their own (after every
# timed measurement: its 10,000 files are not deleted while the bench measures, see above).
BIG_BATCH=$BATCH_SUBJECTS
log "batch: dsar export --subjects-file in one batch (--batch-size $BIG_BATCH): peak RSS"
settle_bench "$BENCH_DATABASE_URL"
batch_export "$WORK/state_one_batch" "$WORK/out_one_batch" "$BIG_BATCH" "$WORK/batch_export_one.json"
BIG_BATCH_S=$LAST_S
BIG_BATCH_RSS=$LAST_RSS
batch_check "dsar export's --json counts (one batch)" "$BATCH_ROWS" "$(json_rows "$WORK/batch_export_one.json")"
batch_check "archives written (one batch)" "$BATCH_SUBJECTS" "$(find "$WORK/out_one_batch" -name '*.zip.age' | wc -l)"
log "  $BIG_BATCH_S s, peak RSS $BIG_BATCH_RSS KiB"

# --- MariaDB and SQLite -------------------------------------------------------------------------
# The export and erasure figures on the other kinds, against their own baselines (see the script;
# MariaDB runs on its own throwaway server, started there).
log "other kinds: MariaDB and SQLite (bench/other_kinds.sh)"
DSAR=$DSAR WORK=$WORK MODE=$MODE bash bench/other_kinds.sh >"$WORK/kinds.txt"

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
# The archive holds index.html and its pages too (rendered while rows stream): still flat.
figure whale_peak_rss_under_64_mib "$([ "$WHALE_RSS" -lt 65536 ] && echo yes || echo no)"
figure whale_archive_bytes "$WHALE_BYTES"
figure baseline_copy_gzip_age_s "$BASELINE_S"
figure baseline_bytes "$BASELINE_BYTES"
figure whale_vs_baseline_ratio "$(ratio "$WHALE_S" "$BASELINE_S")"
figure baseline_raw_copy_s "$RAW_COPY_S"
figure whale_vs_raw_copy_ratio "$(ratio "$WHALE_S" "$RAW_COPY_S")"
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
figure keyed_delete_floor_s "$KEYED_S"
figure keyed_delete_floor_vs_bare_delete_ratio "$(ratio "$KEYED_S" "$BARE_S")"
figure erase_vs_keyed_delete_floor_ratio "$(ratio "$ERASE_S" "$KEYED_S")"
figure baseline_bare_delete_cpu_s "$BARE_CPU_S"
figure keyed_delete_floor_cpu_s "$KEYED_CPU_S"
figure erase_quarantine_cpu_s "$ERASE_CPU_S"
figure erase_quarantine_dsar_cpu_s "$ERASE_OWN_CPU_S"
figure erase_cpu_vs_bare_delete_cpu_ratio "$(ratio "$ERASE_CPU_S" "$BARE_CPU_S")"
figure wide_rows "$WIDE_ROWS"
figure wide_erase_peak_rss_kb "$WIDE_ERASE_RSS"
figure wide_restore_peak_rss_kb "$WIDE_RESTORE_RSS"
figure wide_peak_rss_under_64_mib "$([ "$WIDE_ERASE_RSS" -lt 65536 ] && [ "$WIDE_RESTORE_RSS" -lt 65536 ] && echo yes || echo no)"
figure restore_s "$RESTORE_S"
figure restore_rows_per_s "$(awk -v r="$ERASE_ROWS" -v s="$RESTORE_S" 'BEGIN { printf "%.0f", r / s }')"
figure register_scan_rows "$REG_SCANNED"
figure register_scan_s "$REG_S"
figure register_scan_peak_rss_kb "$REG_RSS"
figure register_scan_peak_rss_under_64_mib "$([ "$REG_RSS" -lt 65536 ] && echo yes || echo no)"
figure baseline_copy_match_columns_s "$REG_BASE_S"
figure register_scan_vs_copy_ratio "$(ratio "$REG_S" "$REG_BASE_S")"
figure batch_subjects "$BATCH_SUBJECTS"
figure batch_size "$BATCH_SIZE"
figure batch_export_s "$BATCH_EXPORT_S"
figure batch_export_rows "$BATCH_ROWS"
figure batch_export_rows_per_s "$(awk -v r="$BATCH_ROWS" -v s="$BATCH_EXPORT_S" 'BEGIN { printf "%.0f", r / s }')"
figure batch_export_peak_rss_kb "$BATCH_EXPORT_RSS"
figure batch_export_one_batch_size "$BIG_BATCH"
figure batch_export_one_batch_s "$BIG_BATCH_S"
figure batch_export_one_batch_peak_rss_kb "$BIG_BATCH_RSS"
figure batch_export_peak_rss_under_64_mib "$([ "$BATCH_EXPORT_RSS" -lt 65536 ] && [ "$BIG_BATCH_RSS" -lt 65536 ] && echo yes || echo no)"
figure batch_baseline_copy_gzip_age_s "$BATCH_COPY_S"
figure batch_export_vs_copy_ratio "$(ratio "$BATCH_EXPORT_S" "$BATCH_COPY_S")"
figure batch_export_select_statements "$export_selects"
figure batch_export_statements_per_table_per_batch "$(awk -v c="$export_selects" -v t="$N_TABLES" -v b="$BATCHES" 'BEGIN { printf "%.2f", c / (t * b) }')"
figure batch_export_statements_total "$BATCH_EXPORT_STATEMENTS"
figure batch_delete_s "$BATCH_DELETE_S"
figure batch_delete_rows "$BATCH_ROWS"
figure batch_delete_rows_per_s "$(awk -v r="$BATCH_ROWS" -v s="$BATCH_DELETE_S" 'BEGIN { printf "%.0f", r / s }')"
figure batch_delete_peak_rss_kb "$BATCH_DELETE_RSS"
figure batch_baseline_bare_delete_s "$BATCH_BARE_S"
figure batch_delete_vs_bare_delete_ratio "$(ratio "$BATCH_DELETE_S" "$BATCH_BARE_S")"
figure batch_delete_capture_statements "$CAPTURE_STATEMENTS"
figure batch_delete_capture_statements_per_table "$(ratio "$CAPTURE_STATEMENTS" "$N_TABLES")"
figure batch_delete_delete_statements "$DELETE_STATEMENTS"
figure batch_delete_delete_statements_expected "$EXPECTED_DELETES"
cat "$WORK/kinds.txt"
