"""Free loopback ports for the services and workers a test or a benchmark starts."""

import contextlib
import socket


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


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
