from types import SimpleNamespace
from typing import Any

import faust
import pytest
from faust.transport.drivers import aiokafka as faust_aiokafka
from faust.types import TP

from weather_app.transport import ConsumerThread, Transport

CHANGELOG, RAW = TP("app-history-changelog", 0), TP("app-raw", 1)
FETCHED = {
    CHANGELOG: [SimpleNamespace(offset=3), SimpleNamespace(offset=4)],
    RAW: [SimpleNamespace(offset=7)],
}


class KafkaConsumer:
    def __init__(self) -> None:
        self.seeks: list[tuple[TP, int]] = []

    def seek(self, tp: TP, offset: int) -> None:
        self.seeks.append((tp, offset))


@pytest.fixture
def thread(monkeypatch: pytest.MonkeyPatch) -> ConsumerThread:
    async def fetch(*args: Any, **kwargs: Any) -> Any:
        return FETCHED

    monkeypatch.setattr(faust_aiokafka.AIOKafkaConsumerThread, "_fetch_records", fetch)
    app = faust.App("transport-test", broker="kafka://127.0.0.1:9")
    app.transport = Transport(app.conf.broker_consumer, app)
    consumer_thread = app.consumer._thread  # type: ignore[attr-defined]
    assert isinstance(consumer_thread, ConsumerThread)
    return consumer_thread


async def test_a_batch_fetched_while_the_flow_is_stopped_is_fetched_again(thread):
    # Faust would drop it, and a changelog partition has no committed offset to go back to.
    thread.consumer.flow_active = False
    kafka = KafkaConsumer()
    assert await thread._fetch_records(kafka, set(), timeout=1.0) == {}
    assert kafka.seeks == [(CHANGELOG, 3), (RAW, 7)]


async def test_a_batch_fetched_while_the_flow_runs_is_delivered(thread):
    kafka = KafkaConsumer()
    assert await thread._fetch_records(kafka, {CHANGELOG, RAW}, timeout=1.0) == FETCHED
    assert kafka.seeks == []


class CommittedOffsets(KafkaConsumer):
    def assignment(self) -> set[TP]:
        return {CHANGELOG, RAW}

    async def committed(self, tp: TP) -> int | None:
        return {RAW: 12}.get(tp)  # a changelog has no committed offset


async def test_a_seek_to_committed_moves_every_position_at_once_and_is_counted(thread):
    kafka = CommittedOffsets()
    thread._ensure_consumer = lambda: kafka
    assert await thread._seek_to_committed() == {CHANGELOG: None, RAW: 12}
    assert kafka.seeks == [(RAW, 12)]
    assert thread.last_seek_of == {RAW: 1}


async def test_a_fetch_remembers_how_many_seeks_came_before_it(thread):
    thread.seeks_to_committed = 3
    await thread._fetch_records(KafkaConsumer(), {CHANGELOG, RAW}, timeout=1.0)
    assert thread.seeks_before_last_fetch == 3


BATCH = [(RAW, SimpleNamespace(offset=7)), (CHANGELOG, SimpleNamespace(offset=3))] + [
    (RAW, SimpleNamespace(offset=offset)) for offset in (8, 9)
]


@pytest.fixture
def consumer(thread, monkeypatch: pytest.MonkeyPatch) -> Any:
    async def getmany(self: Any, timeout: float) -> Any:  # noqa: ASYNC109
        for record in BATCH:
            yield record

    monkeypatch.setattr(faust_aiokafka.Consumer, "getmany", getmany)
    return thread.consumer


async def test_a_batch_fetched_after_the_last_seek_is_delivered_whole(consumer):
    assert [record async for record in consumer.getmany(1.0)] == BATCH


async def test_records_fetched_before_a_seek_moved_their_partition_are_dropped(consumer):
    # Delivering them would put records past the read offsets the seek set, which Faust takes for
    # a gap and commits over; the seek already moved the position back, so they are fetched again.
    consumer._thread.last_seek_of[RAW] = 1
    assert [record async for record in consumer.getmany(1.0)] == [BATCH[1]]


async def test_a_seek_that_left_a_partition_where_it_was_keeps_its_records(consumer):
    # No committed offset yet (a new group): nothing would fetch those records again.
    consumer._thread.seeks_to_committed = 1
    assert [record async for record in consumer.getmany(1.0)] == BATCH


async def test_a_seek_during_a_delivery_keeps_its_read_offsets(consumer):
    records = consumer.getmany(1.0)
    assert await anext(records) == BATCH[0]
    # Recovery's seek runs while the Fetcher hands the record over, then the Fetcher marks it read.
    consumer._thread.last_seek_of[RAW] = 1
    consumer._read_offsets_after_seek = {RAW: 5}
    consumer._read_offset[RAW] = 7
    assert [record async for record in records] == [BATCH[1]]
    assert consumer._read_offset[RAW] == 5


async def test_a_seek_to_committed_remembers_the_read_offsets_it_set(consumer, monkeypatch):
    async def seek_to_committed() -> dict[TP, int]:
        return {RAW: 5}

    monkeypatch.setattr(consumer._thread, "seek_to_committed", seek_to_committed)
    await consumer.perform_seek()
    assert consumer._read_offsets_after_seek[RAW] == 5


async def test_input_partitions_resume_only_once_sought_to_their_committed_offsets(
    consumer, monkeypatch
):
    # Recovery resumes them, then seeks them back: what they delivered in between would be
    # processed twice.
    resumed: list[set[TP]] = []
    monkeypatch.setattr(
        faust_aiokafka.Consumer, "resume_partitions", lambda self, tps: resumed.append(set(tps))
    )
    monkeypatch.setattr(consumer, "_is_changelog_tp", lambda tp: tp == CHANGELOG)
    monkeypatch.setattr(consumer, "assignment", lambda: {CHANGELOG, RAW})

    async def seek_to_committed() -> dict[TP, int]:
        return {RAW: 5}

    monkeypatch.setattr(consumer._thread, "seek_to_committed", seek_to_committed)
    consumer.resume_partitions({CHANGELOG, RAW})
    assert resumed == [{CHANGELOG}]
    await consumer.perform_seek()
    assert resumed == [{CHANGELOG}, {RAW}]
