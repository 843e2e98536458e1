import asyncio
from types import SimpleNamespace
from typing import Any, cast
from unittest.mock import PropertyMock, patch

import orjson
import pytest
from aiokafka.structs import RecordMetadata, TopicPartition
from faust.types import TP

from models import Sample, StoredSamples
from models.codec import encode_key
from tests.unit.loop_turns import counting_loop_turns
from weather_app.app import app, history, last_seen, settings
from weather_app.broker.outbox import Outbox
from weather_app.errors import DeliveryFailed
from weather_app.faust_internals.tables import (
    RocksDBStore,
    Table,
    TableWrites,
    changelog_record,
    write_table,
)
from weather_app.rules.partitioning import home_partition
from weather_app.sources.slices import SLICE

PARTITIONS = settings.stream.partitions


def changelog_event(city: str, partition: int, value: Any, offset: int = 0) -> Any:
    """A changelog record as Faust's recovery hands it over: the message with its bytes."""
    key = encode_key(city)
    topic = "changelog"
    return SimpleNamespace(
        key=city,
        value=value,
        message=SimpleNamespace(
            key=key,
            value=orjson.dumps(value),
            partition=partition,
            offset=offset,
            tp=TP(topic, partition),
        ),
    )


def test_recovery_ignores_a_city_s_entries_found_on_another_partition():
    last_seen.data.clear()
    home = home_partition(encode_key("Rome"), settings.stream.partitions)
    stray = (home + 1) % settings.stream.partitions
    last_seen.apply_changelog_batch(
        [changelog_event("Rome", home, {"count": 7}), changelog_event("Rome", stray, {"count": 3})]
    )
    assert last_seen.data["Rome"] == {"count": 7}
    last_seen.apply_changelog_batch([changelog_event("Rome", stray, {"count": 1})])
    assert last_seen.data["Rome"] == {"count": 7}
    last_seen.data.clear()


@pytest.fixture
def rocksdb_history(tmp_path):
    """The app's `history` table on a RocksDB store in `tmp_path`, every partition active."""
    actives = {TP(history.changelog_topic.get_topic_name(), p) for p in range(PARTITIONS)}
    with (
        patch.object(RocksDBStore, "path", new_callable=PropertyMock, return_value=tmp_path),
        patch.object(app.assignor, "assigned_actives", return_value=actives),
    ):
        store = cast(Table, history)._new_store_by_url("rocksdb://")
        assert isinstance(store, RocksDBStore)
        with patch.object(history, "_data", store):
            yield store
        store._dbs.clear()


def delivered(partition: int, offset: int) -> RecordMetadata:
    topic = history.changelog_topic.get_topic_name()
    return RecordMetadata(topic, partition, TopicPartition(topic, partition), offset, 0, 0, 0)


def samples(*temperatures: float) -> StoredSamples:
    return StoredSamples(samples=[Sample(0.0, t, 0.0) for t in temperatures])


def other_partition(city: str) -> int:
    return (home_partition(encode_key(city), PARTITIONS) + 1) % PARTITIONS


def test_write_table_keeps_the_entry_in_its_partition_s_database_with_the_record_s_offset(
    rocksdb_history,
):
    home = home_partition(encode_key("Rome"), PARTITIONS)
    write_table(history, "Rome", samples(21.5), delivered(home, 41))
    tp = TP(history.changelog_topic.get_topic_name(), home)
    assert rocksdb_history.persisted_offset(tp) == 41
    changelog = changelog_record(history, "Rome", samples(21.5), home)
    assert rocksdb_history._dbs[home].get(changelog.key) == changelog.value  # recovery's bytes
    assert all(
        rocksdb_history._dbs[partition].get(changelog.key) is None
        for partition in rocksdb_history._dbs
        if partition != home
    )


def test_a_rocksdb_table_reads_each_key_from_its_home_partition_whatever_event_is_current(
    rocksdb_history,
):
    home = home_partition(encode_key("Rome"), PARTITIONS)
    write_table(history, "Rome", samples(21.5), delivered(home, 0))
    elsewhere = SimpleNamespace(message=SimpleNamespace(partition=other_partition("Rome")))
    with patch("faust.stores.rocksdb.current_event", return_value=elsewhere):  # Faust's looks there
        assert history.get("Rome") == samples(21.5)
        assert "Rome" in history
        assert "Paris" not in history


def test_a_rocksdb_table_counts_its_cities_through_writes_and_recovery(rocksdb_history):
    cities = ["Rome", "Paris", "Oslo"]
    for offset, city in enumerate(cities):
        home = home_partition(encode_key(city), PARTITIONS)
        assert len(history) == offset
        write_table(history, city, samples(1.0), delivered(home, offset))
        write_table(history, city, samples(2.0), delivered(home, offset))  # not a new city
    assert len(history) == 3
    lima = home_partition(encode_key("Lima"), PARTITIONS)
    history.apply_changelog_batch([changelog_event("Lima", lima, [[0.0, 9.0, 0.0]], offset=7)])
    assert len(history) == 4


def test_recovery_into_rocksdb_ignores_entries_off_their_home_partition(rocksdb_history):
    home = home_partition(encode_key("Rome"), PARTITIONS)
    stray = other_partition("Rome")
    history.apply_changelog_batch(
        [
            changelog_event("Rome", home, [[0.0, 7.0, 0.0]], offset=5),
            changelog_event("Rome", stray, [[0.0, 3.0, 0.0]], offset=9),
        ]
    )
    assert history.get("Rome") == samples(7.0)
    topic = history.changelog_topic.get_topic_name()
    assert rocksdb_history.persisted_offset(TP(topic, home)) == 5
    assert (
        rocksdb_history._dbs.get(stray) is None
        or rocksdb_history._dbs[stray].get(encode_key("Rome")) is None
    )


def test_write_table_sets_a_memory_table_s_entry():
    history.data.clear()
    write_table(history, "Rome", samples(21.5), delivered(0, 0))
    assert history.data["Rome"] == samples(21.5)
    history.data.clear()


class ChangelogProducer:
    """Delivers each record at the next offset of its partition, unless told to fail."""

    def __init__(self, fail: bool = False) -> None:
        self.fail = fail
        self.sent: list[tuple[str, bytes | None, int | None]] = []

    async def send(self, topic, key, value, partition, timestamp, headers):
        self.sent.append((topic, key, partition))
        if self.fail:
            raise RuntimeError("broker gone")
        offset = sum(1 for _, _, sent_to in self.sent if sent_to == partition) - 1
        future = asyncio.get_running_loop().create_future()
        future.set_result(delivered(partition, offset))
        return future

    async def flush(self) -> None:
        pass


@pytest.fixture
def memory_tables():
    for table in (history, last_seen):
        table.data.clear()
    yield
    for table in (history, last_seen):
        table.data.clear()


async def test_taken_entries_reach_changelog_and_table_only_when_written_newest_only(
    memory_tables,
):
    writes = TableWrites()
    writes.set(history, "Rome", samples(7.0), 2)
    writes.set(history, "Rome", samples(7.0, 8.0), 2)
    writes.set(history, "Oslo", samples(1.0), 3)
    assert writes.get(history, "Rome") == samples(7.0, 8.0)
    assert writes.take() == 2
    writes.set(history, "Rome", samples(7.0, 8.0, 9.0), 2)  # a batch while they are written
    assert writes.get(history, "Rome") == samples(7.0, 8.0, 9.0)
    assert "Rome" not in history
    producer = ChangelogProducer()
    await writes.write(Outbox(producer, retry=False))
    topic = history.changelog_topic.get_topic_name()
    assert producer.sent == [(topic, encode_key("Rome"), 2), (topic, encode_key("Oslo"), 3)]
    assert (history["Rome"], history["Oslo"]) == (samples(7.0, 8.0), samples(1.0))
    assert writes.get(history, "Rome") == samples(7.0, 8.0, 9.0)
    assert writes.take() == 1
    await writes.write(Outbox(producer, retry=False))
    assert history["Rome"] == samples(7.0, 8.0, 9.0)
    assert writes.take() == 0
    await writes.write(Outbox(producer, retry=False))
    assert len(producer.sent) == 3  # nothing taken, nothing sent


async def test_held_keys_count_as_held_until_written_and_only_once(memory_tables):
    writes = TableWrites()
    write_table(history, "Rome", samples(7.0), delivered(0, 0))
    writes.set(history, "Rome", samples(8.0), 0)
    writes.set(history, "Oslo", samples(1.0), 0)
    writes.set(history, "Oslo", samples(2.0), 0)
    assert (writes.holds(history, "Oslo"), writes.holds(history, "Rome")) == (True, True)
    assert not writes.holds(history, "Lima")
    assert not writes.holds(last_seen, "Oslo")
    assert writes.size(history) == 2
    assert writes.size(last_seen) == 0
    writes.take()
    writes.set(history, "Oslo", samples(3.0), 0)
    writes.set(history, "Lima", samples(4.0), 0)
    assert writes.keys(history) == {"Rome", "Oslo", "Lima"}
    assert writes.size(history) == 3
    await writes.write(Outbox(ChangelogProducer(), retry=False))
    assert writes.size(history) == 3 == len(history) + 1


async def test_entries_whose_changelog_records_fail_stay_taken_and_out_of_the_table(
    memory_tables,
):
    writes = TableWrites()
    writes.set(history, "Rome", samples(7.0), 2)
    writes.take()
    with pytest.raises(DeliveryFailed):
        await writes.write(Outbox(ChangelogProducer(fail=True), retry=False))
    assert "Rome" not in history
    assert writes.get(history, "Rome") == samples(7.0)
    with pytest.raises(RuntimeError, match="not written yet"):
        writes.take()
    await writes.write(Outbox(ChangelogProducer(), retry=False))
    assert history["Rome"] == samples(7.0)


@pytest.mark.parametrize("store", ["memory", "rocksdb"])
async def test_entries_not_held_are_read_from_the_store_without_the_table_s_read_sensors(
    store, memory_tables, request
):
    if store == "rocksdb":
        request.getfixturevalue("rocksdb_history")
    home = home_partition(encode_key("Rome"), PARTITIONS)
    write_table(history, "Rome", samples(7.0), delivered(home, 0))
    writes = TableWrites()
    with patch.object(history, "on_key_get") as table_read:
        assert writes.get(history, "Rome") == samples(7.0) == history.data["Rome"]
        assert writes.get(history, "Lima") is None
    # Faust's statistics of table reads: two sensors a read, more than the reading's enrichment.
    table_read.assert_not_called()


async def test_a_commit_s_entries_are_sent_a_slice_at_a_time(memory_tables):
    cities = [f"Station {n:04d}" for n in range(8 * SLICE)]
    writes = TableWrites()
    for city in cities:
        writes.set(history, city, samples(1.0), 0)
    writes.take()
    sent_at_turn: list[int] = []
    producer = ChangelogProducer()
    async with counting_loop_turns() as turns:
        original = producer.send

        async def send(*record: Any) -> Any:
            sent_at_turn.append(turns.count)
            return await original(*record)

        producer.send = send  # type: ignore[method-assign]
        await writes.write(Outbox(producer, retry=False))
    assert len(producer.sent) == len(cities)
    assert sent_at_turn[-1] >= 7  # in one go, the loop turned only once they were all sent
    assert all(history[city] == samples(1.0) for city in cities)
