"""Where the repository and the project's cache (downloads, PID files, logs) are."""

import os
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def cache_dir() -> Path:
    """The scripts' cache: WSL_CACHE, or ~/.cache/weather-speed-layer (as scripts/lib.sh)."""
    return Path(os.environ.get("WSL_CACHE", Path.home() / ".cache" / "weather-speed-layer"))
