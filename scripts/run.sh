#!/usr/bin/env bash
# `make run`: a local Kafka, one worker with simulated weather, and a live view of the enriched
# records. Ctrl-C stops the view, then the worker and (if this script started it) Kafka, by PID.
set -euo pipefail

here=$(cd "$(dirname "$0")/.." && pwd)
cache=${WSL_CACHE:-$HOME/.cache/weather-speed-layer}
faust=("$here/.venv/bin/faust" -A weather_app)
export KAFKA_BROKER=${KAFKA_BROKER:-127.0.0.1:${KAFKA_PORT:-9092}}
export WEATHER_INTERVAL=${WEATHER_INTERVAL:-10}
log="$cache/run/worker.log"

started_kafka=0
"$here/scripts/kafka.sh" status >/dev/null 2>&1 || { "$here/scripts/kafka.sh" up; started_kafka=1; }

worker_pid=""
cleanup() {
  trap - EXIT INT TERM
  if [[ -n $worker_pid ]] && kill -0 "$worker_pid" 2>/dev/null; then
    echo "==> run: stopping worker (pid $worker_pid)"
    kill -TERM "$worker_pid"
    wait "$worker_pid" 2>/dev/null || true
  fi
  if ((started_kafka)); then "$here/scripts/kafka.sh" down; fi
}
trap cleanup EXIT INT TERM

mkdir -p "$(dirname "$log")"
"${faust[@]}" worker -l info >"$log" 2>&1 &
worker_pid=$!
cat <<EOT
==> run: worker started (pid $worker_pid), simulated weather every ${WEATHER_INTERVAL}s
    worker log:      $log
    web view:        http://127.0.0.1:${WEATHER_WEB_PORT:-6066}/
    raw topic:       ${WEATHER_RAW_TOPIC:-weather_raw} on $KAFKA_BROKER
    enriched topic:  ${WEATHER_ENRICHED_TOPIC:-weather_data_v2} (shown below as it arrives; Ctrl-C stops all)
EOT
"${faust[@]}" watch || true
