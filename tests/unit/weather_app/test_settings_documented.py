"""The README's Configuration tables and .env.example say what weather_app/settings.py declares."""

import re

import pytest

from tests.unit.deploy import ENV_EXAMPLE, REPO, compose_config, env_example
from weather_app.settings import Settings, configuration_tables, declarations

README = REPO / "README.md"
TABLES_START = re.compile(
    r"<!-- The tables up to the end marker are printed by .*?-->\n", re.DOTALL
)
TABLES_END = "<!-- end of the settings tables -->"
# `# NAME=value`: a setting .env.example lists at its default without setting it.
COMMENTED_SETTING = re.compile(r"^#\s?([A-Z][A-Z0-9_]*)=(.*)$")
DECLARED = {declared.variable.name: declared for declared in declarations()}


def readme_tables() -> str:
    text = README.read_text(encoding="utf-8")
    start = TABLES_START.search(text)
    assert start, "README: the start marker of the settings tables is missing"
    end = text.index(TABLES_END, start.end())
    return text[start.end() : end]


def commented_settings() -> dict[str, str]:
    lines = (REPO / ".env.example").read_text(encoding="utf-8").splitlines()
    return {
        match.group(1): match.group(2)
        for match in map(COMMENTED_SETTING.match, lines)
        if match is not None
    }


def worker_environment() -> dict[str, str]:
    """The worker container's environment: docker-compose.yml, as Docker Compose resolves it,
    with .env.example copied to .env (a variable listed without a value is left unset)."""
    environment = compose_config(ENV_EXAMPLE.read_text(encoding="utf-8"))["services"]["worker"]
    return {name: value for name, value in environment["environment"].items() if value is not None}


def test_the_readme_tables_are_the_declarations():
    assert readme_tables().strip() == configuration_tables().strip(), (
        "README is out of date: paste `python -m weather_app.settings` between its markers"
    )


def test_the_readme_tables_name_every_variable_once_with_its_default():
    rows = re.findall(r"^\| `([A-Z][A-Z0-9_]*)` \| (.*?) \|", readme_tables(), re.MULTILINE)
    assert [name for name, _ in rows] == list(DECLARED)
    for name, default in rows:
        assert default == DECLARED[name].readme_default, name


def test_every_setting_is_in_env_example_or_set_by_compose():
    listed = set(env_example()) | set(commented_settings()) | set(worker_environment())
    assert set(DECLARED) - listed == set()


@pytest.mark.parametrize(("name", "value"), sorted(commented_settings().items()))
def test_a_commented_setting_in_env_example_is_declared_with_that_default(name, value):
    assert name in DECLARED, f".env.example lists {name}, which no setting reads"
    assert value == DECLARED[name].default_text
    Settings.from_env({name: value})


def test_the_settings_env_example_sets_are_valid():
    Settings.from_env({name: value for name, value in env_example().items() if name in DECLARED})


def test_the_worker_containers_settings_are_valid():
    settings = Settings.from_env(worker_environment())
    assert settings.kafka.broker == "kafka:9092"
    assert settings.stream.interval_seconds == float(env_example()["WEATHER_INTERVAL"])
