#!/usr/bin/env bash
# A five-minute look at dsar on the Chinook sample database, on a throwaway PostgreSQL server.
# Installs postgresql and age on Debian (as root) if missing, builds dsar, exports customer 1,
# opens the archive with the official age CLI, deletes the customer (with a recovery window),
# restores them, verifies the audit log, and leaves the files in DIR (default: a temp dir).
#   scripts/demo.sh [DIR]
set -euo pipefail
cd "$(dirname "$0")/.."
REPO=$PWD
DIR=${1:-$(mktemp -d /tmp/dsar-demo.XXXXXX)}
mkdir -p "$DIR/keys"

if ! command -v age >/dev/null || ! command -v unzip >/dev/null; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    DEBIAN_FRONTEND=noninteractive apt-get update -qq >&2
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq age unzip >&2
  else
    echo "demo: install age and unzip first: sudo apt-get install age unzip" >&2; exit 1
  fi
fi

cargo build --release --locked --quiet
DSAR=$REPO/target/release/dsar

PGTEST_DIR=
trap '[ -z "$PGTEST_DIR" ] || "$REPO/scripts/server.sh" down "$PGTEST_DIR"' EXIT
eval "$(scripts/server.sh up postgres)"
psql "$DATABASE_URL" -X -q -v ON_ERROR_STOP=1 -f testdata/chinook/Chinook_PostgreSql.sql >/dev/null 2>&1
export CHINOOK_DATABASE_URL=${DATABASE_URL%/*}/chinook

cp sources.toml.example "$DIR/sources.toml"
for k in exports recovery; do
  [ -f "$DIR/keys/$k.key" ] || age-keygen -o "$DIR/keys/$k.key" 2>/dev/null
  age-keygen -y "$DIR/keys/$k.key" >"$DIR/keys/$k.txt"
done
cd "$DIR"

echo "== dsar export --subject email=luisg@embraer.com.br"
"$DSAR" --state-dir "$DIR/state" export --subject email=luisg@embraer.com.br
ARCHIVE=$(ls -t exports/*.zip.age | head -1)

echo
echo "== age -d -i keys/exports.key $ARCHIVE | what is inside"
age -d -i keys/exports.key "$ARCHIVE" >"$DIR/archive.zip"
unzip -l "$DIR/archive.zip"
unzip -p "$DIR/archive.zip" README.txt
rm -f "$DIR/archive.zip"

echo
echo "== dsar delete --dry-run, then delete: the rows leave the live tables, sealed in quarantine"
"$DSAR" --state-dir "$DIR/state" delete --subject email=luisg@embraer.com.br --dry-run
"$DSAR" --state-dir "$DIR/state" delete --subject email=luisg@embraer.com.br --yes --reason demo
psql "$CHINOOK_DATABASE_URL" -X -At -c "SELECT 'customers with that email now: ' || count(*) FROM customer WHERE email = 'luisg@embraer.com.br'"
REQUEST=$("$DSAR" --state-dir "$DIR/state" status --json | sed -n 's/.*"request_id":"\([^"]*\)".*/\1/p')

echo
echo "== dsar restore --request $REQUEST: back, byte for byte"
"$DSAR" --state-dir "$DIR/state" restore --request "$REQUEST" --identity keys/recovery.key
psql "$CHINOOK_DATABASE_URL" -X -At -c "SELECT 'customers with that email now: ' || count(*) FROM customer WHERE email = 'luisg@embraer.com.br'"

echo
echo "== the audit log: every step, the subject only as a keyed hash"
"$DSAR" --state-dir "$DIR/state" audit show
"$DSAR" --state-dir "$DIR/state" audit verify
echo
echo "Files are in $DIR (the database server was throwaway and is gone)."
