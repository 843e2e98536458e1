"""scripts/kafka.sh against a real broker start."""

from pathlib import Path

from tests.harness.kafka import KafkaBroker
from tests.harness.processes import recorded_pid


def test_a_node_that_cannot_bind_its_port_is_reported_with_the_brokers_reason(tmp_path: Path):
    broker = KafkaBroker(tmp_path / "kafka")
    result = broker.try_up(port_taken=broker.controller_port)
    assert result.returncode == 1
    assert "kafka: node 1 exited during start-up: " in result.stderr
    assert "Address already in use" in result.stderr
    assert recorded_pid("kafka", broker.port) is None
