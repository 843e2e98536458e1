"""Real services for the integration session (Kafka, InfluxDB, Cassandra), stopped by PID."""

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.harness.cassandra import CassandraNode
from tests.harness.kafka import KafkaBroker, KafkaCluster
from tests.harness.ports import free_port
from tests.harness.processes import ScriptService
from tests.integration.support import AppEnv, temporary_bucket, unique_name
from weather_app.cli.influx import InfluxTarget

INFLUX_ORG = "speed_org"


@pytest.fixture(scope="session")
def kafka_service(tmp_path_factory: pytest.TempPathFactory) -> Iterator[KafkaBroker]:
    """The session's broker; fault tests stop and start it (same port and data)."""
    with KafkaBroker(tmp_path_factory.mktemp("kafka")) as broker:
        yield broker


@pytest.fixture(scope="session")
def kafka_broker(kafka_service: KafkaBroker) -> str:
    return kafka_service.address


@pytest.fixture
def app_env(kafka_broker: str, tmp_path: Path) -> AppEnv:
    return AppEnv(broker=kafka_broker, workdir=tmp_path)


@pytest.fixture(scope="session")
def influxdb_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[InfluxTarget]:
    """A real InfluxDB 2 on a free loopback port with its own data, for the session."""
    port = free_port()
    token = unique_name("test-token")
    with ScriptService(
        "influxdb.sh",
        {
            **os.environ,
            "INFLUXDB_PORT": str(port),
            "INFLUXDB_DATA_DIR": str(tmp_path_factory.mktemp("influxdb")),
            "INFLUXDB_TOKEN": token,
            "INFLUXDB_ORG": INFLUX_ORG,
            "INFLUXDB_BUCKET": "speed_bucket",
        },
    ):
        yield InfluxTarget(f"http://127.0.0.1:{port}", INFLUX_ORG, "speed_bucket", token)


@pytest.fixture
def influxdb(influxdb_server: InfluxTarget) -> Iterator[InfluxTarget]:
    """A fresh bucket per test, so tests that write the same cities never see each other."""
    with temporary_bucket(influxdb_server) as target:
        yield target


@pytest.fixture(scope="module")
def kafka_cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[KafkaCluster]:
    """Three brokers (KAFKA_NODES=3) on six consecutive free loopback ports, for one module."""
    with KafkaCluster(tmp_path_factory.mktemp("kafka-cluster")) as cluster:
        yield cluster


@pytest.fixture(scope="session")
def cassandra(tmp_path_factory: pytest.TempPathFactory) -> Iterator[CassandraNode]:
    """The session's Cassandra node, started by the first test that asks for it; tests may stop
    and start it (same ports and data)."""
    with CassandraNode(tmp_path_factory.mktemp("cassandra")) as node:
        yield node
