#!/usr/bin/env bash
# Throwaway database servers for the tests, the bench and the PostgreSQL demo.
#
#   eval "$(scripts/server.sh up postgres)"   # exports PGTEST_DIR and DATABASE_URL
#   eval "$(scripts/server.sh up mariadb)"    # exports MYSQLTEST_DIR and MYSQL_URL
#   scripts/server.sh down DIR                # stops the server that lives in DIR, removes DIR
#
# Each server lives in its own /tmp directory, listens on 127.0.0.1 on a free port, trusts local
# connections without a password and runs with durability off (fsync=off): it is for tests only,
# never for data you keep. On Debian, run as root, the server package is installed when missing.
# The server runs as the package's system user when we are root (initdb refuses root).
set -euo pipefail

die() { echo "server.sh: $*" >&2; exit 1; }

# apt-get install, once, as root on Debian; otherwise say what to install.
need_package() {
  local package=$1
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    echo "server.sh: installing $package (apt; log in /tmp/dsar-apt.log)" >&2
    { DEBIAN_FRONTEND=noninteractive apt-get update -qq &&
      DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$package"; } >/tmp/dsar-apt.log 2>&1 ||
      { tail -20 /tmp/dsar-apt.log >&2; die "apt-get install $package failed"; }
  else
    die "$package is not installed: sudo apt-get install $package"
  fi
}

# A port nobody listens on right now (the kernel picks it); bash's /dev/tcp checks it is free.
free_port() {
  local port
  for _ in $(seq 1 50); do
    port=$((20000 + RANDOM % 40000))
    if ! (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then echo "$port"; return; fi
  done
  die "no free port found"
}

# Run a command as `user` when we are root, as ourselves otherwise.
as_user() {
  local user=$1; shift
  if [ "$(id -u)" = 0 ]; then runuser -u "$user" -- "$@"; else "$@"; fi
}

pg_bin() { ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1; }

up_postgres() {
  local bin dir port
  bin=${PGBIN:-$(pg_bin)}
  [ -x "${bin:-/none}/initdb" ] || { need_package postgresql; bin=$(pg_bin); }
  [ -x "${bin:-/none}/initdb" ] || die "initdb not found after installing postgresql"
  command -v psql >/dev/null || need_package postgresql-client
  dir=$(mktemp -d /tmp/dsar-pg.XXXXXX)
  [ "$(id -u)" = 0 ] && chown postgres: "$dir"
  as_user postgres "$bin/initdb" -D "$dir/data" -U postgres -A trust -E UTF8 --locale=C.UTF-8 --no-sync \
    >"$dir/initdb.log" 2>&1 || { cat "$dir/initdb.log" >&2; die "initdb failed"; }
  for _ in 1 2 3 4 5; do
    port=$(free_port)
    if as_user postgres "$bin/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -t 60 \
        -o "-p $port -k $dir -c listen_addresses=127.0.0.1 -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=200" \
        start >/dev/null 2>&1; then
      as_user postgres "$bin/createdb" -h 127.0.0.1 -p "$port" -U postgres dsar_test
      echo "export PGTEST_DIR=$dir"
      echo "export DATABASE_URL=postgres://postgres@127.0.0.1:$port/dsar_test"
      return
    fi
  done
  tail -20 "$dir/server.log" >&2
  die "postgres did not start (log above)"
}

up_mariadb() {
  local daemon dir port
  daemon=$(command -v mariadbd || echo /usr/sbin/mariadbd)
  [ -x "$daemon" ] || { need_package mariadb-server; daemon=$(command -v mariadbd || echo /usr/sbin/mariadbd); }
  [ -x "$daemon" ] || die "mariadbd not found after installing mariadb-server"
  dir=$(mktemp -d /tmp/dsar-mariadb.XXXXXX)
  [ "$(id -u)" = 0 ] && chown mysql: "$dir"
  as_user mysql mariadb-install-db --no-defaults --datadir="$dir/data" --auth-root-authentication-method=normal \
    --skip-test-db >"$dir/install.log" 2>&1 || { cat "$dir/install.log" >&2; die "mariadb-install-db failed"; }
  for _ in 1 2 3 4 5; do
    port=$(free_port)
    as_user mysql "$daemon" --no-defaults --datadir="$dir/data" --port="$port" --bind-address=127.0.0.1 \
      --socket="$dir/mysqld.sock" --pid-file="$dir/mysqld.pid" --skip-log-bin \
      --innodb-flush-log-at-trx-commit=2 >"$dir/server.log" 2>&1 &
    # Poll until it answers (about a second), or until the process has died.
    for _ in $(seq 1 300); do
      if mariadb --no-defaults -uroot -h127.0.0.1 -P"$port" -e "CREATE DATABASE IF NOT EXISTS dsar_test" 2>/dev/null; then
        echo "export MYSQLTEST_DIR=$dir"
        echo "export MYSQL_URL=mysql://root@127.0.0.1:$port/dsar_test"
        return
      fi
      kill -0 $! 2>/dev/null || break
      sleep 0.1
    done
    [ -f "$dir/mysqld.pid" ] && kill "$(cat "$dir/mysqld.pid")" 2>/dev/null || true
  done
  tail -20 "$dir/server.log" >&2
  die "mariadbd did not start (log above)"
}

down() {
  local dir=${1:?usage: server.sh down DIR}
  case "$dir" in
    /tmp/dsar-pg.*)
      if [ -f "$dir/data/postmaster.pid" ]; then
        as_user postgres "$(pg_bin)/pg_ctl" -D "$dir/data" -m immediate -w stop >/dev/null 2>&1 || true
      fi ;;
    /tmp/dsar-mariadb.*)
      if [ -f "$dir/mysqld.pid" ]; then
        local pid
        pid=$(cat "$dir/mysqld.pid")
        kill "$pid" 2>/dev/null || true
        for _ in $(seq 1 200); do kill -0 "$pid" 2>/dev/null || break; sleep 0.05; done
      fi ;;
    *) die "refusing to remove $dir: not a directory server.sh made" ;;
  esac
  rm -rf "$dir"
}

# Servers run as another user: start them from a directory that user can enter.
cd /tmp
case "${1:-} ${2:-}" in
  "up postgres") up_postgres ;;
  "up mariadb") up_mariadb ;;
  down\ *) down "$2" ;;
  *) echo "usage: scripts/server.sh up postgres|mariadb | down DIR" >&2; exit 2 ;;
esac
