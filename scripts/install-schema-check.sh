#!/usr/bin/env bash
# Build grafana/schema-check, which decodes the dashboards with Grafana's own generated schema
# types (github.com/grafana/grafana-foundation-sdk/go, Apache-2.0), from the Go module proxy.
# Result: ${WSL_CACHE:-$HOME/.cache/weather-speed-layer}/bin/grafana-schema-check
# Runs `go build` every time: Go's caches make that about a second when nothing changed (the
# first build downloads the SDK and takes about 25 s on 2 cores), and a changed checker is rebuilt.
#
# Env: WSL_CACHE (cache root).
set -euo pipefail
# shellcheck source=scripts/lib.sh
source "$(dirname "$0")/lib.sh"

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
BIN_DIR="$cache/bin"
CHECKER_BIN="$BIN_DIR/grafana-schema-check"

die() { echo "install-schema-check: $*" >&2; exit 1; }
say() { echo "==> $*"; }

command -v go >/dev/null 2>&1 || die "'go' not found: install Go >= 1.21 (https://go.dev/doc/install) and put it on PATH"

# The same caches as scripts/install-telegraf.sh, never in the repo.
use_go_caches "$cache"
export CGO_ENABLED=0
mkdir -p "$BIN_DIR"

sdk="$(awk '$1 == "require" && $2 ~ /grafana-foundation-sdk/ {print $3}' "$REPO/grafana/schema-check/go.mod")"
say "Building grafana/schema-check (grafana-foundation-sdk $sdk) into $CHECKER_BIN"
(cd "$REPO/grafana/schema-check" && go build -o "$CHECKER_BIN.tmp" .) \
    || die "go build of grafana/schema-check failed (see output above)"
mv -f "$CHECKER_BIN.tmp" "$CHECKER_BIN"
