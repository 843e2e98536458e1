import asyncio
import logging
from collections.abc import Awaitable, Callable
from types import SimpleNamespace
from typing import Any, cast
from unittest.mock import AsyncMock

import aiokafka.consumer.consumer
import faust
import pytest
from aiokafka.structs import ConsumerRecord
from faust.tables.manager import TableManager
from faust.tables.recovery import RecoveryStats
from faust.transport.drivers import aiokafka as faust_aiokafka
from faust.types import TP
from faust.types.transports import ConsumerT

from tests.unit.weather_app.faust_internals.test_transactions import consumed_event
from weather_app.faust_internals import transactions, transport
from weather_app.faust_internals.delivery import Delivery
from weather_app.faust_internals.transport import (
    FETCH_MAX_WAIT_MS,
    FETCH_MIN_BYTES,
    FETCH_TIMEOUT_SECONDS,
    FETCH_TIMEOUT_WHILE_HELD_BACK_SECONDS,
    YIELD_EVERY,
    ConsumerThread,
    Transport,
    end_of_records,
    run_before_each_commit,
)

CHANGELOG, RAW = TP("app-history-changelog", 0), TP("app-raw", 1)
FETCHED = {
    CHANGELOG: [SimpleNamespace(offset=3), SimpleNamespace(offset=4)],
    RAW: [SimpleNamespace(offset=7)],
}


class KafkaConsumer:
    def __init__(self, assigned: set[TP] | None = None) -> None:
        self.seeks: list[tuple[TP, int]] = []
        self.assigned = assigned or set()
        self.paused_tps: set[TP] = set()

    def seek(self, tp: TP, offset: int) -> None:
        self.seeks.append((tp, offset))

    def assignment(self) -> set[TP]:
        return {aiokafka.TopicPartition(*tp) for tp in self.assigned}  # aiokafka's, as aiokafka

    def paused(self) -> set[TP]:
        return set(self.paused_tps)

    def pause(self, *tps: TP) -> None:
        assert all(isinstance(tp, aiokafka.TopicPartition) for tp in tps), "aiokafka raises"
        assert not self.paused_tps & set(tps), "paused twice"
        self.paused_tps.update(tps)

    def resume(self, *tps: TP) -> None:
        assert all(isinstance(tp, aiokafka.TopicPartition) for tp in tps), "aiokafka raises"
        assert set(tps) <= self.paused_tps, "resumed while not paused"
        self.paused_tps.difference_update(tps)


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
    assert await thread._fetch_records(kafka, {CHANGELOG, RAW}, timeout=1.0) == {}
    assert kafka.seeks == [(CHANGELOG, 3), (RAW, 7)]


async def test_records_of_a_partition_paused_during_the_fetch_are_fetched_again(
    thread, monkeypatch
):
    """aiokafka's `fetched_records` takes an empty set for every partition: Faust's live set of
    active partitions, emptied while the fetch waits, brought back records of held partitions."""
    asked: list[set[TP]] = []
    live = {CHANGELOG, RAW}

    async def fetch(self: Any, consumer: Any, partitions: set[TP], **kwargs: Any) -> Any:
        asked.append(partitions)
        live.discard(CHANGELOG)  # recovery ends: the changelog pauses while the fetch waits
        return {tp: list(batch) for tp, batch in FETCHED.items()}

    monkeypatch.setattr(faust_aiokafka.AIOKafkaConsumerThread, "_fetch_records", fetch)
    kafka = KafkaConsumer()
    assert await thread._fetch_records(kafka, live, timeout=1.0) == {RAW: FETCHED[RAW]}
    assert asked == [{CHANGELOG, RAW}]
    assert asked[0] is not live
    assert kafka.seeks == [(CHANGELOG, 3)]
    assert await thread._fetch_records(kafka, set(), timeout=1.0) == {}  # no "every partition"
    assert len(asked) == 1


async def test_a_batch_fetched_while_the_flow_runs_is_delivered(thread):
    kafka = KafkaConsumer()
    assert await thread._fetch_records(kafka, {CHANGELOG, RAW}, timeout=1.0) == FETCHED
    assert kafka.seeks == []


async def test_changelog_partitions_faust_does_not_ask_for_are_paused_in_aiokafka_too(
    thread, monkeypatch
):
    """Faust pauses a changelog after recovery in its own bookkeeping only (`pause_partitions`
    never reaches aiokafka): aiokafka fetched it, kept what it fetched untaken, and for its
    100 ms prefetch backoff sent no fetch to that broker, the input partitions' included."""
    other_changelog = TP("app-last_seen-changelog", 3)
    monkeypatch.setattr(thread.consumer, "_is_changelog_tp", lambda tp: "changelog" in tp.topic)
    kafka = KafkaConsumer(assigned={CHANGELOG, other_changelog, RAW})
    await thread._fetch_records(kafka, {RAW}, timeout=1.0)  # recovery done: inputs only
    assert kafka.paused_tps == {CHANGELOG, other_changelog}
    await thread._fetch_records(kafka, {RAW}, timeout=1.0)  # each fetch: paused once only
    assert kafka.paused_tps == {CHANGELOG, other_changelog}
    await thread._fetch_records(kafka, {CHANGELOG}, timeout=1.0)  # a rebalance's recovery
    assert kafka.paused_tps == {other_changelog}
    await thread._fetch_records(kafka, set(), timeout=1.0)  # nothing asked: nothing changes
    assert kafka.paused_tps == {other_changelog}


async def test_input_partitions_are_never_paused_in_aiokafka(thread, monkeypatch):
    monkeypatch.setattr(thread.consumer, "_is_changelog_tp", lambda tp: "changelog" in tp.topic)
    kafka = KafkaConsumer(assigned={CHANGELOG, RAW, RAW_2})
    await thread._fetch_records(kafka, {CHANGELOG}, timeout=1.0)  # inputs held during recovery
    assert kafka.paused_tps == set()


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


@pytest.fixture
def consumer(thread) -> Any:
    return thread.consumer


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


def partition_of(visible: set[int]) -> Any:
    """`last_record_in` over a partition where only the offsets in `visible` hold records."""
    windows: list[tuple[int, int]] = []

    async def last_record_in(start: int, stop: int) -> int | None:
        windows.append((start, stop))
        return max((offset for offset in visible if start <= offset < stop), default=None)

    last_record_in.windows = windows  # type: ignore[attr-defined]
    return last_record_in


async def test_the_end_after_transactions_is_one_past_the_last_record_not_the_marker():
    # Records 0..98, the commit marker at 99, end offset 100: recovery must wait for 98.
    assert await end_of_records(partition_of(set(range(99))), 0, 100) == 99


async def test_the_search_reaches_back_over_a_long_run_of_aborted_records():
    # Record 10, then 2,000 offsets of aborted transactions a read_committed consumer skips.
    read = partition_of({10})
    assert await end_of_records(read, 0, 2_010) == 11
    assert read.windows == [(1_946, 2_010), (922, 1_946), (0, 922)]


async def test_a_partition_without_a_record_ends_where_it_starts():
    # Faust then starts and ends recovery at first - 1: nothing to wait for.
    assert await end_of_records(partition_of(set()), 40, 45) == 40
    assert await end_of_records(partition_of(set()), 0, 0) == 0


async def test_faust_recovery_waits_for_the_record_just_before_the_end_it_is_given():
    # What the ends above are for: Faust's recovery subtracts one from `highwaters` and is done
    # once it has seen the record at that offset.
    app = faust.App("recovery-test", broker="kafka://127.0.0.1:9")
    recovery = cast(TableManager, app.tables).recovery

    class Ends:
        async def highwaters(self, *tps: TP) -> dict[TP, int]:
            return {CHANGELOG: 99}

    await recovery._build_highwaters(
        cast(ConsumerT, Ends()), {CHANGELOG}, recovery.active_highwaters, "active"
    )
    recovery.active_offsets[CHANGELOG] = 97
    assert recovery.need_recovery()
    recovery.active_offsets[CHANGELOG] = 98
    assert not recovery.need_recovery()


@pytest.fixture
def recovery(thread) -> Any:
    recovery = SimpleNamespace(
        in_recovery=True,
        active_stats=lambda: {CHANGELOG: RecoveryStats(highwater=29, offset=28, remaining=1)},
    )
    thread.consumer.app.tables._recovery = recovery
    return recovery


def test_a_recovery_that_takes_too_long_is_reported_with_partitions_and_offsets(
    thread, recovery, caplog
):
    consumer = thread.consumer
    for second in range(0, 25):
        consumer.report_slow_recovery(1000.0 + second)
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert warnings == [
        f"Table recovery has waited {seconds}s, processing nothing, for changelog partitions: "
        "app-history-changelog[0] at offset 28, waiting for offset 29"
        for seconds in (10, 20)
    ]


def test_a_finished_recovery_is_not_reported_and_the_next_one_is_timed_afresh(
    thread, recovery, caplog
):
    consumer = thread.consumer
    consumer.report_slow_recovery(1000.0)
    recovery.in_recovery = False
    consumer.report_slow_recovery(1030.0)
    recovery.in_recovery = True
    consumer.report_slow_recovery(1031.0)
    consumer.report_slow_recovery(1040.0)
    assert not caplog.records
    consumer.report_slow_recovery(1041.0)
    assert "has waited 10s" in caplog.records[0].getMessage()


async def test_the_broker_answers_a_fetch_at_16_kib_or_10_ms_not_each_record_or_1_5_s(thread):
    """One fetch in flight per broker: while the broker holds one for partitions with nothing
    new, the partitions whose fetched records run out wait for it (a drained backlog stalled);
    answered at the first new byte, a steady flow cost a fetch and a batch every 1-2 readings."""
    transport = thread.transport
    faust_s = faust_aiokafka.AIOKafkaConsumerThread._create_worker_consumer(thread, transport)
    assert (faust_s._fetch_max_wait_ms, faust_s._fetch_min_bytes) == (1500, 1)
    ours = thread._create_worker_consumer(transport)
    assert (ours._fetch_max_wait_ms, ours._fetch_min_bytes) == (FETCH_MAX_WAIT_MS, FETCH_MIN_BYTES)
    assert (FETCH_MAX_WAIT_MS, FETCH_MIN_BYTES) == (10, 16 * 1024)


class FetcherMade(Exception):
    """Raised by a stand-in for aiokafka's Fetcher with the arguments the consumer gave it."""


async def test_aiokafka_s_consumer_gives_its_fetcher_the_fetch_wait_and_bytes_set_after_init(
    thread, monkeypatch
):
    """The worker's consumer is built by Faust and changed afterwards: aiokafka reads the two
    attributes only when `start` makes its Fetcher."""

    def fetcher(*args: object, **kwargs: object) -> None:
        raise FetcherMade(kwargs)

    consumer = thread._create_worker_consumer(thread.transport)
    monkeypatch.setattr(aiokafka.consumer.consumer, "Fetcher", fetcher)
    monkeypatch.setattr(consumer._client, "bootstrap", AsyncMock())
    monkeypatch.setattr(consumer, "_wait_topics", AsyncMock())
    with pytest.raises(FetcherMade) as made:
        await consumer.start()
    (kwargs,) = made.value.args
    assert (kwargs["fetch_max_wait_ms"], kwargs["fetch_min_bytes"]) == (10, 16 * 1024)


RAW_2 = TP(RAW.topic, 2)


def record(tp: TP, offset: int) -> ConsumerRecord[bytes, bytes]:
    return ConsumerRecord(tp.topic, tp.partition, offset, 0, 0, b"k", b"v", None, 1, 1, [])


class Fetches:
    """What the Fetcher's fetches return: one mapping of records each, then it is stopped.

    `active` is Faust's live set of active partitions (None: every partition); `at_next_turn`
    runs at the first turn the Fetcher gives the other tasks after the last fetch returned.
    """

    def __init__(
        self,
        fetcher: Any,
        *fetches: dict[TP, list[Any]],
        active: set[TP] | None = None,
        at_next_turn: Callable[[], None] | None = None,
    ) -> None:
        self.fetcher = fetcher
        self.fetches = list(fetches)
        self.active = active
        self.at_next_turn = at_next_turn
        self.timeouts: list[float] = []

    async def wait_next_records(self, timeout: float) -> Any:  # noqa: ASYNC109 (Faust's)
        self.timeouts.append(timeout)
        if not self.fetches:
            self.fetcher._stopped.set()
            return None, None
        if len(self.fetches) == 1 and self.at_next_turn is not None:
            asyncio.get_running_loop().call_soon(self.at_next_turn)
        return self.fetches.pop(0), self.active


def not_taken(*args: Any) -> Any:
    raise AssertionError("a message went through Faust's per-message path")


@pytest.fixture
def queue(thread, monkeypatch: pytest.MonkeyPatch) -> Any:
    """The queue of a raw-bytes stream of RAW's topic, subscribed to RAW and RAW_2."""
    app = thread.app
    monkeypatch.setattr(thread.consumer, "highwater", lambda tp: 0)  # asked of the broker
    app.flow_control.resume()
    app.topics._acking_topics.add(RAW.topic)
    iterator = aiter(app.topic(RAW.topic, value_type=bytes, value_serializer="raw"))
    thread.consumer._read_offset.update({RAW: None, RAW_2: None})
    return iterator.queue


async def drain(
    consumer: Any,
    monkeypatch: pytest.MonkeyPatch,
    *fetches: Any,
    active: set[TP] | None = None,
    at_next_turn: Callable[[], None] | None = None,
) -> Fetches:
    await consumer.app.topics.on_partitions_assigned({RAW, RAW_2})
    fetcher = SimpleNamespace(_stopped=asyncio.Event())
    fetched = Fetches(fetcher, *fetches, active=active, at_next_turn=at_next_turn)
    monkeypatch.setattr(consumer, "_wait_next_records", fetched.wait_next_records)
    await asyncio.wait_for(consumer._drain_messages(fetcher), 2.0)
    return fetched


def offsets_in(queue: Any) -> list[tuple[int, int]]:
    return [(event.message.partition, event.message.offset) for event in queue._queue]


async def test_the_fetcher_hands_each_new_message_to_its_queue_and_notes_gaps(
    consumer, queue, monkeypatch
):
    consumer._read_offset[RAW] = 4
    gaps: list[tuple[TP, int, int]] = []

    async def add_gap(tp: TP, first: int, last: int) -> None:
        gaps.append((tp, first, last))

    monkeypatch.setattr(consumer, "_add_gap", add_gap)
    monkeypatch.setattr(consumer, "wait_first", not_taken)
    fetches = await drain(
        consumer,
        monkeypatch,
        {RAW: [record(RAW, offset) for offset in (3, 5, 8)], RAW_2: [record(RAW_2, 0)]},
    )
    assert offsets_in(queue) == [(1, 5), (1, 8), (2, 0)]  # 3: read before
    assert consumer._read_offset[RAW] == 8
    assert gaps == [(RAW, 6, 8)]  # offsets no record will ever be given for (markers)
    assert fetches.timeouts == [FETCH_TIMEOUT_SECONDS, FETCH_TIMEOUT_SECONDS]


async def test_each_partitions_end_offset_is_tracked_once_a_fetch(consumer, queue, monkeypatch):
    tracked: list[tuple[TP, int]] = []
    monkeypatch.setattr(consumer.app.monitor, "track_tp_end_offset", lambda *tp: tracked.append(tp))
    monkeypatch.setattr(consumer, "highwater", lambda tp: 100 + tp.partition)
    await drain(consumer, monkeypatch, {RAW: [record(RAW, 0), record(RAW, 1)]})
    assert tracked == [(RAW, 101)]


async def test_while_a_partition_is_held_back_a_fetch_waits_briefly(consumer, monkeypatch):
    consumer._buffered_partitions.add(RAW)
    fetches = await drain(consumer, monkeypatch)
    assert fetches.timeouts == [FETCH_TIMEOUT_WHILE_HELD_BACK_SECONDS]


async def test_a_message_that_would_wait_takes_faust_s_path_and_the_rest_go_on(
    consumer, queue, monkeypatch
):
    taken: list[int] = []

    async def wait_first(message: Any, *others: Any) -> None:
        close(others)
        taken.append(message.offset)

    monkeypatch.setattr(consumer, "callback", lambda message: message)
    monkeypatch.setattr(consumer, "wait_first", wait_first)
    full = queue.full
    monkeypatch.setattr(queue, "full", lambda: len(queue._queue) == 1 or full())
    await drain(consumer, monkeypatch, {RAW: [record(RAW, offset) for offset in (0, 1, 2)]})
    assert taken == [1, 2]  # the queue stayed "full" after the first
    assert consumer._read_offset[RAW] == 2


async def test_records_fetched_before_a_seek_moved_their_partition_are_dropped(
    consumer, queue, monkeypatch
):
    # Delivering them would put records past the read offsets the seek set, which Faust takes for
    # a gap and commits over; the seek already moved the position back, so they are fetched again.
    consumer._thread.last_seek_of[RAW] = 1
    await drain(consumer, monkeypatch, {RAW: [record(RAW, 7)], RAW_2: [record(RAW_2, 3)]})
    assert offsets_in(queue) == [(2, 3)]


async def test_a_seek_that_left_a_partition_where_it_was_keeps_its_records(
    consumer, queue, monkeypatch
):
    # No committed offset yet (a new group): nothing would fetch those records again.
    consumer._thread.seeks_to_committed = 1
    await drain(consumer, monkeypatch, {RAW: [record(RAW, 7)], RAW_2: [record(RAW_2, 3)]})
    assert offsets_in(queue) == [(1, 7), (2, 3)]


def close(coroutines: Any) -> None:
    for coroutine in coroutines:
        coroutine.close()


def seek_to(consumer: Any, offset: int) -> None:
    """What recovery's seek does to RAW while the Fetcher awaits something."""
    consumer._thread.last_seek_of[RAW] = 1
    consumer._read_offsets_after_seek = {RAW: offset}
    consumer._read_offset[RAW] = offset


async def test_a_seek_during_a_delivery_keeps_its_read_offsets(consumer, queue, monkeypatch):
    async def wait_first(message: Any, *others: Any) -> None:
        close(others)
        seek_to(consumer, 5)

    monkeypatch.setattr(consumer, "callback", lambda message: message)
    monkeypatch.setattr(consumer, "wait_first", wait_first)
    monkeypatch.setattr(queue, "full", lambda: True)
    await drain(consumer, monkeypatch, {RAW: [record(RAW, 7), record(RAW, 8)], RAW_2: []})
    # The Fetcher marks 7 read once delivered: the seek's 5 is put back, 8 is fetched again.
    assert consumer._read_offset[RAW] == 5


async def test_a_seek_while_the_fetcher_awaits_drops_the_partitions_remaining_records(
    consumer, queue, monkeypatch
):
    async def add_gap(tp: TP, first: int, last: int) -> None:
        seek_to(consumer, 5)

    monkeypatch.setattr(consumer, "_add_gap", add_gap)
    consumer._read_offset[RAW] = 4
    await drain(consumer, monkeypatch, {RAW: [record(RAW, 9)], RAW_2: [record(RAW_2, 3)]})
    assert offsets_in(queue) == [(2, 3)]
    assert consumer._read_offset[RAW] == 5


REBALANCES = ["flow stopped", "new generation", "partition no longer active"]


def rebalance(consumer: Any, change: str, active: set[TP]) -> None:
    """What a rebalance, or recovery's end, does to RAW while the Fetcher awaits something."""
    if change == "flow stopped":
        consumer.flow_active = False
    elif change == "new generation":
        consumer.app.consumer_generation_id += 1
    else:
        active.discard(RAW)


@pytest.mark.parametrize("change", REBALANCES)
async def test_a_rebalance_while_the_fetcher_awaits_drops_the_rest_of_the_fetch(
    consumer, queue, monkeypatch, change
):
    active = {RAW, RAW_2}

    async def add_gap(tp: TP, first: int, last: int) -> None:
        rebalance(consumer, change, active)

    monkeypatch.setattr(consumer, "_add_gap", add_gap)
    consumer._read_offset[RAW] = 4
    fetch = {RAW: [record(RAW, 9)], RAW_2: [record(RAW_2, 0)]}
    await drain(consumer, monkeypatch, fetch, active=active)
    assert offsets_in(queue) == ([(2, 0)] if change == "partition no longer active" else [])


@pytest.mark.parametrize("change", REBALANCES)
async def test_a_rebalance_during_faust_s_path_drops_the_rest_of_the_fetch(
    consumer, queue, monkeypatch, change
):
    active = {RAW, RAW_2}
    taken: list[tuple[int, int]] = []

    async def wait_first(message: Any, *others: Any) -> None:
        close(others)
        taken.append((message.partition, message.offset))
        rebalance(consumer, change, active)

    monkeypatch.setattr(consumer, "callback", lambda message: message)
    monkeypatch.setattr(consumer, "wait_first", wait_first)
    monkeypatch.setattr(queue, "full", lambda: True)  # every message takes Faust's path
    fetch = {RAW: [record(RAW, 0), record(RAW, 1)], RAW_2: [record(RAW_2, 0)]}
    await drain(consumer, monkeypatch, fetch, active=active)
    assert taken == ([(1, 0), (2, 0)] if change == "partition no longer active" else [(1, 0)])


async def test_the_record_at_the_read_offset_a_seek_set_is_delivered(consumer, queue, monkeypatch):
    # After a seek the read offset is the committed offset: the next record to process.
    consumer._read_offset[RAW] = 5
    await drain(consumer, monkeypatch, {RAW: [record(RAW, 5), record(RAW, 6)]})
    assert offsets_in(queue) == [(1, 5), (1, 6)]


async def test_after_an_await_the_route_is_asked_again(consumer, queue, monkeypatch):
    taken: list[int] = []

    async def add_gap(tp: TP, first: int, last: int) -> None:
        consumer.app.producer.buffer.max_messages = -1  # the producer's buffer filled meanwhile

    async def wait_first(message: Any, *others: Any) -> None:
        close(others)
        taken.append(message.offset)

    monkeypatch.setattr(consumer, "_add_gap", add_gap)
    monkeypatch.setattr(consumer, "callback", lambda message: message)
    monkeypatch.setattr(consumer, "wait_first", wait_first)
    consumer._read_offset[RAW] = 4
    await drain(consumer, monkeypatch, {RAW: [record(RAW, 5), record(RAW, 9)]})
    assert (offsets_in(queue), taken) == ([(1, 5)], [9])


async def test_other_tasks_get_a_turn_every_100_messages_counted_across_fetches(
    consumer, queue, monkeypatch
):
    fetches = [
        {RAW: [record(RAW, offset) for offset in range(start, start + 60)]} for start in (0, 60)
    ]

    def stop_the_flow() -> None:  # at the turn the 101st message gives
        consumer.flow_active = False

    await drain(consumer, monkeypatch, *fetches, at_next_turn=stop_the_flow)
    assert len(offsets_in(queue)) == YIELD_EVERY == 100


async def test_a_fetch_that_returns_after_the_flow_stopped_is_sought_back(
    consumer, queue, monkeypatch
):
    seeks: list[bool] = []

    async def perform_seek() -> None:
        seeks.append(True)

    monkeypatch.setattr(consumer, "perform_seek", perform_seek)
    consumer.flow_active = False
    await drain(consumer, monkeypatch, {RAW: [record(RAW, 0)]})
    assert (offsets_in(queue), seeks) == ([], [True])


async def test_records_of_a_partition_neither_active_nor_held_back_are_not_delivered(
    consumer, queue, monkeypatch
):
    fetch = {RAW: [record(RAW, 0)], RAW_2: [record(RAW_2, 0)]}
    await drain(consumer, monkeypatch, fetch, active={RAW_2})
    assert offsets_in(queue) == [(2, 0)]


async def test_a_seek_during_the_turn_every_100_messages_is_not_taken_for_a_gap(
    consumer, queue, monkeypatch
):
    gaps: list[tuple[TP, int, int]] = []

    async def add_gap(tp: TP, first: int, last: int) -> None:
        gaps.append((tp, first, last))

    monkeypatch.setattr(consumer, "_add_gap", add_gap)
    consumer._read_offset[RAW] = 4
    consumer._since_yield = YIELD_EVERY  # this record is the 101st
    await drain(
        consumer, monkeypatch, {RAW: [record(RAW, 5)]}, at_next_turn=lambda: seek_to(consumer, 1)
    )
    assert (gaps, offsets_in(queue), consumer._read_offset[RAW]) == ([], [], 1)


@pytest.fixture(params=["at_least_once", "exactly_once"])
def committing(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> Any:
    """A consumer of either guarantee whose commits of offsets are recorded, in order, in
    `consumer.calls` (no broker: Faust's `_commit_offsets` is replaced)."""
    app = faust.App(
        "commit-test",
        broker="kafka://127.0.0.1:9",
        processing_guarantee=request.param,
        store="memory://",
    )
    app.in_worker = True  # Faust's transactions are a worker's only
    kind = transactions.Transport if request.param == "exactly_once" else Transport
    app.transport = kind(app.conf.broker_consumer, app)
    consumer = cast(Any, app.consumer)
    consumer.calls = []
    # A lock belongs to the event loop of its first wait, and each test has its own loop.
    monkeypatch.setattr(transport, "between_batches", asyncio.Lock())

    async def commit_offsets(offsets: dict[TP, int], start_new_transaction: bool = True) -> bool:
        consumer.calls.append(dict(offsets))
        return True

    monkeypatch.setattr(consumer, "_commit_offsets", commit_offsets)
    return consumer


def acked(consumer: Any, tp: TP, *offsets: int) -> None:
    consumer._acked[tp] = list(offsets)
    consumer._acked_index[tp] = set(offsets)


async def test_what_the_agent_asked_runs_before_each_commit_takes_its_offsets(committing):
    acked(committing, RAW, 5, 6, 7)

    async def write() -> None:
        committing.calls.append("written")

    def before_commit() -> Awaitable[None]:
        committing.calls.append("taken")
        return write()

    run_before_each_commit(committing.app, before_commit)
    assert await committing.commit()
    assert committing.calls == ["taken", "written", {RAW: 8}]


@pytest.mark.parametrize("committing", ["at_least_once"], indirect=True)
async def test_at_least_once_batches_run_on_while_a_commit_writes_and_wait_for_the_next(
    committing,
):
    acked(committing, RAW, 5, 6, 7)
    writing = asyncio.Event()
    written = asyncio.Event()

    async def write() -> None:
        writing.set()
        await written.wait()

    run_before_each_commit(committing.app, write)
    commit = asyncio.ensure_future(committing.commit())
    await writing.wait()
    async with asyncio.timeout(1), transport.between_batches:
        committing._acked[RAW].append(8)  # a batch, not held up while the entries are written
    written.set()
    await commit
    assert committing.calls == [{RAW: 8}]  # its reading's entries are not written yet
    assert await committing.commit()
    assert committing.calls == [{RAW: 8}, {RAW: 9}]


@pytest.mark.parametrize("committing", ["at_least_once"], indirect=True)
async def test_at_least_once_commits_take_their_turns(committing):
    acked(committing, RAW, 5)
    written = asyncio.Event()

    async def first_write() -> None:
        await written.wait()

    writes = [first_write(), asyncio.sleep(0)]

    def before_commit() -> Awaitable[None]:
        return writes.pop(0)

    run_before_each_commit(committing.app, before_commit)
    first = asyncio.ensure_future(committing.commit())
    await asyncio.sleep(0.01)
    committing._acked[RAW].append(6)
    second = asyncio.ensure_future(committing.commit())
    await asyncio.sleep(0.01)
    assert committing.calls == []  # the second takes nothing while the first writes
    written.set()
    await asyncio.gather(first, second)
    assert committing.calls == [{RAW: 6}, {RAW: 7}]


def test_only_weather_app_s_consumer_runs_something_before_each_commit():
    app = faust.App("plain-test", broker="kafka://127.0.0.1:9")

    async def nothing() -> None:
        return None

    with pytest.raises(TypeError, match="not weather_app's consumer"):
        run_before_each_commit(app, nothing)


async def test_a_commit_waits_for_the_batch_in_progress(committing):
    acked(committing, RAW, 5)
    async with transactions.ack_when_handled([consumed_event(committing.app, RAW, 6)]):
        commit = asyncio.ensure_future(committing.commit())
        await asyncio.sleep(0.05)
        committing.calls.append("batch handled")
    await commit
    assert committing.calls == ["batch handled", {RAW: 6}]


async def test_a_rebalance_commits_the_acked_offsets_before_faust_forgets_them(
    committing, monkeypatch
):
    acked(committing, RAW, 5, 6, 7)

    async def faust_revocation(revoked: set[TP]) -> None:
        # Faust's own commit at revocation, in app._on_partitions_revoked, comes too late.
        committing.calls.append({tp: committing._new_offset(tp) for tp in revoked})

    monkeypatch.setattr(committing, "_on_partitions_revoked", faust_revocation)
    await committing.on_partitions_revoked({RAW})
    assert committing.calls == [{RAW: 8}, {RAW: None}]


def run_futures_on_this_loop(consumer: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    """The app was made outside the test's event loop: so would its consumer's futures be."""
    monkeypatch.setattr(consumer, "_loop", asyncio.get_running_loop())


async def test_a_commit_due_every_n_acked_messages_runs_while_the_fetcher_delivers_on(
    consumer, queue, monkeypatch
):
    commits_started = 0
    committed = asyncio.Event()

    async def commit(*args: Any, **kwargs: Any) -> bool:
        nonlocal commits_started
        commits_started += 1
        await committed.wait()  # the broker has not answered yet
        return True

    def ack_before_each_record(message: Any) -> bool:
        consumer._n_acked += 1
        return True

    monkeypatch.setattr(consumer, "commit", commit)
    run_futures_on_this_loop(consumer, monkeypatch)
    consumer._commit_every, consumer._n_acked = 1, 1  # a commit is due before the first record
    monkeypatch.setattr(
        Delivery, "route", lambda self, tp: SimpleNamespace(put=ack_before_each_record)
    )
    await drain(consumer, monkeypatch, {RAW: [record(RAW, offset) for offset in range(3)]})
    await asyncio.sleep(0)
    assert consumer._read_offset[RAW] == 2  # every record delivered; the commit still waits
    assert commits_started == 1  # due again at each record, but one was running
    committed.set()
    await asyncio.sleep(0)
    assert consumer._counted_commit.done()


async def test_a_commit_due_every_n_acked_messages_that_fails_crashes_the_consumer(
    consumer, queue, monkeypatch
):
    async def commit(*args: Any, **kwargs: Any) -> bool:
        raise RuntimeError("commit refused")

    monkeypatch.setattr(consumer, "commit", commit)
    run_futures_on_this_loop(consumer, monkeypatch)
    consumer._commit_every, consumer._n_acked = 1, 1
    await drain(consumer, monkeypatch, {RAW: [record(RAW, 0)]})
    await asyncio.sleep(0)
    assert isinstance(consumer.crash_reason, RuntimeError)
