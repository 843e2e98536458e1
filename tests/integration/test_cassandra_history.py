"""The Cassandra history on a real node (scripts/cassandra.sh): its schema, its keys, the
runbook as the README runs it, and a node stopped and started again."""

import contextlib
import ipaddress
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from cassandra.cluster import Session

from analytics.history import (
    COUNT_ROWS,
    DESCRIBE_TABLE,
    LATEST_ROWS,
    SAMPLE_ROWS,
    connected,
    ensure_history_schema,
)
from tests.harness.cassandra import CassandraNode
from tests.integration.support import unique_name

INSERT = (
    "INSERT INTO spark_streams.weather_data (city, timestamp, station_id, country, temperature)"
    " VALUES (%s, %s, %s, 'GB', %s)"
)
SELECT_CITY = (
    "SELECT timestamp, temperature FROM spark_streams.weather_data WHERE city = %s"
    " ORDER BY timestamp DESC"
)
# Far from the time of any run: rows of the analytics test (written now) never mix with these.
START = datetime(2001, 1, 1, 12, 0, tzinfo=UTC)


@pytest.fixture
def history(cassandra: CassandraNode) -> Iterator[Session]:
    ensure_history_schema([cassandra.hosts])
    with connected([cassandra.hosts]) as session:
        yield session


def rows_of(session: Session, city: str) -> list[tuple[datetime, float]]:
    return [
        (row.timestamp.replace(tzinfo=UTC), row.temperature)
        for row in session.execute(SELECT_CITY, (city,))
    ]


def test_the_schema_is_created_when_missing_and_ensuring_it_again_changes_nothing(
    cassandra: CassandraNode,
):
    # A keyspace of its own on the session's node, whose spark_streams other tests fill.
    keyspace = unique_name("schema").replace("-", "_")
    with connected([cassandra.hosts]) as session:
        keyspaces = session.execute("SELECT keyspace_name FROM system_schema.keyspaces")
        assert keyspace not in {row.keyspace_name for row in keyspaces}
        ensure_history_schema([cassandra.hosts], keyspace=keyspace)
        ensure_history_schema([cassandra.hosts], keyspace=keyspace)
        columns = {
            row.column_name: (row.kind, row.type, row.clustering_order)
            for row in session.execute(
                "SELECT column_name, kind, type, clustering_order FROM system_schema.columns"
                " WHERE keyspace_name = %s AND table_name = 'weather_data'",
                (keyspace,),
            )
        }
        session.execute(f"DROP KEYSPACE {keyspace}")
    assert columns.pop("city") == ("partition_key", "text", "none")
    assert columns.pop("timestamp") == ("clustering", "timestamp", "desc")
    assert columns == {
        name: ("regular", kind, "none")
        for name, kind in {
            "station_id": "text",
            "country": "text",
            "temperature": "double",
            "humidity": "double",
            "wind_speed": "double",
            "precipitation": "double",
            "next_hour_temp": "double",
            "next_hour_precip": "double",
            "is_rain": "int",
            "is_storm": "int",
            "data_origin": "text",
        }.items()
    }


def test_a_replayed_record_overwrites_its_row(history: Session):
    city = unique_name("replayed")
    history.execute(INSERT, (city, START, "ST1", 10.5))
    history.execute(INSERT, (city, START, "ST1", 11.5))
    assert rows_of(history, city) == [(START, 11.5)]


def test_the_latest_rows_of_a_city_come_newest_first(history: Session):
    city = unique_name("latest")
    hours = [3, 0, 4, 1, 2]
    for hour in hours:
        history.execute(INSERT, (city, START + timedelta(hours=hour), "ST1", float(hour)))
    latest = history.execute(
        "SELECT timestamp FROM spark_streams.weather_data WHERE city = %s LIMIT 3", (city,)
    )
    assert [row.timestamp.replace(tzinfo=UTC) for row in latest] == [
        START + timedelta(hours=hour) for hour in (4, 3, 2)
    ]


def cqlsh(cassandra: CassandraNode, query: str) -> str:
    """The README's `.venv/bin/cqlsh 127.0.0.1 9042 -e "QUERY"`, on the test node's port."""
    run = subprocess.run(
        [str(Path(sys.executable).parent / "cqlsh"), "127.0.0.1", str(cassandra.port), "-e", query],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    return run.stdout


def cqlsh_table(output: str) -> list[dict[str, str]]:
    """The rows of the table cqlsh prints (a header, a `---+---` rule, rows up to a blank line)."""
    lines = output.splitlines()
    rule = next(index for index, line in enumerate(lines) if line.startswith("---"))
    header = [name.strip() for name in lines[rule - 1].split("|")]
    rows = []
    for line in lines[rule + 1 :]:
        if not line.strip():
            break
        rows.append(dict(zip(header, (value.strip() for value in line.split("|")), strict=True)))
    return rows


def test_the_runbook_queries_answer_through_cqlsh(history: Session, cassandra: CassandraNode):
    history.execute("DELETE FROM spark_streams.weather_data WHERE city = 'London'")
    for hour in (1, 2):
        history.execute(INSERT, ("London", START + timedelta(hours=hour), "LON", 5.0 + hour))
    total = history.execute("SELECT COUNT(*) FROM spark_streams.weather_data").one().count

    assert cqlsh_table(cqlsh(cassandra, COUNT_ROWS)) == [{"count": str(total)}]
    sample = cqlsh_table(cqlsh(cassandra, SAMPLE_ROWS))
    assert 2 <= len(sample) <= 10
    assert list(sample[0]) == ["station_id", "city", "temperature", "timestamp"]
    assert "CREATE TABLE spark_streams.weather_data (" in cqlsh(cassandra, DESCRIBE_TABLE)
    # Server-side DESCRIBE (Cassandra 4.0+): the driver gets the same statement as a row.
    described = history.execute(DESCRIBE_TABLE).one()
    assert described.create_statement.startswith("CREATE TABLE spark_streams.weather_data (")
    latest = cqlsh_table(cqlsh(cassandra, LATEST_ROWS))
    assert [(row["city"], row["timestamp"], row["temperature"]) for row in latest] == [
        ("London", "2001-01-01 14:00:00.000000+0000", "7"),
        ("London", "2001-01-01 13:00:00.000000+0000", "6"),
    ]


def listening_sockets(pid: int) -> set[tuple[str, int]]:
    """The (address, port) of every TCP socket process `pid` listens on (IPv4 and IPv6)."""
    inodes = set()
    for fd in Path(f"/proc/{pid}/fd").iterdir():
        with contextlib.suppress(OSError):
            inodes.add(os.readlink(fd).removeprefix("socket:[").removesuffix("]"))
    listening = set()
    for table in ("tcp", "tcp6"):
        for line in Path(f"/proc/net/{table}").read_text().splitlines()[1:]:
            fields = line.split()
            local, state, inode = fields[1], fields[3], fields[9]
            if state == "0A" and inode in inodes:  # 0A: LISTEN
                address, port = local.split(":")
                packed = bytes.fromhex(address)
                # /proc/net/tcp* write each 32-bit word of the address in host (little-endian) order
                words = b"".join(packed[i : i + 4][::-1] for i in range(0, len(packed), 4))
                listening.add((str(ipaddress.ip_address(words)), int(port, 16)))
    return listening


def test_the_node_listens_on_loopback_only_for_storage_and_cql(cassandra: CassandraNode):
    pid = cassandra.pid()
    assert pid is not None
    assert listening_sockets(pid) == {
        ("127.0.0.1", cassandra.port),
        ("127.0.0.1", cassandra.storage_port),
    }


def test_a_node_stopped_for_20s_and_started_again_keeps_its_rows_and_answers(
    history: Session, cassandra: CassandraNode
):
    city = unique_name("restarted")
    written = [(START + timedelta(minutes=minute), float(minute)) for minute in range(50)]
    for timestamp, temperature in written:
        history.execute(INSERT, (city, timestamp, "ST1", temperature))
    cassandra.down()
    assert cassandra.pid() is None
    time.sleep(20)
    cassandra.up()
    with connected([cassandra.hosts]) as session:
        assert rows_of(session, city) == written[::-1]
