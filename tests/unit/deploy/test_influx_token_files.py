"""Which token `check` reads with: INFLUXDB_TOKEN, else the read-only token file."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

from weather_app.cli.influx import InfluxSetupError, default_token_file, read_token
from weather_app.settings import InfluxDBSettings

URL = "http://127.0.0.1:18086"


def influxdb(token: str = "", read_token_file: str = "") -> InfluxDBSettings:
    return InfluxDBSettings(url=URL, token=token, read_token_file=read_token_file)


def test_the_default_files_are_the_ones_scripts_influxdb_sh_writes_for_the_port(tmp_path: Path):
    env = {"WSL_CACHE": str(tmp_path)}
    tokens = tmp_path / "run" / "influxdb-18086-tokens"
    assert default_token_file(URL, "read", env) == tokens / "read.token"
    assert default_token_file(URL, "write", env) == tokens / "telegraf.token"
    assert default_token_file("http://localhost", "read", env).parent.name == "influxdb-8086-tokens"
    script = (Path(__file__).parents[3] / "scripts" / "influxdb.sh").read_text()
    assert 'TOKEN_DIR="$RUN_DIR/influxdb-$PORT-tokens"' in script
    assert "$TOKEN_DIR/telegraf.token" in script
    assert "$TOKEN_DIR/read.token" in script


def test_an_exported_token_wins_then_the_configured_file_then_the_default(tmp_path: Path):
    default = default_token_file(URL, "read", {"WSL_CACHE": str(tmp_path)})
    default.parent.mkdir(parents=True)
    default.write_text("from-default-file")
    configured = tmp_path / "mine.token"
    configured.write_text("from-configured-file\n")
    env = {"WSL_CACHE": str(tmp_path)}

    assert read_token(influxdb(token="exported"), env) == "exported"
    assert read_token(influxdb(read_token_file=str(configured)), env) == "from-configured-file"
    assert read_token(influxdb(), env) == "from-default-file"


def test_no_token_anywhere_says_what_to_set(tmp_path: Path):
    with pytest.raises(InfluxSetupError) as refused:
        read_token(influxdb(), {"WSL_CACHE": str(tmp_path)})
    message = str(refused.value)
    assert "INFLUXDB_READ_TOKEN_FILE" in message
    assert "scripts/influxdb.sh up" in message
    assert "\n" not in message


def test_check_without_a_token_exits_2_with_one_line(tmp_path: Path):
    env = {
        key: value
        for key, value in os.environ.items()
        if key not in ("INFLUXDB_TOKEN", "INFLUXDB_READ_TOKEN_FILE")
    }
    result = subprocess.run(
        [sys.executable, "-m", "faust", "-A", "weather_app", "check"],
        env={**env, "WSL_CACHE": str(tmp_path), "INFLUXDB_URL": URL},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 2
    [line] = result.stderr.strip().splitlines()
    assert line.startswith("weather-speed-layer: no InfluxDB token: INFLUXDB_TOKEN is unset")
