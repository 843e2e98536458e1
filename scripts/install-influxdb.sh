#!/usr/bin/env bash
# Build InfluxDB OSS 2.7 (influxd) from the Go module proxy + crates.io; no Docker, no download sites.
# Result: ${WSL_CACHE:-$HOME/.cache/weather-speed-layer}/bin/influxd
# Idempotent: exits fast when the binary already exists and `influxd version` works.
#
# How: influxd links libflux (Rust) through cgo (`#cgo pkg-config: flux`). We
#   1. make a small wrapper Go module (influxdb's go.mod has a `replace`, so `go install pkg@v` is refused),
#   2. copy the flux module out of the module cache, build libflux with cargo (without the `strict`
#      feature, whose deny(warnings) breaks on a newer rustc; the file pinning Rust 1.72 is removed),
#   3. write a flux.pc for the system pkg-config and `go build` influxd with CGO_ENABLED=1.
# Everything intermediate lives under the cache dir, never in the repo.
#
# Env: WSL_CACHE (cache root); INFLUXDB_BUILD_JOBS (cargo/go parallelism, default: all cores).
set -euo pipefail
# shellcheck source=scripts/lib.sh
source "$(dirname "$0")/lib.sh"

INFLUXDB_VERSION="v2.7.12"
FLUX_VERSION="v0.196.1"   # what influxdb v2.7.12's go.mod requires; do not bump (v0.197+ needs arrow v18)
NATS_REPLACE_OLD="github.com/nats-io/nats-streaming-server@v0.11.2"
NATS_REPLACE_NEW="github.com/influxdata/nats-streaming-server@v0.11.3-0.20201112040610-c277f7560803"
BUILD_TAGS="sqlite_foreign_keys,sqlite_json"

BIN_DIR="$cache/bin"
INFLUXD_BIN="$BIN_DIR/influxd"
WORK="$cache/build/influxdb-$INFLUXDB_VERSION"
WRAPPER="$WORK/wrapper"
FLUX_COPY="$WORK/flux-$FLUX_VERSION"
LIBFLUX_DIR="$WORK/libflux"

die() { echo "install-influxdb: $*" >&2; exit 1; }
say() { echo "==> $*"; }

if [[ -x "$INFLUXD_BIN" ]] && out="$("$INFLUXD_BIN" version 2>/dev/null)"; then
    echo "influxd already installed: $INFLUXD_BIN ($out)"
    exit 0
fi

GO_MIN="1.23"              # influxdb v2.7.12's go.mod: go 1.23.0
command -v go >/dev/null 2>&1 || die "'go' not found: install Go >= $GO_MIN (https://go.dev/doc/install) and put it on PATH"
command -v cargo >/dev/null 2>&1 || die "'cargo' not found: install Rust (rustup, stable toolchain) and put cargo on PATH"
command -v gcc >/dev/null 2>&1 || die "'gcc' not found: install a C compiler (Debian/Ubuntu: apt-get install build-essential)"
command -v pkg-config >/dev/null 2>&1 || die "'pkg-config' not found: install it (Debian/Ubuntu: apt-get install pkg-config)"
go_ver="$(go env GOVERSION 2>/dev/null | sed 's/^go//')"
[[ "$(printf '%s\n%s\n' "$GO_MIN" "$go_ver" | sort -V | head -n1)" == "$GO_MIN" ]] \
    || die "Go $go_ver is too old for influxdb $INFLUXDB_VERSION: install Go >= $GO_MIN (https://go.dev/doc/install)"

JOBS="${INFLUXDB_BUILD_JOBS:-$(nproc 2>/dev/null || echo 2)}"

use_go_caches "$cache"
export CARGO_HOME="$cache/cargo"
export CARGO_TARGET_DIR="$WORK/cargo-target"
unset PKG_CONFIG RUSTUP_TOOLCHAIN
mkdir -p "$BIN_DIR" "$WORK" "$CARGO_HOME"

start=$SECONDS

# 1. Wrapper module pinning influxdb (with the nats-streaming-server replace influxdb's go.mod declares).
if [[ ! -f "$WRAPPER/.ready" ]]; then
    say "Resolving influxdb $INFLUXDB_VERSION in a wrapper module (downloads modules; a few minutes)"
    rm -rf "$WRAPPER"
    mkdir -p "$WRAPPER"
    (
        cd "$WRAPPER"
        go mod init wsl.local/influxd-build >/dev/null 2>&1
        go mod edit -replace "$NATS_REPLACE_OLD=$NATS_REPLACE_NEW"
        go get "github.com/influxdata/influxdb/v2/cmd/influxd@$INFLUXDB_VERSION"
    ) || die "resolving github.com/influxdata/influxdb/v2@$INFLUXDB_VERSION failed (see output above)"
    touch "$WRAPPER/.ready"
fi

got_flux="$(cd "$WRAPPER" && go list -m -f '{{.Version}}' github.com/influxdata/flux)" \
    || die "cannot resolve github.com/influxdata/flux in $WRAPPER"
[[ "$got_flux" == "$FLUX_VERSION" ]] || die "influxdb $INFLUXDB_VERSION resolved flux $got_flux, expected $FLUX_VERSION"

# 2. Writable copy of flux, without the rust-toolchain.toml that pins an un-downloadable Rust 1.72.
if [[ ! -f "$FLUX_COPY/.ready" ]]; then
    say "Copying flux $FLUX_VERSION out of the module cache"
    flux_src="$(cd "$WRAPPER" && go list -m -f '{{.Dir}}' github.com/influxdata/flux)"
    [[ -d "$flux_src/libflux" ]] || die "flux module dir '$flux_src' has no libflux/"
    rm -rf "$FLUX_COPY"
    cp -R "$flux_src" "$FLUX_COPY"
    chmod -R u+w "$FLUX_COPY"
    rm -f "$FLUX_COPY/rust-toolchain.toml" "$FLUX_COPY/rust-toolchain" \
          "$FLUX_COPY/libflux/rust-toolchain.toml" "$FLUX_COPY/libflux/rust-toolchain"
    touch "$FLUX_COPY/.ready"
fi

# 3. libflux static library (Rust, release) + flux.pc for cgo.
if [[ ! -f "$LIBFLUX_DIR/lib/libflux.a" || ! -f "$LIBFLUX_DIR/lib/pkgconfig/flux.pc" ]]; then
    say "Building libflux (Rust, release, without the 'strict' feature); ~2-5 min on 2 cores"
    (
        cd "$FLUX_COPY/libflux"
        cargo build --release --locked -j "$JOBS" -p flux --lib --no-default-features --features cffi
    ) || die "cargo build of libflux failed (see output above)"
    mkdir -p "$LIBFLUX_DIR/lib/pkgconfig"
    cp "$CARGO_TARGET_DIR/release/libflux.a" "$LIBFLUX_DIR/lib/libflux.a"
    cat > "$LIBFLUX_DIR/lib/pkgconfig/flux.pc" <<PC
prefix=$LIBFLUX_DIR
Name: flux
Description: Flux language library (libflux, built from flux $FLUX_VERSION)
Version: ${FLUX_VERSION#v}
Libs: -L\${prefix}/lib -lflux -ldl -lm -lpthread
Cflags: -I$FLUX_COPY/libflux/include
PC
fi
export PKG_CONFIG_PATH="$LIBFLUX_DIR/lib/pkgconfig${PKG_CONFIG_PATH:+:$PKG_CONFIG_PATH}"
pkg-config --exists flux || die "pkg-config cannot find flux.pc in $LIBFLUX_DIR/lib/pkgconfig"

# 4. influxd itself.
say "Building influxd $INFLUXDB_VERSION (Go + cgo: sqlite, libflux); ~3-8 min on 2 cores"
(
    cd "$WRAPPER"
    CGO_ENABLED=1 go build -p "$JOBS" -tags "$BUILD_TAGS" \
        -ldflags "-s -w -X main.version=${INFLUXDB_VERSION#v} -X main.commit=wsl-source-build -X main.date=$(date -u +%Y-%m-%dT%H:%M:%SZ)" \
        -o "$INFLUXD_BIN.tmp" github.com/influxdata/influxdb/v2/cmd/influxd
) || die "go build of influxd failed (see output above)"
mv -f "$INFLUXD_BIN.tmp" "$INFLUXD_BIN"

out="$("$INFLUXD_BIN" version 2>&1)" || die "built $INFLUXD_BIN but 'influxd version' fails: $out"
say "influxd installed: $INFLUXD_BIN ($out) in $((SECONDS - start)) s"
