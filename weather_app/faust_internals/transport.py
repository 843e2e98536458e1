"""The Kafka transport the app runs on: Faust's aiokafka driver, with its rebalance races fixed.

A table recovery hang: after a rebalance Faust stops the flow of records, seeks each changelog
partition to where table recovery starts, then resumes the flow. A fetch that Faust's Fetcher
started before the rebalance can still be waiting in the consumer thread during that seek (it
waits up to 1 s and, with every partition paused, takes records of any partition). When it comes
back with changelog records before the flow resumes, Faust's `Consumer.getmany` drops the batch
and seeks back to the committed offsets instead, but changelog partitions have no committed
offsets: the records are never fetched again and recovery waits forever ("No event received for
active tp ...").

Readings skipped after a rebalance: when recovery ends, Faust seeks the input partitions to their
committed offsets and resets its read offsets to match (`perform_seek`), while the Fetcher may
still be delivering a batch fetched before that seek. The next record of that batch is then ahead
of the read offset; Faust takes the difference for a gap in the topic (as transaction markers
make) and commits over it. The records in between were delivered before the seek but not
processed (they were queued while the flow was stopped), and are never read again. The benchmark
showed it as contiguous runs of raw readings missing from the output, from one record to a whole
fetch (~2,000 per partition).

Readings processed twice after a rebalance: recovery resumes the input partitions before that
seek, so what they delivered in between was processed again after it. They are held until the
seek.

Recovery that never ends, or ends in a ConsistencyError, once a changelog was written in Kafka
transactions (exactly_once): Faust's recovery waits for the record at the partition's end offset
minus one. A transaction's commit marker takes an offset that no consumer is ever given, so after
exactly_once the last record sits at end - 2 (further back after aborted transactions, which a
read_committed consumer skips) and a worker waits for a record that never comes. And under
exactly_once Faust takes the end offset from the consumer's last fetch, which a partition just
assigned has not had: -1, so recovery reads nothing, or, for a partition this worker recovered
before, stops on "persisted offset ... higher than ... highwater (2120 > -1)". Here the end is
asked of the broker and is one past the last record recovery will be given.

A fetch stall after every start and rebalance: once recovery has read the tables' changelog
partitions Faust pauses them in its own bookkeeping only, and aiokafka went on fetching them. The
records the agent's first table writes put there were fetched and never taken, kept for as long
as the assignment lasted, and for aiokafka's prefetch backoff (100 ms) no fetch went to their
broker at all. Here they are paused in aiokafka too while Faust does not ask for them.

Both guarantees: a commit takes what it covers between two of the agent's batches
(`between_batches`), first runs what the agent asked to run before each commit (its tables'
writes, weather_app.faust_internals.tables.TableWrites; under at_least_once while the next
batches run, `run_before_each_commit`), and a rebalance first commits what was acked:
Faust forgets the acked offsets of every partition at revocation, before its own commit there,
so the events handled since the last commit would be handled again (under exactly_once into the
open transaction of a partition the worker keeps, where both copies would commit).
"""

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Iterable, Mapping
from types import MappingProxyType
from typing import Any, cast

import aiokafka
from faust.tables.manager import TableManager
from faust.transport.consumer import CONSUMER_FETCHING, RecordMap
from faust.transport.drivers import aiokafka as faust_aiokafka
from faust.types import TP
from mode import Service, ServiceT

from weather_app.faust_internals.delivery import Delivery
from weather_app.faust_internals.producer import FaustProducer

logger = logging.getLogger(__name__)

# How far back from a changelog's end the search for its last record starts, and by how much
# the window grows each time it holds none (a run of markers or aborted transactions).
TAIL_WINDOW = 64
TAIL_WINDOW_GROWTH = 16
# A table recovery still running after this long is named in a warning, again at this interval.
# Recovering the app's changelogs takes a few seconds.
RECOVERY_REPORT_SECONDS = 10.0
# How long the broker may hold a fetch, and how many new bytes answer it sooner. The consumer has
# one fetch in flight per broker, for the partitions that have no fetched records waiting: while
# it is held (Faust asks for 1,500 ms), partitions whose records run out are not fetched, and a
# worker draining a backlog stalled for up to that long every few thousand records. With Faust's
# 1 byte the broker answered each reading as it came: at 1,000 readings/s a fetch, a hand-off
# from the consumer thread and an agent batch every 1-2 readings, 0.8 of a core for the worker
# and 0.45 for the broker; 16 KiB (about 50 readings) or 10 ms took 0.38 and 0.28, p99 +2-8 ms,
# and an idle worker 0.07 of a core instead of 0.04 (docs/benchmark-notes.md, fourteenth
# session). aiokafka's consumer hands both to its Fetcher when it starts.
FETCH_MAX_WAIT_MS = 10
FETCH_MIN_BYTES = 16 * 1024
# While the queues hold back some partitions (Faust's backpressure), a fetch asks only for the
# others and returns when records arrive for them, or after this long; the ones held back
# resume in the meantime and wait for it. Otherwise a fetch waits up to 1 s.
FETCH_TIMEOUT_SECONDS = 1.0
FETCH_TIMEOUT_WHILE_HELD_BACK_SECONDS = 0.05
# The Fetcher lets other tasks run after this many messages (as Faust's does).
YIELD_EVERY = 100

# Held by the agent for one batch (weather_app.faust_internals.transactions.ack_when_handled), by
# the consumer while it takes what a commit covers: a commit sees each batch whole or not at all.
between_batches = asyncio.Lock()

BeforeCommit = Callable[[], Awaitable[None]]


def run_before_each_commit(app: Any, callback: BeforeCommit) -> None:
    """Call `callback` at the start of each of `app`'s commits, with no batch in progress, and
    await what it returns before committing; it replaces any callback set before.

    The commit covers the offsets acknowledged when `callback` was called. Under at_least_once
    the agent's batches run on while its awaitable and the commit do (a commit pauses the stream
    only for the call); under exactly_once the whole commit is between two batches, whose records
    belong to the transactions it commits.
    """
    consumer = app.consumer
    if not isinstance(consumer, Consumer):
        raise TypeError(f"{type(consumer).__name__} is not weather_app's consumer")
    consumer.before_commit = callback


async def end_of_records(
    last_record_in: Callable[[int, int], Awaitable[int | None]], first: int, end: int
) -> int:
    """One past the last record among offsets [first, end), `first` when there is none.

    `last_record_in(start, stop)` returns the offset of the last record a consumer is given
    among [start, stop), or None. Reads back from `end` in widening windows.
    """
    window, stop = TAIL_WINDOW, end
    while stop > first:
        start = max(first, stop - window)
        last = await last_record_in(start, stop)
        if last is not None:
            return last + 1
        stop, window = start, window * TAIL_WINDOW_GROWTH
    return first


async def last_record_in(
    reader: aiokafka.AIOKafkaConsumer, tp: TP, start: int, stop: int, deadline: float
) -> int | None:
    """The offset of the last record `reader` is given among `tp`'s offsets [start, stop)."""
    partition = aiokafka.TopicPartition(tp.topic, tp.partition)
    reader.seek(partition, start)
    last = None
    while await reader.position(partition) < stop:
        if time.monotonic() > deadline:
            raise TimeoutError(f"reading {tp.topic}[{tp.partition}] up to offset {stop}")
        batch = await reader.getmany(partition, timeout_ms=500)
        for record in batch.get(partition, ()):
            if record.offset < stop:
                last = record.offset
    return last


async def ends_of_records(
    reader: aiokafka.AIOKafkaConsumer, partitions: list[TP], deadline: float
) -> dict[TP, int]:
    """For each partition, one past the last record `reader` is given (see `end_of_records`)."""
    kafka_tps = [aiokafka.TopicPartition(tp.topic, tp.partition) for tp in partitions]
    reader.assign(kafka_tps)
    firsts = await reader.beginning_offsets(kafka_tps)
    # Under read_committed the broker answers the last stable offset.
    ends = await reader.end_offsets(kafka_tps)
    result = {}
    for tp, kafka_tp in zip(partitions, kafka_tps, strict=True):

        async def last_record_of_tp(start: int, stop: int, tp: TP = tp) -> int | None:
            return await last_record_in(reader, tp, start, stop, deadline)

        result[tp] = await end_of_records(last_record_of_tp, firsts[kafka_tp], ends[kafka_tp])
    return result


class ConsumerThread(faust_aiokafka.AIOKafkaConsumerThread):
    # Kept on the consumer thread, where seeks and fetches run one at a time: how many seeks to
    # committed offsets have run, which of them last moved each partition, and how many had run
    # when the last fetch returned.
    seeks_to_committed = 0
    last_seek_of: dict[TP, int]
    seeks_before_last_fetch = 0

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.last_seek_of = {}

    def _create_worker_consumer(
        self, transport: faust_aiokafka.Transport
    ) -> aiokafka.AIOKafkaConsumer:
        consumer = super()._create_worker_consumer(transport)
        consumer._fetch_max_wait_ms = FETCH_MAX_WAIT_MS
        consumer._fetch_min_bytes = FETCH_MIN_BYTES
        return consumer

    async def seek_to_committed(self) -> Mapping[TP, int]:
        committed: Mapping[TP, int] = await self.call_thread(self._seek_to_committed)
        return committed

    async def _seek_to_committed(self) -> Mapping[TP, int]:
        # aiokafka's own seek_to_committed awaits between the partitions' seeks, so a fetch could
        # return some partitions from before the seek and some from after it. Here every position
        # moves at once: a fetch is wholly before the seek (and fetched again) or wholly after.
        consumer = self._ensure_consumer()
        committed = {tp: await consumer.committed(tp) for tp in consumer.assignment()}
        self.seeks_to_committed += 1
        for tp, offset in committed.items():
            if offset is not None and offset > 0:  # as aiokafka: else the position stays
                consumer.seek(tp, offset)
                self.last_seek_of[tp] = self.seeks_to_committed
        return committed

    async def _highwaters(self, partitions: list[TP]) -> Mapping[TP, int]:
        # Faust's recovery reads these as "end offset", waiting for the record at end - 1.
        consumer = self._ensure_consumer()
        conf = self.app.conf
        transport = cast(faust_aiokafka.Transport, self.transport)
        reader = aiokafka.AIOKafkaConsumer(
            bootstrap_servers=faust_aiokafka.server_list(transport.url, transport.default_port),
            client_id=conf.broker_client_id,
            group_id=None,
            enable_auto_commit=False,
            isolation_level=consumer._isolation_level,  # what recovery itself will be given
            request_timeout_ms=int(conf.broker_request_timeout * 1000),
            **faust_aiokafka.credentials_to_aiokafka_auth(
                conf.broker_credentials, conf.ssl_context
            ),
        )
        deadline = time.monotonic() + conf.broker_request_timeout
        await reader.start()
        try:
            return await ends_of_records(reader, partitions, deadline)
        finally:
            await reader.stop()

    def _pause_changelogs_not_asked_for(
        self, consumer: aiokafka.AIOKafkaConsumer, wanted: set[TP]
    ) -> None:
        # The changelog partitions of the module's docstring: paused in aiokafka while Faust does
        # not ask for them, resumed when it does again (recovery after a rebalance). Input
        # partitions are left alone (their records are sought back when not taken).
        # Taken from aiokafka's own sets: `pause` and `resume` accept only its TopicPartitions,
        # and a set operation with Faust's TPs (equal tuples) may keep Faust's instead.
        changelogs = {tp for tp in consumer.assignment() if self.consumer._is_changelog_tp(tp)}
        paused = consumer.paused()
        to_pause = {tp for tp in changelogs - paused if tp not in wanted}
        to_resume = {tp for tp in changelogs & paused if tp in wanted}
        if to_pause:
            consumer.pause(*to_pause)
        if to_resume:
            consumer.resume(*to_resume)

    def fetched_before_a_seek(self, tp: TP) -> bool:
        """Whether a seek to committed offsets moved `tp` after the last fetch returned."""
        return self.last_seek_of.get(tp, 0) > self.seeks_before_last_fetch

    async def _fetch_records(
        self,
        consumer: aiokafka.AIOKafkaConsumer,
        active_partitions: set[TP],
        timeout: float | None = None,  # noqa: ASYNC109 (Faust's signature)
        max_records: int | None = None,
    ) -> RecordMap:
        # Faust passes its live set of active partitions, which the event loop changes while
        # the fetch waits: when recovery ends it pauses the changelogs while the input partitions
        # are still held, and aiokafka takes an empty set for "every partition". The records of
        # the held inputs then came back, Faust dropped them as inactive, and with no committed
        # offset to seek back to they were never read (a restarted worker skipped the readings
        # that arrived during its recovery). The fetch gets a copy; what it returns for a
        # partition no longer active is fetched again.
        wanted = set(active_partitions)
        if not wanted:
            return {}
        self._pause_changelogs_not_asked_for(consumer, wanted)
        records = await super()._fetch_records(
            consumer, wanted, timeout=timeout, max_records=max_records
        )
        self.seeks_before_last_fetch = self.seeks_to_committed
        # The Fetcher drops a batch fetched while the flow is stopped (Consumer._deliver_fetch),
        # and the records of inactive partitions: rewind them so that they are fetched again.
        # This runs on the consumer thread right after the fetch, so no seek can have happened
        # in between.
        delivered = {}
        for tp, batch in records.items():
            if self.consumer.flow_active and tp in active_partitions:
                delivered[tp] = batch
            else:
                consumer.seek(tp, batch[0].offset)
        return delivered


class Consumer(faust_aiokafka.Consumer):
    _delivery: Delivery | None = None
    _read_offsets_after_seek: Mapping[TP, int | None] = MappingProxyType({})
    _held_back: set[TP] | None = None
    _recovering_since: float | None = None
    _since_yield = 0
    _next_recovery_report = 0.0
    before_commit: BeforeCommit | None = None
    _one_commit_at_a_time: asyncio.Lock | None = None
    _offsets_taken: dict[TP, int] | None = None
    _counted_commit: "asyncio.Future[Any] | None" = None

    async def commit(self, topics: Any = None, start_new_transaction: bool = True) -> bool:
        if self.in_transaction:
            async with between_batches:
                if self.before_commit is not None:
                    await self.before_commit()
                return await super().commit(topics, start_new_transaction=start_new_transaction)
        if self._one_commit_at_a_time is None:
            self._one_commit_at_a_time = asyncio.Lock()
        async with self._one_commit_at_a_time:
            async with between_batches:
                # Faust's own reckoning, which takes the acknowledged offsets off its lists.
                offsets = super()._filter_committable_offsets(
                    self._filter_tps_with_pending_acks(topics)
                )
                written = None if self.before_commit is None else self.before_commit()
            if written is not None:
                await written
            self._offsets_taken = offsets
            try:
                return await super().commit(topics, start_new_transaction=start_new_transaction)
            finally:
                self._offsets_taken = None

    def _filter_committable_offsets(self, tps: Iterable[TP]) -> dict[TP, int]:
        # Faust takes the offsets to commit once the commit starts; under at_least_once a commit
        # covers the readings acknowledged when it was asked for (`commit` took their offsets).
        if self._offsets_taken is None:
            offsets: dict[TP, int] = super()._filter_committable_offsets(tps)
            return offsets
        committing = set(tps)
        return {tp: offset for tp, offset in self._offsets_taken.items() if tp in committing}

    async def on_partitions_revoked(self, revoked: set[TP]) -> None:
        await self.commit()
        await super().on_partitions_revoked(revoked)

    @Service.timer(1.0)
    async def _watch_recovery(self) -> None:
        self.report_slow_recovery(time.monotonic())

    def report_slow_recovery(self, now: float) -> None:
        """Warn, naming partitions and offsets, while table recovery takes too long.

        Faust says it at INFO level or without the offsets, and a worker in recovery processes
        nothing.
        """
        recovery = cast(TableManager, self.app.tables).recovery
        if not recovery.in_recovery:
            self._recovering_since = None
            return
        if self._recovering_since is None:
            self._recovering_since = now
            self._next_recovery_report = now + RECOVERY_REPORT_SECONDS
        remaining = recovery.active_stats()
        if now < self._next_recovery_report or not remaining:
            return
        self._next_recovery_report = now + RECOVERY_REPORT_SECONDS
        logger.warning(
            "Table recovery has waited %.0fs, processing nothing, for changelog partitions: %s",
            now - self._recovering_since,
            ", ".join(
                f"{tp.topic}[{tp.partition}] at offset {stats.offset}, "
                f"waiting for offset {stats.highwater}"
                for tp, stats in sorted(remaining.items())
            ),
        )

    def _commit_in_background(self) -> None:
        """Commit, as `broker_commit_every` acknowledged messages ask, while records go on being
        delivered; none if the one started before is still running (the count starts again).

        Faust's Fetcher awaits this commit, delivering nothing until the batch in progress ends,
        the tables' entries are in their changelogs, Faust's producer is flushed and the broker
        has the offsets (or until the commit in progress ends, after which it returns without
        committing): at 5,000 readings/s, a pause every 2 s, which a worker near its capacity
        takes long to catch up on (docs/benchmark-notes.md). The timer's commits already run
        beside the Fetcher in a task of their own.
        """
        if self._counted_commit is None or self._counted_commit.done():
            # A future of this service's: one that raises crashes the consumer (as a failed
            # commit of the timer's task does); `on_stop`'s commit waits for one in progress.
            self._counted_commit = self.add_future(self.commit())

    def _new_consumer_thread(self) -> faust_aiokafka.AIOKafkaConsumerThread:
        return ConsumerThread(self, loop=self.loop, beacon=self.beacon)

    def resume_partitions(self, tps: Iterable[TP]) -> None:
        # Recovery resumes the input partitions, then seeks them to their committed offsets: what
        # they delivered in between would be processed twice. Hold them until the seek.
        tps = set(tps)
        inputs = {tp for tp in tps if not self._is_changelog_tp(tp)}
        if inputs:
            self._held_back = (self._held_back or set()) | inputs
        super().resume_partitions(tps - inputs)

    async def perform_seek(self) -> None:
        self._read_offsets_after_seek = {}
        await super().perform_seek()
        self._read_offsets_after_seek = dict(self._read_offset)
        held, self._held_back = self._held_back or set(), None
        if held:
            super().resume_partitions(held & self.assignment())

    async def _drain_messages(self, fetcher: ServiceT) -> None:
        # Faust's Fetcher loop and its `Consumer.getmany` (faust/transport/consumer.py, 0.15.3),
        # with a fetch's records handed over a partition's run at a time, each message to its
        # queues at once where nothing has to wait (weather_app.faust_internals.delivery), instead
        # of through three nested iterators and `wait_first(callback(message), ...)` per message.
        delivery = self._delivery = self._delivery or Delivery(self.app)
        consumer_should_stop = cast(Service, self)._stopped.is_set
        fetcher_should_stop = cast(Service, fetcher)._stopped.is_set
        try:
            while not (consumer_should_stop() or fetcher_should_stop()):
                self.diag.set_flag(CONSUMER_FETCHING)
                timeout = (
                    FETCH_TIMEOUT_WHILE_HELD_BACK_SECONDS
                    if self._buffered_partitions
                    else FETCH_TIMEOUT_SECONDS
                )
                await self.sleep(0)
                if not self.should_stop:
                    records, active_partitions = await self._wait_next_records(timeout)
                    if records is not None and not self.should_stop:
                        await self._deliver_fetch(records, active_partitions, delivery)
                self.diag.unset_flag(CONSUMER_FETCHING)
        except self.consumer_stopped_errors:
            if self.transport.app.should_stop:
                return
            raise
        except asyncio.CancelledError:
            if self.transport.app.should_stop:
                return
            raise
        except Exception as error:
            logger.exception("Drain messages raised: %r", error)
            raise
        finally:
            self.diag.unset_flag(CONSUMER_FETCHING)

    async def _deliver_fetch(
        self, records: RecordMap, active_partitions: set[TP] | None, delivery: Delivery
    ) -> None:
        if not self.flow_active:
            # As Faust's getmany: the flow stopped while the fetch waited.
            try:
                await self.perform_seek()
            except Exception as error:
                logger.warning("exception performing seek when flow not active %r", error)
            return
        generation = self.app.consumer_generation_id
        for tp, fetched in records.items():
            if not self._flowing_in(generation):
                return
            if self._active(tp, active_partitions):
                self.app.monitor.track_tp_end_offset(tp, self.highwater(tp))
                await self._deliver_run(tp, fetched, generation, active_partitions, delivery)

    def _flowing_in(self, generation: int) -> bool:
        """Whether records fetched in consumer generation `generation` may still be delivered."""
        return self.flow_active and self.app.consumer_generation_id == generation

    def _active(self, tp: TP, active_partitions: set[TP] | None) -> bool:
        # `active_partitions` is Faust's live set, which recovery changes while the Fetcher awaits.
        return (
            active_partitions is None or tp in active_partitions or tp in self._buffered_partitions
        )

    def _still_delivering(self, tp: TP, generation: int, active_partitions: set[TP] | None) -> bool:
        """After an await: whether the rest of `tp`'s fetched records may still be delivered."""
        return (
            self._flowing_in(generation)
            and self._active(tp, active_partitions)
            and not cast(ConsumerThread, self._thread).fetched_before_a_seek(tp)
        )

    async def _deliver_run(
        self,
        tp: TP,
        fetched: list[Any],
        generation: int,
        active_partitions: set[TP] | None,
        delivery: Delivery,
    ) -> None:
        """Deliver one partition's records of a fetch, in order.

        A Route found for the partition stays valid until something is awaited (a gap noted, a
        commit, a turn given to the other tasks, Faust's own path): then the flow, the
        generation, the active partitions, the seeks and the route are looked at again.
        """
        thread = cast(ConsumerThread, self._thread)
        read_offset = self._read_offset
        acks_enabled = self.app.topics.acks_enabled_for(tp.topic)
        to_message = self._to_message
        route = delivery.route(tp)
        for record in fetched:
            if thread.fetched_before_a_seek(tp):
                # The seek moved the partition back to its committed offset: fetched again.
                return
            # Counted over fetches and for every record, as Faust's Fetcher does.
            self._since_yield += 1
            if self._since_yield > YIELD_EVERY:
                self._since_yield = 0
                await asyncio.sleep(0)
                # Before the read offset is read: a seek during the turn would make this record
                # look like a gap (as it does in Faust's Fetcher, which reads it after its turn).
                if not self._still_delivering(tp, generation, active_partitions):
                    return
                route = delivery.route(tp)
            offset = record.offset
            last_read = read_offset[tp]
            if last_read is not None and offset < last_read:
                continue  # delivered before
            awaited = False
            if last_read and offset - last_read > 1 and acks_enabled:
                await self._add_gap(tp, last_read + 1, offset)
                awaited = True
            if self._commit_every is not None and self._n_acked >= self._commit_every:
                self._n_acked = 0
                self._commit_in_background()
            if awaited:
                if not self._still_delivering(tp, generation, active_partitions):
                    return
                route = delivery.route(tp)
            message = to_message(tp, record)
            if route is not None and route.put(message):
                read_offset[tp] = offset
                continue
            await self.wait_first(self.callback(message), self.suspend_flow.wait())
            read_offset[tp] = offset
            if thread.fetched_before_a_seek(tp) and tp in self._read_offsets_after_seek:
                # The seek ran while this record was delivered, and it has just been marked read
                # over the read offset the seek set: put that back.
                read_offset[tp] = self._read_offsets_after_seek[tp]
            if not self._still_delivering(tp, generation, active_partitions):
                return
            route = delivery.route(tp)


class Transport(faust_aiokafka.Transport):
    Consumer = Consumer
    Producer = FaustProducer
