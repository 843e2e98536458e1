#!/usr/bin/env bash
# Local Apache Cassandra (one node on loopback) without Docker: jars from Maven Central, cached
# outside the repo, as scripts/kafka.sh runs Kafka.
#   scripts/cassandra.sh install   fetch the node's classpath (once; reused afterwards)
#   scripts/cassandra.sh up        install if needed, start, return once the native port answers CQL
#   scripts/cassandra.sh down      stop the node started by `up`, by its PID (its data stays)
#   scripts/cassandra.sh status
# No authentication (the node listens on 127.0.0.1 only) and no JMX (Cassandra opens none unless
# told a JMX port), so nodetool does not reach it; cqlsh does.
# Env: CASSANDRA_PORT (native CQL, 9042), CASSANDRA_STORAGE_PORT (7000), CASSANDRA_DATA_DIR
#      (run/cassandra-PORT in the cache), CASSANDRA_HEAP (512m), CASSANDRA_START_TIMEOUT (seconds,
#      180), JAVA_HOME (else the `java` on PATH; Cassandra 5.0 runs on Java 11 or 17), WSL_CACHE.
set -euo pipefail
# shellcheck source=scripts/lib.sh
source "$(dirname "$0")/lib.sh"

cassandra_version=$(sed -n 's:.*<cassandra.version>\(.*\)</cassandra.version>.*:\1:p' "$here/cassandra/pom.xml")
lib_dir="$cache/cassandra-$cassandra_version/lib"
port=${CASSANDRA_PORT:-9042}
storage_port=${CASSANDRA_STORAGE_PORT:-7000}
heap=${CASSANDRA_HEAP:-512m}
start_timeout=${CASSANDRA_START_TIMEOUT:-180}
run_dir="$cache/run"
data_dir=${CASSANDRA_DATA_DIR:-$run_dir/cassandra-$port}
pid_file="$run_dir/cassandra-$port.pid"
log_file="$run_dir/cassandra-$port.log"
java=${JAVA_HOME:+$JAVA_HOME/bin/}java
main_class=org.apache.cassandra.service.CassandraDaemon

die() { echo "cassandra: $*" >&2; exit 1; }
say() { echo "==> cassandra: $*"; }

[[ $port =~ ^[0-9]+$ ]] || die "CASSANDRA_PORT must be a port number, got '$port'"
[[ $storage_port =~ ^[0-9]+$ ]] || die "CASSANDRA_STORAGE_PORT must be a port number, got '$storage_port'"
[[ $port != "$storage_port" ]] \
  || die "CASSANDRA_PORT and CASSANDRA_STORAGE_PORT must differ, both are $port"
[[ $heap =~ ^[0-9]+[mMgG]$ ]] || die "CASSANDRA_HEAP must be a JVM size such as 512m or 1g, got '$heap'"
[[ $start_timeout =~ ^[0-9]+$ ]] \
  || die "CASSANDRA_START_TIMEOUT must be seconds (a whole number), got '$start_timeout'"

# live_pid: the PID in the pid file, if that process is this node: java running CassandraDaemon
# with a config whose native port is ours (whatever CASSANDRA_DATA_DIR is now).
live_pid() {
  local pid arg config="" argv=()
  [[ -f $pid_file ]] || return 1
  pid=$(cat "$pid_file")
  [[ $pid =~ ^[0-9]+$ ]] || return 1
  mapfile -d '' -t argv 2>/dev/null <"/proc/$pid/cmdline" || return 1
  ((${#argv[@]} >= 2)) && [[ ${argv[0]##*/} == java && ${argv[-1]} == "$main_class" ]] || return 1
  for arg in "${argv[@]}"; do
    [[ $arg == -Dcassandra.config=file://* ]] && config=${arg#-Dcassandra.config=file://}
  done
  grep -qx "native_transport_port: $port" "$config" 2>/dev/null && echo "$pid"
}

# cql_answers: the native port answers a CQL OPTIONS request (protocol v4) with SUPPORTED, i.e.
# the first five bytes of the reply are 0x84 (a v4 response), flags, stream 0 and opcode 0x06.
cql_answers() {
  local reply
  reply=$(timeout 5 bash -c '
    exec 3<>"/dev/tcp/127.0.0.1/$1" || exit 1
    printf "\x04\x00\x00\x00\x05\x00\x00\x00\x00" >&3
    head -c 5 <&3 | od -An -tx1' _ "$port" 2>/dev/null) || return 1
  [[ $(echo $reply) == "84 00 00 00 06" ]]
}

install() {
  command -v "$java" >/dev/null \
    || die "Java 17 is required: install a JDK (Debian: apt-get install openjdk-17-jdk-headless) or set JAVA_HOME"
  local java_major
  java_major=$("$java" -XshowSettings:properties -version 2>&1 | sed -n 's/.*java.specification.version = \([0-9]*\).*/\1/p')
  [[ ${java_major:-0} == 11 || ${java_major:-0} == 17 ]] \
    || die "Cassandra $cassandra_version runs on Java 11 or 17, found Java ${java_major:-unknown}: set JAVA_HOME to a JDK 17"
  fetch_maven_jars "$here/cassandra/pom.xml" "$lib_dir" "Apache Cassandra $cassandra_version"
}

# The JVM flags of Cassandra's conf/jvm17-server.options (the module exports and opens it needs
# on Java 17, Netty's), without the region size and pause targets tuned for large heaps.
jvm_flags=(
  -Djdk.attach.allowAttachSelf=true
  --add-exports java.base/jdk.internal.misc=ALL-UNNAMED
  --add-exports java.management.rmi/com.sun.jmx.remote.internal.rmi=ALL-UNNAMED
  --add-exports java.rmi/sun.rmi.registry=ALL-UNNAMED
  --add-exports java.rmi/sun.rmi.server=ALL-UNNAMED
  --add-exports java.sql/java.sql=ALL-UNNAMED
  --add-exports java.base/java.lang.ref=ALL-UNNAMED
  --add-exports jdk.unsupported/sun.misc=ALL-UNNAMED
  --add-exports jdk.compiler/com.sun.tools.javac.file=ALL-UNNAMED
  --add-exports jdk.attach/sun.tools.attach=ALL-UNNAMED
  --add-opens java.base/java.lang.module=ALL-UNNAMED
  --add-opens java.base/jdk.internal.loader=ALL-UNNAMED
  --add-opens java.base/jdk.internal.ref=ALL-UNNAMED
  --add-opens java.base/jdk.internal.reflect=ALL-UNNAMED
  --add-opens java.base/jdk.internal.math=ALL-UNNAMED
  --add-opens java.base/jdk.internal.module=ALL-UNNAMED
  --add-opens java.base/jdk.internal.util.jar=ALL-UNNAMED
  --add-opens jdk.management/com.sun.management.internal=ALL-UNNAMED
  --add-opens java.base/sun.nio.ch=ALL-UNNAMED
  --add-opens java.base/java.io=ALL-UNNAMED
  --add-opens java.base/java.lang.reflect=ALL-UNNAMED
  --add-opens jdk.compiler/com.sun.tools.javac=ALL-UNNAMED
  --add-opens java.base/java.lang=ALL-UNNAMED
  --add-opens java.base/java.util=ALL-UNNAMED
  -Dio.netty.tryReflectionSetAccessible=true
  -Dio.netty.allocator.useCacheForAllThreads=true
  -Dio.netty.allocator.maxOrder=11
  -XX:+UseG1GC -XX:+ParallelRefProcEnabled -XX:MaxTenuringThreshold=1
  -Xss256k -Djava.net.preferIPv4Stack=true -XX:+ExitOnOutOfMemoryError
)

stop_node() {
  local pid
  if pid=$(live_pid); then
    say "stopping the node on 127.0.0.1:$port (pid $pid)"
    terminate_pid "$pid" 60 "Cassandra node" || return 1
  fi
  rm -f "$pid_file"
}

up() {
  if live_pid >/dev/null; then say "already running on 127.0.0.1:$port"; return 0; fi
  port_open "$port" && die "127.0.0.1:$port is already in use by another process: set CASSANDRA_PORT to a free port"
  port_open "$storage_port" \
    && die "127.0.0.1:$storage_port is already in use by another process: set CASSANDRA_STORAGE_PORT to a free port"
  install
  mkdir -p "$run_dir" "$data_dir"
  local config="$data_dir/cassandra.yaml" started pid elapsed
  sed -e "s|@PORT@|$port|g" -e "s|@STORAGE_PORT@|$storage_port|g" -e "s|@DATA_DIR@|$data_dir|g" \
    "$here/cassandra/cassandra.yaml.in" >"$config"
  say "starting Cassandra $cassandra_version on 127.0.0.1:$port (heap $heap, data $data_dir, log $log_file)"
  started=$(date +%s%N)
  # A lone seed node: no gossip to wait for.
  nohup "$java" "-Xms$heap" "-Xmx$heap" "${jvm_flags[@]}" \
    "-Dcassandra.config=file://$config" "-Dlogback.configurationFile=$here/cassandra/logback.xml" \
    "-Dcassandra.storagedir=$data_dir" -Dcassandra.skip_wait_for_gossip_to_settle=0 \
    -Dcassandra-foreground=yes -cp "$lib_dir/*" "$main_class" >"$log_file" 2>&1 </dev/null &
  pid=$!
  echo "$pid" >"$pid_file"
  until cql_answers; do
    if ! pid_alive "$pid"; then
      local why
      why=$(exit_reason "$log_file")
      rm -f "$pid_file"
      die "the node exited during start-up: ${why:-no exception in its log} (log: $log_file)"
    fi
    if (($(date +%s%N) - started > start_timeout * 1000000000)); then
      stop_node
      die "not answering CQL after ${start_timeout}s (CASSANDRA_START_TIMEOUT): see $log_file"
    fi
    sleep 0.5
  done
  elapsed=$(( ($(date +%s%N) - started) / 100000000 ))
  say "ready on 127.0.0.1:$port (pid $pid, started in $((elapsed / 10)).$((elapsed % 10))s)"
}

down() {
  stop_node
  say "stopped on 127.0.0.1:$port"
}

status() {
  local pid
  if pid=$(live_pid); then
    echo "cassandra: running on 127.0.0.1:$port (pid $pid)"
  else
    echo "cassandra: not running on port $port"
    return 1
  fi
}

case "${1:-}" in
  install) install ;;
  up) up ;;
  down) down ;;
  status) status ;;
  *) echo "usage: $0 install|up|down|status" >&2; exit 2 ;;
esac
