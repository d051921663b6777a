#!/usr/bin/env bash
# Apache Airflow 3 for the Axiom DAGs, as plain processes on 127.0.0.1:8080.
#
#   deploy/local/airflow.sh install|start|stop|status
#
# Processes (each its own process group, stopped by its recorded id):
#   api-server     the UI and the REST API (http://127.0.0.1:8080, /api/v2, /auth/token)
#   scheduler      LocalExecutor: task processes are children of the scheduler
#   dag-processor  parses src/axiom/dags (AIRFLOW__CORE__DAGS_FOLDER)
#   consumers      `axiom consume`: the consumers the DAGs' sensors wait for
# No triggerer: the DAGs use sensors in reschedule mode, not deferrable operators.
#
# Metadata DB: SQLite (LocalExecutor accepts it in Airflow 3; one writer at a time, so
# parallelism is kept small). Log in as admin / admin (simple auth manager; for local use
# only: the password lives in plain text in the state folder). A JWT for the REST API:
#   curl -s -X POST http://127.0.0.1:8080/auth/token -H 'Content-Type: application/json' \
#        -d '{"username": "admin", "password": "admin"}'
#
# State in "$SERVICES_HOME/airflow": home/ (AIRFLOW_HOME: airflow.cfg, airflow.db, task
# logs), axiom-home/ (AXIOM_HOME of the tasks and the consumers), <process>.log/.pid.
# `install` only checks that `make setup` put Airflow into .venv. New DAGs start paused:
# unpause them in the UI or with `airflow dags unpause <dag_id>` (same environment).
# AXIOM_* variables of the caller reach the tasks and the consumers (e.g. AXIOM_BUS=kafka://...
# for the stack). Environment of this script:
#   AXIOM_AIRFLOW_PORT         port of the api-server (default 8080)
#   AXIOM_AIRFLOW_USER         admin user name (default admin)
#   AXIOM_AIRFLOW_PASSWORD     its password (default admin)
#   AXIOM_AIRFLOW_PARALLELISM  task processes at once (default 4)
#   AXIOM_AIRFLOW_CONSUMERS    0 = do not start the consumers (default 1)
SERVICE=airflow
# shellcheck source=deploy/local/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

HOST=127.0.0.1
PORT="${AXIOM_AIRFLOW_PORT:-8080}"
ADMIN_USER="${AXIOM_AIRFLOW_USER:-admin}"
ADMIN_PASSWORD="${AXIOM_AIRFLOW_PASSWORD:-admin}"
STATE="$(state_dir)"
BIN="$REPO_ROOT/.venv/bin"
PROCESSES=(api-server scheduler dag-processor consumers)
START_TIMEOUT_S=180

# _metadata_db -> Airflow's metadata DB: AXIOM_AIRFLOW_DB (a postgresql+psycopg:// URL, as
# on a cluster and in the scheduler tests) or, by default, one SQLite file in the state folder.
_metadata_db() {
  local url="${AXIOM_AIRFLOW_DB:-}"
  case "$url" in
    "") printf 'sqlite:///%s/home/airflow.db' "$STATE" ;;
    postgresql+psycopg://*) printf '%s' "$url" ;;
    *) die "AXIOM_AIRFLOW_DB must be a postgresql+psycopg:// URL (or unset for SQLite), got '${url%%://*}://…'" ;;
  esac
}

_env() {
  local jwt_secret api_secret metadata_db
  metadata_db="$(_metadata_db)" || exit 1
  jwt_secret="$(_secret jwt)"
  api_secret="$(_secret api)"
  export AIRFLOW_HOME="$STATE/home"
  export AXIOM_HOME="$STATE/axiom-home"
  export AIRFLOW__CORE__DAGS_FOLDER="$REPO_ROOT/src/axiom/dags"
  export AIRFLOW__CORE__LOAD_EXAMPLES=False
  export AIRFLOW__CORE__EXECUTOR=LocalExecutor
  export AIRFLOW__CORE__PARALLELISM="${AXIOM_AIRFLOW_PARALLELISM:-4}"
  export AIRFLOW__DATABASE__SQL_ALCHEMY_CONN="$metadata_db"
  if [ -n "${AXIOM_AIRFLOW_DB:-}" ]; then
    # psycopg 3 serves both of Airflow's engines (SQLAlchemy picks its async variant).
    export AIRFLOW__DATABASE__SQL_ALCHEMY_CONN_ASYNC="$AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"
  else
    export AIRFLOW__DATABASE__SQL_ALCHEMY_CONNECT_ARGS=axiom.orchestration.airflow_db.SQLITE_CONNECT_ARGS
  fi
  export AIRFLOW__CORE__AUTH_MANAGER=airflow.api_fastapi.auth.managers.simple.simple_auth_manager.SimpleAuthManager
  export AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS="$ADMIN_USER:admin"
  export AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE="$STATE/passwords.json"
  export AIRFLOW__API__HOST="$HOST"
  export AIRFLOW__API__PORT="$PORT"
  export AIRFLOW__API__WORKERS=1
  export AIRFLOW__API__BASE_URL="http://$HOST:$PORT"
  export AIRFLOW__CORE__EXECUTION_API_SERVER_URL="http://$HOST:$PORT/execution/"
  export AIRFLOW__DAG_PROCESSOR__REFRESH_INTERVAL=30
  export AIRFLOW__LOGGING__BASE_LOG_FOLDER="$STATE/home/logs"
  export AIRFLOW__API_AUTH__JWT_SECRET="$jwt_secret"
  export AIRFLOW__API__SECRET_KEY="$api_secret"
  export PATH="$BIN:$PATH"
  mkdir -p "$AIRFLOW_HOME" "$AXIOM_HOME"
}

# _secret NAME -> a random 64-byte hex secret, made once and kept in the state folder, so
# every process (and every restart) signs and checks tokens with the same key.
_secret() {
  local file="$STATE/$1.secret"
  if [ ! -s "$file" ]; then
    (umask 077 && "$BIN/python" -c 'import secrets; print(secrets.token_hex(64))' >"$file")
  fi
  cat "$file"
}

_pidfile() { printf '%s/%s.pid' "$STATE" "$1"; }

# _is_ours NAME -> 0 if the recorded pid is alive and still runs an Airflow/Axiom command
# (a pid left from before a reboot may belong to another program by now).
_is_ours() {
  local f cmd
  f="$(_pidfile "$1")"
  pid_alive "$f" || return 1
  cmd="$(tr '\0' ' ' <"/proc/$(cat "$f")/cmdline" 2>/dev/null)" || return 1
  [[ "$cmd" == *airflow* || "$cmd" == *axiom* ]]
}

_healthy() {
  curl -fsS --max-time 5 "http://$HOST:$PORT/api/v2/monitor/health" >/dev/null 2>&1
}

# _launch NAME CMD... -> starts CMD in its own session (pgid = pid), logs to NAME.log.
_launch() {
  local name=$1
  shift
  if _is_ours "$name"; then
    log "$name already running (pid $(cat "$(_pidfile "$name")"))"
    return 0
  fi
  setsid "$@" >>"$STATE/$name.log" 2>&1 </dev/null &
  echo $! >"$(_pidfile "$name")"
}

# _stop_group NAME [SECONDS] -> SIGTERM to the process group we started, then SIGKILL.
_stop_group() {
  local name=$1 secs=${2:-30} f pid i=0
  f="$(_pidfile "$name")"
  if ! _is_ours "$name"; then
    rm -f "$f"
    return 0
  fi
  pid="$(cat "$f")"
  kill -TERM -- "-$pid" 2>/dev/null || kill -TERM "$pid" 2>/dev/null || true
  while kill -0 -- "-$pid" 2>/dev/null; do
    i=$((i + 1))
    if [ "$i" -gt $((secs * 5)) ]; then
      kill -KILL -- "-$pid" 2>/dev/null || true
      break
    fi
    sleep 0.2
  done
  rm -f "$f"
  log "$name stopped"
}

_migrate() {
  local version marker
  version="$("$BIN/python" -c 'import airflow; print(airflow.__version__)')"
  marker="$AIRFLOW_HOME/.migrated-$version-$(printf '%s' "$AIRFLOW__DATABASE__SQL_ALCHEMY_CONN" | cksum | cut -d' ' -f1)"
  [ -f "$marker" ] && return 0
  log "migrating the metadata DB (${AIRFLOW__DATABASE__SQL_ALCHEMY_CONN%%://*})"
  "$BIN/airflow" db migrate >>"$STATE/migrate.log" 2>&1 || die "airflow db migrate failed (see $STATE/migrate.log)"
  touch "$marker"
}

_write_password() {
  local file="$STATE/passwords.json"
  "$BIN/python" -c 'import json, sys; json.dump({sys.argv[1]: sys.argv[2]}, open(sys.argv[3], "w"))' \
    "$ADMIN_USER" "$ADMIN_PASSWORD" "$file"
  chmod 600 "$file"
}

install() {
  [ -x "$BIN/airflow" ] || die "Airflow is not in .venv; run: make setup"
  log "$("$BIN/airflow" version 2>/dev/null | tail -n 1) in $BIN (nothing to install)"
}

start() {
  [ -x "$BIN/airflow" ] || die "Airflow is not in .venv; run: make setup"
  _env
  if ! _is_ours api-server && port_open "$HOST" "$PORT"; then
    die "$HOST:$PORT is taken by a process not started by this script; stop it first"
  fi
  _migrate
  _write_password
  _launch api-server "$BIN/airflow" api-server --host "$HOST" --port "$PORT" --workers 1
  # Task logs are files under the same folder the api-server reads: no log server needed.
  _launch scheduler "$BIN/airflow" scheduler --skip-serve-logs
  _launch dag-processor "$BIN/airflow" dag-processor
  if [ "${AXIOM_AIRFLOW_CONSUMERS:-1}" != "0" ]; then
    _launch consumers "$BIN/axiom" consume
  fi
  local i=0 name
  until _healthy; do
    for name in api-server scheduler dag-processor; do
      if ! _is_ours "$name"; then
        stop
        die "$name exited at start (see $STATE/$name.log)"
      fi
    done
    i=$((i + 1))
    if [ "$i" -gt "$START_TIMEOUT_S" ]; then
      stop
      die "api-server not healthy on $HOST:$PORT after ${START_TIMEOUT_S}s (see $STATE/api-server.log)"
    fi
    sleep 1
  done
  log "running on http://$HOST:$PORT (login $ADMIN_USER / $ADMIN_PASSWORD; AIRFLOW_HOME=$AIRFLOW_HOME)"
}

stop() {
  local i
  for ((i = ${#PROCESSES[@]} - 1; i >= 0; i--)); do
    _stop_group "${PROCESSES[$i]}" 30
  done
  log "not running"
}

status() {
  local rc=0 name
  for name in "${PROCESSES[@]}"; do
    if _is_ours "$name"; then
      log "$name running (pid $(cat "$(_pidfile "$name")"))"
    else
      log "$name not running"
      if [ "$name" != consumers ] || [ "${AXIOM_AIRFLOW_CONSUMERS:-1}" != "0" ]; then rc=1; fi
    fi
  done
  if _healthy; then log "api-server healthy on http://$HOST:$PORT"; else rc=1; fi
  return $rc
}

main_verb "$@"
