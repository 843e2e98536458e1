#!/usr/bin/env bash
# Run a local, headless InfluxDB 2 (built by scripts/install-influxdb.sh) as a plain background process.
#
#   scripts/influxdb.sh up      start influxd on 127.0.0.1, wait for /health, one-time setup (idempotent),
#                               then the bucket's scoped tokens (below)
#   scripts/influxdb.sh down    stop the influxd started by `up` (by the PID in the pid file only)
#   scripts/influxdb.sh status  print whether it runs
#
# Env (defaults in brackets):
#   WSL_CACHE [~/.cache/weather-speed-layer]   INFLUXD_BIN [$WSL_CACHE/bin/influxd]
#   INFLUXDB_DATA_DIR [$WSL_CACHE/run/influxdb-<port>]  INFLUXDB_PORT [8086]
#   INFLUXDB_USERNAME [speed]  INFLUXDB_PASSWORD [speedlayer-dev-pass]  INFLUXDB_ORG [speed_org]
#   INFLUXDB_BUCKET [speed_bucket]  INFLUXDB_TOKEN [speed-layer-dev-token]
#   INFLUXDB_RETENTION_SECONDS [604800]  INFLUXDB_START_TIMEOUT [60]  INFLUXDB_STOP_TIMEOUT [30]
#   INFLUXDB_WRITE_TOKEN_FILE [$WSL_CACHE/run/influxdb-<port>-tokens/telegraf.token]
#   INFLUXDB_READ_TOKEN_FILE  [$WSL_CACHE/run/influxdb-<port>-tokens/read.token]
#
# INFLUXDB_TOKEN is the admin (all-access) token: only this script uses it. `up` writes two tokens
# scoped to the bucket into the files above (mode 600): one that may only write it, for Telegraf
# (scripts/telegraf.sh), and one that may only read it, for `faust -A weather_app check` (which
# finds it there by itself). No token or password is ever on a command line (visible in `ps`):
# curl gets its headers and bodies through file descriptors.
set -euo pipefail
# shellcheck source=scripts/lib.sh
source "$(dirname "$0")/lib.sh"

HERE="$(cd "$(dirname "$0")/.." && pwd)"
INFLUXD="${INFLUXD_BIN:-$cache/bin/influxd}"
RUN_DIR="$cache/run"
PORT="${INFLUXDB_PORT:-8086}"
# One instance per port: its own pid file, log and (by default) data.
PID_FILE="$RUN_DIR/influxdb-$PORT.pid"
LOG_FILE="$RUN_DIR/influxdb-$PORT.log"
DATA_DIR="${INFLUXDB_DATA_DIR:-$RUN_DIR/influxdb-$PORT}"
URL="http://127.0.0.1:$PORT"
USERNAME="${INFLUXDB_USERNAME:-speed}"
PASSWORD="${INFLUXDB_PASSWORD:-speedlayer-dev-pass}"
ORG="${INFLUXDB_ORG:-speed_org}"
BUCKET="${INFLUXDB_BUCKET:-speed_bucket}"
TOKEN="${INFLUXDB_TOKEN:-speed-layer-dev-token}"
RETENTION="${INFLUXDB_RETENTION_SECONDS:-604800}"
START_TIMEOUT="${INFLUXDB_START_TIMEOUT:-60}"
STOP_TIMEOUT="${INFLUXDB_STOP_TIMEOUT:-30}"
TOKEN_DIR="$RUN_DIR/influxdb-$PORT-tokens"
WRITE_TOKEN_FILE="${INFLUXDB_WRITE_TOKEN_FILE:-$TOKEN_DIR/telegraf.token}"
READ_TOKEN_FILE="${INFLUXDB_READ_TOKEN_FILE:-$TOKEN_DIR/read.token}"
PYTHON="$HERE/.venv/bin/python"

die() { echo "influxdb.sh: $*" >&2; exit 1; }
say() { echo "==> $*"; }

# PID from the pid file if that process is alive and is our influxd; empty otherwise.
live_pid() { pid_of_program "$PID_FILE" "$INFLUXD"; }

healthy() { curl -fsS -m 2 "$URL/health" >/dev/null 2>&1; }

json_str() {  # minimal JSON string escaping for values from env
    local s="$1"
    s="${s//\\/\\\\}"; s="${s//\"/\\\"}"
    printf '"%s"' "$s"
}

# curl wrapper, runs in the current shell: sets BODY and HTTP_CODE. Usage: api METHOD PATH [JSON]
# (sends the token when AUTH=1). The JSON (it may hold the password) comes on stdin and the
# Authorization header from fd 3, so neither is in curl's argv.
BODY=""
HTTP_CODE=""
api() {
    local method="$1" path="$2" data="${3:-}" header="" out
    local args=(-sS -m 15 -X "$method" -o - -w '\n%{http_code}' -H 'Content-Type: application/json')
    if [[ "${AUTH:-0}" == 1 ]]; then args+=(-H @/dev/fd/3); header="Authorization: Token $TOKEN"; fi
    [[ -n "$data" ]] && args+=(--data-binary @-)
    out="$(curl "${args[@]}" "$URL$path" 3<<<"$header" <<<"$data" 2>&1)" || die "HTTP $method $path failed: ${out//$'\n'/ }"
    HTTP_CODE="${out##*$'\n'}"
    BODY="${out%$'\n'*}"
}

setup() {
    local body
    api GET /api/v2/setup; body="$BODY"
    [[ "$HTTP_CODE" == 200 ]] || die "GET /api/v2/setup returned HTTP $HTTP_CODE: ${body//$'\n'/ }"
    if [[ "$body" == *'"allowed": true'* || "$body" == *'"allowed":true'* ]]; then
        (( ${#PASSWORD} >= 8 && ${#PASSWORD} <= 72 )) || die "INFLUXDB_PASSWORD must be 8-72 characters"
        [[ "$RETENTION" =~ ^[0-9]+$ ]] || die "INFLUXDB_RETENTION_SECONDS must be an integer (0 = forever), got '$RETENTION'"
        say "Setting up InfluxDB: org '$ORG', bucket '$BUCKET' (retention ${RETENTION}s), user '$USERNAME'"
        api POST /api/v2/setup "{\"username\":$(json_str "$USERNAME"),\"password\":$(json_str "$PASSWORD"),\"org\":$(json_str "$ORG"),\"bucket\":$(json_str "$BUCKET"),\"retentionPeriodSeconds\":$RETENTION,\"token\":$(json_str "$TOKEN")}"; body="$BODY"
        [[ "$HTTP_CODE" == 201 ]] || die "POST /api/v2/setup returned HTTP $HTTP_CODE: ${body//$'\n'/ }"
        return 0
    fi
    # Already set up: make sure the configured token sees the org and the bucket (create a new bucket).
    AUTH=1 api GET "/api/v2/orgs?org=$ORG"; body="$BODY"
    case "$HTTP_CODE" in
        200|404) ;;
        401|403) die "InfluxDB in $DATA_DIR is already set up with other credentials: INFLUXDB_TOKEN is rejected (run 'down' and delete $DATA_DIR to start fresh)" ;;
        *) die "GET /api/v2/orgs returned HTTP $HTTP_CODE: ${body//$'\n'/ }" ;;
    esac
    local org_id=""
    [[ "$HTTP_CODE" == 200 ]] && org_id="$(printf '%s' "$body" | grep -o '"id": *"[0-9a-f]*"' | head -n1 | grep -o '[0-9a-f]\{16\}' || true)"
    [[ -n "$org_id" ]] || die "InfluxDB in $DATA_DIR is already set up but org '$ORG' is not visible to INFLUXDB_TOKEN (run 'down' and delete $DATA_DIR to start fresh)"
    AUTH=1 api GET "/api/v2/buckets?orgID=$org_id&name=$BUCKET"; body="$BODY"
    if [[ "$HTTP_CODE" == 200 && ( "$body" == *"\"name\": $(json_str "$BUCKET")"* || "$body" == *"\"name\":$(json_str "$BUCKET")"* ) ]]; then
        echo "InfluxDB already set up (org '$ORG', bucket '$BUCKET')"
        return 0
    fi
    [[ "$HTTP_CODE" == 200 || "$HTTP_CODE" == 404 ]] || die "GET /api/v2/buckets returned HTTP $HTTP_CODE: ${body//$'\n'/ }"
    [[ "$RETENTION" =~ ^[0-9]+$ ]] || die "INFLUXDB_RETENTION_SECONDS must be an integer (0 = forever), got '$RETENTION'"
    say "Creating bucket '$BUCKET' in org '$ORG' (retention ${RETENTION}s)"
    AUTH=1 api POST /api/v2/buckets "{\"orgID\":\"$org_id\",\"name\":$(json_str "$BUCKET"),\"retentionRules\":[{\"type\":\"expire\",\"everySeconds\":$RETENTION}]}"; body="$BODY"
    [[ "$HTTP_CODE" == 201 ]] || die "creating bucket '$BUCKET' returned HTTP $HTTP_CODE: ${body//$'\n'/ }"
}

# The bucket's write-only and read-only tokens (weather_app/cli/influx.py, provision_tokens).
scoped_tokens() {
    INFLUXDB_URL="$URL" INFLUXDB_ORG="$ORG" INFLUXDB_BUCKET="$BUCKET" INFLUXDB_TOKEN="$TOKEN" \
        INFLUXDB_WRITE_TOKEN_FILE="$WRITE_TOKEN_FILE" INFLUXDB_READ_TOKEN_FILE="$READ_TOKEN_FILE" \
        "$PYTHON" -m weather_app.cli.influx || die "creating the scoped tokens failed (see above)"
}

cmd_up() {
    command -v curl >/dev/null 2>&1 || die "'curl' not found: install it (Debian/Ubuntu: apt-get install curl)"
    [[ -x "$INFLUXD" ]] || die "influxd not found at $INFLUXD: run scripts/install-influxdb.sh first"
    [[ -x "$PYTHON" ]] || die "$PYTHON not found: run 'make venv' first (it creates the scoped tokens)"
    [[ "$PORT" =~ ^[0-9]+$ ]] || die "INFLUXDB_PORT must be a number, got '$PORT'"
    mkdir -p "$RUN_DIR" "$DATA_DIR/engine"

    local pid
    pid="$(live_pid)"
    if [[ -n "$pid" ]]; then
        echo "influxd already running (PID $pid) on $URL"
    else
        rm -f "$PID_FILE"
        healthy && die "something else already answers on $URL (not started by this script); stop it or set INFLUXDB_PORT"
        say "Starting influxd on $URL (data: $DATA_DIR, log: $LOG_FILE)"
        # Run from the data dir so influxd does not pick up a stray ./config.{toml,yaml,json}.
        (
            cd "$DATA_DIR"
            exec nohup "$INFLUXD" \
                --reporting-disabled --ui-disabled \
                --bolt-path "$DATA_DIR/influxd.bolt" \
                --sqlite-path "$DATA_DIR/influxd.sqlite" \
                --engine-path "$DATA_DIR/engine" \
                --http-bind-address "127.0.0.1:$PORT" \
                >>"$LOG_FILE" 2>&1 </dev/null
        ) &
        pid=$!
        echo "$pid" >"$PID_FILE"
    fi

    local waited=0
    until healthy; do
        if ! kill -0 "$pid" 2>/dev/null; then
            rm -f "$PID_FILE"
            local why
            why="$(tail -n 50 "$LOG_FILE" 2>/dev/null | grep -E '^Error:|lvl=error' | tail -n 1 | cut -c1-300 || true)"
            die "influxd (PID $pid) exited during startup: ${why:-no error in log} (log: $LOG_FILE)"
        fi
        (( waited >= START_TIMEOUT )) && die "influxd (PID $pid) not healthy on $URL/health after ${START_TIMEOUT}s (log: $LOG_FILE; stop it with: $0 down)"
        sleep 1
        waited=$((waited + 1))
    done
    setup
    scoped_tokens
    echo "InfluxDB is up: $URL (PID $pid, org '$ORG', bucket '$BUCKET')"
}

cmd_down() {
    if [[ ! -f "$PID_FILE" ]]; then
        echo "influxd is not running (no pid file $PID_FILE)"
        return 0
    fi
    local pid
    pid="$(live_pid)"
    if [[ -z "$pid" ]]; then
        rm -f "$PID_FILE"
        echo "influxd is not running (removed stale pid file)"
        return 0
    fi
    say "Stopping influxd (PID $pid)"
    terminate_pid "$pid" "$STOP_TIMEOUT" influxd || exit 1
    rm -f "$PID_FILE"
    echo "influxd stopped"
}

cmd_status() {
    local pid
    pid="$(live_pid)"
    if [[ -n "$pid" ]]; then
        if healthy; then echo "influxd running (PID $pid), healthy on $URL"; else echo "influxd running (PID $pid), NOT healthy on $URL"; exit 1; fi
    else
        echo "influxd not running"; exit 1
    fi
}

case "${1:-}" in
    up) cmd_up ;;
    down) cmd_down ;;
    status) cmd_status ;;
    *) die "usage: $0 up|down|status" ;;
esac
