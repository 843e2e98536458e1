"""No secret in the files git would commit: credentials come from the environment (.env)."""

import re
import subprocess
from pathlib import Path

import pytest

from tests.unit.deploy import (
    COMPOSE_FILE,
    ENV_EXAMPLE,
    FILE_REFERENCE,
    PROVISIONING,
    REPO,
    VARIABLE,
    compose,
    dashboard,
    env_example,
)

# Shapes of real credentials. Written so that this file does not match them itself.
SECRET_SHAPES = {
    "private key": re.compile("-----BEGIN " + r"(?:RSA |EC |DSA |OPENSSH |PGP )?PRIVATE KEY"),
    "AWS access key": re.compile(r"\b(?:AKIA|ASIA)" + r"[0-9A-Z]{16}\b"),
    "GitHub token": re.compile(r"\bgh[pousr]_" + r"[A-Za-z0-9]{36,}\b"),
    "Slack token": re.compile(r"\bxox[abposr]-" + r"[A-Za-z0-9-]{10,}"),
    "Grafana service account token": re.compile(r"\bglsa_" + r"[A-Za-z0-9_]{32,}"),
    "InfluxDB API token": re.compile(r"[A-Za-z0-9_-]{86}" + "=="),
}
# The documented laptop defaults (README, .env.example): to be changed, not secret.
DEV_DEFAULTS = {"speed-layer-dev-token", "speedlayer-dev-pass"}
CREDENTIAL_NAME = re.compile(r"(TOKEN|PASSWORD|SECRET|API_KEY)$")


def committed_files() -> list[Path]:
    """Tracked files plus new ones git would add (ignored files such as .env excluded)."""
    listing = subprocess.run(
        ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
        cwd=REPO,
        capture_output=True,
        check=True,
    ).stdout.decode()
    return [REPO / name for name in listing.split("\0") if name and (REPO / name).is_file()]


def test_no_committed_file_holds_a_credential_shaped_string():
    found = []
    for path in committed_files():
        try:
            text = path.read_text(encoding="utf-8")
        except (UnicodeDecodeError, OSError):
            continue
        for what, shape in SECRET_SHAPES.items():
            if shape.search(text):
                found.append(f"{path.relative_to(REPO)}: {what}")
    assert found == []


def test_no_env_file_is_committed():
    names = {path.relative_to(REPO).as_posix() for path in committed_files()}
    assert ".env" not in names
    assert not any(name.endswith("/.env") for name in names)


def test_every_credential_in_compose_comes_from_the_environment():
    for name, service in compose()["services"].items():
        for key, value in (service.get("environment") or {}).items():
            if CREDENTIAL_NAME.search(key) or key.endswith("_ADMIN_TOKEN"):
                assert VARIABLE.fullmatch(str(value)), f"{name}: {key} must be ${{VAR}}"


def test_env_example_holds_only_placeholders_and_documented_defaults():
    for key, value in env_example().items():
        if CREDENTIAL_NAME.search(key):
            assert value in DEV_DEFAULTS | {""}, f"{key} in .env.example looks like a real secret"
    assert env_example()["VISUAL_CROSSING_API_KEY"] == ""


@pytest.mark.parametrize("path", sorted(PROVISIONING.rglob("*.yaml")), ids=lambda p: p.name)
def test_grafana_provisioning_holds_no_literal_secret(path: Path):
    text = path.read_text()
    for line in text.splitlines():
        key, sep, value = line.strip().partition(":")
        if sep and re.search(r"(token|password|secret|apikey|api_key)$", key, re.IGNORECASE):
            reference = value.strip()
            assert VARIABLE.fullmatch(reference) or FILE_REFERENCE.fullmatch(reference), (
                f"{path.name}: {line.strip()}"
            )
    for default in DEV_DEFAULTS:
        assert default not in text


def test_the_dashboard_holds_no_credentials():
    text = str(dashboard())
    assert "secureJsonData" not in text
    assert "token" not in text.lower()
    for default in DEV_DEFAULTS:
        assert default not in text


def test_the_compose_file_and_env_example_exist_side_by_side():
    assert COMPOSE_FILE.parent == ENV_EXAMPLE.parent == REPO
