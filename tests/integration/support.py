"""Helpers for tests that run real processes: a worker subprocess and a plain Kafka reader."""

import asyncio
import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import orjson
import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, ConsumerRecord
from aiokafka.admin import AIOKafkaAdminClient
from influxdb_client.client.influxdb_client import InfluxDBClient

from weather_app.cli.influx import InfluxTarget
from weather_app.rules.timestamps import format_rfc3339

REPO = Path(__file__).resolve().parents[2]


def wait_until(
    condition: Callable[[], Any], timeout: float, what: str, interval: float = 0.5
) -> Any:
    """Poll `condition` until it returns something truthy (returned), failing after `timeout`."""
    deadline = time.monotonic() + timeout
    while True:
        result = condition()
        if result:
            return result
        if time.monotonic() > deadline:
            pytest.fail(f"timed out after {timeout}s waiting for {what}")
        time.sleep(interval)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


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
            **self.extra,
        }


def run_command(env: AppEnv, *args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "faust", "-A", "weather_app", *args],
        env=env.variables(),
        cwd=env.workdir,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


class Worker:
    """`faust -A weather_app worker` in a subprocess, stopped by its PID."""

    def __init__(self, env: AppEnv, name: str = "worker") -> None:
        self.log_path = env.workdir / f"{name}.log"
        self._log = self.log_path.open("w")
        variables = env.variables()
        variables["WEATHER_DATADIR"] = str(env.workdir / f"{name}-data")
        self.url = f"http://127.0.0.1:{variables['WEATHER_WEB_PORT']}"
        self.process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "faust",
                "-A",
                "weather_app",
                "worker",
                "-l",
                os.environ.get("TEST_WORKER_LOG_LEVEL", "info"),
            ],
            env=variables,
            cwd=env.workdir,
            stdout=self._log,
            stderr=subprocess.STDOUT,
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

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def stop(self, sig: signal.Signals = signal.SIGTERM, timeout: float = 30) -> int:
        if self.process.poll() is None:
            self.process.send_signal(sig)
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(10)
        self._log.close()
        return self.process.returncode


def read_topic(
    broker: str,
    topic: str,
    until: Callable[[list[ConsumerRecord[bytes, bytes]]], bool],
    timeout: float,
    isolation: str = "read_uncommitted",
) -> list[ConsumerRecord[bytes, bytes]]:
    """Read `topic` from the beginning until `until(records)` holds or `timeout` passes."""
    return asyncio.run(_read_topic(broker, topic, until, time.monotonic() + timeout, isolation))


async def _read_topic(
    broker: str,
    topic: str,
    until: Callable[[list[ConsumerRecord[bytes, bytes]]], bool],
    deadline: float,
    isolation: str,
) -> list[ConsumerRecord[bytes, bytes]]:
    records: list[ConsumerRecord[bytes, bytes]] = []
    while await _partitions(broker, topic) == 0:
        if time.monotonic() >= deadline:
            return records
        await asyncio.sleep(0.5)
    consumer = AIOKafkaConsumer(
        topic,
        bootstrap_servers=broker,
        group_id=None,
        auto_offset_reset="earliest",
        enable_auto_commit=False,
        isolation_level=isolation,
    )
    await consumer.start()
    try:
        while time.monotonic() < deadline and not until(records):
            batch = await consumer.getmany(timeout_ms=500)
            for partition_records in batch.values():
                records.extend(partition_records)
    finally:
        await consumer.stop()
    return records


async def _partitions(broker: str, topic: str) -> int:
    admin = AIOKafkaAdminClient(bootstrap_servers=broker)
    await admin.start()
    try:
        if topic not in await admin.list_topics():
            return 0
        [description] = await admin.describe_topics([topic])
        return len(description["partitions"])
    finally:
        await admin.close()


def partition_count(broker: str, topic: str) -> int:
    return asyncio.run(_partitions(broker, topic))


class ScriptService:
    """A local service run by one of our scripts (`up`/`down`), stopped by the PID it recorded."""

    def __init__(self, script: str, env: dict[str, str]) -> None:
        self.script = str(REPO / "scripts" / script)
        self.env = env
        self.address = ""

    def up(self) -> None:
        subprocess.run([self.script, "up"], env=self.env, check=True, timeout=300)

    def down(self) -> None:
        subprocess.run([self.script, "down"], env=self.env, check=True, timeout=120)


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


def send_enriched(broker: str, topic: str, values: list[dict[str, Any]]) -> None:
    async def send() -> None:
        producer = AIOKafkaProducer(bootstrap_servers=broker)
        await producer.start()
        try:
            for value in values:
                await producer.send_and_wait(
                    topic, key=orjson.dumps(value["city"]), value=orjson.dumps(value)
                )
        finally:
            await producer.stop()

    asyncio.run(send())


def telegraf_errors(log: Path) -> list[str]:
    return [line for line in log.read_text().splitlines() if " E! " in line]


def publish(broker: str, topic: str, messages: Sequence[tuple[bytes | None, bytes]]) -> None:
    """Send (key, value) messages to `topic`, each acknowledged before the next; up to 2 MB."""

    async def send() -> None:
        producer = AIOKafkaProducer(bootstrap_servers=broker, max_request_size=2_000_000)
        await producer.start()
        try:
            for key, value in messages:
                await producer.send_and_wait(topic, key=key, value=value)
        finally:
            await producer.stop()

    asyncio.run(send())


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


def free_port_run(count: int) -> int:
    """The first of `count` consecutive free loopback ports (for a cluster's ports)."""
    while True:
        first = free_port()
        if first + count > 65536:
            continue
        try:
            with contextlib.ExitStack() as probes:
                for port in range(first, first + count):
                    probe = probes.enter_context(socket.socket())
                    probe.bind(("127.0.0.1", port))
        except OSError:
            continue
        return first


@dataclass
class KafkaCluster:
    """Three KRaft brokers started by `scripts/kafka.sh` (KAFKA_NODES=3) from `first_port`."""

    service: ScriptService
    first_port: int
    nodes: int = 3

    @property
    def bootstrap(self) -> str:
        return ",".join(f"127.0.0.1:{self.port(node)}" for node in range(1, self.nodes + 1))

    def port(self, node: int) -> int:
        return self.first_port + 2 * (node - 1)

    def pid(self, node: int) -> int:
        """The PID kafka.sh recorded for the node's broker."""
        cache = Path(os.environ.get("WSL_CACHE", Path.home() / ".cache" / "weather-speed-layer"))
        return int((cache / "run" / f"kafka-{self.port(node)}.pid").read_text())
