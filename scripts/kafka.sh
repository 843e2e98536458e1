#!/usr/bin/env bash
# Local Apache Kafka (KRaft) without Docker: jars from Maven Central, cached outside the repo.
#   scripts/kafka.sh install   fetch the broker classpath (once; reused afterwards)
#   scripts/kafka.sh up        install if needed, format storage if new, start, return once it serves
#   scripts/kafka.sh down      stop the brokers started by `up`, by their PIDs
#   scripts/kafka.sh status
# KAFKA_NODES=3 runs a three-broker cluster: node n (1..3) is a combined broker and controller
# serving clients on KAFKA_PORT + 2(n-1) and its controller on the port after it (9092..9097),
# the three controllers forming the quorum; internal topics keep 3 copies, 2 in sync.
# Env: KAFKA_PORT (9092), KAFKA_NODES (1 or 3), KAFKA_CONTROLLER_PORT (port+1, one node only),
#      KAFKA_DATA_DIR (a cluster puts node-1..3 in it), KAFKA_HEAP (512m; 384m a node in a cluster),
#      WSL_CACHE, KAFKA_GROUP_INITIAL_REBALANCE_DELAY_MS (0: a new group forms at once; Kafka's
#      default is 3000).
set -euo pipefail
# shellcheck source=scripts/lib.sh
source "$(dirname "$0")/lib.sh"

kafka_version=$(sed -n 's:.*<kafka.version>\(.*\)</kafka.version>.*:\1:p' "$here/kafka/pom.xml")
lib_dir="$cache/kafka-$kafka_version/lib"
port=${KAFKA_PORT:-9092}
run_dir="$cache/run"
# How many nodes `up` started on this port (until `down`): the other commands' default.
nodes_file="$run_dir/kafka-$port.nodes"
start_timeout=${KAFKA_START_TIMEOUT:-90}
rebalance_delay_ms=${KAFKA_GROUP_INITIAL_REBALANCE_DELAY_MS:-0}

die() { echo "kafka: $*" >&2; exit 1; }
say() { echo "==> kafka: $*"; }

[[ $port =~ ^[0-9]+$ ]] || die "KAFKA_PORT must be a port number, got '$port'"
[[ $rebalance_delay_ms =~ ^[0-9]+$ ]] \
  || die "KAFKA_GROUP_INITIAL_REBALANCE_DELAY_MS must be milliseconds (0 or more), got '$rebalance_delay_ms'"
nodes=${KAFKA_NODES:-$(cat "$nodes_file" 2>/dev/null || echo 1)}
case $nodes in
  1) replication=1 min_isr=1 heap=${KAFKA_HEAP:-512m}
     data_dir=${KAFKA_DATA_DIR:-$run_dir/kafka-$port} ;;
  3) [[ -z ${KAFKA_CONTROLLER_PORT:-} ]] \
       || die "KAFKA_CONTROLLER_PORT is for one node; a cluster's controllers use KAFKA_PORT + 1, + 3, + 5"
     replication=3 min_isr=2 heap=${KAFKA_HEAP:-384m}
     data_dir=${KAFKA_DATA_DIR:-$run_dir/kafka-$port-cluster} ;;
  *) die "KAFKA_NODES must be 1 (one broker) or 3 (a three-broker cluster), got '$nodes'" ;;
esac

node_port() { echo $((port + 2 * ($1 - 1))); }
node_controller_port() {
  if ((nodes == 1)); then echo "${KAFKA_CONTROLLER_PORT:-$((port + 1))}"; else echo $((port + 2 * $1 - 1)); fi
}
node_dir() { if ((nodes == 1)); then echo "$data_dir"; else echo "$data_dir/node-$1"; fi; }
node_pid_file() { echo "$run_dir/kafka-$(node_port "$1").pid"; }
node_log() { echo "$run_dir/kafka-$(node_port "$1").log"; }

# live_pid NODE: the PID in the node's pid file, if that process is this node's broker: java
# running `kafka.Kafka CONFIG` where CONFIG serves the node's port (whatever KAFKA_DATA_DIR is now).
live_pid() {
  local pid_file pid argv=()
  pid_file=$(node_pid_file "$1")
  [[ -f $pid_file ]] || return 1
  pid=$(cat "$pid_file")
  [[ $pid =~ ^[0-9]+$ ]] || return 1
  mapfile -d '' -t argv 2>/dev/null <"/proc/$pid/cmdline" || return 1
  ((${#argv[@]} >= 3)) && [[ ${argv[0]##*/} == java && ${argv[-2]} == kafka.Kafka ]] \
    && grep -qx "advertised.listeners=PLAINTEXT://127.0.0.1:$(node_port "$1")" "${argv[-1]}" 2>/dev/null \
    && echo "$pid"
}

install() {
  command -v java >/dev/null || die "Java 17+ is required: install a JDK (Debian: apt-get install openjdk-17-jdk-headless)"
  local java_major
  java_major=$(java -XshowSettings:properties -version 2>&1 | sed -n 's/.*java.specification.version = \([0-9]*\).*/\1/p')
  [[ ${java_major:-0} -ge 17 ]] || die "Kafka $kafka_version needs Java 17+, found Java ${java_major:-unknown}"
  fetch_maven_jars "$here/kafka/pom.xml" "$lib_dir" "Apache Kafka $kafka_version"
}

java_args=("-Xmx$heap" -Xms128m -XX:+UseG1GC
  "-Dlog4j2.configurationFile=$here/kafka/log4j2.yaml" -cp "$lib_dir/*")

# The cluster id already formatted into a node's storage (all nodes must share it), else a new one.
cluster_id() {
  local node meta
  for ((node = 1; node <= nodes; node++)); do
    meta="$(node_dir "$node")/logs/meta.properties"
    if [[ -f $meta ]]; then sed -n 's/^cluster\.id=//p' "$meta"; return 0; fi
  done
  java "${java_args[@]}" kafka.tools.StorageTool random-uuid 2>/dev/null | tail -1
}

# start_node NODE VOTERS CLUSTER_ID: write its config, format its storage if new, start it.
start_node() {
  local node=$1 dir config pid
  dir=$(node_dir "$node")
  config="$dir/server.properties"
  mkdir -p "$dir"
  sed -e "s|@NODE_ID@|$node|g" -e "s|@VOTERS@|$2|g" -e "s|@PORT@|$(node_port "$node")|g" \
    -e "s|@CONTROLLER_PORT@|$(node_controller_port "$node")|g" -e "s|@DATA_DIR@|$dir|g" \
    -e "s|@REPLICATION@|$replication|g" -e "s|@MIN_ISR@|$min_isr|g" \
    -e "s|@REBALANCE_DELAY_MS@|$rebalance_delay_ms|g" "$here/kafka/server.properties.in" > "$config"
  if [[ ! -f $dir/logs/meta.properties ]]; then
    say "formatting KRaft storage in $dir"
    java "${java_args[@]}" kafka.tools.StorageTool format -t "$3" -c "$config" >"$dir/format.log" 2>&1 \
      || die "formatting storage failed: see $dir/format.log"
  fi
  say "starting node $node on 127.0.0.1:$(node_port "$node") (log: $(node_log "$node"))"
  nohup java "${java_args[@]}" kafka.Kafka "$config" >"$(node_log "$node")" 2>&1 </dev/null &
  pid=$!
  echo "$pid" >"$(node_pid_file "$node")"
}

# stop_node NODE: SIGTERM (then SIGKILL) the node's broker by its PID; quiet if it is not running.
stop_node() {
  local pid
  if pid=$(live_pid "$1"); then
    say "stopping node $1 (pid $pid)"
    terminate_pid "$pid" 30 "Kafka broker" || return 1
  fi
  rm -f "$(node_pid_file "$1")"
}

up() {
  install
  local node voters="" started=() waited=0 pending
  for ((node = 1; node <= nodes; node++)); do
    voters+="${voters:+,}$node@127.0.0.1:$(node_controller_port "$node")"
    live_pid "$node" >/dev/null && continue
    port_open "$(node_port "$node")" \
      && die "127.0.0.1:$(node_port "$node") is already in use by another process: set KAFKA_PORT to a free port"
    port_open "$(node_controller_port "$node")" \
      && die "127.0.0.1:$(node_controller_port "$node") is in use: set KAFKA_CONTROLLER_PORT (one node) or KAFKA_PORT to a free port"
    started+=("$node")
  done
  if ((${#started[@]} == 0)); then say "already running on 127.0.0.1:$port ($nodes node(s))"; return 0; fi
  mkdir -p "$run_dir"
  echo "$nodes" >"$nodes_file"
  local id
  id=$(cluster_id)
  for node in "${started[@]}"; do start_node "$node" "$voters" "$id"; done
  # A node reports "started" only once a quorum of controllers has formed: start all, then wait.
  while true; do
    pending=0
    for node in "${started[@]}"; do
      # The PID recorded a moment ago is ours; until it has exec'd java (slow on a busy machine)
      # live_pid would not recognise it yet.
      if ! kill -0 "$(cat "$(node_pid_file "$node")")" 2>/dev/null; then
        local failed_log why
        failed_log=$(node_log "$node")
        why=$(exit_reason "$failed_log")
        for node in "${started[@]}"; do stop_node "$node"; done
        die "node $node exited during start-up: ${why:-no exception in its log} (log: $failed_log)"
      fi
      port_open "$(node_port "$node")" && grep -q "Kafka Server started" "$(node_log "$node")" \
        || pending=1
    done
    ((pending)) || break
    if ((waited++ >= start_timeout)); then
      for node in "${started[@]}"; do stop_node "$node"; done
      die "not ready after ${start_timeout}s: see the logs in $run_dir"
    fi
    sleep 1
  done
  say "ready on 127.0.0.1:$port ($nodes node(s), ${waited}s)"
}

down() {
  local node pid stoppers=() failed=0
  # All at once: a broker's controlled shutdown waits for the controller quorum, which is gone
  # for the last one stopped when they stop one after another.
  for ((node = 1; node <= nodes; node++)); do stop_node "$node" & stoppers+=($!); done
  for pid in "${stoppers[@]}"; do wait "$pid" || failed=1; done
  ((failed == 0)) || exit 1
  rm -f "$nodes_file"
  say "stopped on 127.0.0.1:$port"
}

status() {
  local node pid missing=0
  for ((node = 1; node <= nodes; node++)); do
    if pid=$(live_pid "$node"); then
      echo "kafka: node $node running on 127.0.0.1:$(node_port "$node") (pid $pid)"
    else
      echo "kafka: node $node not running on port $(node_port "$node")"
      missing=1
    fi
  done
  return "$missing"
}

case "${1:-}" in
  install) install ;;
  up) up ;;
  down) down ;;
  status) status ;;
  *) echo "usage: $0 install|up|down|status" >&2; exit 2 ;;
esac
