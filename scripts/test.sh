#!/usr/bin/env bash
# Run every test against real, throwaway PostgreSQL and MariaDB servers.
# On Debian it installs what the tests use (postgresql, mariadb-server, age, unzip) when run as root.
#   scripts/test.sh [cargo test args…]
set -euo pipefail
cd "$(dirname "$0")/.."
SHARED=$(cd "${DSAR_SHARED:-../shared}" && pwd)

missing=()
for tool in age unzip psql; do command -v "$tool" >/dev/null || missing+=("$tool"); done
if [ ${#missing[@]} -gt 0 ]; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    echo "test.sh: installing age unzip postgresql (apt)" >&2
    DEBIAN_FRONTEND=noninteractive apt-get update -qq >&2
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq age unzip postgresql >&2
  else
    echo "test.sh: missing ${missing[*]}; install: sudo apt-get install age unzip postgresql" >&2
    exit 1
  fi
fi

eval "$("$SHARED/ci/pg-up.sh")"
trap '"$SHARED/ci/pg-down.sh" "$PGTEST_DIR"' EXIT
# MySQL sources are tested on MariaDB (mariadb-up.sh installs Debian's mariadb-server if missing).
eval "$("$SHARED/ci/mariadb-up.sh")"
trap '"$SHARED/ci/pg-down.sh" "$PGTEST_DIR"; "$SHARED/ci/mariadb-down.sh" "$MYSQLTEST_DIR"' EXIT
cargo test --locked "$@"
