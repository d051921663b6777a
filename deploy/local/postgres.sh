#!/usr/bin/env bash
# PostgreSQL 15 from Debian's packages, as a private cluster under "$SERVICES_HOME/postgres".
#
#   deploy/local/postgres.sh install   apt-get install postgresql (no Debian "main" cluster
#                                      is created), initdb of our own cluster
#   deploy/local/postgres.sh start     start on 127.0.0.1:5432, wait until a real query
#                                      answers, ensure role and database axiom/axiom
#   deploy/local/postgres.sh stop      pg_ctl stop -m fast
#   deploy/local/postgres.sh status    running or not (exit 1 when stopped)
#
# The cluster belongs to the OS user "postgres" when run as root (initdb refuses root),
# otherwise to the calling user. The Debian system cluster and its service are never used.
# Unix socket, configuration, data and log all live in the state folder.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
SERVICE=postgres

PG_VERSION=15
PG_BIN="/usr/lib/postgresql/$PG_VERSION/bin"
PG_HOST=127.0.0.1
PG_PORT=5432
APP_USER=axiom
APP_PASSWORD=axiom
APP_DB=axiom
DIR="$(state_dir)"
DATA="$DIR/data"
SOCK="$DIR/run"
LOGFILE="$DIR/postgres.log"

if [ "$(id -u)" -eq 0 ]; then OWNER=postgres; else OWNER="$(id -un)"; fi

# as_owner CMD... -> runs CMD as the cluster's OS user.
as_owner() {
  if [ "$(id -u)" -eq 0 ]; then runuser -u "$OWNER" -- "$@"; else "$@"; fi
}

# psql_admin SQL -> one statement as the superuser over the private unix socket.
psql_admin() {
  as_owner "$PG_BIN/psql" -X -q -At -v ON_ERROR_STOP=1 -h "$SOCK" -p "$PG_PORT" \
    -U "$OWNER" -d postgres -c "$1"
}

installed() { [ -x "$PG_BIN/pg_ctl" ] && [ -f "$DATA/PG_VERSION" ]; }
running() { installed && as_owner "$PG_BIN/pg_ctl" status -D "$DATA" >/dev/null 2>&1; }

# Written on every start so a change here takes effect at the next start.
# Sized for bulk loads: a full demo writes ~350 MB of WAL. With max_wal_size = 2GB a
# checkpoint fell into every third demo or so (its writes, then full-page images of every
# page touched again) and stack demos spread over 19.4-22.5 s; at 8GB / 30 min none fell
# into seven demos in a row (19.9-20.8 s). The WAL directory can grow to max_wal_size.
write_config() {
  cat >"$DATA/axiom.conf" <<EOF
listen_addresses = '$PG_HOST'
port = $PG_PORT
unix_socket_directories = '$SOCK'
max_connections = 200
shared_buffers = 512MB
temp_buffers = 32MB
wal_buffers = 64MB
work_mem = 16MB
maintenance_work_mem = 128MB
fsync = on
synchronous_commit = on
full_page_writes = on
max_wal_size = 8GB
checkpoint_timeout = 30min
timezone = 'UTC'
log_timezone = 'UTC'
logging_collector = off
log_min_messages = warning
log_min_error_statement = error
EOF
  cat >"$DATA/pg_hba.conf" <<EOF
# TYPE  DATABASE  USER  ADDRESS        METHOD
local   all       all                  peer
host    all       all   $PG_HOST/32   scram-sha-256
EOF
  chown "$OWNER" "$DATA/axiom.conf" "$DATA/pg_hba.conf"
}

install() {
  if [ ! -x "$PG_BIN/pg_ctl" ]; then
    # Debian would create and start its own "main" cluster on 5432: switch that off first.
    if [ "$(id -u)" -eq 0 ]; then
      mkdir -p /etc/postgresql-common/createcluster.d
      echo "create_main_cluster = false" >/etc/postgresql-common/createcluster.d/axiom.conf
    fi
    apt_install postgresql
  fi
  [ -x "$PG_BIN/pg_ctl" ] || die "PostgreSQL $PG_VERSION binaries not found in $PG_BIN"
  if [ -f "$DATA/PG_VERSION" ]; then
    log "cluster present in $DATA"
    return 0
  fi
  log "creating the cluster in $DATA"
  rm -rf "$DATA"
  mkdir -p "$DATA" "$SOCK"
  chown -R "$OWNER" "$DIR"
  chmod 700 "$DATA"
  as_owner test -w "$DIR" \
    || die "OS user '$OWNER' cannot write $DIR; set AXIOM_SERVICES_HOME to a folder it can reach"
  as_owner "$PG_BIN/initdb" -D "$DATA" -U "$OWNER" --encoding=UTF8 --locale=C \
    --auth-local=peer --auth-host=scram-sha-256 >"$DIR/initdb.log" 2>&1 \
    || { rm -rf "$DATA"; die "initdb failed (see $DIR/initdb.log)"; }
  echo "include_if_exists = 'axiom.conf'" >>"$DATA/postgresql.conf"
  write_config
  log "installed"
}

# ensure_app_db -> role and database axiom (idempotent, one query each when present).
ensure_app_db() {
  local role_sql="DO \$\$ BEGIN
    IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = '$APP_USER') THEN
      CREATE ROLE $APP_USER LOGIN CREATEDB PASSWORD '$APP_PASSWORD';
    END IF; END \$\$;"
  psql_admin "$role_sql" >/dev/null || die "could not create role $APP_USER"
  if [ "$(psql_admin "SELECT 1 FROM pg_database WHERE datname = '$APP_DB'")" != "1" ]; then
    psql_admin "CREATE DATABASE $APP_DB OWNER $APP_USER" >/dev/null \
      || die "could not create database $APP_DB"
  fi
}

# app_query -> 0 if user axiom can run a query over TCP (what Axiom itself does).
app_query() {
  PGPASSWORD="$APP_PASSWORD" PGCONNECT_TIMEOUT=3 "$PG_BIN/psql" -X -q -At \
    -h "$PG_HOST" -p "$PG_PORT" -U "$APP_USER" -d "$APP_DB" -c "SELECT 1" 2>/dev/null \
    | grep -qx 1
}

start() {
  installed || die "not installed: run deploy/local/postgres.sh install"
  if running; then
    ensure_app_db
    app_query || die "running but user $APP_USER cannot query $PG_HOST:$PG_PORT (see $LOGFILE)"
    log "already running on $PG_HOST:$PG_PORT"
    return 0
  fi
  if port_open "$PG_HOST" "$PG_PORT"; then
    die "$PG_HOST:$PG_PORT is taken by another process (Debian's cluster? pg_ctlcluster $PG_VERSION main stop)"
  fi
  mkdir -p "$SOCK"
  chown "$OWNER" "$SOCK"
  write_config
  touch "$LOGFILE"
  chown "$OWNER" "$LOGFILE"
  as_owner "$PG_BIN/pg_ctl" start -D "$DATA" -l "$LOGFILE" -w -t 60 -s \
    || die "did not start within 60 s (see $LOGFILE)"
  local i=0
  until as_owner "$PG_BIN/pg_isready" -q -h "$SOCK" -p "$PG_PORT"; do
    i=$((i + 1))
    [ "$i" -gt 150 ] && die "started but not accepting connections after 30 s (see $LOGFILE)"
    sleep 0.2
  done
  ensure_app_db
  app_query || die "started but user $APP_USER cannot query $PG_HOST:$PG_PORT (see $LOGFILE)"
  log "running on $PG_HOST:$PG_PORT (data in $DATA)"
}

stop() {
  if ! running; then
    log "not running"
    return 0
  fi
  as_owner "$PG_BIN/pg_ctl" stop -D "$DATA" -m fast -w -t 60 -s \
    || die "did not stop within 60 s (see $LOGFILE)"
  log "stopped"
}

status() {
  if running && as_owner "$PG_BIN/pg_isready" -q -h "$SOCK" -p "$PG_PORT"; then
    log "running on $PG_HOST:$PG_PORT (pid $(head -n1 "$DATA/postmaster.pid"))"
    return 0
  fi
  log "stopped"
  return 1
}

main_verb "$@"
