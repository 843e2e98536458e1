"""Least privilege on a real InfluxDB 2: Telegraf's token may only write the bucket, the token of
Grafana and `check` may only read it, and no token or password is ever on a command line."""

import os
import shutil
import stat
import urllib.error
import urllib.request
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import urlencode

import pytest
from influxdb_client.rest import ApiException

from tests.harness.ports import free_port
from tests.harness.processes import ScriptService
from tests.integration.support import AppEnv, flux, run_command, temporary_bucket, unique_name
from weather_app.cli.influx import InfluxTarget, default_token_file
from weather_app.sources.cities import DEFAULT_CITIES


def write_points(target: InfluxTarget, lines: list[str]) -> int:
    """HTTP status of writing line protocol to target.bucket with target.token."""
    query = urlencode({"org": target.org, "bucket": target.bucket, "precision": "s"})
    request = urllib.request.Request(  # noqa: S310 - the test's InfluxDB
        f"{target.url}/api/v2/write?{query}",
        method="POST",
        data="\n".join(lines).encode(),
        headers={"Authorization": f"Token {target.token}"},
    )
    try:
        with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310
            return int(response.status)
    except urllib.error.HTTPError as error:
        return error.code


def point(city: str, seconds: int, temperature: float = 10.0) -> str:
    tag = city.replace(" ", "\\ ").replace(",", "\\,").replace("=", "\\=")
    return (
        f"weather,city={tag},country=XX,station_id=SIM,data_origin=simulated "
        f"temperature={temperature} {seconds}"
    )


def last_hour(target: InfluxTarget) -> str:
    return (
        f'from(bucket: "{target.bucket}") |> range(start: -1h)'
        ' |> filter(fn: (r) => r._measurement == "weather")'
    )


def as_token(target: InfluxTarget, token_file: Path) -> InfluxTarget:
    return InfluxTarget(target.url, target.org, target.bucket, token_file.read_text())


@pytest.fixture(scope="module")
def token_files(influxdb_server: InfluxTarget) -> dict[str, Path]:
    """The files `scripts/influxdb.sh up` (the session's InfluxDB) wrote, where it writes them."""
    return {
        action: default_token_file(influxdb_server.url, action, os.environ)
        for action in ("write", "read")
    }


def test_the_token_files_are_private(token_files: dict[str, Path]):
    for path in token_files.values():
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
        assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700


def test_telegrafs_token_writes_its_bucket_and_nothing_else(
    influxdb_server: InfluxTarget, token_files: dict[str, Path]
):
    telegraf = as_token(influxdb_server, token_files["write"])
    now = int(datetime.now(UTC).timestamp())

    assert write_points(telegraf, [point("Writeonly", now)]) == 204
    with pytest.raises(ApiException) as refused_read:
        flux(telegraf, last_hour(telegraf))
    assert refused_read.value.status == 404  # without read permission the bucket is invisible
    with temporary_bucket(influxdb_server) as other:
        refused = write_points(as_token(other, token_files["write"]), [point("Elsewhere", now)])
        assert refused in (403, 404)
        assert flux(other, last_hour(other)) == []
    assert "Writeonly" in {row["city"] for row in flux(influxdb_server, last_hour(telegraf))}


def test_the_read_token_queries_but_cannot_write(
    influxdb_server: InfluxTarget, token_files: dict[str, Path]
):
    reader = as_token(influxdb_server, token_files["read"])
    now = int(datetime.now(UTC).timestamp())
    assert (
        write_points(as_token(influxdb_server, token_files["write"]), [point("Readable", now)])
        == 204
    )

    assert write_points(reader, [point("Forged", now)]) == 403
    cities = {row["city"] for row in flux(reader, last_hour(reader))}
    assert "Readable" in cities
    assert "Forged" not in cities


def test_check_finds_its_read_token_without_any_exported(
    influxdb_server: InfluxTarget, token_files: dict[str, Path], tmp_path: Path
):
    """After `scripts/influxdb.sh up`, `check` works as the README shows it: nothing exported."""
    now = int(datetime.now(UTC).timestamp())
    fresh = [point(city.name, now) for city in DEFAULT_CITIES]
    assert write_points(as_token(influxdb_server, token_files["write"]), fresh) == 204
    env = AppEnv(broker="127.0.0.1:9", workdir=tmp_path)
    env.extra.update(INFLUXDB_URL=influxdb_server.url, INFLUXDB_TOKEN="")

    result = run_command(env, "check")

    assert result.returncode == 0, result.stdout + result.stderr
    assert f"all {len(DEFAULT_CITIES)} cities fresh" in result.stdout


RECORDING_CURL = """#!/usr/bin/env bash
printf '%s\\n' "$*" >>"{log}"
exec "{curl}" "$@"
"""


@pytest.fixture
def recorded_curl(tmp_path: Path) -> tuple[Path, Path]:
    """(a directory to put first on PATH, the log): its curl logs its arguments, then runs curl."""
    directory, log = tmp_path / "recording-bin", tmp_path / "curl-argv.log"
    directory.mkdir()
    curl = shutil.which("curl")
    assert curl
    wrapper = directory / "curl"
    wrapper.write_text(RECORDING_CURL.format(log=log, curl=curl))
    wrapper.chmod(0o755)
    return directory, log


def command_line(pid_file: Path) -> str:
    pid = pid_file.read_text().strip()
    return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()


def test_no_token_or_password_is_ever_on_a_command_line(
    kafka_broker: str, tmp_path: Path, recorded_curl: tuple[Path, Path]
):
    recording_bin, curl_log = recorded_curl
    cache = tmp_path / "cache"
    admin_token, password = unique_name("admin-token"), unique_name("password")
    influx_port, health_port = free_port(), free_port()
    env = {
        **os.environ,
        "PATH": f"{recording_bin}:{os.environ['PATH']}",
        "WSL_CACHE": str(cache),
        "INFLUXD_BIN": str(Path.home() / ".cache/weather-speed-layer/bin/influxd"),
        "TELEGRAF_BIN": str(Path.home() / ".cache/weather-speed-layer/bin/telegraf"),
        "INFLUXDB_PORT": str(influx_port),
        "INFLUXDB_DATA_DIR": str(tmp_path / "influxdb"),
        "INFLUXDB_TOKEN": admin_token,
        "INFLUXDB_PASSWORD": password,
        "KAFKA_BROKER": kafka_broker,
        "TELEGRAF_HEALTH_PORT": str(health_port),
        "TELEGRAF_CONSUMER_GROUP": unique_name("telegraf"),
    }
    app = AppEnv(broker=kafka_broker, workdir=tmp_path)
    env["WEATHER_ENRICHED_TOPIC"] = app.enriched_topic
    assert run_command(app, "create-topics").returncode == 0
    influxdb, telegraf = ScriptService("influxdb.sh", env), ScriptService("telegraf.sh", env)
    influxdb.up()
    try:
        influxdb.up()  # again: the "already set up" path, with the admin token
        telegraf.up()
        try:
            run_dir = cache / "run"
            command_lines = [
                command_line(run_dir / f"telegraf-{health_port}.pid"),
                command_line(run_dir / f"influxdb-{influx_port}.pid"),
            ]
            telegraf_pid = (run_dir / f"telegraf-{health_port}.pid").read_text().strip()
            telegraf_environment = Path(f"/proc/{telegraf_pid}/environ").read_bytes()
        finally:
            telegraf.down()
    finally:
        influxdb.down()

    token_dir = cache / "run" / f"influxdb-{influx_port}-tokens"
    secrets = [admin_token, password] + [p.read_text() for p in token_dir.glob("*.token")]
    curl_calls = curl_log.read_text().splitlines()
    for text in [*curl_calls, *command_lines]:
        for secret in secrets:
            assert secret not in text
    assert len(secrets) == 4
    # The onboarding POST carries the password and the admin token, the later calls the token.
    assert any("-X POST" in call and call.endswith("/api/v2/setup") for call in curl_calls)
    assert any("/api/v2/buckets" in call for call in curl_calls)
    assert any("/api/v2/write" in call for call in curl_calls)  # telegraf.sh tries its token
    # Telegraf gets only its write token, and in its environment (readable by its user only).
    assert (token_dir / "telegraf.token").read_bytes() in telegraf_environment
    assert admin_token.encode() not in telegraf_environment
