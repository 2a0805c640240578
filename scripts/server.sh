#!/usr/bin/env bash
# Throwaway database servers for the tests, the bench and the PostgreSQL demo.
#
#   eval "$(scripts/server.sh up postgres)"   # exports PGTEST_DIR and DATABASE_URL
#   eval "$(scripts/server.sh up mariadb)"    # exports MYSQLTEST_DIR and MYSQL_URL
#   eval "$(scripts/server.sh up postgres-tls)"  # exports PGTLS_DIR, PGTLS_PORT: TLS only
#   eval "$(scripts/server.sh up mariadb-tls)"   # exports MYSQLTLS_DIR, MYSQLTLS_PORT: TLS only
#   scripts/server.sh down DIR                # stops the server that lives in DIR, removes DIR
#
# Each server lives in its own /tmp directory, listens on 127.0.0.1 on a free port, trusts local
# connections without a password and runs with durability off (fsync=off): it is for tests only,
# never for data you keep. On Debian, run as root, the server package is installed when missing.
# The server runs as the package's system user when we are root (initdb refuses root).
#
# The -tls servers refuse plaintext (PostgreSQL: only `hostssl` lines in pg_hba.conf; MariaDB:
# require_secure_transport). Their throwaway certificates, made here with openssl, are in
# DIR/tls: ca.crt (signed the server's, whose only name is `localhost`), other-ca.crt (signed
# nothing), client.crt/client.key (CN=certuser, signed by ca.crt). PostgreSQL also has the users
# `certuser` (client certificate only) and `pwuser` (password `pw-secret`, SCRAM).
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

# A CA, a server certificate for `localhost` only, another CA, and a client certificate for
# `certuser`, in DIR/tls, readable by `owner` (the server's user); the server key mode 0600.
make_certs() {
  local dir=$1 owner=$2 tls=$1/tls
  command -v openssl >/dev/null || need_package openssl
  mkdir -p "$tls"
  {
    openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj "/CN=dsar test CA" \
      -keyout "$tls/ca.key" -out "$tls/ca.crt"
    openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj "/CN=dsar other CA" \
      -keyout "$tls/other-ca.key" -out "$tls/other-ca.crt"
    openssl req -newkey rsa:2048 -nodes -subj "/CN=localhost" -keyout "$tls/server.key" -out "$tls/server.csr"
    printf 'subjectAltName=DNS:localhost\nbasicConstraints=CA:FALSE\n' >"$tls/server.ext"
    openssl x509 -req -in "$tls/server.csr" -CA "$tls/ca.crt" -CAkey "$tls/ca.key" -CAcreateserial \
      -days 2 -extfile "$tls/server.ext" -out "$tls/server.crt"
    openssl req -newkey rsa:2048 -nodes -subj "/CN=certuser" -keyout "$tls/client.key" -out "$tls/client.csr"
    printf 'basicConstraints=CA:FALSE\nextendedKeyUsage=clientAuth\n' >"$tls/client.ext"
    openssl x509 -req -in "$tls/client.csr" -CA "$tls/ca.crt" -CAkey "$tls/ca.key" -CAcreateserial \
      -days 2 -extfile "$tls/client.ext" -out "$tls/client.crt"
  } >"$tls/openssl.log" 2>&1 || { cat "$tls/openssl.log" >&2; die "making test certificates failed"; }
  chmod 600 "$tls/server.key" "$tls/client.key"
  [ "$(id -u)" = 0 ] && chown -R "$owner": "$tls"
  # The client key is the tests' (they run as us), the server's the server's.
  [ "$(id -u)" = 0 ] && chown "$(id -un)": "$tls/client.key"
  return 0
}

pg_bin() { ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1; }

up_postgres() {
  local tls=${1:-} bin dir port options
  if [ -n "$tls" ]; then tls=1; fi
  bin=${PGBIN:-$(pg_bin)}
  [ -x "${bin:-/none}/initdb" ] || { need_package postgresql; bin=$(pg_bin); }
  [ -x "${bin:-/none}/initdb" ] || die "initdb not found after installing postgresql"
  command -v psql >/dev/null || need_package postgresql-client
  dir=$(mktemp -d /tmp/dsar-pg.XXXXXX)
  [ "$(id -u)" = 0 ] && chown postgres: "$dir"
  as_user postgres "$bin/initdb" -D "$dir/data" -U postgres -A trust -E UTF8 --locale=C.UTF-8 --no-sync \
    >"$dir/initdb.log" 2>&1 || { cat "$dir/initdb.log" >&2; die "initdb failed"; }
  options="-c listen_addresses=127.0.0.1 -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=200"
  if [ -n "$tls" ]; then
    make_certs "$dir" postgres
    options="$options -c ssl=on -c ssl_cert_file=$dir/tls/server.crt -c ssl_key_file=$dir/tls/server.key -c ssl_ca_file=$dir/tls/ca.crt"
    # No `host` line: a connection without TLS is refused.
    printf '%s\n' "local all all trust" \
      "hostssl all certuser 127.0.0.1/32 cert" \
      "hostssl all pwuser 127.0.0.1/32 scram-sha-256" \
      "hostssl all all 127.0.0.1/32 trust" >"$dir/data/pg_hba.conf"
  fi
  for _ in 1 2 3 4 5; do
    port=$(free_port)
    if as_user postgres "$bin/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -t 60 \
        -o "-p $port -k $dir $options" start >/dev/null 2>&1; then
      as_user postgres "$bin/createdb" -h "$dir" -p "$port" -U postgres dsar_test
      if [ -n "$tls" ]; then
        as_user postgres "$bin/psql" -X -q -h "$dir" -p "$port" -U postgres -d dsar_test -c \
          "CREATE USER certuser SUPERUSER; CREATE USER pwuser SUPERUSER PASSWORD 'pw-secret'"
        echo "export PGTLS_DIR=$dir"
        echo "export PGTLS_PORT=$port"
      else
        echo "export PGTEST_DIR=$dir"
        echo "export DATABASE_URL=postgres://postgres@127.0.0.1:$port/dsar_test"
      fi
      return
    fi
  done
  tail -20 "$dir/server.log" >&2
  die "postgres did not start (log above)"
}

up_mariadb() {
  local tls=${1:-} daemon dir port client_tls=() server_tls=()
  daemon=$(command -v mariadbd || echo /usr/sbin/mariadbd)
  [ -x "$daemon" ] || { need_package mariadb-server; daemon=$(command -v mariadbd || echo /usr/sbin/mariadbd); }
  [ -x "$daemon" ] || die "mariadbd not found after installing mariadb-server"
  dir=$(mktemp -d /tmp/dsar-mariadb.XXXXXX)
  [ "$(id -u)" = 0 ] && chown mysql: "$dir"
  as_user mysql mariadb-install-db --no-defaults --datadir="$dir/data" --auth-root-authentication-method=normal \
    --skip-test-db >"$dir/install.log" 2>&1 || { cat "$dir/install.log" >&2; die "mariadb-install-db failed"; }
  if [ -n "$tls" ]; then
    make_certs "$dir" mysql
    server_tls=(--ssl-ca="$dir/tls/ca.crt" --ssl-cert="$dir/tls/server.crt" --ssl-key="$dir/tls/server.key"
      --require-secure-transport=ON)
    client_tls=(--ssl --ssl-ca="$dir/tls/ca.crt")
  fi
  for _ in 1 2 3 4 5; do
    port=$(free_port)
    as_user mysql "$daemon" --no-defaults --datadir="$dir/data" --port="$port" --bind-address=127.0.0.1 \
      --socket="$dir/mysqld.sock" --pid-file="$dir/mysqld.pid" --skip-log-bin \
      --innodb-flush-log-at-trx-commit=2 "${server_tls[@]}" >"$dir/server.log" 2>&1 &
    # Poll until it answers (about a second), or until the process has died.
    for _ in $(seq 1 300); do
      if mariadb --no-defaults -uroot -h127.0.0.1 -P"$port" "${client_tls[@]}" \
          -e "CREATE DATABASE IF NOT EXISTS dsar_test" 2>/dev/null; then
        if [ -n "$tls" ]; then
          echo "export MYSQLTLS_DIR=$dir"
          echo "export MYSQLTLS_PORT=$port"
        else
          echo "export MYSQLTEST_DIR=$dir"
          echo "export MYSQL_URL=mysql://root@127.0.0.1:$port/dsar_test"
        fi
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
  "up postgres-tls") up_postgres tls ;;
  "up mariadb-tls") up_mariadb tls ;;
  down\ *) down "$2" ;;
  *) echo "usage: scripts/server.sh up postgres|mariadb|postgres-tls|mariadb-tls | down DIR" >&2; exit 2 ;;
esac
