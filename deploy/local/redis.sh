#!/usr/bin/env bash
# Redis 7 (Debian redis-server) as our own instance on 127.0.0.1:6379.
#
#   deploy/local/redis.sh install|start|stop|status
#
# Not the Debian service: the config, the append-only file, the log and the pidfile live in
# "$SERVICES_HOME/redis". Start waits until PING answers PONG; stop is SIGTERM, which Redis
# handles as a clean SHUTDOWN (flushes the append-only file). Environment:
#   AXIOM_REDIS_PORT       port (default 6379)
#   AXIOM_REDIS_MAXMEMORY  memory cap with allkeys-lru eviction, e.g. 512mb (default: none)
SERVICE=redis
# shellcheck source=deploy/local/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

HOST=127.0.0.1
PORT="${AXIOM_REDIS_PORT:-6379}"
STATE="$(state_dir)"
CONF="$STATE/redis.conf"
PIDFILE="$STATE/redis.pid"
LOGFILE="$STATE/redis.log"
START_TIMEOUT_S=30

_cli() { timeout 5 redis-cli -h "$HOST" -p "$PORT" "$@"; }

_answers() { [ "$(_cli ping 2>/dev/null)" = "PONG" ]; }

# The Debian package may start its own service on 6379 where an init system runs; ours
# replaces it, so it is stopped and disabled (a no-op in containers without one).
_quiet_distro_service() {
  if command -v systemctl >/dev/null 2>&1 && [ -d /run/systemd/system ]; then
    systemctl disable --now redis-server >/dev/null 2>&1 || true
  elif [ -x /etc/init.d/redis-server ] && [ -f /run/redis/redis-server.pid ]; then
    /etc/init.d/redis-server stop >/dev/null 2>&1 || true
  fi
}

_write_conf() {
  mkdir -p "$STATE/data"
  local maxmemory=""
  if [ -n "${AXIOM_REDIS_MAXMEMORY:-}" ]; then
    maxmemory="maxmemory ${AXIOM_REDIS_MAXMEMORY}
maxmemory-policy allkeys-lru"
  fi
  cat >"$CONF.tmp" <<EOF
# Written by deploy/local/redis.sh on every start; edit the script, not this file.
bind $HOST
protected-mode yes
port $PORT
daemonize no
pidfile $PIDFILE
logfile $LOGFILE
loglevel notice
dir $STATE/data
appendonly yes
appendfsync everysec
appenddirname appendonly
save ""
tcp-keepalive 60
timeout 0
databases 16
$maxmemory
EOF
  mv "$CONF.tmp" "$CONF"
}

install() {
  if command -v redis-server >/dev/null 2>&1 && command -v redis-cli >/dev/null 2>&1; then
    return 0
  fi
  apt_install redis-server redis-tools
  command -v redis-server >/dev/null 2>&1 || die "redis-server is missing after apt-get install"
  _quiet_distro_service
  log "installed $(redis-server --version | awk '{sub("v=", "", $3); print $3}')"
}

# _forget_stale_pidfile -> drops a pidfile whose pid now belongs to another program
# (left over from before a reboot).
_forget_stale_pidfile() { forget_stale_pidfile "$PIDFILE" "redis-server"; }

start() {
  _forget_stale_pidfile
  command -v redis-server >/dev/null 2>&1 || die "redis-server is not installed; run: $0 install"
  if pid_alive "$PIDFILE"; then
    _answers && { log "running on $HOST:$PORT (pid $(cat "$PIDFILE"))"; return 0; }
    die "pid $(cat "$PIDFILE") is alive but $HOST:$PORT does not answer PING (see $LOGFILE)"
  fi
  if port_open "$HOST" "$PORT"; then
    die "$HOST:$PORT is taken by a process not started by this script; stop it first"
  fi
  _write_conf
  # setsid: the server outlives this shell and the terminal that started it.
  setsid redis-server "$CONF" >>"$LOGFILE" 2>&1 </dev/null &
  echo $! >"$PIDFILE"
  wait_ready "$PIDFILE" "$START_TIMEOUT_S" _answers "$HOST:$PORT" "$LOGFILE"
  log "started on $HOST:$PORT (pid $(cat "$PIDFILE"), data in $STATE/data)"
}

stop() {
  _forget_stale_pidfile
  stop_service "$PIDFILE"
}

status() {
  _forget_stale_pidfile
  if pid_alive "$PIDFILE" && _answers; then
    log "running on $HOST:$PORT (pid $(cat "$PIDFILE"), $(_cli dbsize) keys in db 0)"
    return 0
  fi
  log "not running"
  return 1
}

main_verb "$@"
