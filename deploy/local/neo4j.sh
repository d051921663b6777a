#!/usr/bin/env bash
# Neo4j 5.26 Community on bolt://127.0.0.1:7687 (no auth, no HTTP), from Maven Central jars.
#
#   deploy/local/neo4j.sh install|start|stop|status
#
# install: a JDK 17 (Debian package if missing) and the jars of neo4j/pom.xml (org.neo4j:neo4j
#          + org.neo4j:neo4j-bolt) in $SERVICES_HOME/neo4j/libs-<pom digest>.
# start:   runs neo4j/Launcher.java with the JDK's source launcher; returns once the Python
#          driver's verify_connectivity() succeeds (or, without the driver, a Bolt handshake).
# stop:    SIGTERM; the launcher's shutdown hook stops the database cleanly.
#
# Environment: AXIOM_NEO4J_PORT (7687), AXIOM_NEO4J_HEAP (512m), AXIOM_NEO4J_PAGECACHE_MB
# (96), AXIOM_NEO4J_JAVA (a java binary of JDK 17 or 21; default: the system's JDK 17).
# Data and logs: $SERVICES_HOME/neo4j/home/{data,logs}; launcher output: neo4j.log.
source "$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/lib.sh"
SERVICE=neo4j

HERE="$REPO_ROOT/deploy/local/neo4j"
POM="$HERE/pom.xml"
PORT="${AXIOM_NEO4J_PORT:-7687}"
HEAP="${AXIOM_NEO4J_HEAP:-512m}"
PAGECACHE_MB="${AXIOM_NEO4J_PAGECACHE_MB:-96}"
START_TIMEOUT_S=120
DIR="$(state_dir)"
PIDFILE="$DIR/neo4j.pid"
LOGFILE="$DIR/neo4j.log"
VENV_PY="$REPO_ROOT/.venv/bin/python"

# libs_dir -> the jar folder for the current pom (a changed pom fetches afresh).
libs_dir() { printf '%s/libs-%s' "$DIR" "$(sha256sum "$POM" | cut -c1-12)"; }

# java_bin -> a java of JDK 17 (Neo4j 5.26 runs on 17 or 21; not on 25).
java_bin() {
  if [ -n "${AXIOM_NEO4J_JAVA:-}" ]; then printf '%s' "$AXIOM_NEO4J_JAVA"; return 0; fi
  local j
  for j in /usr/lib/jvm/java-17-openjdk-*/bin/java /usr/lib/jvm/java-21-openjdk-*/bin/java; do
    [ -x "$j" ] && [ -x "$(dirname "$j")/javac" ] && { printf '%s' "$j"; return 0; }
  done
  return 1
}

install() {
  java_bin >/dev/null || apt_install openjdk-17-jdk-headless
  java_bin >/dev/null || die "no JDK 17 found after installing openjdk-17-jdk-headless"
  command -v mvn >/dev/null || apt_install maven
  local libs
  libs="$(libs_dir)"
  maven_fetch "$libs" "$POM"
  # Jars of an older pom are dead weight once the current set is complete.
  find "$DIR" -maxdepth 1 -type d -name 'libs-*' ! -path "$libs" -exec rm -rf {} +
}

# bolt_ready -> 0 once a Bolt client gets an answer from 127.0.0.1:$PORT.
bolt_ready() {
  if [ -x "$VENV_PY" ] && "$VENV_PY" -c 'import neo4j' 2>/dev/null; then
    "$VENV_PY" - "$PORT" <<'PY' 2>/dev/null
import sys
import neo4j
url = f"bolt://127.0.0.1:{sys.argv[1]}"
with neo4j.GraphDatabase.driver(url, auth=None, connection_timeout=2.0) as driver:
    driver.verify_connectivity()
PY
    return
  fi
  # Without the driver: the Bolt handshake (magic + four proposed versions) must be answered
  # with a non-zero version.
  local reply
  reply=$(
    exec 2>/dev/null
    exec 3<>"/dev/tcp/127.0.0.1/$PORT" || exit 1
    printf '\x60\x60\xb0\x17\x00\x08\x08\x05\x00\x00\x04\x04\x00\x00\x00\x04\x00\x00\x00\x03' >&3
    timeout 2 head -c 4 <&3 | od -An -tx1 | tr -d ' \n'
  ) || return 1
  [ -n "$reply" ] && [ "$reply" != "00000000" ]
}

start() {
  exec 9>"$DIR/.lock"
  flock -w 60 9 || die "another neo4j.sh holds $DIR/.lock"
  if pid_alive "$PIDFILE" && bolt_ready; then
    log "already running (pid $(cat "$PIDFILE")) on bolt://127.0.0.1:$PORT"
    return 0
  fi
  if pid_alive "$PIDFILE"; then
    log "pid $(cat "$PIDFILE") does not answer on Bolt; restarting it"
    stop_pid "$PIDFILE" 60
  fi
  port_open 127.0.0.1 "$PORT" && die "127.0.0.1:$PORT is taken by another process"
  local libs java
  libs="$(libs_dir)"
  [ -f "$libs/.complete" ] || die "not installed; run deploy/local/neo4j.sh install"
  java="$(java_bin)" || die "no JDK 17; run deploy/local/neo4j.sh install"
  mkdir -p "$DIR/home"
  log "starting on bolt://127.0.0.1:$PORT (heap $HEAP, page cache ${PAGECACHE_MB}m)"
  # G1's periodic collection hands heap back to the OS when the server idles: other
  # services share this machine.
  nohup "$java" -Xms64m -Xmx"$HEAP" -XX:+UseG1GC -XX:G1PeriodicGCInterval=30000 \
    -XX:+ExitOnOutOfMemoryError -Dfile.encoding=UTF-8 \
    --add-opens=java.base/java.nio=ALL-UNNAMED --add-opens=java.base/sun.nio.ch=ALL-UNNAMED \
    --add-opens=java.base/java.io=ALL-UNNAMED --add-opens=java.base/java.lang=ALL-UNNAMED \
    -cp "$libs/*" "$HERE/Launcher.java" "$DIR/home" "$PORT" "$PAGECACHE_MB" \
    >"$LOGFILE" 2>&1 </dev/null 9>&- &
  echo $! >"$PIDFILE"
  local i=0
  until grep -q '^neo4j ready' "$LOGFILE" 2>/dev/null && bolt_ready; do
    if ! pid_alive "$PIDFILE"; then
      tail -n 20 "$LOGFILE" >&2 || true
      rm -f "$PIDFILE"
      die "exited during start-up (see $LOGFILE and $DIR/home/logs/debug.log)"
    fi
    i=$((i + 1))
    if [ "$i" -gt $((START_TIMEOUT_S * 2)) ]; then
      stop_pid "$PIDFILE" 30
      die "no Bolt answer on 127.0.0.1:$PORT after ${START_TIMEOUT_S}s (see $LOGFILE)"
    fi
    sleep 0.5
  done
  log "ready on bolt://127.0.0.1:$PORT (pid $(cat "$PIDFILE"), $((i / 2))s)"
}

stop() {
  exec 9>"$DIR/.lock"
  flock -w 60 9 || die "another neo4j.sh holds $DIR/.lock"
  if ! pid_alive "$PIDFILE"; then
    rm -f "$PIDFILE"
    log "not running"
    return 0
  fi
  log "stopping pid $(cat "$PIDFILE")"
  stop_pid "$PIDFILE" 60
  log "stopped"
}

status() {
  if pid_alive "$PIDFILE" && port_open 127.0.0.1 "$PORT"; then
    log "running (pid $(cat "$PIDFILE")) on bolt://127.0.0.1:$PORT"
    return 0
  fi
  log "stopped"
  return 1
}

main_verb "$@"
