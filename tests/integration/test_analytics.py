"""The Spark job on the real services: a worker run during which the job is SIGKILLed and started
again and Cassandra is stopped for 20 s; afterwards the lake holds every v2 record of the topic
exactly once, Cassandra every distinct (city, timestamp), and the daily figures of Spark are
DuckDB's. The run happens once (module fixture `outcome`); each test checks one claim of it."""

import asyncio
import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson
import pytest

from analytics.history import (
    COUNT_ROWS,
    DESCRIBE_TABLE,
    LATEST_ROWS,
    RUNBOOK,
    SAMPLE_ROWS,
    connected,
)
from analytics.lake import committed_files, duckdb_connection, heartbeat_file, table_dir
from tests.harness.cassandra import CassandraNode
from tests.harness.kafka import publish, read_all, read_topic
from tests.harness.paths import REPO
from tests.harness.processes import ScriptService
from tests.integration.support import AppEnv, Worker, wait_until
from weather_app.rules.timestamps import parse_rfc3339

OUTAGE_SECONDS = 20
# The daily figures as analytics.daily wrote them, and as DuckDB computes them from the lake.
SPARK_FIGURES = """
    SELECT city, date, readings, min_temperature, max_temperature, round(mean_temperature, 9),
        round(precipitation_total, 9), rain_hours, storm_hours
    FROM daily_weather ORDER BY city, date
"""
DUCKDB_FIGURES = """
    SELECT city, date, count(*), min(temperature), max(temperature), round(avg(temperature), 9),
        round(sum(precipitation), 9),
        count(DISTINCT date_trunc('hour', timestamp)) FILTER (WHERE is_rain = 1),
        count(DISTINCT date_trunc('hour', timestamp)) FILTER (WHERE is_storm = 1)
    FROM weather_data GROUP BY city, date ORDER BY city, date
"""
MALFORMED = orjson.dumps({"city": "Nowhere", "temperature": "warm"})
SKIPPED = re.compile(r"lake: batch \d+: 1 of \d+ records are not valid v2 and were skipped")


@dataclass
class Outcome:
    lake: Path
    job_env: dict[str, str]
    valid_records: list[dict[str, Any]]
    topic_positions: set[tuple[int, int]]
    history_keys: set[tuple[str, int]]
    runbook: dict[str, list[Any]]
    lake_rows_before_outage: int
    lake_rows_after_outage: int
    logs: str
    job_alive_at_the_end: bool
    uncommitted_file: Path
    heartbeat_age_seconds: float


def epoch_ms(moment: datetime) -> int:
    return int(moment.replace(tzinfo=moment.tzinfo or UTC).timestamp() * 1000)


def keys_of(values: list[dict[str, Any]]) -> set[tuple[str, int]]:
    """The history's key of each v2 record: (city, observation time in ms)."""
    return {(value["city"], epoch_ms(parse_rfc3339(value["timestamp"]))) for value in values}


def lake_rows(lake: Path) -> int:
    if not committed_files(table_dir(lake)):
        return 0
    [(count,)] = duckdb_connection(lake).sql("SELECT count(*) FROM weather_data").fetchall()
    return int(count)


def history_keys(hosts: str) -> set[tuple[str, int]]:
    with connected([hosts]) as session:
        rows = session.execute("SELECT city, timestamp FROM spark_streams.weather_data")
        return {(row.city, epoch_ms(row.timestamp)) for row in rows}


def runbook_answers(hosts: str) -> dict[str, list[Any]]:
    with connected([hosts]) as session:
        return {query: list(session.execute(query)) for query in RUNBOOK}


def job_status(job: ScriptService) -> subprocess.CompletedProcess[str]:
    """`analytics.sh status`: "analytics: running (PID n), lake L, log F", exit 0 while it runs."""
    return subprocess.run(
        [job.script, "status"], env=job.env, capture_output=True, text=True, check=False
    )


def job_pid(job: ScriptService) -> int:
    return int(job_status(job).stdout.split("(PID ")[1].split(")")[0])


def job_log(job: ScriptService) -> str:
    return Path(job_status(job).stdout.rsplit(", log ", 1)[1].strip()).read_text()


def crash(pid: int) -> None:
    """SIGKILL the job's JVM, then the job itself: no shutdown hook, no clean stop."""
    children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
    for child in map(int, children):
        os.kill(child, signal.SIGKILL)
    os.kill(pid, signal.SIGKILL)
    wait_until(lambda: not Path(f"/proc/{pid}").exists() or _zombie(pid), 10, "the job to die")


def _zombie(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(") ", 1)[1].startswith("Z")
    except OSError:
        return True


def leave_an_uncommitted_file(lake: Path) -> Path:
    """What a batch killed while writing leaves: a Parquet file the sink's log never names (here
    whole rows; the kill itself may also leave a truncated one, which a glob cannot even read)."""
    committed = committed_files(table_dir(lake))[0]
    uncommitted = committed.with_name(f"part-uncommitted-{committed.name}")
    uncommitted.write_bytes(committed.read_bytes())
    return uncommitted


@pytest.fixture(scope="module")
def outcome(
    kafka_broker: str, cassandra: CassandraNode, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Outcome]:
    workdir = tmp_path_factory.mktemp("analytics")
    env = AppEnv(broker=kafka_broker, workdir=workdir, extra={"WEATHER_INTERVAL": "1"})
    lake = workdir / "lake"
    job_env = {
        **env.variables(),
        "ANALYTICS_LAKE_DIR": str(lake),
        "ANALYTICS_TRIGGER_INTERVAL": "1",
        "CASSANDRA_HOSTS": cassandra.hosts,
    }
    job = ScriptService("analytics.sh", job_env)
    # The job first, before any worker has created the topic: it picks the topic up when it comes.
    job.up()
    worker = Worker(env)
    try:
        read_topic(kafka_broker, env.enriched_topic, until=bool, timeout=60)
        publish(kafka_broker, env.enriched_topic, [(b'"Nowhere"', MALFORMED)])
        wait_until(lambda: history_keys(cassandra.hosts), 90, "rows in Cassandra")
        # Before the crash: a SIGKILL between the lake's commit of that batch and the progress
        # event that logs the warning would leave it unlogged, and never read again.
        wait_until(lambda: SKIPPED.search(job_log(job)), 90, "the malformed record's warning")
        crash(job_pid(job))
        job.up()
        before_outage = lake_rows(lake)
        cassandra.down()
        time.sleep(OUTAGE_SECONDS)
        after_outage = lake_rows(lake)
        uncommitted = leave_an_uncommitted_file(lake)
        cassandra.up()
        assert worker.stop(signal.SIGTERM) == 0, worker.tail()
        records = asyncio.run(read_all(kafka_broker, env.enriched_topic))
        valid = [record for record in records if record.value != MALFORMED]
        values = [orjson.loads(record.value) for record in valid]
        wait_until(lambda: lake_rows(lake) >= len(valid), 90, "the lake to catch up")
        wait_until(lambda: history_keys(cassandra.hosts) >= keys_of(values), 90, "Cassandra")
        yield Outcome(
            lake=lake,
            job_env=job_env,
            valid_records=values,
            topic_positions={(record.partition, record.offset) for record in valid},
            history_keys=history_keys(cassandra.hosts),
            runbook=runbook_answers(cassandra.hosts),
            lake_rows_before_outage=before_outage,
            lake_rows_after_outage=after_outage,
            logs=job_log(job),
            job_alive_at_the_end=job_status(job).returncode == 0,
            uncommitted_file=uncommitted,
            heartbeat_age_seconds=time.time() - heartbeat_file(lake).stat().st_mtime,
        )
    finally:
        worker.stop(signal.SIGTERM)
        job.down()


def test_the_lake_holds_every_v2_record_of_the_topic_exactly_once(outcome: Outcome):
    rows = (
        duckdb_connection(outcome.lake)
        .sql("SELECT kafka_partition, kafka_offset FROM weather_data")
        .fetchall()
    )
    assert len(rows) == len(outcome.topic_positions)
    assert set(rows) == outcome.topic_positions
    # Beside a file with rows the sink's log never named, as a batch killed while writing leaves.
    assert outcome.uncommitted_file.stat().st_size > 0
    assert outcome.uncommitted_file not in committed_files(table_dir(outcome.lake))


def test_the_job_touches_its_heartbeat_while_it_runs(outcome: Outcome):
    assert outcome.job_alive_at_the_end
    assert outcome.heartbeat_age_seconds < 10


def test_the_lake_ran_on_while_cassandra_was_down(outcome: Outcome):
    assert outcome.lake_rows_after_outage > outcome.lake_rows_before_outage
    assert "the Cassandra history query failed" in outcome.logs
    assert outcome.job_alive_at_the_end


def test_cassandra_holds_every_distinct_city_and_timestamp(outcome: Outcome):
    expected = keys_of(outcome.valid_records)
    # Other tests of the session write the same table, at other times.
    first, last = min(key[1] for key in expected), max(key[1] for key in expected)
    assert {key for key in outcome.history_keys if first <= key[1] <= last} == expected


def test_the_runbook_queries_answer_on_the_history_the_job_wrote(outcome: Outcome):
    [count] = outcome.runbook[COUNT_ROWS]
    assert count.count >= len(keys_of(outcome.valid_records))
    sample = outcome.runbook[SAMPLE_ROWS]
    assert len(sample) == 10
    assert sample[0]._fields == ("station_id", "city", "temperature", "timestamp")
    [described] = outcome.runbook[DESCRIBE_TABLE]
    assert "PRIMARY KEY (city, timestamp)" in described.create_statement
    assert "CLUSTERING ORDER BY (timestamp DESC)" in described.create_statement
    london = sorted(
        (key for key in keys_of(outcome.valid_records) if key[0] == "London"), reverse=True
    )[:10]
    latest = outcome.runbook[LATEST_ROWS]
    assert [(row.city, epoch_ms(row.timestamp)) for row in latest] == london


def test_a_malformed_record_is_counted_and_logged_and_the_job_runs_on(outcome: Outcome):
    assert SKIPPED.search(outcome.logs)
    assert outcome.job_alive_at_the_end


def test_the_lake_is_typed_and_partitioned_by_utc_date_and_city(outcome: Outcome):
    connection = duckdb_connection(outcome.lake)
    types = {row[0]: row[1] for row in connection.sql("DESCRIBE weather_data").fetchall()}
    assert types["timestamp"] == "TIMESTAMP WITH TIME ZONE"
    assert (types["temperature"], types["is_rain"], types["date"]) == ("DOUBLE", "INTEGER", "DATE")
    mismatched = connection.execute(
        "SELECT count(*) FROM weather_data WHERE date <> CAST(timezone('UTC', timestamp) AS DATE)"
    ).fetchone()
    assert mismatched == (0,)
    for path in committed_files(table_dir(outcome.lake)):
        assert (path.parent.parent.name[:5], path.parent.name[:5]) == ("date=", "city="), path


def test_the_daily_figures_of_spark_are_duckdbs(outcome: Outcome):
    result = subprocess.run(
        [sys.executable, "-m", "analytics.daily"],
        env=outcome.job_env,
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    connection = duckdb_connection(outcome.lake)
    spark = connection.sql(SPARK_FIGURES).fetchall()
    duckdb = connection.sql(DUCKDB_FIGURES).fetchall()
    assert spark == duckdb
    # Spark's count of the lake (the readings of the days) is the topic's too.
    assert sum(row[2] for row in spark) == len(outcome.valid_records)
