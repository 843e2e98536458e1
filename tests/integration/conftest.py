"""A real single-node Kafka for the whole integration session, started and stopped by PID."""

import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.integration.support import REPO, AppEnv, free_port


@pytest.fixture(scope="session")
def kafka_broker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    port, controller_port = free_port(), free_port()
    env = {
        **os.environ,
        "KAFKA_PORT": str(port),
        "KAFKA_CONTROLLER_PORT": str(controller_port),
        "KAFKA_DATA_DIR": str(tmp_path_factory.mktemp("kafka")),
    }
    script = str(REPO / "scripts" / "kafka.sh")
    subprocess.run([script, "up"], env=env, check=True, timeout=600)
    try:
        yield f"127.0.0.1:{port}"
    finally:
        subprocess.run([script, "down"], env=env, check=True, timeout=120)


@pytest.fixture
def app_env(kafka_broker: str, tmp_path: Path) -> AppEnv:
    return AppEnv(broker=kafka_broker, workdir=tmp_path)
