#!/usr/bin/env bash
# Build a slim Telegraf (only the plugins the speed layer uses) from the Go module proxy.
# Result: ${WSL_CACHE:-$HOME/.cache/weather-speed-layer}/bin/telegraf
# Idempotent: exits fast when the binary already exists, runs and has every plugin of TELEGRAF_TAGS
# (a binary built before a plugin was added is rebuilt).
#
# Env: WSL_CACHE (cache root).
set -euo pipefail
# shellcheck source=scripts/lib.sh
source "$(dirname "$0")/lib.sh"

TELEGRAF_VERSION="v1.37.2"
TELEGRAF_TAGS="custom,inputs.kafka_consumer,parsers.json_v2,processors.converter,outputs.influxdb_v2,outputs.file,outputs.health"

BIN_DIR="$cache/bin"
TELEGRAF_BIN="$BIN_DIR/telegraf"

die() { echo "install-telegraf: $*" >&2; exit 1; }
say() { echo "==> $*"; }

# The plugins of TELEGRAF_TAGS that `telegraf plugins` does not list.
missing_plugins() {
    local listed
    listed="$("$TELEGRAF_BIN" plugins 2>/dev/null)" || listed=""
    tr ',' '\n' <<<"${TELEGRAF_TAGS#custom,}" | grep -vxF -f <(printf '%s\n' "$listed") || true
}

if [[ -x "$TELEGRAF_BIN" ]] && out="$("$TELEGRAF_BIN" --version 2>/dev/null)"; then
    missing="$(missing_plugins | paste -sd, -)"
    if [[ -z "$missing" ]]; then
        echo "telegraf already installed: $TELEGRAF_BIN ($out)"
        exit 0
    fi
    say "telegraf in $TELEGRAF_BIN lacks $missing: rebuilding it"
fi

GO_MIN="1.25.5"            # telegraf v1.37.2's go.mod: go 1.25.5
command -v go >/dev/null 2>&1 || die "'go' not found: install Go >= $GO_MIN (https://go.dev/doc/install) and put it on PATH"
go_ver="$(go env GOVERSION 2>/dev/null | sed 's/^go//')"
[[ "$(printf '%s\n%s\n' "$GO_MIN" "$go_ver" | sort -V | head -n1)" == "$GO_MIN" ]] \
    || die "Go $go_ver is too old for telegraf $TELEGRAF_VERSION: install Go >= $GO_MIN (https://go.dev/doc/install)"

# Everything intermediate lives under the cache dir, never in the repo.
use_go_caches "$cache"
export GOBIN="$cache/go/bin"
export CGO_ENABLED=0
mkdir -p "$BIN_DIR" "$GOBIN"

say "Building telegraf $TELEGRAF_VERSION (slim: $TELEGRAF_TAGS); first build takes several minutes"
start=$SECONDS
go install -tags "$TELEGRAF_TAGS" -ldflags "-s -w -X github.com/influxdata/telegraf/internal.Version=${TELEGRAF_VERSION#v}" \
    "github.com/influxdata/telegraf/cmd/telegraf@$TELEGRAF_VERSION" \
    || die "go install github.com/influxdata/telegraf/cmd/telegraf@$TELEGRAF_VERSION failed (see output above)"
install -m 0755 "$GOBIN/telegraf" "$TELEGRAF_BIN.tmp"
mv -f "$TELEGRAF_BIN.tmp" "$TELEGRAF_BIN"

out="$("$TELEGRAF_BIN" --version 2>&1)" || die "built $TELEGRAF_BIN but '--version' fails: $out"
missing="$(missing_plugins | paste -sd, -)"
[[ -z "$missing" ]] || die "built $TELEGRAF_BIN but it lacks $missing"
say "telegraf installed: $TELEGRAF_BIN ($out) in $((SECONDS - start)) s"
