#!/usr/bin/env bash
# Chroma server (`chroma run` from the chromadb package in .venv) on 127.0.0.1:8001.
#
#   deploy/local/chroma.sh install|start|stop|status
#
# The data folder, the log and the pidfile live in "$SERVICES_HOME/chroma". Start waits
# until GET /api/v2/heartbeat answers 200; stop is SIGTERM (Chroma shuts down cleanly on
# it). Environment:
#   AXIOM_CHROMA_PORT  port (default 8001)
SERVICE=chroma
# shellcheck source=deploy/local/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

HOST=127.0.0.1
PORT="${AXIOM_CHROMA_PORT:-8001}"
STATE="$(state_dir)"
CHROMA="$REPO_ROOT/.venv/bin/chroma"
PIDFILE="$STATE/chroma.pid"
LOGFILE="$STATE/chroma.log"
START_TIMEOUT_S=60

# _heartbeat -> 0 if the server answers 200 on /api/v2/heartbeat (plain bash, no curl).
_heartbeat() {
  local reply
  reply=$(
    timeout 3 bash -c '
      exec 3<>"/dev/tcp/$1/$2" || exit 1
      printf "GET /api/v2/heartbeat HTTP/1.0\r\nHost: %s:%s\r\n\r\n" "$1" "$2" >&3
      cat <&3' _ "$HOST" "$PORT" 2>/dev/null
  ) || return 1
  [[ $reply == HTTP/1.?" 200"* && $reply == *heartbeat* ]]
}

_need_chroma() {
  [ -x "$CHROMA" ] || die "$CHROMA not found; run \`make setup\` first (chromadb is a dependency)"
}

install() {
  _need_chroma
}

# _forget_stale_pidfile -> drops a pidfile whose pid now belongs to another program
# (left over from before a reboot).
_forget_stale_pidfile() { forget_stale_pidfile "$PIDFILE" "chroma"; }

start() {
  _forget_stale_pidfile
  _need_chroma
  if pid_alive "$PIDFILE"; then
    _heartbeat && { log "running on http://$HOST:$PORT (pid $(cat "$PIDFILE"))"; return 0; }
    log "pid $(cat "$PIDFILE") is alive but not answering yet; waiting"
  else
    if port_open "$HOST" "$PORT"; then
      die "$HOST:$PORT is taken by a process not started by this script; stop it first"
    fi
    mkdir -p "$STATE/data"
    # Telemetry off (no network here); NO_COLOR keeps the log free of escape codes.
    ANONYMIZED_TELEMETRY=False NO_COLOR=1 \
      setsid "$CHROMA" run --host "$HOST" --port "$PORT" --path "$STATE/data" \
      >>"$LOGFILE" 2>&1 </dev/null &
    echo $! >"$PIDFILE"
  fi
  wait_ready "$PIDFILE" "$START_TIMEOUT_S" _heartbeat "http://$HOST:$PORT" "$LOGFILE"
  log "started on http://$HOST:$PORT (pid $(cat "$PIDFILE"), data in $STATE/data)"
}

stop() {
  _forget_stale_pidfile
  stop_service "$PIDFILE"
}

status() {
  _forget_stale_pidfile
  if pid_alive "$PIDFILE" && _heartbeat; then
    log "running on http://$HOST:$PORT (pid $(cat "$PIDFILE"))"
    return 0
  fi
  log "not running"
  return 1
}

main_verb "$@"
