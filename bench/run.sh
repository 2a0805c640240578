#!/usr/bin/env bash
# Benchmark `dsar export` against a throwaway PostgreSQL server seeded by bench/seed.sql.
#   bench/run.sh            full: ~1.3M rows in 8 tables; the whale subject owns ~251k of them
#   bench/run.sh --quick    ~10x fewer rows (a smoke run, well under a minute once dsar is built)
# Prints one figure per line as `name: value` on stdout; everything else goes to stderr.
# On Debian it installs what it uses (age, postgresql, time, python3) when run as root.
set -euo pipefail
cd "$(dirname "$0")/.."
SHARED=${DSAR_SHARED:-../shared}

MODE=full
case "${1:-}" in
  "") ;;
  --quick) MODE=quick ;;
  -h | --help) sed -n '2,6p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
  *) echo "run.sh: unknown argument $1 (usage: bench/run.sh [--quick])" >&2; exit 2 ;;
esac

if [ "$MODE" = quick ]; then
  N_USERS=5000 WHALE_ORDERS=2000 WHALE_SESSIONS=1000 WHALE_TICKETS=100
  SMALL_ORDERS=200 SMALL_SESSIONS=100 SMALL_TICKETS=10
else
  N_USERS=50000 WHALE_ORDERS=20000 WHALE_SESSIONS=10000 WHALE_TICKETS=1000
  SMALL_ORDERS=2000 SMALL_SESSIONS=1000 SMALL_TICKETS=100
fi
RUNS=3
WHALE=whale@example.com
SMALL=small@example.com
ORDINARY=user1000@example.com

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
