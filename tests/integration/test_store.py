"""WEATHER_STORE=rocksdb on a real broker: the tables are right after a run, and a restarted worker
(SIGTERM, then SIGKILL) reads only the changelogs' tail and serves every city with its count."""

import re
import signal
from collections import Counter
from pathlib import Path
from typing import Any

import orjson
import rocksdict
from faust.stores.rocksdb import Store

from tests.harness.kafka import read_to_end
from tests.integration.support import AppEnv, Worker, wait_until
from weather_app.rules.partitioning import home_partition
from weather_app.sources.cities import DEFAULT_CITIES

CITIES = {city.name for city in DEFAULT_CITIES}
PARTITIONS = 6
TABLES = ("last_seen", "history")
# A row of Faust's "Reading Starts At - Active" table: | changelog (or 〃) | partition | offset |
START_ROW = re.compile(r"^\| (\S+) +\| (\d+) +\| (-?\d+) +\|$", re.MULTILINE)


def last_entries(env: AppEnv, table: str) -> dict[bytes, tuple[int, int, bytes]]:
    """Each key's last changelog record: (partition, offset, value)."""
    records = read_to_end(env.broker, env.changelog(table))
    return {record.key: (record.partition, record.offset, record.value) for record in records}


def stored(data_dir: Path, table: str) -> dict[int, dict[Any, Any]]:
    """Each partition's RocksDB database of `table` in a stopped worker's data directory."""
    databases = {}
    for path in data_dir.glob(f"**/tables/{table}-*.db"):
        partition = int(path.name.removesuffix(".db").rsplit("-", 1)[1])
        db = rocksdict.Rdict(
            str(path),
            options=rocksdict.Options(raw_mode=True),
            access_type=rocksdict.AccessType.read_only(),
        )
        databases[partition] = dict(db.items())
        db.close()
    return databases


def persisted_offsets(env: AppEnv, data_dir: Path) -> dict[tuple[str, int], int]:
    """Each database's persisted changelog offset (where a restart's recovery starts reading)."""
    return {
        (env.changelog(table), partition): int(database[Store.offset_key])
        for table in TABLES
        for partition, database in stored(data_dir, table).items()
        if Store.offset_key in database
    }


def assert_stored_as_changelogged(env: AppEnv, data_dir: Path) -> None:
    """Every key is in its home partition's database with its last changelog value, and each
    database's persisted offset is its changelog partition's last."""
    persisted = persisted_offsets(env, data_dir)
    for table in TABLES:
        databases = stored(data_dir, table)
        entries = last_entries(env, table)
        for key, (partition, _, value) in entries.items():
            assert partition == home_partition(key, PARTITIONS)
            assert databases[partition].get(key) == value, (table, key)
        for partition in {partition for partition, _, _ in entries.values()}:
            last = max(offset for p, offset, _ in entries.values() if p == partition)
            assert persisted[(env.changelog(table), partition)] == last, (table, partition)


def reading_starts(log: str) -> dict[tuple[str, int], int]:
    """Where the last recovery in `log` started reading each active changelog partition."""
    table = log.rsplit("Reading Starts At - Active", 1)[1].split("Recovery]", 1)[0]
    starts = {}
    topic = ""
    for name, partition, offset in START_ROW.findall(table):
        if name != "〃":  # the ditto mark repeats the topic of the row above
            topic = name
        starts[(topic, int(partition))] = int(offset)
    return starts


def changelogged_counts(env: AppEnv) -> dict[str, int]:
    """Each city's count in the last `last_seen` changelog record: what a restart recovers."""
    return {
        orjson.loads(key): orjson.loads(value)["count"]
        for key, (_, _, value) in last_entries(env, "last_seen").items()
    }


def served_counts(worker: Worker) -> dict[str, int] | None:
    status, body = worker.get("/weather/cities/")
    if status != 200:
        return None
    counts = {city["city"]: city.get("count") for city in body["cities"]}
    return counts if all(counts.values()) else None


def run_until_counts(worker: Worker, at_least: dict[str, int]) -> None:
    """Wait until `worker` serves every city with more than `at_least` readings (its changelogged
    count before the restart; the web view is up to a commit behind it): the table was recovered
    and the worker enriches on top of it."""
    wait_until(
        lambda: (
            (counts := served_counts(worker))
            and set(counts) == CITIES
            and all(counts[city] > at_least.get(city, 2) for city in CITIES)
            and counts
        ),
        90,
        f"every city served with a count above {at_least}",
    )


def test_a_rocksdb_worker_restarted_reads_only_the_changelog_tail_and_keeps_every_count(
    app_env: AppEnv, capsys: Any
) -> None:
    app_env.extra.update(WEATHER_STORE="rocksdb", WEATHER_INTERVAL="1", KAFKA_SESSION_TIMEOUT="6")
    data_dir = app_env.workdir / "rocks-data"  # where Worker(app_env, "rocks") keeps its tables
    counts: dict[str, int] = {}
    persisted: dict[tuple[str, int], int] = {}
    for stop in (signal.SIGTERM, signal.SIGKILL, signal.SIGTERM):
        worker = Worker(app_env, "rocks")
        try:
            run_until_counts(worker, counts)
        finally:
            worker.stop(stop)
        counts = changelogged_counts(app_env)
        starts = reading_starts(worker.log())
        # Recovery started at each partition's persisted offset, not at the changelog's start.
        assert {tp: starts[tp] for tp in persisted} == persisted
        if stop == signal.SIGTERM:
            assert_stored_as_changelogged(app_env, data_dir)
        persisted = persisted_offsets(app_env, data_dir)
        with capsys.disabled():
            print(f"\n  rocksdb, {stop.name}: recovery started at {sorted(starts.values())}")
    # The counts carried on across both restarts: each reading enriched is counted, and a count
    # never runs ahead of the enrichments. A reading enriched again after the SIGKILL (its offset
    # not committed) is counted once: its first count was held for a commit that never came.
    enriched = read_to_end(app_env.broker, app_env.enriched_topic)
    records = Counter(orjson.loads(record.key) for record in enriched)
    readings = Counter(  # by observation time: a reading enriched twice is one reading
        city
        for city, _ in {(orjson.loads(r.key), orjson.loads(r.value)["timestamp"]) for r in enriched}
    )
    assert set(counts) == set(records)
    assert all(readings[city] <= counts[city] <= records[city] for city in counts), (
        counts,
        readings,
        records,
    )
