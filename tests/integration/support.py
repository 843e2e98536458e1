"""What the integration tests add to the harness (tests/harness): an isolated app instance on the
test broker, its worker and commands, raw readings, InfluxDB and Telegraf helpers."""

import os
import signal
import subprocess
import urllib.error
import urllib.request
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import orjson
import pytest
from influxdb_client.client.influxdb_client import InfluxDBClient

from tests.harness.kafka import publish
from tests.harness.ports import free_port
from tests.harness.processes import Process, faust
from tests.harness.waiting import poll
from weather_app.cli.influx import InfluxTarget
from weather_app.rules.timestamps import format_rfc3339


def wait_until(
    condition: Callable[[], Any], timeout: float, what: str, interval: float = 0.5
) -> Any:
    """Poll `condition` until it returns something truthy (returned), failing after `timeout`."""
    result = poll(condition, timeout, interval)
    if not result:
        pytest.fail(f"timed out after {timeout}s waiting for {what}")
    return result


def interrupt(command: Process) -> tuple[int, str]:
    """Ctrl-C `command` (SIGINT) and wait for it to end: its exit code and log."""
    try:
        command.process.send_signal(signal.SIGINT)
        wait_until(lambda: not command.alive(), 60, "the interrupted command to end")
    finally:
        exit_code = command.stop()
    log = command.log()
    assert "Traceback" not in log
    return exit_code, log


def start_command(env: "AppEnv", shown: str, *args: str) -> Process:
    """`faust -A weather_app args...` running, once its log shows `shown` (stopped if it never
    does); its log is `<command>.log` in the test's directory."""
    command = Process(faust(*args), env.workdir / f"{args[0]}.log", env.variables(), env.workdir)
    try:
        wait_until(lambda: shown in command.log(), 60, f"{args[0]} to print {shown!r}")
    except BaseException:
        command.stop()
        raise
    return command


def unique_name(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


@dataclass
class AppEnv:
    """Environment for one isolated app instance: its own app id and topics on the test broker."""

    broker: str
    workdir: Path
    app_id: str = field(default_factory=lambda: unique_name("it-weather"))
    extra: dict[str, str] = field(default_factory=dict)

    @property
    def raw_topic(self) -> str:
        return f"{self.app_id}-raw"

    @property
    def enriched_topic(self) -> str:
        return f"{self.app_id}-enriched"

    @property
    def dlq_topic(self) -> str:
        return f"{self.app_id}-dlq"

    @property
    def alerts_topic(self) -> str:
        return f"{self.app_id}-alerts"

    def changelog(self, table: str) -> str:
        return f"{self.app_id}-{table}-changelog"

    def variables(self) -> dict[str, str]:
        return {
            **os.environ,
            "KAFKA_BROKER": self.broker,
            "WEATHER_APP_ID": self.app_id,
            "WEATHER_RAW_TOPIC": self.raw_topic,
            "WEATHER_ENRICHED_TOPIC": self.enriched_topic,
            "WEATHER_ALERTS_TOPIC": self.alerts_topic,
            "WEATHER_DLQ_TOPIC": self.dlq_topic,
            "WEATHER_DATADIR": str(self.workdir / "data"),
            "WEATHER_WEB_PORT": str(free_port()),
            "KAFKA_CONNECT_WAIT": "5",
            # Tests wait for table state and offsets that trail the stream by up to a commit.
            "WEATHER_COMMIT_INTERVAL": "1",
            # Never the internet: a test that wants an API sets it with its fake's URL.
            "WEATHER_SOURCE": "simulation",
            **self.extra,
        }


def run_command(env: AppEnv, *args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        faust(*args),
        env=env.variables(),
        cwd=env.workdir,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


class Worker(Process):
    """`faust -A weather_app worker` in a subprocess, logging to `<workdir>/<name>.log`."""

    def __init__(self, env: AppEnv, name: str = "worker") -> None:
        variables = env.variables()
        variables["WEATHER_DATADIR"] = str(env.workdir / f"{name}-data")
        self.url = f"http://127.0.0.1:{variables['WEATHER_WEB_PORT']}"
        level = os.environ.get("TEST_WORKER_LOG_LEVEL", "info")
        super().__init__(
            faust("worker", "-l", level), env.workdir / f"{name}.log", variables, env.workdir
        )

    def get(self, path: str) -> tuple[int, Any]:
        """(status, decoded JSON or text) of GET `path` on this worker's web server."""
        try:
            with urllib.request.urlopen(self.url + path, timeout=5) as response:  # noqa: S310
                status, body = response.status, response.read()
        except urllib.error.HTTPError as error:
            status, body = error.code, error.read()
        except OSError:
            return 0, None
        try:
            return status, orjson.loads(body)
        except orjson.JSONDecodeError:
            return status, body.decode(errors="replace")


@contextmanager
def temporary_bucket(server: InfluxTarget) -> Iterator[InfluxTarget]:
    """A new bucket on `server`, deleted afterwards, so tests never see each other's points."""
    with InfluxDBClient(url=server.url, token=server.token, org=server.org) as client:
        buckets = client.buckets_api()
        created = buckets.create_bucket(bucket_name=unique_name("bucket"), org=server.org)
        try:
            yield InfluxTarget(server.url, server.org, created.name, server.token)
        finally:
            buckets.delete_bucket(created)


def flux(target: InfluxTarget, query: str) -> list[dict[str, Any]]:
    with InfluxDBClient(url=target.url, token=target.token, org=target.org) as client:
        tables = client.query_api().query(query)
    return [record.values for table in tables for record in table.records]


def send_enriched(
    broker: str,
    topic: str,
    values: list[dict[str, Any]],
    headers: list[tuple[str, bytes]] | None = None,
) -> None:
    """Publish enriched records as the agent does, keyed by city, each with `headers`."""
    publish(
        broker,
        topic,
        [(orjson.dumps(value["city"]), orjson.dumps(value)) for value in values],
        headers,
    )


def telegraf_errors(log: Path) -> list[str]:
    return [line for line in log.read_text().splitlines() if " E! " in line]


def reading(city: str, moment: datetime, **overrides: Any) -> dict[str, Any]:
    """A valid raw reading of `city` observed at `moment`, with `overrides`."""
    return {
        "city": city,
        "country": "XX",
        "station_id": f"SIM-{city[:3].upper()}",
        "timestamp": format_rfc3339(moment),
        "temperature": 12.5,
        "humidity": 55.0,
        "wind_speed": 9.0,
        "precipitation": 0.0,
        "data_origin": "simulated",
        **overrides,
    }
