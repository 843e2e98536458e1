#!/usr/bin/env bash
# `make run`: a local Kafka, WORKERS workers (default 1) with real weather (Open-Meteo, or Visual
# Crossing with a key; simulated where it fails) or simulated weather, and a live view
# of the enriched records. Ctrl-C (or SIGTERM) stops the view, then the workers and (if this
# script started it) Kafka, by PID. Once the teardown has begun, further Ctrl-C are ignored so it
# always completes. Worker i listens on port 6066+i and keeps its state in its own data dir.
set -euo pipefail
# shellcheck source=scripts/lib.sh
source "$(dirname "$0")/lib.sh"

faust=("$here/.venv/bin/faust" -A weather_app)
export KAFKA_BROKER=${KAFKA_BROKER:-127.0.0.1:${KAFKA_PORT:-9092}}
export WEATHER_INTERVAL=${WEATHER_INTERVAL:-10}
workers=${WORKERS:-1}
[[ $workers =~ ^[1-9][0-9]*$ ]] || { echo "run: WORKERS must be a positive number, got '$workers'" >&2; exit 1; }
base_port=${WEATHER_WEB_PORT:-6066}
stop_timeout=${WORKER_STOP_TIMEOUT:-30}

started_kafka=0
teardown() {
  trap '' INT TERM
  trap - EXIT
  # Every background job (the workers and the view), including one started just before the
  # signal: all asked at once, then each waited for (bounded, SIGKILL after).
  local pids pid
  pids=$(jobs -p)
  for pid in $pids; do
    echo "==> run: stopping pid $pid"
    kill -TERM "$pid" 2>/dev/null || true
  done
  for pid in $pids; do terminate_pid "$pid" "$stop_timeout" "pid $pid" || true; done
  if ((started_kafka)); then "$here/scripts/kafka.sh" down || true; fi
}
trap teardown EXIT
trap 'trap "" INT TERM; exit 130' INT
trap 'trap "" INT TERM; exit 143' TERM

if ! "$here/scripts/kafka.sh" status >/dev/null 2>&1; then
  # Set first: an interrupt during `kafka.sh up` must still stop the broker it may have started.
  started_kafka=1
  "$here/scripts/kafka.sh" up
fi

mkdir -p "$cache/run"
for ((i = 0; i < workers; i++)); do
  port=$((base_port + i))
  WEATHER_WEB_PORT=$port WEATHER_DATADIR="$cache/run/worker-$port-data" \
    "${faust[@]}" worker -l info >"$cache/run/worker-$port.log" 2>&1 &
  echo "==> run: worker $((i + 1))/$workers (pid $!): http://127.0.0.1:$port/weather/  log $cache/run/worker-$port.log"
done
# The first worker's word on its weather source (an API it cannot reach, every city simulated
# until a cool-down ends) shown here too: the records below only say [simulated].
tail -n +1 -F "$cache/run/worker-$base_port.log" 2>/dev/null | grep --line-buffered -F "is unreachable" &
# The source and the interval the worker uses (an API's daily budget may raise WEATHER_INTERVAL).
rounds=$(describe_rounds "$here/.venv/bin/python")
cat <<EOT
==> run: $rounds (the leader's timer, first round after one interval), live page http://127.0.0.1:$base_port/weather/
    JSON: http://127.0.0.1:$base_port/weather/cities/  metrics: http://127.0.0.1:$base_port/metrics
    raw topic:       ${WEATHER_RAW_TOPIC:-weather_raw} on $KAFKA_BROKER
    enriched topic:  ${WEATHER_ENRICHED_TOPIC:-weather_data_v2} (shown below as it arrives; Ctrl-C stops all)
EOT
# In the background so that a signal sent to this script alone (not the terminal's process group)
# interrupts the wait at once; a foreground command would delay the trap until it ends.
"${faust[@]}" watch &
wait "$!" || true
