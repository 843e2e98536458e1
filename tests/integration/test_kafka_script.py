"""scripts/kafka.sh against a real broker start."""

import socket
import subprocess
from pathlib import Path

from tests.harness.kafka import KafkaBroker, recorded_pid


def test_a_node_that_cannot_bind_its_port_is_reported_with_the_brokers_reason(tmp_path: Path):
    broker = KafkaBroker(tmp_path / "kafka")
    with socket.socket() as squatter:
        # Bound but not listening: the script's "port in use" probe cannot see it, the broker can.
        squatter.bind(("127.0.0.1", broker.controller_port))
        result = subprocess.run(
            [broker.script, "up"], env=broker.env, capture_output=True, text=True, timeout=300
        )
    assert result.returncode == 1
    assert "kafka: node 1 exited during start-up: " in result.stderr
    assert "Address already in use" in result.stderr
    assert recorded_pid(broker.port) is None
