# shellcheck shell=bash
# Shared by the service scripts (sourced, not run).

# The repository's root, and the project's cache (downloads, builds, the services' run state).
here=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cache=${WSL_CACHE:-$HOME/.cache/weather-speed-layer}

# pid_alive PID: the process exists and has not exited (an exited child its parent has not yet
# reaped, a zombie, still answers kill -0).
pid_alive() {
    local stat
    stat="$(cat "/proc/$1/stat" 2>/dev/null)" || return 1
    stat="${stat##*) }"  # the state follows the command name, which may hold spaces and ')'
    [[ "${stat:0:1}" != Z ]]
}

# terminate_pid PID TIMEOUT_SECONDS LABEL: SIGTERM, wait up to TIMEOUT, then SIGKILL and wait 5 s.
# Returns 1 (after saying so on stderr) only if the process survives SIGKILL.
terminate_pid() {
    local pid="$1" timeout="$2" label="$3" waited=0
    kill -TERM "$pid" 2>/dev/null || true
    while pid_alive "$pid" && ((waited < timeout * 10)); do sleep 0.1; waited=$((waited + 1)); done
    pid_alive "$pid" || return 0
    echo "$label (PID $pid) did not stop within ${timeout}s; sending SIGKILL" >&2
    kill -KILL "$pid" 2>/dev/null || true
    waited=0
    while pid_alive "$pid" && ((waited < 50)); do sleep 0.1; waited=$((waited + 1)); done
    if pid_alive "$pid"; then
        echo "$label (PID $pid) is still alive after SIGKILL" >&2
        return 1
    fi
}

# port_open PORT [HOST]: something accepts connections on HOST (default 127.0.0.1):PORT.
port_open() { (exec 3<>"/dev/tcp/${2:-127.0.0.1}/$1") 2>/dev/null; }

# exit_reason LOG: the first exception a Java service's log names, cut to one line (Kafka and
# Cassandra log the cause of a fatal start-up; Kafka on the line after "Exiting Kafka due to
# fatal exception").
exit_reason() { grep -m1 -E '^[a-zA-Z0-9_.$]+(Exception|Error): ' "$1" 2>/dev/null | cut -c1-300; }

# pid_of_program PID_FILE PROGRAM [ARG]: print the PID in PID_FILE if that process is alive and runs
# PROGRAM, print nothing otherwise. "Runs PROGRAM" means /proc/PID/exe is PROGRAM's file
# (symlinks resolved) and, given ARG, one of its arguments is exactly ARG: for an interpreted
# script PROGRAM is the interpreter and ARG the script. A command line that merely mentions the
# name (`tail -f influxdb-8086.log`) or a reused PID is not ours; neither is a zombie.
pid_of_program() {
    local pid_file="$1" program="$2" arg="${3-}" pid exe word
    [[ -f "$pid_file" ]] || return 0
    pid="$(tr -dc '0-9' <"$pid_file")"
    [[ -n "$pid" ]] || return 0
    exe="$(readlink "/proc/$pid/exe" 2>/dev/null)" || return 0
    # A binary rebuilt while it runs shows as "PATH (deleted)"; it is still that program.
    [[ "${exe% (deleted)}" == "$(readlink -f "$program")" ]] || return 0
    if [[ -n "$arg" ]]; then
        local words=()
        mapfile -d '' -t words 2>/dev/null <"/proc/$pid/cmdline" || return 0
        for word in "${words[@]}"; do
            if [[ "$word" == "$arg" ]]; then echo "$pid"; return 0; fi
        done
        return 0
    fi
    echo "$pid"
}

# "weather from <source> every <n>s": the source and interval a worker started with this
# environment uses (an API's daily budget may raise WEATHER_INTERVAL). $1: the repo's python.
describe_rounds() {
  "$1" -c 'import os; from weather_app.settings import Settings
s = Settings.from_env(os.environ); print(f"weather from {s.weather_source} every {s.fetch_interval_seconds:g}s")' 2>/dev/null ||
    echo "weather every ${WEATHER_INTERVAL}s"
}

# use_go_caches CACHE: Go's module and build caches under CACHE (the project's cache dir), shared by
# every Go build of the install scripts and never in the repository.
use_go_caches() {
  export GOPATH="$1/go"
  export GOMODCACHE="$1/go/pkg/mod"
  export GOCACHE="$1/go/build-cache"
  export GOFLAGS="-modcacherw -buildvcs=false"
  mkdir -p "$GOCACHE"
}

# fetch_maven_jars POM LIB_DIR PRODUCT: the runtime classpath of POM's dependencies, from Maven
# Central into LIB_DIR, once (LIB_DIR/.complete marks a finished copy). Reports through the
# calling script's `say` and stops through its `die`.
fetch_maven_jars() {
  local pom="$1" lib_dir="$2" product="$3"
  [[ -f $lib_dir/.complete ]] && return 0
  command -v mvn >/dev/null || die "Maven is required to fetch $product from Maven Central: install it (Debian: apt-get install maven)"
  say "fetching $product from Maven Central into $lib_dir"
  mkdir -p "$lib_dir"
  mvn -B -q -Dstyle.color=never -f "$pom" dependency:copy-dependencies \
    -DincludeScope=runtime -DoutputDirectory="$lib_dir" \
    || die "mvn could not fetch the $product jars (see the output above)"
  touch "$lib_dir/.complete"
  say "fetched $(find "$lib_dir" -name '*.jar' | wc -l) jars ($(du -sh "$lib_dir" | cut -f1))"
}
