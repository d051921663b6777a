#!/usr/bin/env bash
# Shared helpers for the service launchers in deploy/local/<service>.sh.
#
# Every launcher takes one verb: install | start | stop | status, is idempotent (fast when
# already installed / running), keeps all its state under "$SERVICES_HOME/<service>", binds
# to 127.0.0.1 only, and exits non-zero with one clear line when something fails.
set -euo pipefail

REPO_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
SERVICES_HOME="${AXIOM_SERVICES_HOME:-$REPO_ROOT/.services}"
mkdir -p "$SERVICES_HOME"

log() { printf '[%s] %s\n' "${SERVICE:-services}" "$*" >&2; }
die() { printf '[%s] error: %s\n' "${SERVICE:-services}" "$*" >&2; exit 1; }

# state_dir -> "$SERVICES_HOME/$SERVICE", created.
state_dir() { local d="$SERVICES_HOME/$SERVICE"; mkdir -p "$d"; printf '%s' "$d"; }

# port_open HOST PORT -> 0 if a TCP connect succeeds.
port_open() { (exec 3<>"/dev/tcp/$1/$2") 2>/dev/null && exec 3>&- 3<&- ; }

# wait_port HOST PORT SECONDS -> waits for the port, dies after SECONDS.
wait_port() {
  local host=$1 port=$2 secs=$3 i=0
  while ! port_open "$host" "$port"; do
    i=$((i + 1))
    [ "$i" -gt $((secs * 5)) ] && die "$host:$port not open after ${secs}s (see $(state_dir)/*.log)"
    sleep 0.2
  done
}

# pid_alive PIDFILE -> 0 if the pid in the file is a live process.
pid_alive() { [ -f "$1" ] && kill -0 "$(cat "$1")" 2>/dev/null; }

# stop_pid PIDFILE [SECONDS] -> SIGTERM, wait, then SIGKILL; removes the file.
stop_pid() {
  local f=$1 secs=${2:-30} pid i=0
  pid_alive "$f" || { rm -f "$f"; return 0; }
  pid=$(cat "$f")
  kill -TERM "$pid" 2>/dev/null || true
  while kill -0 "$pid" 2>/dev/null; do
    i=$((i + 1))
    if [ "$i" -gt $((secs * 5)) ]; then kill -KILL "$pid" 2>/dev/null || true; break; fi
    sleep 0.2
  done
  rm -f "$f"
}

# forget_stale_pidfile PIDFILE PATTERN -> drops a pidfile whose live pid is not PATTERN's
# program (the pid was reused by something else after a crash).
forget_stale_pidfile() {
  if pid_alive "$1" && ! tr '\0' ' ' <"/proc/$(cat "$1")/cmdline" 2>/dev/null | grep -q "$2"; then
    rm -f "$1"
  fi
}

# wait_ready PIDFILE SECONDS CHECK WHAT LOGFILE -> polls the function CHECK until it succeeds;
# dies (after stopping the process) if the process exits or SECONDS pass.
wait_ready() {
  local pidfile=$1 secs=$2 check=$3 what=$4 logfile=$5 i=0
  until "$check"; do
    pid_alive "$pidfile" || { rm -f "$pidfile"; die "the server exited at start (see $logfile)"; }
    i=$((i + 1))
    if [ "$i" -gt $((secs * 5)) ]; then
      stop_pid "$pidfile" 10
      die "no answer from $what after ${secs}s (see $logfile)"
    fi
    sleep 0.2
  done
}

# stop_service PIDFILE -> stops the process of PIDFILE if it runs; says what it did.
stop_service() {
  if ! pid_alive "$1"; then
    rm -f "$1"
    log "not running"
    return 0
  fi
  stop_pid "$1" 30
  log "stopped"
}

# apt_install PKG... -> installs missing Debian packages (apt-get update once per run).
apt_install() {
  local missing=()
  for p in "$@"; do dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p"); done
  [ "${#missing[@]}" -eq 0 ] && return 0
  log "installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  if [ ! -f "$SERVICES_HOME/.apt-updated" ]; then
    apt-get update -qq >/dev/null && touch "$SERVICES_HOME/.apt-updated"
  fi
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
}

# maven_fetch DEST_DIR POM_FILE -> copies the runtime dependency jars of POM into DEST_DIR.
maven_fetch() {
  local dest=$1 pom=$2
  [ -f "$dest/.complete" ] && return 0
  mkdir -p "$dest"
  log "fetching jars into $dest"
  mvn -B -q -f "$pom" org.apache.maven.plugins:maven-dependency-plugin:3.8.1:copy-dependencies \
    -DincludeScope=runtime -DoutputDirectory="$dest" >/dev/null \
    || die "maven could not resolve $pom"
  touch "$dest/.complete"
}

# main_verb -> dispatches $1 to install/start/stop/status functions of the launcher.
main_verb() {
  local verb=${1:-status}
  case "$verb" in
    install|start|stop|status) "$verb" ;;
    *) die "usage: $0 install|start|stop|status" ;;
  esac
}
