"""The Cassandra history of the v2 records: the table `spark_streams.weather_data`, its creation
when missing, and the operator's runbook queries (README, "Cassandra history").

One partition per city, its rows ordered newest first: a replayed record (same city and
observation time) overwrites its row, and "the latest rows of a city" is one partition read.
"""

import logging
import time
from collections.abc import Iterator
from contextlib import contextmanager

from cassandra.cluster import (
    EXEC_PROFILE_DEFAULT,
    Cluster,
    ExecutionProfile,
    NoHostAvailable,
    Session,
)
from cassandra.policies import RoundRobinPolicy

from weather_app.errors import WeatherError

# Cassandra 4.0 and later speak v5; named, the driver skips its probing (a warning per version).
PROTOCOL_VERSION = 5
KEYSPACE = "spark_streams"
TABLE = "weather_data"

# Templates on {keyspace}: the job's is KEYSPACE; a test builds the schema in one of its own.
CREATE_KEYSPACE = (
    "CREATE KEYSPACE IF NOT EXISTS {keyspace}"
    " WITH replication = {{'class': 'SimpleStrategy', 'replication_factor': 1}}"
)
CREATE_TABLE = """CREATE TABLE IF NOT EXISTS {keyspace}.weather_data (
  city text, timestamp timestamp, station_id text, country text,
  temperature double, humidity double, wind_speed double, precipitation double,
  next_hour_temp double, next_hour_precip double, is_rain int, is_storm int, data_origin text,
  PRIMARY KEY ((city), timestamp)) WITH CLUSTERING ORDER BY (timestamp DESC)"""

# The runbook, exactly as the README runs it with `.venv/bin/cqlsh 127.0.0.1 9042 -e "..."`.
COUNT_ROWS = "SELECT COUNT(*) FROM spark_streams.weather_data;"
SAMPLE_ROWS = (
    "SELECT station_id, city, temperature, timestamp FROM spark_streams.weather_data LIMIT 10;"
)
# Server-side since Cassandra 4.0: cqlsh and the driver both get the CREATE statements as rows.
DESCRIBE_TABLE = "DESCRIBE TABLE spark_streams.weather_data;"
LATEST_ROWS = (
    "SELECT * FROM spark_streams.weather_data WHERE city = 'London'"
    " ORDER BY timestamp DESC LIMIT 10;"
)
RUNBOOK = (COUNT_ROWS, SAMPLE_ROWS, DESCRIBE_TABLE, LATEST_ROWS)


class CassandraUnavailable(WeatherError):
    """No Cassandra node answered at the configured hosts before the wait ran out."""


class _WithoutFailedAttempts(logging.Filter):
    """Drops the driver's warning (with a traceback) and error for a failed connection attempt."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        return not message.startswith(
            ("[control connection] Error connecting to", "Control connection failed to connect")
        )


@contextmanager
def _failed_attempts_unlogged() -> Iterator[None]:
    """While `connected` tries again, it alone reports, once, that no node answered."""
    driver_log = logging.getLogger("cassandra.cluster")
    quiet = _WithoutFailedAttempts()
    driver_log.addFilter(quiet)
    try:
        yield
    finally:
        driver_log.removeFilter(quiet)


def contact_point(address: str) -> tuple[str, int]:
    """A CASSANDRA_HOSTS entry, "host:port" (the settings check its form) -> (host, port)."""
    host, _, port = address.rpartition(":")
    return host, int(port)


@contextmanager
def connected(hosts: list[str], wait_seconds: float = 60) -> Iterator[Session]:
    """A session on the cluster at `hosts`, trying again each second for up to `wait_seconds`
    (a node still starting refuses connections); closed on the way out."""
    points = [contact_point(host) for host in hosts]
    profile = ExecutionProfile(load_balancing_policy=RoundRobinPolicy(), request_timeout=30)
    deadline = time.monotonic() + wait_seconds
    with _failed_attempts_unlogged():
        while True:
            cluster = Cluster(
                contact_points=points,
                execution_profiles={EXEC_PROFILE_DEFAULT: profile},
                protocol_version=PROTOCOL_VERSION,
                connect_timeout=2,
            )
            try:
                session = cluster.connect()
                break
            except NoHostAvailable:
                cluster.shutdown()
                if time.monotonic() >= deadline:
                    raise CassandraUnavailable(
                        f"Cassandra is not reachable at {','.join(hosts)} after {wait_seconds:g}s:"
                        " start it (make cassandra-up) or set CASSANDRA_HOSTS"
                    ) from None
                time.sleep(1)
    try:
        yield session
    finally:
        cluster.shutdown()


def ensure_history_schema(
    hosts: list[str], wait_seconds: float = 60, keyspace: str = KEYSPACE
) -> None:
    """Create the keyspace and the history table unless they exist (running it again is a no-op)."""
    with connected(hosts, wait_seconds) as session:
        session.execute(CREATE_KEYSPACE.format(keyspace=keyspace))
        session.execute(CREATE_TABLE.format(keyspace=keyspace))
