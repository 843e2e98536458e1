"""analytics.history without a node: its hosts, the line when none answers, the README runbook."""

import re
import time
from logging import WARNING

import pytest

from analytics.history import RUNBOOK, CassandraUnavailable, connected, contact_point
from tests.harness.paths import REPO
from tests.harness.ports import free_port

README_CQLSH = re.compile(r'^\.venv/bin/cqlsh 127\.0\.0\.1 9042 -e "(.+)"$', re.MULTILINE)


@pytest.mark.parametrize(
    ("host", "point"),
    [("127.0.0.1:9042", ("127.0.0.1", 9042)), ("cassandra:19042", ("cassandra", 19042))],
)
def test_a_contact_point_is_the_host_and_port_of_an_entry(host, point):
    assert contact_point(host) == point


def test_no_node_answering_is_one_line_after_the_bounded_wait(caplog: pytest.LogCaptureFixture):
    hosts = [f"127.0.0.1:{free_port()}"]
    started = time.monotonic()
    with pytest.raises(CassandraUnavailable) as unavailable, connected(hosts, wait_seconds=2):
        pass
    assert 2 <= time.monotonic() - started < 10
    assert [record.getMessage() for record in caplog.records if record.levelno >= WARNING] == []
    assert str(unavailable.value) == (
        f"Cassandra is not reachable at {hosts[0]} after 2s:"
        " start it (make cassandra-up) or set CASSANDRA_HOSTS"
    )


def test_the_readme_runbook_is_the_runbook_the_integration_tests_run():
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    assert README_CQLSH.findall(readme) == list(RUNBOOK)
