"""Structure of the deployment files: docker-compose.yml, Dockerfile, Grafana provisioning.

No Docker engine or Grafana runs here: these tests read the files. The Flux queries they hold are
run against a real InfluxDB by tests/integration/test_grafana_queries.py.
"""

import json
import re
from pathlib import Path
from typing import Any

import yaml

REPO = Path(__file__).resolve().parents[3]
COMPOSE_FILE = REPO / "docker-compose.yml"
ENV_EXAMPLE = REPO / ".env.example"
DOCKERFILE = REPO / "Dockerfile"
GRAFANA = REPO / "grafana"
PROVISIONING = GRAFANA / "provisioning"
DASHBOARD_FILE = GRAFANA / "dashboards" / "weather-speed-layer.json"

# `${VAR}`, `${VAR:-default}`, `${VAR-default}`, `${VAR:?message}`... as compose and Grafana
# write a variable reference.
VARIABLE = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?:(:?[-?+])([^}]*))?\}")
# Grafana's `$__file{/path}` in a provisioning value: the file's content.
FILE_REFERENCE = re.compile(r"\$__file\{([^}]+)\}")


def load_yaml(path: Path) -> Any:
    return yaml.safe_load(path.read_text(encoding="utf-8"))


def compose() -> dict[str, Any]:
    document: dict[str, Any] = load_yaml(COMPOSE_FILE)
    return document


def dashboard() -> dict[str, Any]:
    document: dict[str, Any] = json.loads(DASHBOARD_FILE.read_text(encoding="utf-8"))
    return document


def env_example() -> dict[str, str]:
    """The variables of .env.example (KEY=value lines; comments and blank lines skipped)."""
    values = {}
    for line in ENV_EXAMPLE.read_text(encoding="utf-8").splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        key, sep, value = line.partition("=")
        assert sep, f".env.example: not KEY=value: {line!r}"
        values[key.strip()] = value.strip()
    return values


def interpolate(text: str, env: dict[str, str]) -> str:
    """Compose's interpolation of `${VAR}` / `${VAR:-default}` with `env`."""

    def value(match: re.Match[str]) -> str:
        name, operator, default = match.group(1), match.group(2), match.group(3) or ""
        if name in env and (env[name] or operator != ":-"):
            return env[name]
        return default if operator in (":-", "-") else ""

    return VARIABLE.sub(value, text)


def datasource() -> dict[str, Any]:
    [source] = load_yaml(PROVISIONING / "datasources" / "influxdb.yaml")["datasources"]
    result: dict[str, Any] = source
    return result
