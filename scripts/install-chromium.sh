#!/usr/bin/env bash
# Headless Chromium for the web page test: Debian's `chromium` package (no browser download).
set -euo pipefail

if command -v chromium >/dev/null 2>&1; then
    echo "chromium already installed: $(chromium --version 2>/dev/null || echo chromium)"
    exit 0
fi
command -v apt-get >/dev/null 2>&1 \
    || { echo "install-chromium: no apt-get here: install Chromium so that 'chromium' is on PATH" >&2; exit 1; }
[[ $(id -u) -eq 0 ]] \
    || { echo "install-chromium: run 'sudo apt-get install chromium' (needs root)" >&2; exit 1; }
echo "==> installing Debian's chromium (apt-get, about a minute)"
apt-get update -qq
DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null
echo "chromium installed: $(chromium --version 2>/dev/null)"
