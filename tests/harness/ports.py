"""Free loopback ports for the services and workers a test or a benchmark starts.

The ports come from below the kernel's ephemeral range. A port the kernel handed out for
`bind(("127.0.0.1", 0))` is also what it hands to the next outgoing connection: a Kafka node
starting a second later connects to its peers from such a port and its own listener then fails
with "Address already in use" (CI saw a cluster node exit that way). Below the ephemeral range
only an explicit bind takes a port, and this module remembers the ones it gave out.
"""

import contextlib
import random
import socket
from pathlib import Path

EPHEMERAL_RANGE_FILE = Path("/proc/sys/net/ipv4/ip_local_port_range")
LOWEST_SERVICE_PORT = 15000
_issued: set[int] = set()
_pick = random.Random()  # its own generator: a test seeding `random` must not repeat ports


def ephemeral_range() -> range:
    """The ports the kernel picks for outgoing connections and for binds to port 0."""
    try:
        low, high = map(int, EPHEMERAL_RANGE_FILE.read_text().split())
    except (OSError, ValueError):
        low, high = 32768, 60999
    return range(low, high + 1)


def service_ports() -> range:
    """Below the ephemeral range; where that range starts lower (some systems hand out 1024 and
    up), the ports above it, where the kernel hands out nothing."""
    ephemeral = ephemeral_range()
    below = range(LOWEST_SERVICE_PORT, ephemeral.start)
    return below if len(below) >= 1000 else range(ephemeral.stop, 65536)


def _bindable(ports: range) -> bool:
    try:
        with contextlib.ExitStack() as probes:
            for port in ports:
                probe = probes.enter_context(socket.socket())
                probe.bind(("127.0.0.1", port))
    except OSError:
        return False
    return True


def free_port_run(count: int) -> int:
    """The first of `count` consecutive free loopback ports (for a cluster's ports), none given
    out before by this process."""
    candidates = service_ports()
    while True:
        first = _pick.randrange(candidates.start, candidates.stop - count + 1)
        ports = range(first, first + count)
        if _issued.isdisjoint(ports) and _bindable(ports):
            _issued.update(ports)
            return first


def free_port() -> int:
    return free_port_run(1)
