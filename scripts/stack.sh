#!/usr/bin/env bash
# The whole local speed layer as plain background processes (no Docker):
#   Kafka -> [Faust worker] -> Kafka topic WEATHER_ENRICHED_TOPIC -> Telegraf -> InfluxDB 2
#
#   scripts/stack.sh up      start Kafka, InfluxDB, Telegraf (and with WITH_WORKER=1 one Faust worker),
#                            in that order; return once every one of them is ready
#   scripts/stack.sh down    stop them in reverse order, each by the PID in its pid file; asks every
#                            one even if another fails, then exits 1 naming those still running
#   scripts/stack.sh status  one line per component; exit 1 if one is not running
#
# Each component is its own script (scripts/kafka.sh, scripts/influxdb.sh, scripts/telegraf.sh) and
# reads its own env (see their headers); this one also reads:
#   WSL_CACHE [~/.cache/weather-speed-layer]  KAFKA_PORT [9092]  INFLUXDB_PORT [8086]
#   TELEGRAF_HEALTH_PORT [8080]  WITH_WORKER [0]
#   KAFKA_BROKER [127.0.0.1:$KAFKA_PORT]  INFLUXDB_URL [http://127.0.0.1:$INFLUXDB_PORT]  (exported)
#   WEATHER_RAW_TOPIC [weather_raw]  WEATHER_ENRICHED_TOPIC [weather_data_v2]  WEATHER_PARTITIONS [6]
#   Worker (WITH_WORKER=1): WEATHER_WEB_PORT [6066]  WEATHER_INTERVAL [10]  WORKER_LOG
#   [$WSL_CACHE/run/worker-<web port>.log]  WORKER_START_TIMEOUT [90]  WORKER_STOP_TIMEOUT [30];
#   the whole environment is passed to the worker (KAFKA_BROKER, WEATHER_*, VISUAL_CROSSING_*...).
#
# `up` creates the app's topics (`faust -A weather_app create-topics`) before Telegraf subscribes:
# the broker does not auto-create topics, and Telegraf must not be the first to need one.
# `down` stops the worker if its pid file exists, whether or not WITH_WORKER is set.
set -euo pipefail
# shellcheck source=scripts/lib.sh
source "$(dirname "$0")/lib.sh"

HERE="$(cd "$(dirname "$0")/.." && pwd)"
RUN_DIR="$cache/run"
SCRIPTS="$HERE/scripts"
FAUST="$HERE/.venv/bin/faust"

KAFKA_PORT="${KAFKA_PORT:-9092}"
INFLUXDB_PORT="${INFLUXDB_PORT:-8086}"
HEALTH_PORT="${TELEGRAF_HEALTH_PORT:-8080}"
WEB_PORT="${WEATHER_WEB_PORT:-6066}"
WORKER_PID_FILE="$RUN_DIR/worker-$WEB_PORT.pid"
WORKER_LOG="${WORKER_LOG:-$RUN_DIR/worker-$WEB_PORT.log}"
WORKER_START_TIMEOUT="${WORKER_START_TIMEOUT:-90}"
WORKER_STOP_TIMEOUT="${WORKER_STOP_TIMEOUT:-30}"

export KAFKA_PORT INFLUXDB_PORT
export KAFKA_BROKER="${KAFKA_BROKER:-127.0.0.1:$KAFKA_PORT}"
export INFLUXDB_URL="${INFLUXDB_URL:-http://127.0.0.1:$INFLUXDB_PORT}"

die() { echo "stack.sh: $*" >&2; exit 1; }
say() { echo "==> stack: $*"; }

for v in KAFKA_PORT INFLUXDB_PORT HEALTH_PORT WEB_PORT; do
    [[ "${!v}" =~ ^[0-9]+$ ]] || die "$v must be a port number, got '${!v}'"
done

# PID of the worker from its pid file if alive and still our faust worker (a Python script run
# by the venv's interpreter); empty otherwise.
worker_pid() { pid_of_program "$WORKER_PID_FILE" "$HERE/.venv/bin/python" "$FAUST"; }

# Create the app's topics (raw, enriched, table changelogs) as the worker does, if missing.
create_topics() {
    [[ -x "$FAUST" ]] || die "$FAUST not found: run 'make venv' first"
    "$FAUST" -A weather_app create-topics || die "creating topics on $KAFKA_BROKER failed (see above)"
}

start_worker() {
    [[ -x "$FAUST" ]] || die "$FAUST not found: run 'make venv' first"
    local pid
    pid="$(worker_pid)"
    if [[ -n "$pid" ]]; then say "worker already running (PID $pid, web port $WEB_PORT)"; return 0; fi
    rm -f "$WORKER_PID_FILE"
    port_open "$WEB_PORT" && die "127.0.0.1:$WEB_PORT is already in use: set WEATHER_WEB_PORT to a free port"
    export WEATHER_INTERVAL="${WEATHER_INTERVAL:-10}"
    mkdir -p "$RUN_DIR" "$(dirname "$WORKER_LOG")"
    local log_start=0 started=$SECONDS
    [[ -f "$WORKER_LOG" ]] && log_start="$(stat -c %s "$WORKER_LOG")"
    say "starting Faust worker on $KAFKA_BROKER, web port $WEB_PORT, $(describe_rounds "$HERE/.venv/bin/python") (log: $WORKER_LOG)"
    # From the repo root: `-A weather_app` and the app's datadir are relative to it (as in run.sh).
    (
        cd "$HERE"
        exec nohup "$FAUST" -A weather_app worker -l info >>"$WORKER_LOG" 2>&1 </dev/null
    ) &
    pid=$!
    echo "$pid" >"$WORKER_PID_FILE"
    # Faust logs "[^WeatherWorker]: Ready" (Worker class name) once agents, timers and web are up.
    until tail -c +"$((log_start + 1))" "$WORKER_LOG" 2>/dev/null | grep -q -E '\[\^[A-Za-z]*Worker\]: Ready'; do
        if ! kill -0 "$pid" 2>/dev/null; then
            rm -f "$WORKER_PID_FILE"
            local why
            why="$(tail -c +"$((log_start + 1))" "$WORKER_LOG" | grep -v '^\s*$' | tail -n1 | cut -c1-300)"
            die "worker exited during start-up: ${why:-empty log} (log: $WORKER_LOG)"
        fi
        if (( SECONDS - started >= WORKER_START_TIMEOUT )); then
            stop_worker_pid "$pid"
            die "worker not ready after ${WORKER_START_TIMEOUT}s, stopped it (log: $WORKER_LOG)"
        fi
        sleep 0.5
    done
    say "worker ready (PID $pid, $((SECONDS - started))s)"
}

stop_worker_pid() {
    terminate_pid "$1" "$WORKER_STOP_TIMEOUT" "Faust worker" || return 1
    rm -f "$WORKER_PID_FILE"
}

stop_worker() {
    local pid
    pid="$(worker_pid)"
    if [[ -z "$pid" ]]; then rm -f "$WORKER_PID_FILE"; return 0; fi
    say "stopping Faust worker (PID $pid)"
    stop_worker_pid "$pid" || return 1
    say "worker stopped"
}

cmd_up() {
    local started=$SECONDS
    "$SCRIPTS/kafka.sh" up
    "$SCRIPTS/influxdb.sh" up
    create_topics
    "$SCRIPTS/telegraf.sh" up
    [[ "${WITH_WORKER:-0}" == 1 ]] && start_worker
    local token_note=""
    [[ -z "${INFLUXDB_TOKEN:-}" ]] && token_note=" (admin token: speed-layer-dev-token)"
    cat <<EOT
==> stack: up in $((SECONDS - started))s
    Kafka:     $KAFKA_BROKER  topic ${WEATHER_ENRICHED_TOPIC:-weather_data_v2} -> Telegraf group ${TELEGRAF_CONSUMER_GROUP:-telegraf-weather}
    InfluxDB:  $INFLUXDB_URL  org ${INFLUXDB_ORG:-speed_org}, bucket ${INFLUXDB_BUCKET:-speed_bucket}$token_note
    Tokens:    $RUN_DIR/influxdb-$INFLUXDB_PORT-tokens/ (telegraf.token: write-only, read.token: read-only, for check)
    Telegraf:  health http://127.0.0.1:$HEALTH_PORT/  log ${TELEGRAF_LOG:-$RUN_DIR/telegraf-$HEALTH_PORT.log}
EOT
    if [[ "${WITH_WORKER:-0}" == 1 ]]; then
        echo "    Worker:    http://127.0.0.1:$WEB_PORT/  log $WORKER_LOG"
    fi
    echo "    Stop all:  scripts/stack.sh down (with the same env)"
}

# Every component is asked to stop, whatever happened to the ones before it.
cmd_down() {
    local failed=()
    stop_worker || failed+=(worker)
    "$SCRIPTS/telegraf.sh" down || failed+=(telegraf)
    "$SCRIPTS/influxdb.sh" down || failed+=(influxdb)
    "$SCRIPTS/kafka.sh" down || failed+=(kafka)
    (( ${#failed[@]} == 0 )) || die "did not stop: ${failed[*]} (see above)"
    say "down"
}

cmd_status() {
    local rc=0 pid
    "$SCRIPTS/kafka.sh" status || rc=1
    "$SCRIPTS/influxdb.sh" status || rc=1
    "$SCRIPTS/telegraf.sh" status || rc=1
    pid="$(worker_pid)"
    if [[ -n "$pid" ]]; then
        echo "worker: running (PID $pid, web port $WEB_PORT)"
    elif [[ "${WITH_WORKER:-0}" == 1 ]]; then
        echo "worker: not running (web port $WEB_PORT)"; rc=1
    else
        echo "worker: not running (not requested: WITH_WORKER=1 starts one)"
    fi
    return "$rc"
}

case "${1:-}" in
    up) cmd_up ;;
    down) cmd_down ;;
    status) cmd_status ;;
    *) die "usage: $0 up|down|status   (WITH_WORKER=1 also runs a Faust worker)" ;;
esac
