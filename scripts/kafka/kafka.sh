#!/usr/bin/env bash
# Real Apache Kafka (KRaft, combined broker+controller nodes) on loopback, from Maven Central jars.
#
#   kafka.sh fetch                          fetch the pinned Kafka runtime jars (idempotent)
#   kafka.sh start single|cluster [--dir DIR] [--port BASE]
#                                           format + start 1 node, or 3 nodes (RF=3, min.insync=2);
#                                           prints KAFKA_SEEDS=127.0.0.1:19092,... when every node is ready,
#                                           and the SASL_SSL listener: KAFKA_SECURE_SEEDS, KAFKA_CA (PEM),
#                                           KAFKA_SASL_USER, KAFKA_SASL_PASSWORD
#   kafka.sh stop [--dir DIR] [--kill]      stop every node started from DIR (SIGTERM, then SIGKILL)
#   kafka.sh status [--dir DIR]             one line per node: id, pid, port, up/down
#   kafka.sh seeds [--dir DIR]              print the bootstrap list (host:port,...)
#   kafka.sh kill-broker N [--dir DIR]      SIGKILL node N (no clean shutdown)
#   kafka.sh restart-broker N [--dir DIR]   start node N again (stopping it first if it runs), wait ready
#   kafka.sh leader TOPIC PARTITION         print the node id leading TOPIC/PARTITION (-1: none)
#   kafka.sh isr TOPIC PARTITION            print the ISR of TOPIC/PARTITION (comma separated ids)
#   kafka.sh describe TOPIC                 kafka-topics --describe output
#   kafka.sh controller                     print the node id of the active KRaft controller
#   kafka.sh quorum                         kafka-metadata-quorum describe --status output
#   kafka.sh tool CLASS [ARGS...]           run any class on the Kafka classpath (e.g. org.apache.kafka.tools.TopicCommand)
#   kafka.sh cluster-id [COUNT]             print COUNT (default 1) new random cluster ids, as start makes them
#
# Environment:
#   KAFKA_VERSION        pinned in scripts/kafka/pom.xml (kafka.version); override to try another
#   TICKLINE_KAFKA_HOME  jar cache (default $HOME/.cache/tickline/kafka-$KAFKA_VERSION); jars in libs/
#   KAFKA_RUN_DIR        run dir (default ${TMPDIR:-/tmp}/tickline-kafka); --dir overrides
#   KAFKA_BASE_PORT      first port (default 19092). Node i (1-based) listens on
#                        client  BASE+2(i-1)  and controller  BASE+2(i-1)+1:
#                        19092/19093, 19094/19095, 19096/19097; and a SASL_SSL client
#                        listener on BASE+100+(i-1): 19192, 19193, 19194 (TLS with a
#                        throwaway CA made at start; SASL PLAIN, SCRAM-SHA-256 and
#                        SCRAM-SHA-512 for user tickline)
#   KAFKA_HEAP_OPTS      default "-Xms128m -Xmx512m" per node
#   KAFKA_START_TIMEOUT  seconds to wait for readiness (default 90)
#   JAVA                 java binary (default $JAVA_HOME/bin/java or java)
set -euo pipefail

SCRIPT_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
POM="$SCRIPT_DIR/pom.xml"
PINNED_VERSION=$(sed -n 's:.*<kafka.version>\(.*\)</kafka.version>.*:\1:p' "$POM" | head -n1)
KAFKA_VERSION=${KAFKA_VERSION:-$PINNED_VERSION}
KAFKA_HOME=${TICKLINE_KAFKA_HOME:-$HOME/.cache/tickline/kafka-$KAFKA_VERSION}
LIBS="$KAFKA_HOME/libs"
RUN_DIR=${KAFKA_RUN_DIR:-${TMPDIR:-/tmp}/tickline-kafka}
BASE_PORT=${KAFKA_BASE_PORT:-19092}
HEAP_OPTS=${KAFKA_HEAP_OPTS:--Xms128m -Xmx512m}
START_TIMEOUT=${KAFKA_START_TIMEOUT:-90}
if [ -z "${JAVA:-}" ]; then
  if [ -n "${JAVA_HOME:-}" ] && [ -x "$JAVA_HOME/bin/java" ]; then JAVA="$JAVA_HOME/bin/java"; else JAVA=java; fi
fi

die() { echo "kafka.sh: $*" >&2; exit 1; }
log() { echo "kafka.sh: $*" >&2; }

# ---------------------------------------------------------------------------------------------
# fetch

fetch() {
  if [ -f "$LIBS/.complete" ] && [ "$(cat "$LIBS/.complete")" = "$KAFKA_VERSION" ]; then
    return 0
  fi
  command -v mvn >/dev/null 2>&1 || die "mvn not found (needed to fetch Kafka $KAFKA_VERSION from Maven Central)"
  mkdir -p "$KAFKA_HOME"
  local tmp="$KAFKA_HOME/libs.tmp.$$" mvnlog="$KAFKA_HOME/fetch.log" t0=$SECONDS
  rm -rf "$tmp"
  log "fetching Apache Kafka $KAFKA_VERSION runtime from Maven Central into $LIBS"
  if ! mvn -B -ntp -f "$POM" -Dkafka.version="$KAFKA_VERSION" \
        dependency:copy-dependencies -DincludeScope=runtime -DoutputDirectory="$tmp" >"$mvnlog" 2>&1; then
    tail -n 40 "$mvnlog" >&2
    rm -rf "$tmp"
    die "mvn dependency:copy-dependencies failed (full log: $mvnlog)"
  fi
  [ -f "$tmp/kafka_2.13-$KAFKA_VERSION.jar" ] || { rm -rf "$tmp"; die "kafka_2.13-$KAFKA_VERSION.jar missing after fetch"; }
  echo "$KAFKA_VERSION" >"$tmp/.complete"
  rm -rf "$LIBS"
  mv "$tmp" "$LIBS"
  log "fetched $(find "$LIBS" -name '*.jar' | wc -l) jars ($(du -sh "$LIBS" | cut -f1)) in $((SECONDS - t0))s"
}

# ---------------------------------------------------------------------------------------------
# run-dir state

client_port() { echo $((BASE_PORT + 2 * ($1 - 1))); }
ctrl_port() { echo $((BASE_PORT + 2 * ($1 - 1) + 1)); }
secure_port() { echo $((BASE_PORT + 100 + $1 - 1)); }

SASL_USER=tickline
SASL_PASSWORD=tickline-test-secret

secure_seeds_of() {
  local i out=""
  for ((i = 1; i <= NODES; i++)); do out+="${out:+,}127.0.0.1:$(secure_port "$i")"; done
  echo "$out"
}

# A throwaway CA and one certificate for 127.0.0.1/localhost, PEM, for the SASL_SSL listener.
make_tls() {
  local d="$RUN_DIR/tls"
  mkdir -p "$d"
  openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj "/CN=tickline test CA" \
    -keyout "$d/ca.key" -out "$d/ca.pem" >/dev/null 2>&1 || die "openssl: CA"
  openssl req -newkey rsa:2048 -nodes -subj "/CN=localhost" -keyout "$d/broker.key.pem" \
    -out "$d/broker.csr" >/dev/null 2>&1 || die "openssl: broker key"
  printf 'subjectAltName=IP:127.0.0.1,DNS:localhost\n' >"$d/san.ext"
  openssl x509 -req -in "$d/broker.csr" -CA "$d/ca.pem" -CAkey "$d/ca.key" -CAcreateserial -days 2 \
    -extfile "$d/san.ext" -out "$d/broker.crt.pem" >/dev/null 2>&1 || die "openssl: broker cert"
  openssl pkcs8 -topk8 -nocrypt -in "$d/broker.key.pem" -out "$d/broker.pk8.pem" >/dev/null 2>&1 || die "openssl: pkcs8"
  cat "$d/broker.pk8.pem" "$d/broker.crt.pem" "$d/ca.pem" >"$d/broker.pem"
}

load_state() {
  [ -f "$RUN_DIR/cluster.env" ] || die "no Kafka started from $RUN_DIR (run: kafka.sh start single|cluster --dir $RUN_DIR)"
  # shellcheck disable=SC1091
  . "$RUN_DIR/cluster.env"   # NODES, BASE_PORT, MODE, CLUSTER_ID, KAFKA_VERSION, LIBS
}

seeds_of() {
  local i out=""
  for ((i = 1; i <= NODES; i++)); do out+="${out:+,}127.0.0.1:$(client_port "$i")"; done
  echo "$out"
}

pid_of() { # prints the pid of node $1 if it is alive and is our java process for that node
  local f="$RUN_DIR/broker$1/pid" pid
  [ -f "$f" ] || return 1
  pid=$(cat "$f")
  [ -n "$pid" ] && [ -r "/proc/$pid/cmdline" ] || return 1
  [[ "$(tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null)" == *"$RUN_DIR/broker$1/server.properties"* ]] || return 1
  echo "$pid"
}

port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

write_log4j() {
  cat >"$RUN_DIR/log4j2.properties" <<'EOF'
status = warn
appender.out.type = Console
appender.out.name = STDOUT
appender.out.layout.type = PatternLayout
appender.out.layout.pattern = [%d] %p %m (%c)%n
rootLogger.level = INFO
rootLogger.appenderRef.out.ref = STDOUT
logger.kafka.name = kafka
logger.kafka.level = INFO
logger.state.name = state.change.logger
logger.state.level = WARN
logger.request.name = kafka.request.logger
logger.request.level = WARN
logger.clients.name = org.apache.kafka.clients
logger.clients.level = WARN
logger.cfg.name = org.apache.kafka.common.config.AbstractConfig
logger.cfg.level = WARN
logger.zstd.name = org.apache.kafka.common.utils.AppInfoParser
logger.zstd.level = WARN
EOF
  cat >"$RUN_DIR/tools-log4j2.properties" <<'EOF'
status = error
appender.err.type = Console
appender.err.name = STDERR
appender.err.target = SYSTEM_ERR
appender.err.layout.type = PatternLayout
appender.err.layout.pattern = [%d] %p %m (%c)%n
rootLogger.level = WARN
rootLogger.appenderRef.err.ref = STDERR
EOF
}

write_props() { # node id
  local i=$1 rf=1 isr=1 voters="" j
  if [ "$NODES" -gt 1 ]; then rf=3; isr=2; fi
  for ((j = 1; j <= NODES; j++)); do voters+="${voters:+,}$j@127.0.0.1:$(ctrl_port "$j")"; done
  mkdir -p "$RUN_DIR/broker$i/data"
  cat >"$RUN_DIR/broker$i/server.properties" <<EOF
# generated by scripts/kafka/kafka.sh ($MODE, Kafka $KAFKA_VERSION)
process.roles=broker,controller
node.id=$i
controller.quorum.voters=$voters
listeners=PLAINTEXT://127.0.0.1:$(client_port "$i"),CONTROLLER://127.0.0.1:$(ctrl_port "$i"),SECURE://127.0.0.1:$(secure_port "$i")
advertised.listeners=PLAINTEXT://127.0.0.1:$(client_port "$i"),SECURE://127.0.0.1:$(secure_port "$i")
controller.listener.names=CONTROLLER
inter.broker.listener.name=PLAINTEXT
listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT,SECURE:SASL_SSL
# SECURE: TLS (PEM key and chain from make_tls) + SASL PLAIN / SCRAM-SHA-256 / SCRAM-SHA-512.
# SCRAM credentials are written at format time (StorageTool --add-scram).
listener.name.secure.ssl.keystore.type=PEM
listener.name.secure.ssl.keystore.location=$RUN_DIR/tls/broker.pem
listener.name.secure.sasl.enabled.mechanisms=PLAIN,SCRAM-SHA-256,SCRAM-SHA-512
listener.name.secure.plain.sasl.jaas.config=org.apache.kafka.common.security.plain.PlainLoginModule required user_$SASL_USER="$SASL_PASSWORD";
listener.name.secure.scram-sha-256.sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required;
listener.name.secure.scram-sha-512.sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required;
log.dirs=$RUN_DIR/broker$i/data
auto.create.topics.enable=false
num.partitions=1
default.replication.factor=$rf
min.insync.replicas=$isr
offsets.topic.replication.factor=$rf
offsets.topic.num.partitions=6
transaction.state.log.replication.factor=$rf
transaction.state.log.min.isr=$isr
transaction.state.log.num.partitions=6
share.coordinator.state.topic.replication.factor=$rf
share.coordinator.state.topic.min.isr=$isr
unclean.leader.election.enable=false
group.initial.rebalance.delay.ms=0
num.network.threads=2
num.io.threads=4
num.recovery.threads.per.data.dir=1
log.retention.hours=24
log.segment.bytes=67108864
# Failure detection. A dead broker is fenced (its partitions get new leaders) after
# broker.session.timeout.ms (6 s instead of 9 s, for fault tests). The KRaft quorum timeouts are
# raised above their defaults (fetch 2 s, election 1 s): on a loaded 2-core machine a node can
# stall for seconds, and with the defaults the controller quorum then flaps (seen in testing).
broker.heartbeat.interval.ms=1000
broker.session.timeout.ms=6000
controller.quorum.fetch.timeout.ms=4000
controller.quorum.election.timeout.ms=2000
EOF
}

java_cp() { echo "$LIBS/*"; }

launch_node() { # node id; appends to the node's log
  local i=$1 pid
  local dir="$RUN_DIR/broker$i"
  # shellcheck disable=SC2086
  nohup setsid "$JAVA" -server $HEAP_OPTS \
    -XX:+UseG1GC -XX:MaxGCPauseMillis=20 -XX:InitiatingHeapOccupancyPercent=35 -XX:+ExplicitGCInvokesConcurrent \
    -Xlog:gc:file="$dir/gc.log":time,uptime:filecount=2,filesize=10m \
    -Djava.awt.headless=true -Dlog4j2.configurationFile="$RUN_DIR/log4j2.properties" \
    -Dkafka.logs.dir="$dir" -Dtickline.kafka.node="$i" \
    -cp "$(java_cp)" kafka.Kafka "$dir/server.properties" \
    </dev/null >>"$dir/broker.log" 2>&1 &
  pid=$!
  echo "$pid" >"$dir/pid"
  # nohup/setsid exec into java: wait until the pid is the java process (or gone)
  local n=0
  while [ -d "/proc/$pid" ] && ! pid_of "$i" >/dev/null && [ $n -lt 100 ]; do sleep 0.05; n=$((n + 1)); done
}

# Wait until node $1 logged "Kafka Server started" (in KRaft: metadata caught up and broker
# unfenced) after log line $2, and its client port accepts connections; give up at $SECONDS
# value $3 (default: START_TIMEOUT from now).
wait_ready() {
  local i=$1 from=$2 deadline=${3:-$((SECONDS + START_TIMEOUT))} dir="$RUN_DIR/broker$1"
  while :; do
    if ! pid_of "$i" >/dev/null; then
      echo "---- tail of $dir/broker.log ----" >&2
      tail -n 40 "$dir/broker.log" >&2 || true
      die "node $i exited during startup"
    fi
    # (awk reads the file itself: a `tail | grep -q` pipeline fails under pipefail when grep
    # exits early and tail gets SIGPIPE)
    if awk -v f="$from" 'NR >= f && /Kafka Server started/ { ok = 1; exit } END { exit !ok }' "$dir/broker.log" 2>/dev/null &&
      port_open "$(client_port "$i")"; then
      return 0
    fi
    if [ $SECONDS -ge "$deadline" ]; then
      echo "---- tail of $dir/broker.log ----" >&2
      tail -n 40 "$dir/broker.log" >&2 || true
      die "node $i not ready within ${START_TIMEOUT}s (log: $dir/broker.log)"
    fi
    sleep 0.5
  done
}

log_lines() { if [ -f "$1" ]; then wc -l <"$1"; else echo 0; fi; }

# ---------------------------------------------------------------------------------------------
# commands

# new_cluster_id prints a random cluster id as `kafka-storage random-uuid` does: 22 chars, the
# base64url of 16 bytes, never starting with '-' (Kafka's Uuid.randomUuid draws again then, since
# the storage tool's argument parser would read such an id as an option and refuse it — which
# failed CI's cluster start once in 64), nor one of Uuid.RESERVED (ZERO_UUID, and ONE_UUID,
# the METADATA_TOPIC_ID).
new_cluster_id() {
  local id
  while :; do
    id=$(head -c 16 /dev/urandom | base64 | tr '+/' '-_' | tr -d '=\n')
    [ "${id:0:1}" != "-" ] && [ "$id" != "AAAAAAAAAAAAAAAAAAAAAA" ] && [ "$id" != "AAAAAAAAAAAAAAAAAAAAAQ" ] && break
  done
  echo "$id"
}

start() {
  MODE=${1:-}
  case "$MODE" in
    single) NODES=1 ;;
    cluster) NODES=3 ;;
    *) die "usage: kafka.sh start single|cluster [--dir DIR] [--port BASE]" ;;
  esac
  fetch
  command -v "$JAVA" >/dev/null 2>&1 || die "java not found"
  if [ -f "$RUN_DIR/cluster.env" ]; then
    local i running=""
    # shellcheck disable=SC1091
    (. "$RUN_DIR/cluster.env"; for ((i = 1; i <= NODES; i++)); do pid_of "$i" >/dev/null && echo "$i"; done) >"$RUN_DIR/.running" 2>/dev/null || true
    running=$(cat "$RUN_DIR/.running"); rm -f "$RUN_DIR/.running"
    [ -z "$running" ] || die "nodes ${running//$'\n'/ } already run from $RUN_DIR (kafka.sh stop --dir $RUN_DIR first)"
  fi
  local i p
  for ((i = 1; i <= NODES; i++)); do
    for p in "$(client_port "$i")" "$(ctrl_port "$i")" "$(secure_port "$i")"; do
      port_open "$p" && die "port 127.0.0.1:$p is in use (choose another base with --port or KAFKA_BASE_PORT)"
    done
  done
  # fresh state every start: these are throwaway test clusters
  rm -rf "$RUN_DIR"
  mkdir -p "$RUN_DIR"
  CLUSTER_ID=$(new_cluster_id)
  cat >"$RUN_DIR/cluster.env" <<EOF
MODE=$MODE
NODES=$NODES
BASE_PORT=$BASE_PORT
CLUSTER_ID=$CLUSTER_ID
KAFKA_VERSION=$KAFKA_VERSION
LIBS=$LIBS
EOF
  write_log4j
  make_tls
  local t0=$SECONDS fpids=()
  for ((i = 1; i <= NODES; i++)); do
    write_props "$i"
    "$JAVA" -Xmx256m -Dlog4j2.configurationFile="$RUN_DIR/tools-log4j2.properties" -cp "$(java_cp)" \
      kafka.tools.StorageTool format --cluster-id="$CLUSTER_ID" -c "$RUN_DIR/broker$i/server.properties" \
      --add-scram "SCRAM-SHA-256=[name=$SASL_USER,password=$SASL_PASSWORD]" \
      --add-scram "SCRAM-SHA-512=[name=$SASL_USER,password=$SASL_PASSWORD]" \
      >"$RUN_DIR/broker$i/format.log" 2>&1 &
    fpids+=($!)
  done
  for ((i = 1; i <= NODES; i++)); do
    wait "${fpids[$((i - 1))]}" || { cat "$RUN_DIR/broker$i/format.log" >&2; die "formatting node $i failed"; }
  done
  for ((i = 1; i <= NODES; i++)); do launch_node "$i"; done
  local deadline=$((SECONDS + START_TIMEOUT))
  for ((i = 1; i <= NODES; i++)); do
    if ! (wait_ready "$i" 1 "$deadline"); then
      stop_nodes kill >/dev/null 2>&1 || true
      die "start $MODE failed; all nodes stopped (run dir kept: $RUN_DIR)"
    fi
  done
  log "started $MODE (Kafka $KAFKA_VERSION, $NODES node(s), cluster id $CLUSTER_ID) in $((SECONDS - t0))s; run dir $RUN_DIR"
  echo "KAFKA_SEEDS=$(seeds_of)"
  echo "KAFKA_SECURE_SEEDS=$(secure_seeds_of)"
  echo "KAFKA_CA=$RUN_DIR/tls/ca.pem"
  echo "KAFKA_SASL_USER=$SASL_USER"
  echo "KAFKA_SASL_PASSWORD=$SASL_PASSWORD"
}

stop_nodes() { # [kill]
  load_state
  local i pid pids=() grace=20 deadline
  [ "${1:-}" = kill ] && grace=0
  for ((i = 1; i <= NODES; i++)); do
    if pid=$(pid_of "$i"); then pids+=("$pid"); fi
  done
  if [ ${#pids[@]} -eq 0 ]; then log "no node running from $RUN_DIR"; return 0; fi
  if [ "$grace" -gt 0 ]; then
    kill -TERM "${pids[@]}" 2>/dev/null || true
    deadline=$((SECONDS + grace))
    while [ $SECONDS -lt $deadline ]; do
      local alive=0
      for pid in "${pids[@]}"; do [ -d "/proc/$pid" ] && alive=1; done
      [ $alive -eq 0 ] && break
      sleep 0.5
    done
  fi
  for pid in "${pids[@]}"; do if [ -d "/proc/$pid" ]; then kill -KILL "$pid" 2>/dev/null || true; fi; done
  for pid in "${pids[@]}"; do while [ -d "/proc/$pid" ]; do sleep 0.1; done; done
  for ((i = 1; i <= NODES; i++)); do rm -f "$RUN_DIR/broker$i/pid"; done
  log "stopped ${#pids[@]} node(s) from $RUN_DIR"
}

check_node() {
  if ! [[ "${1:-}" =~ ^[0-9]+$ ]] || [ "$1" -lt 1 ] || [ "$1" -gt "$NODES" ]; then die "node id must be 1..$NODES"; fi
}

kill_broker() {
  load_state
  check_node "${1:-}"
  local pid
  pid=$(pid_of "$1") || die "node $1 is not running"
  kill -KILL "$pid"
  while [ -d "/proc/$pid" ]; do sleep 0.05; done
  rm -f "$RUN_DIR/broker$1/pid"
  log "SIGKILLed node $1 (pid $pid)"
}

restart_broker() {
  load_state
  check_node "${1:-}"
  local i=$1 pid from
  if pid=$(pid_of "$i"); then
    kill -TERM "$pid" 2>/dev/null || true
    local deadline=$((SECONDS + 20))
    while [ -d "/proc/$pid" ] && [ $SECONDS -lt $deadline ]; do sleep 0.2; done
    if [ -d "/proc/$pid" ]; then kill -KILL "$pid" 2>/dev/null || true; fi
    while [ -d "/proc/$pid" ]; do sleep 0.05; done
  fi
  local t0=$SECONDS
  from=$(( $(log_lines "$RUN_DIR/broker$i/broker.log") + 1 ))
  echo "==== tickline restart $(date -u +%FT%TZ) ====" >>"$RUN_DIR/broker$i/broker.log"
  launch_node "$i"
  wait_ready "$i" "$from"
  log "node $i restarted (pid $(cat "$RUN_DIR/broker$i/pid")) in $((SECONDS - t0))s"
}

run_tool() { # class args...
  [ -f "$LIBS/.complete" ] || fetch
  local cfg="$RUN_DIR/tools-log4j2.properties"
  if [ ! -f "$cfg" ]; then cfg=$(mktemp); printf 'rootLogger.level = OFF\n' >"$cfg"; fi
  "$JAVA" -Xmx256m -XX:TieredStopAtLevel=1 -XX:+UseSerialGC -Dlog4j2.configurationFile="$cfg" \
    -cp "$(java_cp)" "$@"
}

describe() { # topic
  load_state
  run_tool org.apache.kafka.tools.TopicCommand --bootstrap-server "$(seeds_of)" --describe --topic "$1"
}

partition_field() { # topic partition field
  local out
  out=$(describe "$1") || die "describe $1 failed"
  # lines: "\tTopic: t\tTopicId: ..\tPartition: 0\tLeader: 1\tReplicas: 1,2,3\tIsr: 1,2,3\t..."
  awk -v p="$2" -v f="$3" -F'\t' '
    { part=""; val="" ; found=0
      for (k = 1; k <= NF; k++) {
        split($k, kv, ": ")
        if (kv[1] == "Partition") part = kv[2]
        if (kv[1] == f) { val = kv[2]; found = 1 }
      }
      if (part == p && found) { print val; ok = 1; exit }
    }
    END { if (!ok) exit 1 }' <<<"$out" || die "partition $2 of topic $1 not found"
}

status() {
  load_state
  local i pid
  for ((i = 1; i <= NODES; i++)); do
    if pid=$(pid_of "$i"); then
      echo "node $i pid $pid port $(client_port "$i") up rss_kb $(awk '/VmRSS/{print $2}' "/proc/$pid/status")"
    else
      echo "node $i pid - port $(client_port "$i") down"
    fi
  done
}

# ---------------------------------------------------------------------------------------------
# argument parsing: --dir / --port may appear anywhere after the command

cmd=${1:-}
[ $# -gt 0 ] && shift
args=()
kill_flag=""
while [ $# -gt 0 ]; do
  case "$1" in
    --dir) [ $# -ge 2 ] || die "--dir needs a value"; RUN_DIR=$2; shift 2 ;;
    --dir=*) RUN_DIR=${1#--dir=}; shift ;;
    --port) [ $# -ge 2 ] || die "--port needs a value"; BASE_PORT=$2; shift 2 ;;
    --port=*) BASE_PORT=${1#--port=}; shift ;;
    --kill) kill_flag="kill"; shift ;;
    *) args+=("$1"); shift ;;
  esac
done
set -- "${args[@]+"${args[@]}"}"
case "$RUN_DIR" in /*) ;; *) RUN_DIR="$PWD/$RUN_DIR" ;; esac
RUN_DIR=${RUN_DIR%/}

case "$cmd" in
  fetch) fetch; echo "$LIBS" ;;
  start) start "${1:-}" ;;
  stop) stop_nodes "$kill_flag" ;;
  status) status ;;
  seeds) load_state; seeds_of ;;
  kill-broker) kill_broker "${1:-}" ;;
  restart-broker) restart_broker "${1:-}" ;;
  leader) [ $# -eq 2 ] || die "usage: kafka.sh leader TOPIC PARTITION"; load_state; partition_field "$1" "$2" Leader ;;
  isr) [ $# -eq 2 ] || die "usage: kafka.sh isr TOPIC PARTITION"; load_state; partition_field "$1" "$2" Isr ;;
  describe) [ $# -eq 1 ] || die "usage: kafka.sh describe TOPIC"; describe "$1" ;;
  quorum) load_state; run_tool org.apache.kafka.tools.MetadataQuorumCommand --bootstrap-server "$(seeds_of)" describe --status ;;
  controller)
    load_state
    q=$(run_tool org.apache.kafka.tools.MetadataQuorumCommand --bootstrap-server "$(seeds_of)" describe --status) || die "describe quorum failed"
    awk '$1 == "LeaderId:" { print $2; ok = 1 } END { exit !ok }' <<<"$q" || die "no LeaderId in: $q"
    ;;
  cluster-id) n=${1:-1}; [[ "$n" =~ ^[0-9]+$ ]] || die "usage: kafka.sh cluster-id [COUNT]"; for ((i = 0; i < n; i++)); do new_cluster_id; done ;;
  tool) [ $# -ge 1 ] || die "usage: kafka.sh tool CLASS [ARGS...]"; if [ -f "$RUN_DIR/cluster.env" ]; then load_state; fi; run_tool "$@" ;;
  ""|-h|--help|help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//' ;;
  *) die "unknown command '$cmd' (try: kafka.sh help)" ;;
esac
