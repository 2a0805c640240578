#!/usr/bin/env bash
# The export and erasure figures of bench/run.sh on MariaDB and SQLite, each against its own
# baseline measured in the same run: `mariadb --batch -e 'SELECT …' | gzip | age` and
# `sqlite3 -csv … | gzip | age` for the export of one subject who owns many rows, and a bare
# `DELETE` of the same rows in one transaction for `dsar delete` (quarantine); `dsar restore`
# is timed after it. The schema is bench/erase.sql's, written for each kind (customers, and
# events with a foreign key to them), and the map is bench/erase.toml with kind and table names
# changed. Row counts are checked at every step, so a fast wrong answer fails.
#
# Run by bench/run.sh (not on its own), with DSAR, WORK (holding recipients.txt, recovery.txt
# and recovery.key) and MODE set; DSAR_BENCH_KINDS="mysql sqlite" (the default) says which.
# Prints `name: value` lines on stdout, the rest on stderr.
set -euo pipefail
cd "$(dirname "$0")/.."
: "${DSAR:?} ${WORK:?} ${MODE:?}"

if [ "$MODE" = quick ]; then EVENTS=25000 CUSTOMERS=2000; else EVENTS=250000 CUSTOMERS=20000; fi
OTHER_EVENTS=10
RUNS=3
# The bare DELETE is timed on this many copies and its median taken: one ~0.3 s sample moved
# the SQLite ratio from 3.6x to 5.7x between runs with nothing else changed.
BARE_COPIES=3
ERASER=eraser@example.com
RECIPIENT=$(cat "$WORK/recipients.txt")

KINDS=${DSAR_BENCH_KINDS:-mysql sqlite}
want() { [[ " $KINDS " == *" $1 "* ]]; }
. bench/lib.sh
now() { date +%s.%N; }
check() { # label expected got
  if [ "$2" != "$3" ]; then
    log "$1: expected $2, got $3"
    exit 1
  fi
}
json_rows() { python3 -c 'import json,sys; print(sum(c["rows"] for c in json.load(open(sys.argv[1]))["counts"]))' "$1"; }

# The map: bench/erase.toml for this kind, beside the recovery recipients it names.
map_for() { # dir kind source-lines
  mkdir -p "$1"
  cp "$WORK/recovery.txt" "$1/recovery.txt"
  python3 - "$1/erase.toml" "$2" "$3" <<'PY'
import sys
path, kind, source = sys.argv[1:]
text = open("bench/erase.toml").read()
text = text.replace('"erase.', '"')
assert '"erase.' not in text and 'kind = "postgres"\nurl = "env:ERASE_DATABASE_URL"' in text
text = text.replace('kind = "postgres"\nurl = "env:ERASE_DATABASE_URL"', f'kind = "{kind}"\n{source}')
open(path, "w").write(text)
PY
}

# One kind: $1 name, then functions sql_live (prints the eraser's live rows in `main` or
# `bareN`), warm (reads `main` or `bareN` into the server's cache), baseline_export,
# bare_delete N (on copy N), fresh_main (makes `main` as seeded again), DSAR_DELETES (how many
# dsar deletes to time, the median taken: each after fresh_main but the first) and DSAR_ENV
# (the variables dsar needs) set by the caller. The restore is timed after the last delete.
measure_kind() {
  local kind=$1 dir=$2 a b
  local expected
  expected=$(sql_live main)
  log "$kind: the eraser owns $expected rows"
  # Each measurement starts with nothing dirty in the page cache (`sync`): seeding and the
  # measurement before leave writeback that would compete with the fsyncs of the next.
  # export: dsar and baseline interleaved, $RUNS each, after one untimed run of each
  local times=() btimes=() rss=() rows
  sync
  for run in $(seq 0 "$RUNS"); do
    a=$(now)
    env "${DSAR_ENV[@]}" /usr/bin/time -f %M -o "$dir/rss" "$DSAR" --config "$dir/erase.toml" --state-dir "$dir/state" \
      export --subject "email=$ERASER" --out "$dir/out" --quiet --json --recipients-file "$WORK/recipients.txt" >"$dir/export.json"
    b=$(now)
    rows=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["requests"][0]["rows"])' "$dir/export.json")
    check "$kind: rows dsar exported" "$expected" "$rows"
    rm -f "$dir/out"/*.zip.age
    [ "$run" = 0 ] || { times+=("$(elapsed "$a" "$b")"); rss+=("$(tail -1 "$dir/rss")"); }
    a=$(now)
    baseline_export | gzip | age -r "$RECIPIENT" >/dev/null
    b=$(now)
    [ "$run" = 0 ] || btimes+=("$(elapsed "$a" "$b")")
  done
  # The baseline prints a header line per table (two) above the rows.
  check "$kind: lines of the baseline export" "$((expected + 2))" "$(baseline_export | grep -c .)"
  local export_s baseline_s
  export_s=$(median "${times[@]}")
  baseline_s=$(median "${btimes[@]}")
  log "  export: dsar ${times[*]} s (peak RSS ${rss[*]} KiB); baseline ${btimes[*]} s"

  # erasure: a bare DELETE on each copy (the median), then dsar delete and restore on the main
  # database
  local bare_times=() copy
  for copy in $(seq "$BARE_COPIES"); do
    warm "bare$copy"
    sync
    a=$(now)
    bare_delete "$copy"
    b=$(now)
    bare_times+=("$(elapsed "$a" "$b")")
    check "$kind: live after the bare DELETE on copy $copy" 0 "$(sql_live "bare$copy")"
  done
  local bare_s
  bare_s=$(median "${bare_times[@]}")
  local erase_times=() erase_rss=0 run_rss run
  for run in $(seq "$DSAR_DELETES"); do
    [ "$run" = 1 ] || fresh_main
    warm main
    sync
    a=$(now)
    env "${DSAR_ENV[@]}" /usr/bin/time -f %M -o "$dir/rss" "$DSAR" --config "$dir/erase.toml" --state-dir "$dir/state$run" \
      delete --subject "email=$ERASER" --yes --quiet --json >"$dir/delete.json" || { log "$kind: dsar delete failed (exit $?)"; exit 1; }
    b=$(now)
    erase_times+=("$(elapsed "$a" "$b")")
    run_rss=$(tail -1 "$dir/rss")
    [ "$run_rss" -le "$erase_rss" ] || erase_rss=$run_rss
    check "$kind: dsar delete's --json counts" "$expected" "$(json_rows "$dir/delete.json")"
    check "$kind: live after dsar delete" 0 "$(sql_live main)"
  done
  local erase_s request
  erase_s=$(median "${erase_times[@]}")
  request=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["request_id"])' "$dir/delete.json")
  sync
  a=$(now)
  env "${DSAR_ENV[@]}" "$DSAR" --config "$dir/erase.toml" --state-dir "$dir/state$DSAR_DELETES" restore --request "$request" \
    --identity "$WORK/recovery.key" --quiet --json >"$dir/restore.json" || { log "$kind: dsar restore failed (exit $?)"; exit 1; }
  b=$(now)
  local restore_s
  restore_s=$(elapsed "$a" "$b")
  check "$kind: dsar restore's --json counts" "$expected" "$(json_rows "$dir/restore.json")"
  check "$kind: live after dsar restore" "$expected" "$(sql_live main)"
  log "  delete $erase_s s (${erase_times[*]}; peak RSS $erase_rss KiB), bare DELETE $bare_s s (${bare_times[*]}), restore $restore_s s"

  figure "${kind}_export_rows" "$expected"
  figure "${kind}_export_s" "$export_s"
  figure "${kind}_export_peak_rss_kb" "$(printf '%s\n' "${rss[@]}" | sort -g | tail -1)"
  figure "${kind}_baseline_export_s" "$baseline_s"
  figure "${kind}_export_vs_baseline_ratio" "$(ratio "$export_s" "$baseline_s")"
  figure "${kind}_erase_rows" "$expected"
  figure "${kind}_erase_quarantine_s" "$erase_s"
  figure "${kind}_erase_peak_rss_kb" "$erase_rss"
  figure "${kind}_baseline_bare_delete_s" "$bare_s"
  figure "${kind}_erase_vs_bare_delete_ratio" "$(ratio "$erase_s" "$bare_s")"
  figure "${kind}_restore_s" "$restore_s"
  figure "${kind}_restore_vs_erase_ratio" "$(ratio "$restore_s" "$erase_s")"
}

# --- MariaDB ----------------------------------------------------------------------------------
MY_DIR=
cleanup() { if [ -n "$MY_DIR" ]; then scripts/server.sh down "$MY_DIR" || true; fi; }
trap cleanup EXIT
if want mysql; then
eval "$(scripts/server.sh up mariadb)"
MY_DIR=$MYSQLTEST_DIR
hostport=${MYSQL_URL#*@}
hostport=${hostport%%/*}
MY_HOST=${hostport%:*} MY_PORT=${hostport##*:}
my() { mariadb --protocol=tcp -h "$MY_HOST" -P "$MY_PORT" -u root "$@"; }
# Each copy is 60-odd MB of InnoDB pages: with the default 128 MB buffer pool the bare DELETEs
# on the later copies evicted (and wrote out) the earlier copies' pages and took 1.2-1.7 s
# where one copy alone takes 0.7 s. A pool that holds them all, as a production server's is
# sized to its working set (the server grows it in the background, before the seeding ends).
my -e "SET GLOBAL innodb_buffer_pool_size = 1024 * 1024 * 1024"
seed_mysql() { # database
  my --batch <<SQL
CREATE DATABASE $1;
USE $1;
CREATE TABLE customers (customer_id BIGINT PRIMARY KEY, email VARCHAR(255) NOT NULL UNIQUE,
  full_name VARCHAR(255) NOT NULL, created_at DATETIME NOT NULL) ENGINE = InnoDB;
CREATE TABLE events (event_id BIGINT AUTO_INCREMENT PRIMARY KEY, customer_id BIGINT NOT NULL,
  occurred_at DATETIME NOT NULL, kind VARCHAR(20) NOT NULL, payload TEXT NOT NULL, KEY (customer_id),
  FOREIGN KEY (customer_id) REFERENCES customers (customer_id)) ENGINE = InnoDB;
INSERT INTO customers SELECT seq, IF(seq = 1, '$ERASER', CONCAT('customer', seq, '@example.com')),
  CONCAT('Customer Number ', seq), '2020-01-01' + INTERVAL seq * 7 MINUTE FROM seq_1_to_$((CUSTOMERS + 1));
INSERT INTO events (customer_id, occurred_at, kind, payload)
  SELECT 1, '2022-01-01' + INTERVAL seq * 5 SECOND, ELT(1 + seq % 5, 'page_view', 'click', 'search', 'add_to_cart', 'checkout'),
         CONCAT('{"path":"/products/', seq % 5000, '","ref":"campaign-', seq % 12, '","ms":', seq % 3000, '}')
  FROM seq_1_to_$EVENTS;
INSERT INTO events (customer_id, occurred_at, kind, payload)
  SELECT c.seq, '2022-01-01' + INTERVAL (c.seq * 13 + e.seq) * 5 SECOND, 'click', CONCAT('{"ref":"campaign-', e.seq, '"}')
  FROM seq_2_to_$((CUSTOMERS + 1)) c, seq_1_to_$OTHER_EVENTS e;
ANALYZE TABLE customers, events;
SQL
}
log "mariadb: seeding $((BARE_COPIES + 1)) copies ($EVENTS events of the eraser, $CUSTOMERS other customers)"
seed_mysql erase_main >/dev/null
for copy in $(seq "$BARE_COPIES"); do seed_mysql "erase_bare$copy" >/dev/null; done
sql_live() {
  my --batch --skip-column-names -e "SELECT (SELECT count(*) FROM customers WHERE customer_id = 1)
    + (SELECT count(*) FROM events WHERE customer_id = 1)" "erase_$1"
}
baseline_export() {
  my --batch -e "SELECT * FROM customers WHERE email = '$ERASER';
    SELECT * FROM events WHERE customer_id IN (SELECT customer_id FROM customers WHERE email = '$ERASER')" erase_main
}
# The copy about to be deleted from is read in first (its rows, and the eraser's by the index
# the DELETE takes), so what the measurements before left cached does not decide its time.
warm() {
  my --batch -e "SELECT SUM(LENGTH(payload)) FROM events; SELECT COUNT(*) FROM customers;
    SELECT COUNT(*) FROM events FORCE INDEX (customer_id) WHERE customer_id = 1" "erase_$1" >/dev/null
}
bare_delete() {
  my -e "START TRANSACTION; DELETE FROM events WHERE customer_id = 1; DELETE FROM customers WHERE customer_id = 1; COMMIT" "erase_bare$1"
}
# One dsar delete: a second would need a second seeded database under the map's name.
DSAR_DELETES=1
fresh_main() { :; }
map_for "$WORK/kinds/mysql" mysql 'url = "env:ERASE_MYSQL_URL"'
DSAR_ENV=("ERASE_MYSQL_URL=${MYSQL_URL%/*}/erase_main")
measure_kind mysql "$WORK/kinds/mysql"
scripts/server.sh down "$MY_DIR" || true
MY_DIR=
fi

# --- SQLite -----------------------------------------------------------------------------------
if want sqlite; then
LITE=$WORK/kinds/sqlite
map_for "$LITE" sqlite 'path = "erase.db"'
seed_sqlite() { # file
  sqlite3 "$1" <<SQL
CREATE TABLE customers (customer_id INTEGER PRIMARY KEY, email TEXT NOT NULL UNIQUE, full_name TEXT NOT NULL,
  created_at TEXT NOT NULL);
CREATE TABLE events (event_id INTEGER PRIMARY KEY, customer_id INTEGER NOT NULL REFERENCES customers (customer_id),
  occurred_at TEXT NOT NULL, kind TEXT NOT NULL, payload TEXT NOT NULL);
CREATE INDEX events_by_customer ON events (customer_id);
BEGIN;
WITH RECURSIVE s(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM s WHERE n < $((CUSTOMERS + 1)))
INSERT INTO customers SELECT n, CASE n WHEN 1 THEN '$ERASER' ELSE 'customer' || n || '@example.com' END,
  'Customer Number ' || n, datetime('2020-01-01', '+' || (n * 7) || ' minutes') FROM s;
WITH RECURSIVE s(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM s WHERE n < $EVENTS)
INSERT INTO events (customer_id, occurred_at, kind, payload)
  SELECT 1, datetime('2022-01-01', '+' || (n * 5) || ' seconds'),
         (CASE n % 5 WHEN 0 THEN 'page_view' WHEN 1 THEN 'click' WHEN 2 THEN 'search' WHEN 3 THEN 'add_to_cart' ELSE 'checkout' END),
         '{"path":"/products/' || (n % 5000) || '","ref":"campaign-' || (n % 12) || '","ms":' || (n % 3000) || '}' FROM s;
WITH RECURSIVE c(n) AS (SELECT 2 UNION ALL SELECT n + 1 FROM c WHERE n < $((CUSTOMERS + 1))),
     e(m) AS (SELECT 1 UNION ALL SELECT m + 1 FROM e WHERE m < $OTHER_EVENTS)
INSERT INTO events (customer_id, occurred_at, kind, payload)
  SELECT n, datetime('2022-01-01', '+' || ((n * 13 + m) * 5) || ' seconds'), 'click', '{"ref":"campaign-' || m || '"}' FROM c, e;
COMMIT;
ANALYZE;
SQL
}
log "sqlite: seeding $((BARE_COPIES + 1)) copies ($EVENTS events of the eraser, $CUSTOMERS other customers)"
seed_sqlite "$LITE/erase.db"
cp "$LITE/erase.db" "$LITE/seeded.db"
for copy in $(seq "$BARE_COPIES"); do cp "$LITE/erase.db" "$LITE/bare$copy.db"; done
# Three dsar deletes, each on the file as seeded (one ~1.4 s sample varied by a fifth).
DSAR_DELETES=3
fresh_main() { rm -f "$LITE/erase.db-journal" "$LITE/erase.db-wal"; cp "$LITE/seeded.db" "$LITE/erase.db"; }
sql_live() {
  local file=$LITE/erase.db
  [ "$1" = main ] || file=$LITE/$1.db
  sqlite3 "$file" "SELECT (SELECT count(*) FROM customers WHERE customer_id = 1) + (SELECT count(*) FROM events WHERE customer_id = 1)"
}
baseline_export() {
  sqlite3 -csv -header "$LITE/erase.db" "SELECT * FROM customers WHERE email = '$ERASER';
    SELECT * FROM events WHERE customer_id IN (SELECT customer_id FROM customers WHERE email = '$ERASER')"
}
warm() { # the file into the page cache
  local file=$LITE/erase.db
  [ "$1" = main ] || file=$LITE/$1.db
  cat "$file" >/dev/null
}
bare_delete() {
  sqlite3 "$LITE/bare$1.db" "PRAGMA foreign_keys = ON; BEGIN; DELETE FROM events WHERE customer_id = 1;
    DELETE FROM customers WHERE customer_id = 1; COMMIT;"
}
DSAR_ENV=("DSAR_BENCH=1")
measure_kind sqlite "$LITE"
fi
