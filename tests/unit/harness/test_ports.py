import socket
from unittest.mock import patch

from tests.harness import ports
from tests.harness.ports import ephemeral_range, free_port, free_port_run


def test_a_service_port_is_never_one_the_kernel_hands_to_an_outgoing_connection() -> None:
    ports = [free_port() for _ in range(200)]
    assert not set(ports) & set(ephemeral_range())
    assert len(set(ports)) == len(ports)


def test_a_port_run_is_consecutive_free_and_outside_the_ephemeral_range() -> None:
    first = free_port_run(6)
    run = range(first, first + 6)
    assert run.stop <= ephemeral_range().start
    for port in run:
        with socket.socket() as listener:
            listener.bind(("127.0.0.1", port))
    assert free_port() not in run


def test_the_ephemeral_range_is_the_kernels() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        assert probe.getsockname()[1] in ephemeral_range()


def test_where_the_ephemeral_range_starts_low_the_ports_come_from_above_it() -> None:
    with patch.object(ports, "ephemeral_range", return_value=range(1024, 61000)):
        assert ports.service_ports() == range(61000, 65536)
        assert 61000 <= ports.free_port() < 65536
