"""scripts/cassandra.sh against a real node start."""

from pathlib import Path

from tests.harness.cassandra import CassandraNode


def test_a_node_that_cannot_bind_its_storage_port_is_reported_with_its_reason(tmp_path: Path):
    node = CassandraNode(tmp_path / "cassandra")
    result = node.try_up(port_taken=node.storage_port)
    assert result.returncode == 1
    assert len(result.stderr.splitlines()) == 1
    assert result.stderr.startswith(
        "cassandra: the node exited during start-up: org.apache.cassandra.exceptions."
        f"ConfigurationException: /127.0.0.1:{node.storage_port} is in use by another process."
    )
    assert node.pid() is None
