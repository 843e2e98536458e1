"""Misconfiguration stops the CLI with one clear line, never a traceback (no broker needed)."""

import os
import subprocess
import sys

import pytest

from tests.harness.ports import free_port


def run_cli(*args: str, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "faust", "-A", "weather_app", *args],
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


@pytest.mark.parametrize(
    ("name", "value"),
    [("WEATHER_INTERVAL", "soon"), ("KAFKA_BROKER", "nowhere"), ("WEATHER_CITIES", "Atlantis")],
)
def test_bad_setting_is_one_line_naming_the_variable(name, value):
    result = run_cli("worker", **{name: value})
    assert result.returncode != 0
    assert "Traceback" not in result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1
    assert lines[0].startswith("weather-speed-layer: configuration error: ")
    assert name in lines[0]


@pytest.mark.parametrize(
    "command", [["worker", "-l", "info"], ["produce", "--num", "1"], ["topics"]]
)
def test_unreachable_broker_is_one_line_saying_what_to_do(command):
    result = run_cli(*command, KAFKA_BROKER=f"127.0.0.1:{free_port()}", KAFKA_CONNECT_WAIT="1")
    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    [line] = [line for line in result.stderr.splitlines() if "weather-speed-layer" in line]
    assert "cannot reach the Kafka broker" in line
    assert "make kafka-up" in line


def test_produce_for_a_city_that_is_not_configured_is_one_line_before_any_broker():
    result = run_cli(
        "produce",
        "--scenario",
        "storm",
        "--city",
        "Atlantis",
        KAFKA_BROKER=f"127.0.0.1:{free_port()}",
        KAFKA_CONNECT_WAIT="1",
    )
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [
        "weather-speed-layer: produce --city: unknown city 'Atlantis'; the configured cities "
        "are: London, Paris, Berlin, Madrid, Rome, New York, Tokyo, Sydney, Sao Paulo, Mumbai"
    ]
