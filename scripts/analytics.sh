#!/usr/bin/env bash
# The Spark streaming job (python -m analytics.stream) as a local background process.
#   scripts/analytics.sh up       start it; return once its queries run (bounded)
#   scripts/analytics.sh down     stop it by the PID `up` recorded (SIGTERM, then SIGKILL)
#   scripts/analytics.sh status
# One job per lake: its PID and log files are named after ANALYTICS_LAKE_DIR (the job's settings:
# KAFKA_BROKER, WEATHER_ENRICHED_TOPIC, ANALYTICS_LAKE_DIR, CASSANDRA_HOSTS, see the README).
# Env: ANALYTICS_START_TIMEOUT (seconds, 180: the first start resolves the jars from Maven
#      Central), WSL_CACHE.
set -euo pipefail
# shellcheck source=scripts/lib.sh
source "$(dirname "$0")/lib.sh"

run_dir="$cache/run"
python="$here/.venv/bin/python"
start_timeout=${ANALYTICS_START_TIMEOUT:-180}
# The job's own default (weather_app/settings.py), made explicit to name its files.
export ANALYTICS_LAKE_DIR=${ANALYTICS_LAKE_DIR:-$HOME/.cache/weather-speed-layer/lake}
instance="analytics-$(printf '%s' "$ANALYTICS_LAKE_DIR" | cksum | cut -d' ' -f1)"
pid_file="$run_dir/$instance.pid"
log_file="$run_dir/$instance.log"

die() { echo "analytics: $*" >&2; exit 1; }
say() { echo "==> analytics: $*"; }

[[ $start_timeout =~ ^[0-9]+$ ]] || die "ANALYTICS_START_TIMEOUT must be seconds, got '$start_timeout'"

live_pid() { pid_of_program "$pid_file" "$python" analytics.stream; }
# Log lines written after byte offset $1.
new_log() { tail -c +"$(($1 + 1))" "$log_file" 2>/dev/null || true; }
started() { new_log "$1" | grep -q "query $2 started"; }

up() {
  [[ -x $python ]] || die "$python not found: run 'make venv' first"
  local pid
  if pid=$(live_pid) && [[ -n $pid ]]; then say "already running (PID $pid, log: $log_file)"; return 0; fi
  mkdir -p "$run_dir"
  local log_start=0 waited=0
  [[ -f $log_file ]] && log_start=$(stat -c %s "$log_file")
  say "starting the Spark job on lake $ANALYTICS_LAKE_DIR (log: $log_file)"
  (cd "$here" && exec nohup "$python" -m analytics.stream >>"$log_file" 2>&1 </dev/null) &
  pid=$!
  echo "$pid" >"$pid_file"
  until started "$log_start" lake && started "$log_start" cassandra; do
    if ! pid_alive "$pid"; then
      rm -f "$pid_file"
      die "the job (PID $pid) exited during start-up: $(new_log "$log_start" | grep -m1 -E 'Error|Exception|analytics\.' | cut -c1-300) (log: $log_file)"
    fi
    if ((waited >= start_timeout * 2)); then
      if started "$log_start" lake; then
        say "running (PID $pid), but its Cassandra query has not started after ${start_timeout}s; it keeps retrying (log: $log_file)"
        return 0
      fi
      terminate_pid "$pid" 60 "the Spark job" || true
      rm -f "$pid_file"
      die "the job's queries did not start within ${start_timeout}s; stopped it (log: $log_file)"
    fi
    sleep 0.5
    waited=$((waited + 1))
  done
  say "running (PID $pid, $((waited / 2))s): queries lake and cassandra started"
}

down() {
  local pid
  pid=$(live_pid)
  if [[ -z $pid ]]; then rm -f "$pid_file"; say "not running (lake $ANALYTICS_LAKE_DIR)"; return 0; fi
  say "stopping PID $pid"
  terminate_pid "$pid" 60 "the Spark job" || exit 1
  rm -f "$pid_file"
  say "stopped"
}

status() {
  local pid
  pid=$(live_pid)
  if [[ -z $pid ]]; then echo "analytics: not running (lake $ANALYTICS_LAKE_DIR)"; return 1; fi
  echo "analytics: running (PID $pid), lake $ANALYTICS_LAKE_DIR, log $log_file"
}

case ${1:-} in
  up) up ;;
  down) down ;;
  status) status ;;
  *) die "usage: $0 up|down|status" ;;
esac
