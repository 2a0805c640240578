#!/usr/bin/env bash
# A five-minute look at dsar on the Chinook sample database, on a throwaway PostgreSQL server.
# Installs postgresql and age on Debian (as root) if missing, builds dsar, exports customer 1,
# opens the archive with the official age CLI, and leaves the files in DIR (default: a temp dir).
#   scripts/demo.sh [DIR]
set -euo pipefail
cd "$(dirname "$0")/.."
REPO=$PWD
SHARED=$(cd "${DSAR_SHARED:-../shared}" && pwd)
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

eval "$("$SHARED/ci/pg-up.sh")"
trap '"$SHARED/ci/pg-down.sh" "$PGTEST_DIR"' EXIT
psql "$DATABASE_URL" -X -q -v ON_ERROR_STOP=1 -f "$SHARED/testdata/chinook/Chinook_PostgreSql.sql" >/dev/null 2>&1
export CHINOOK_DATABASE_URL=${DATABASE_URL%/*}/chinook

cp sources.toml.example "$DIR/sources.toml"
[ -f "$DIR/keys/exports.key" ] || age-keygen -o "$DIR/keys/exports.key" 2>/dev/null
age-keygen -y "$DIR/keys/exports.key" >"$DIR/keys/exports.txt"
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
echo "== the audit log recorded it (subject as a keyed hash, never the email)"
tail -1 "$DIR/state/audit/"*.jsonl
echo
echo "Files are in $DIR (the database server was throwaway and is gone)."
