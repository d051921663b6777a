#!/usr/bin/env bash
# Apache Kafka 4.x, single node in KRaft mode (broker + controller in one JVM), on
# 127.0.0.1:9092 (controller 127.0.0.1:9093), from Maven Central jars.
#
#   deploy/local/kafka.sh install   fetch the jars, render the config, format the log dir
#   deploy/local/kafka.sh start     start and wait until a metadata request is answered
#   deploy/local/kafka.sh stop      SIGTERM (controlled shutdown), wait, SIGKILL after 60 s
#   deploy/local/kafka.sh status    exit 0 when running
#
# State: $SERVICES_HOME/kafka/{libs,data,server.properties,log4j2.properties,cluster.id,
# kafka.pid,kafka.log,kafka.out}. Deleting the folder resets the broker (all topics gone).
# KAFKA_PORT / KAFKA_CONTROLLER_PORT / KAFKA_HEAP override the defaults; KAFKA_LIBS points
# at an already fetched jar folder (a second, throw-away broker in the fault tests).
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
SERVICE=kafka

HOST=127.0.0.1
PORT=${KAFKA_PORT:-9092}
CONTROLLER_PORT=${KAFKA_CONTROLLER_PORT:-9093}
HEAP=${KAFKA_HEAP:--Xms256m -Xmx512m}
START_TIMEOUT_S=${KAFKA_START_TIMEOUT_S:-120}
TEMPLATES="$REPO_ROOT/deploy/local/kafka"
DIR="$(state_dir)"
LIBS="${KAFKA_LIBS:-$DIR/libs}"
DATA="$DIR/data"
PIDFILE="$DIR/kafka.pid"
LOGFILE="$DIR/kafka.log"

# Serialise install/start/stop of this service (e.g. `services.sh up` and a test at once).
exec 9>"$DIR/.lock"
flock 9

_render() {  # _render TEMPLATE OUT: fill in the @PLACEHOLDERS@ of a config template
  sed -e "s|@PORT@|$PORT|g" -e "s|@CONTROLLER_PORT@|$CONTROLLER_PORT|g" \
    -e "s|@DATA_DIR@|$DATA|g" -e "s|@LOG_FILE@|$LOGFILE|g" "$1" >"$2.tmp"
  mv "$2.tmp" "$2"
}

_cluster_id() {  # a fixed id per state dir: 16 random bytes, base64url, not starting with '-'
  local id
  if [ ! -s "$DIR/cluster.id" ]; then
    id=-
    while [ "${id:0:1}" = "-" ]; do
      id=$(head -c 16 /dev/urandom | base64 | tr '+/' '-_' | cut -c1-22)
    done
    printf '%s\n' "$id" >"$DIR/cluster.id"
  fi
  cat "$DIR/cluster.id"
}

# The JVM command line (heap, logging, classpath) shared by the storage tool and the broker.
_java_cmd() {
  local heap
  read -r -a heap <<<"$HEAP"
  JAVA_CMD=(java "${heap[@]}" -XX:+UseG1GC -XX:MaxGCPauseMillis=20 -Djava.awt.headless=true
    -Dlog4j2.configurationFile="$DIR/log4j2.properties" -cp "$LIBS/*")
}

# The Python of the project's virtualenv when it has confluent-kafka (the readiness check).
_python() {
  local py="${AXIOM_PYTHON:-$REPO_ROOT/.venv/bin/python}"
  [ -x "$py" ] && "$py" -c 'import confluent_kafka' 2>/dev/null && printf '%s' "$py"
}

_ours() {  # 0 when the pid file names a live broker started by this launcher
  pid_alive "$PIDFILE" && grep -qa "kafka.Kafka" "/proc/$(cat "$PIDFILE")/cmdline" 2>/dev/null
}

_answers() {  # 0 when the broker answers a metadata request
  local py
  py=$(_python) || py=""
  if [ -n "$py" ]; then
    "$py" "$TEMPLATES/ready.py" "$HOST:$PORT" 2>/dev/null
  else
    # Without the virtualenv: the broker's own line once its listeners serve requests.
    port_open "$HOST" "$PORT" && grep -q "Kafka Server started" "$LOGFILE" 2>/dev/null
  fi
}

install() {
  command -v java >/dev/null || apt_install openjdk-17-jre-headless
  command -v mvn >/dev/null || apt_install maven
  export MAVEN_OPTS="${MAVEN_OPTS:-} -Dstyle.color=never"
  maven_fetch "$LIBS" "$TEMPLATES/pom.xml"
  _render "$TEMPLATES/server.properties.in" "$DIR/server.properties"
  _render "$TEMPLATES/log4j2.properties.in" "$DIR/log4j2.properties"
  if [ ! -f "$DATA/meta.properties" ]; then
    log "formatting $DATA"
    mkdir -p "$DATA"
    _java_cmd
    "${JAVA_CMD[@]}" kafka.tools.StorageTool format -t "$(_cluster_id)" -c "$DIR/server.properties" \
      >"$DIR/format.out" 2>&1 || die "storage format failed (see $DIR/format.out)"
  fi
}

start() {
  if _ours; then
    _answers && { log "running (pid $(cat "$PIDFILE")) on $HOST:$PORT"; return 0; }
  elif port_open "$HOST" "$PORT"; then
    die "$HOST:$PORT is in use by a process this launcher did not start"
  else
    install
    log "starting on $HOST:$PORT"
    [ -f "$LOGFILE" ] && mv -f "$LOGFILE" "$LOGFILE.prev"
    _java_cmd
    # setsid: the broker outlives the shell (and test) that started it; the inner shell
    # records its own pid, which exec hands to the JVM. 9>&-: the JVM must not hold the lock.
    setsid bash -c 'echo $$ >"$1"; shift; exec "$@"' _ "$PIDFILE" \
      "${JAVA_CMD[@]}" kafka.Kafka "$DIR/server.properties" \
      </dev/null >"$DIR/kafka.out" 2>&1 9>&- &
    local i=0
    while [ ! -s "$PIDFILE" ] && [ "$i" -lt 50 ]; do sleep 0.1; i=$((i + 1)); done
  fi
  local deadline=$((SECONDS + START_TIMEOUT_S))
  until _answers; do
    if ! _ours; then
      tail -n 5 "$LOGFILE" "$DIR/kafka.out" >&2 2>/dev/null || true
      rm -f "$PIDFILE"
      die "the broker exited during start-up (see $LOGFILE)"
    fi
    [ "$SECONDS" -ge "$deadline" ] && die "no answer on $HOST:$PORT after ${START_TIMEOUT_S}s (see $LOGFILE)"
    sleep 0.5
  done
  log "ready (pid $(cat "$PIDFILE")) on $HOST:$PORT"
}

stop() {
  if _ours; then
    log "stopping (pid $(cat "$PIDFILE"))"
    stop_pid "$PIDFILE" 60
  else
    rm -f "$PIDFILE"
  fi
  log "stopped"
}

status() {
  if _ours && port_open "$HOST" "$PORT"; then
    log "running (pid $(cat "$PIDFILE")) on $HOST:$PORT"
  elif _ours; then
    log "starting (pid $(cat "$PIDFILE")), $HOST:$PORT not open yet"
    return 1
  else
    log "stopped"
    return 1
  fi
}

main_verb "$@"
