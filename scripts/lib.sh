# shellcheck shell=bash
# Shared by the service scripts (sourced, not run).

# terminate_pid PID TIMEOUT_SECONDS LABEL: SIGTERM, wait up to TIMEOUT, then SIGKILL and wait 5 s.
# Returns 1 (after saying so on stderr) only if the process survives SIGKILL.
terminate_pid() {
    local pid="$1" timeout="$2" label="$3" waited=0
    kill -TERM "$pid" 2>/dev/null || true
    while kill -0 "$pid" 2>/dev/null && ((waited < timeout * 10)); do sleep 0.1; waited=$((waited + 1)); done
    kill -0 "$pid" 2>/dev/null || return 0
    echo "$label (PID $pid) did not stop within ${timeout}s; sending SIGKILL" >&2
    kill -KILL "$pid" 2>/dev/null || true
    waited=0
    while kill -0 "$pid" 2>/dev/null && ((waited < 50)); do sleep 0.1; waited=$((waited + 1)); done
    if kill -0 "$pid" 2>/dev/null; then
        echo "$label (PID $pid) is still alive after SIGKILL" >&2
        return 1
    fi
}
