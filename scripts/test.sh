#!/usr/bin/env bash
# Run every test against real, throwaway PostgreSQL and MariaDB servers (scripts/server.sh), started
# once for the whole run and removed at the end, whatever the outcome: one of each as tests use
# them, and one of each that refuses plaintext (tests/tls.rs).
# On Debian, run as root, it installs what the tests use when missing: postgresql, mariadb-server,
# age, unzip, groff-base, chromium (apt). Elsewhere it says what to install.
#   scripts/test.sh [cargo test args…]     e.g. scripts/test.sh --test behaviour
set -euo pipefail
cd "$(dirname "$0")/.."
REPO=$PWD

missing=()
for tool in age unzip; do command -v "$tool" >/dev/null || missing+=("$tool"); done
# The man pages are rendered by groff in a test, as man does.
command -v groff >/dev/null || missing+=(groff-base)
# The archive's index.html is rendered by a real browser in a test (tests/archive_page.rs).
command -v chromium >/dev/null || missing+=(chromium)
if [ ${#missing[@]} -gt 0 ]; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    echo "test.sh: installing ${missing[*]} (apt)" >&2
    DEBIAN_FRONTEND=noninteractive apt-get update -qq >&2
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >&2
  else
    echo "test.sh: missing ${missing[*]}; install: sudo apt-get install ${missing[*]}" >&2
    exit 1
  fi
fi

PGTEST_DIR= MYSQLTEST_DIR= PGTLS_DIR= MYSQLTLS_DIR=
stop_servers() {
  local dir
  for dir in "$PGTEST_DIR" "$MYSQLTEST_DIR" "$PGTLS_DIR" "$MYSQLTLS_DIR"; do
    [ -z "$dir" ] || "$REPO/scripts/server.sh" down "$dir" || true
  done
}
trap stop_servers EXIT
eval "$(scripts/server.sh up postgres)"
# MySQL sources are tested on MariaDB.
eval "$(scripts/server.sh up mariadb)"
eval "$(scripts/server.sh up postgres-tls)"
eval "$(scripts/server.sh up mariadb-tls)"
cargo test --locked "$@"
