#!/usr/bin/env bash
# `make run`: a local Kafka, WORKERS workers (default 1) with simulated weather, and a live view
# of the enriched records. Ctrl-C stops the view, then the workers and (if this script started
# it) Kafka, by PID. Worker i listens on port 6066+i and keeps its state in its own data dir.
set -euo pipefail

here=$(cd "$(dirname "$0")/.." && pwd)
cache=${WSL_CACHE:-$HOME/.cache/weather-speed-layer}
faust=("$here/.venv/bin/faust" -A weather_app)
export KAFKA_BROKER=${KAFKA_BROKER:-127.0.0.1:${KAFKA_PORT:-9092}}
export WEATHER_INTERVAL=${WEATHER_INTERVAL:-10}
workers=${WORKERS:-1}
[[ $workers =~ ^[1-9][0-9]*$ ]] || { echo "run: WORKERS must be a positive number, got '$workers'" >&2; exit 1; }
base_port=${WEATHER_WEB_PORT:-6066}

started_kafka=0
"$here/scripts/kafka.sh" status >/dev/null 2>&1 || { "$here/scripts/kafka.sh" up; started_kafka=1; }

worker_pids=()
cleanup() {
  trap - EXIT INT TERM
  for pid in "${worker_pids[@]}"; do
    if kill -0 "$pid" 2>/dev/null; then
      echo "==> run: stopping worker (pid $pid)"
      kill -TERM "$pid"
    fi
  done
  for pid in "${worker_pids[@]}"; do wait "$pid" 2>/dev/null || true; done
  if ((started_kafka)); then "$here/scripts/kafka.sh" down; fi
}
trap cleanup EXIT INT TERM

mkdir -p "$cache/run"
for ((i = 0; i < workers; i++)); do
  port=$((base_port + i))
  WEATHER_WEB_PORT=$port WEATHER_DATADIR="$cache/run/worker-$port-data" \
    "${faust[@]}" worker -l info >"$cache/run/worker-$port.log" 2>&1 &
  worker_pids+=("$!")
  echo "==> run: worker $((i + 1))/$workers (pid $!): http://127.0.0.1:$port/weather/  log $cache/run/worker-$port.log"
done
cat <<EOT
==> run: simulated weather every ${WEATHER_INTERVAL}s (the leader's timer), live page http://127.0.0.1:$base_port/weather/
    JSON: http://127.0.0.1:$base_port/weather/cities/  metrics: http://127.0.0.1:$base_port/metrics
    raw topic:       ${WEATHER_RAW_TOPIC:-weather_raw} on $KAFKA_BROKER
    enriched topic:  ${WEATHER_ENRICHED_TOPIC:-weather_data_v2} (shown below as it arrives; Ctrl-C stops all)
EOT
"${faust[@]}" watch || true
