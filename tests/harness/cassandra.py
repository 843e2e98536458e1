"""Cassandra through scripts/cassandra.sh on free loopback ports, its data kept across down/up."""

import os
from pathlib import Path

from tests.harness.ports import free_port
from tests.harness.processes import ScriptService, recorded_pid


class CassandraNode(ScriptService):
    """One Cassandra node on two free loopback ports (native CQL, storage), data in `data_dir`.

    `hosts` is its CASSANDRA_HOSTS value, "127.0.0.1:PORT". `down` then `up` restarts it on the
    same ports and data: what it had acknowledged is still there.
    """

    def __init__(self, data_dir: Path, quiet: bool = False) -> None:
        self.port, self.storage_port = free_port(), free_port()
        env = {
            **os.environ,
            "CASSANDRA_PORT": str(self.port),
            "CASSANDRA_STORAGE_PORT": str(self.storage_port),
            "CASSANDRA_DATA_DIR": str(data_dir),
        }
        super().__init__("cassandra.sh", env, quiet)
        self.hosts = f"127.0.0.1:{self.port}"

    def pid(self) -> int | None:
        """The PID cassandra.sh recorded for the node, while that process runs."""
        return recorded_pid("cassandra", self.port)
