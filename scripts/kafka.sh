#!/usr/bin/env bash
# Local single-node Apache Kafka (KRaft) without Docker: jars from Maven Central, cached outside the repo.
#   scripts/kafka.sh install   fetch the broker classpath (once; reused afterwards)
#   scripts/kafka.sh up        install if needed, format storage if new, start, return once it serves
#   scripts/kafka.sh down      stop the broker started by `up`, by its PID
#   scripts/kafka.sh status
# Env: KAFKA_PORT (9092), KAFKA_CONTROLLER_PORT (port+1), KAFKA_DATA_DIR, KAFKA_HEAP (512m), WSL_CACHE,
#      KAFKA_GROUP_INITIAL_REBALANCE_DELAY_MS (0: a new group forms at once; Kafka's default is 3000).
set -euo pipefail
# shellcheck source=scripts/lib.sh
source "$(dirname "$0")/lib.sh"

here=$(cd "$(dirname "$0")/.." && pwd)
cache=${WSL_CACHE:-$HOME/.cache/weather-speed-layer}
kafka_version=$(sed -n 's:.*<kafka.version>\(.*\)</kafka.version>.*:\1:p' "$here/kafka/pom.xml")
lib_dir="$cache/kafka-$kafka_version/lib"
port=${KAFKA_PORT:-9092}
controller_port=${KAFKA_CONTROLLER_PORT:-$((port + 1))}
run_dir="$cache/run"
data_dir=${KAFKA_DATA_DIR:-$run_dir/kafka-$port}
pid_file="$run_dir/kafka-$port.pid"
log_file="$run_dir/kafka-$port.log"
start_timeout=${KAFKA_START_TIMEOUT:-90}
rebalance_delay_ms=${KAFKA_GROUP_INITIAL_REBALANCE_DELAY_MS:-0}

die() { echo "kafka: $*" >&2; exit 1; }
say() { echo "==> kafka: $*"; }

[[ $port =~ ^[0-9]+$ ]] || die "KAFKA_PORT must be a port number, got '$port'"
[[ $rebalance_delay_ms =~ ^[0-9]+$ ]] \
  || die "KAFKA_GROUP_INITIAL_REBALANCE_DELAY_MS must be milliseconds (0 or more), got '$rebalance_delay_ms'"

live_pid() {
  [[ -f $pid_file ]] || return 1
  local pid
  pid=$(cat "$pid_file")
  kill -0 "$pid" 2>/dev/null && grep -q "kafka.Kafka" "/proc/$pid/cmdline" 2>/dev/null && echo "$pid"
}

port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

install() {
  command -v java >/dev/null || die "Java 17+ is required: install a JDK (Debian: apt-get install openjdk-17-jdk-headless)"
  local java_major
  java_major=$(java -XshowSettings:properties -version 2>&1 | sed -n 's/.*java.specification.version = \([0-9]*\).*/\1/p')
  [[ ${java_major:-0} -ge 17 ]] || die "Kafka $kafka_version needs Java 17+, found Java ${java_major:-unknown}"
  if [[ -f $lib_dir/.complete ]]; then return 0; fi
  command -v mvn >/dev/null || die "Maven is required to fetch Kafka from Maven Central: install it (Debian: apt-get install maven)"
  say "fetching Apache Kafka $kafka_version from Maven Central into $lib_dir"
  mkdir -p "$lib_dir"
  mvn -B -q -Dstyle.color=never -f "$here/kafka/pom.xml" dependency:copy-dependencies \
    -DincludeScope=runtime -DoutputDirectory="$lib_dir" \
    || die "mvn could not fetch the Kafka jars (see the output above)"
  touch "$lib_dir/.complete"
}

java_args=("-Xmx${KAFKA_HEAP:-512m}" -Xms128m -XX:+UseG1GC
  "-Dlog4j2.configurationFile=$here/kafka/log4j2.yaml" -cp "$lib_dir/*")

up() {
  install
  local pid
  if pid=$(live_pid); then say "already running on 127.0.0.1:$port (pid $pid)"; return 0; fi
  port_open "$port" && die "127.0.0.1:$port is already in use by another process: set KAFKA_PORT to a free port"
  port_open "$controller_port" && die "127.0.0.1:$controller_port is in use: set KAFKA_CONTROLLER_PORT to a free port"
  mkdir -p "$data_dir" "$run_dir"
  local config="$data_dir/server.properties"
  sed -e "s|@PORT@|$port|g" -e "s|@CONTROLLER_PORT@|$controller_port|g" -e "s|@DATA_DIR@|$data_dir|g" \
    -e "s|@REBALANCE_DELAY_MS@|$rebalance_delay_ms|g" "$here/kafka/server.properties.in" > "$config"
  if [[ ! -f $data_dir/logs/meta.properties ]]; then
    say "formatting KRaft storage in $data_dir"
    local cluster_id
    cluster_id=$(java "${java_args[@]}" kafka.tools.StorageTool random-uuid 2>/dev/null | tail -1)
    java "${java_args[@]}" kafka.tools.StorageTool format -t "$cluster_id" -c "$config" >"$data_dir/format.log" 2>&1 \
      || die "formatting storage failed: see $data_dir/format.log"
  fi
  say "starting broker on 127.0.0.1:$port (log: $log_file)"
  nohup java "${java_args[@]}" kafka.Kafka "$config" >"$log_file" 2>&1 </dev/null &
  pid=$!
  echo "$pid" >"$pid_file"
  local waited=0
  until port_open "$port" && grep -q "Kafka Server started" "$log_file"; do
    kill -0 "$pid" 2>/dev/null || { rm -f "$pid_file"; die "broker exited during start-up: see $log_file"; }
    ((waited++ >= start_timeout)) && { kill "$pid" 2>/dev/null || true; rm -f "$pid_file"; die "broker not ready after ${start_timeout}s: see $log_file"; }
    sleep 1
  done
  say "ready on 127.0.0.1:$port (pid $pid, ${waited}s)"
}

down() {
  local pid
  if ! pid=$(live_pid); then rm -f "$pid_file"; say "not running on port $port"; return 0; fi
  say "stopping pid $pid"
  terminate_pid "$pid" 30 "Kafka broker" || exit 1
  rm -f "$pid_file"
  say "stopped"
}

status() {
  local pid
  if pid=$(live_pid); then echo "kafka: running on 127.0.0.1:$port (pid $pid)"; else echo "kafka: not running on port $port"; return 1; fi
}

case "${1:-}" in
  install) install ;;
  up) up ;;
  down) down ;;
  status) status ;;
  *) echo "usage: $0 install|up|down|status" >&2; exit 2 ;;
esac
