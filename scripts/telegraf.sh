#!/usr/bin/env bash
# Run Telegraf (Kafka topic of enriched readings -> InfluxDB 2) as a plain background process.
#
#   scripts/telegraf.sh up      build telegraf if needed, start it, return once it is ready
#   scripts/telegraf.sh down    stop the telegraf started by `up` (by the PID in its pid file only)
#   scripts/telegraf.sh status  print whether it runs and answers its health endpoint
#
# Ready means: Kafka accepts connections, InfluxDB is healthy and lets the write token write the
# org's bucket, telegraf's health endpoint (outputs.health, 127.0.0.1 only) answers 200, and 2 s later the
# process is still alive with no "E!" line in its log (except errors about single bad messages,
# which Telegraf skips: reported as a warning). The health server starts once the outputs are
# connected; the Kafka input is started right after, and if it cannot reach Kafka Telegraf exits
# within a second, which the grace period catches.
#
# Env (defaults in brackets):
#   WSL_CACHE [~/.cache/weather-speed-layer]   TELEGRAF_BIN [$WSL_CACHE/bin/telegraf]
#   TELEGRAF_HEALTH_PORT [8080]  (also names the instance: pid/log files are per health port)
#   TELEGRAF_LOG [$WSL_CACHE/run/telegraf-<health port>.log]
#   TELEGRAF_CONFIG [<repo>/telegraf/telegraf.conf]  TELEGRAF_DEBUG [0] (1: also load telegraf/debug.conf)
#   TELEGRAF_START_TIMEOUT [30]  TELEGRAF_STOP_TIMEOUT [30]
#   Read by telegraf.conf (exported here with these defaults):
#   KAFKA_BROKER [127.0.0.1:${KAFKA_PORT:-9092}]  WEATHER_ENRICHED_TOPIC [weather_data_v2]
#   TELEGRAF_CONSUMER_GROUP [telegraf-weather]   INFLUXDB_URL [http://127.0.0.1:${INFLUXDB_PORT:-8086}]
#   INFLUXDB_ORG [speed_org]  INFLUXDB_BUCKET [speed_bucket]
#   INFLUXDB_WRITE_TOKEN_FILE [$WSL_CACHE/run/influxdb-${INFLUXDB_PORT:-8086}-tokens/telegraf.token]:
#   the write-only token scripts/influxdb.sh up created; telegraf gets it in its environment
#   (INFLUXDB_WRITE_TOKEN), never on a command line. Telegraf never sees the admin INFLUXDB_TOKEN.
set -euo pipefail
# shellcheck source=scripts/lib.sh
source "$(dirname "$0")/lib.sh"

HERE="$(cd "$(dirname "$0")/.." && pwd)"
RUN_DIR="$cache/run"
DEFAULT_BIN="$cache/bin/telegraf"
TELEGRAF="${TELEGRAF_BIN:-$DEFAULT_BIN}"
HEALTH_PORT="${TELEGRAF_HEALTH_PORT:-8080}"
PID_FILE="$RUN_DIR/telegraf-$HEALTH_PORT.pid"
LOG_FILE="${TELEGRAF_LOG:-$RUN_DIR/telegraf-$HEALTH_PORT.log}"
CONFIG="${TELEGRAF_CONFIG:-$HERE/telegraf/telegraf.conf}"
START_TIMEOUT="${TELEGRAF_START_TIMEOUT:-30}"
STOP_TIMEOUT="${TELEGRAF_STOP_TIMEOUT:-30}"
HEALTH_URL="http://127.0.0.1:$HEALTH_PORT/"

die() { echo "telegraf.sh: $*" >&2; exit 1; }
say() { echo "==> telegraf: $*"; }

[[ "$HEALTH_PORT" =~ ^[0-9]+$ ]] || die "TELEGRAF_HEALTH_PORT must be a port number, got '$HEALTH_PORT'"

# What telegraf.conf reads, with the same defaults as the other scripts. The Faust app also accepts
# "kafka://host:port;host2:port2"; Telegraf wants host:port, and one bootstrap broker is enough.
broker="${KAFKA_BROKER:-127.0.0.1:${KAFKA_PORT:-9092}}"
broker="${broker#kafka://}"
export KAFKA_BROKER="${broker%%;*}"
export INFLUXDB_URL="${INFLUXDB_URL:-http://127.0.0.1:${INFLUXDB_PORT:-8086}}"
INFLUXDB_URL="${INFLUXDB_URL%/}"
WRITE_TOKEN_FILE="${INFLUXDB_WRITE_TOKEN_FILE:-$RUN_DIR/influxdb-${INFLUXDB_PORT:-8086}-tokens/telegraf.token}"
unset INFLUXDB_TOKEN
export INFLUXDB_ORG="${INFLUXDB_ORG:-speed_org}"
export INFLUXDB_BUCKET="${INFLUXDB_BUCKET:-speed_bucket}"
export WEATHER_ENRICHED_TOPIC="${WEATHER_ENRICHED_TOPIC:-weather_data_v2}"
export TELEGRAF_CONSUMER_GROUP="${TELEGRAF_CONSUMER_GROUP:-telegraf-weather}"
export TELEGRAF_HEALTH_PORT="$HEALTH_PORT"

# PID from the pid file if that process is alive and is our telegraf; empty otherwise.
live_pid() { pid_of_program "$PID_FILE" "$TELEGRAF"; }

healthy() { curl -fsS -m 2 -o /dev/null "$HEALTH_URL" 2>/dev/null; }

# Errors about one bad message (unparsable JSON, a missing path, a point InfluxDB refuses with 422,
# e.g. older than the bucket's retention): Telegraf logs and skips the message; not a start-up failure.
DATA_ERRORS='\[inputs\.kafka_consumer\] Error in plugin: (the path |the timestamp path |invalid JSON|unable to (parse|convert)|message exceeds)|422 Unprocessable'
# Log lines written after byte offset $1.
new_log() { tail -c +"$(($1 + 1))" "$LOG_FILE" 2>/dev/null || true; }
# First "E!" line after offset $1 that is not a DATA_ERRORS line, cut to one line.
first_error() { new_log "$1" | grep ' E! ' | grep -v -E "$DATA_ERRORS" | head -n1 | cut -c1-400 || true; }

check_kafka() {
    local host="${KAFKA_BROKER%:*}" port="${KAFKA_BROKER##*:}"
    [[ -n "$host" && "$port" =~ ^[0-9]+$ ]] || die "KAFKA_BROKER must be host:port, got '$KAFKA_BROKER'"
    port_open "$port" "$host" || die "Kafka is not reachable at $KAFKA_BROKER: start it (scripts/kafka.sh up) or set KAFKA_BROKER"
}

# Exports INFLUXDB_WRITE_TOKEN from its file once InfluxDB accepts it for writing the bucket (an
# empty write: 204 only if the token may write there).
check_influxdb() {
    curl -fsS -m 3 -o /dev/null "$INFLUXDB_URL/health" 2>/dev/null \
        || die "InfluxDB is not healthy at $INFLUXDB_URL: start it (scripts/influxdb.sh up) or set INFLUXDB_URL"
    [[ -r "$WRITE_TOKEN_FILE" ]] \
        || die "no write token at $WRITE_TOKEN_FILE: scripts/influxdb.sh up creates it (or set INFLUXDB_WRITE_TOKEN_FILE)"
    local token out code body
    token="$(<"$WRITE_TOKEN_FILE")"
    out="$(curl -sS -m 5 -G -X POST -w '\n%{http_code}' -H @/dev/fd/3 \
        --data-urlencode "org=$INFLUXDB_ORG" --data-urlencode "bucket=$INFLUXDB_BUCKET" \
        "$INFLUXDB_URL/api/v2/write" 3<<<"Authorization: Token $token" 2>&1)" \
        || die "cannot reach $INFLUXDB_URL/api/v2/write: ${out//$'\n'/ }"
    code="${out##*$'\n'}"; body="${out%$'\n'*}"
    local msg; msg="$(printf '%s' "$body" | sed -n 's/.*"message": *"\([^"]*\)".*/\1/p' | head -n1)"
    case "$code" in
        204) export INFLUXDB_WRITE_TOKEN="$token" ;;
        401) die "InfluxDB at $INFLUXDB_URL rejects the token in $WRITE_TOKEN_FILE (HTTP 401): run scripts/influxdb.sh up to renew it" ;;
        403) die "the token in $WRITE_TOKEN_FILE may not write bucket '$INFLUXDB_BUCKET' (HTTP 403): run scripts/influxdb.sh up with this INFLUXDB_BUCKET" ;;
        404) die "InfluxDB at $INFLUXDB_URL: ${msg:-not found} (org '$INFLUXDB_ORG', bucket '$INFLUXDB_BUCKET'; scripts/influxdb.sh up creates them)" ;;
        *) die "POST $INFLUXDB_URL/api/v2/write returned HTTP $code: ${body//$'\n'/ }" ;;
    esac
}

cmd_up() {
    command -v curl >/dev/null 2>&1 || die "'curl' not found: install it (Debian/Ubuntu: apt-get install curl)"
    if [[ ! -x "$TELEGRAF" ]]; then
        [[ "$TELEGRAF" == "$DEFAULT_BIN" ]] || die "TELEGRAF_BIN=$TELEGRAF is not an executable file"
        "$HERE/scripts/install-telegraf.sh"
    fi
    [[ -f "$CONFIG" ]] || die "config not found: $CONFIG"
    local configs=(--config "$CONFIG")
    if [[ "${TELEGRAF_DEBUG:-0}" == 1 ]]; then configs+=(--config "$HERE/telegraf/debug.conf"); fi
    mkdir -p "$RUN_DIR" "$(dirname "$LOG_FILE")"

    local pid
    pid="$(live_pid)"
    if [[ -n "$pid" ]]; then
        healthy || die "telegraf (PID $pid) runs but $HEALTH_URL does not answer (log: $LOG_FILE; restart: $0 down && $0 up)"
        say "already running (PID $pid), health $HEALTH_URL"
        return 0
    fi
    rm -f "$PID_FILE"
    port_open "$HEALTH_PORT" && die "127.0.0.1:$HEALTH_PORT is already in use by another process: set TELEGRAF_HEALTH_PORT to a free port"
    check_kafka
    check_influxdb

    local log_start=0 started=$SECONDS
    [[ -f "$LOG_FILE" ]] && log_start="$(stat -c %s "$LOG_FILE")"
    say "starting: $KAFKA_BROKER topic '$WEATHER_ENRICHED_TOPIC' (group '$TELEGRAF_CONSUMER_GROUP') -> $INFLUXDB_URL bucket '$INFLUXDB_BUCKET' (log: $LOG_FILE)"
    # --strict-env-handling: the default from Telegraf 1.38 on; the config only uses "${VAR:-default}"
    # inside strings, which is what strict handling supports (and it silences the 1.37 warning).
    (
        cd "$RUN_DIR"
        exec nohup "$TELEGRAF" --strict-env-handling "${configs[@]}" >>"$LOG_FILE" 2>&1 </dev/null
    ) &
    pid=$!
    echo "$pid" >"$PID_FILE"

    local ready_at=""
    while :; do
        if ! kill -0 "$pid" 2>/dev/null; then
            rm -f "$PID_FILE"
            local why
            why="$(first_error "$log_start")"
            die "telegraf (PID $pid) exited during start-up: ${why:-no E! line in log} (log: $LOG_FILE)"
        fi
        if [[ -z "$ready_at" ]] && healthy; then ready_at=$SECONDS; fi
        # Grace period after the health endpoint answers: the Kafka input starts right after it.
        if [[ -n "$ready_at" ]] && (( SECONDS - ready_at >= 2 )); then break; fi
        if (( SECONDS - started >= START_TIMEOUT )); then
            stop_pid "$pid"
            die "telegraf not ready at $HEALTH_URL after ${START_TIMEOUT}s, stopped it (log: $LOG_FILE)"
        fi
        sleep 0.5
    done
    local err
    err="$(first_error "$log_start")"
    if [[ -n "$err" ]]; then
        stop_pid "$pid"
        die "telegraf logged an error during start-up, stopped it: $err (log: $LOG_FILE)"
    fi
    say "ready (PID $pid, $((SECONDS - started))s), health $HEALTH_URL"
    local skipped
    skipped="$(new_log "$log_start" | grep ' E! ' | grep -c -E "$DATA_ERRORS" || true)"
    if (( skipped > 0 )); then
        say "warning: bad messages skipped ($skipped error lines), e.g. $(new_log "$log_start" | grep ' E! ' | grep -m1 -E "$DATA_ERRORS" | cut -c1-300)"
    fi
}

# TERM, bounded wait, KILL; removes the pid file.
stop_pid() {
    terminate_pid "$1" "$STOP_TIMEOUT" telegraf || exit 1
    rm -f "$PID_FILE"
}

cmd_down() {
    local pid
    pid="$(live_pid)"
    if [[ -z "$pid" ]]; then
        rm -f "$PID_FILE"
        say "not running (health port $HEALTH_PORT)"
        return 0
    fi
    say "stopping PID $pid"
    stop_pid "$pid"
    say "stopped"
}

cmd_status() {
    local pid
    pid="$(live_pid)"
    if [[ -z "$pid" ]]; then echo "telegraf: not running (health port $HEALTH_PORT)"; exit 1; fi
    if healthy; then
        echo "telegraf: running (PID $pid), healthy on $HEALTH_URL"
    else
        echo "telegraf: running (PID $pid), NOT answering $HEALTH_URL"; exit 1
    fi
}

case "${1:-}" in
    up) cmd_up ;;
    down) cmd_down ;;
    status) cmd_status ;;
    *) die "usage: $0 up|down|status" ;;
esac
