#!/usr/bin/env bash
# Create the project's virtual environment and install the package with its dev tools.
# Env: PYTHON (python3), VENV (.venv).
set -euo pipefail

python=${PYTHON:-python3}
venv=${VENV:-.venv}

command -v "$python" >/dev/null || { echo "venv: $python not found: install Python 3.11+ or set PYTHON" >&2; exit 1; }
"$python" -c 'import sys; sys.exit(sys.version_info < (3, 11))' \
  || { echo "venv: $python is $("$python" -V 2>&1); Python 3.11+ is required: set PYTHON" >&2; exit 1; }
"$python" -c 'import venv, ensurepip' 2>/dev/null \
  || { echo "venv: $python lacks venv/ensurepip (Debian: apt-get install python3-venv)" >&2; exit 1; }

if [[ ! -x $venv/bin/python ]]; then
  echo "==> venv: creating $venv with $("$python" -V 2>&1)"
  "$python" -m venv "$venv"
fi
echo "==> venv: installing weather-speed-layer, its analytics side and dev tools (pip, cached in ~/.cache/pip)"
"$venv/bin/python" -m pip install --quiet --upgrade pip
"$venv/bin/python" -m pip install --quiet --editable '.[dev,bench,analytics]' \
  || { echo "venv: pip install failed (see above)" >&2; exit 1; }
