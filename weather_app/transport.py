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
"""

from collections.abc import AsyncGenerator, AsyncIterator, Iterable, Mapping
from contextlib import aclosing
from types import MappingProxyType
from typing import Any, cast

import aiokafka
from faust.transport.consumer import RecordMap
from faust.transport.drivers import aiokafka as faust_aiokafka
from faust.types import TP, Message


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
        records = await super()._fetch_records(
            consumer, active_partitions, timeout=timeout, max_records=max_records
        )
        self.seeks_before_last_fetch = self.seeks_to_committed
        if records and not self.consumer.flow_active:
            # getmany will drop this batch: rewind so that it is fetched again. This runs on the
            # consumer thread right after the fetch, so no seek can have happened in between.
            for tp, batch in records.items():
                consumer.seek(tp, batch[0].offset)
            return {}
        return records


class Consumer(faust_aiokafka.Consumer):
    _read_offsets_after_seek: Mapping[TP, int | None] = MappingProxyType({})
    _held_back: set[TP] | None = None

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

    async def getmany(
        self,
        timeout: float,  # noqa: ASYNC109 (Faust's signature)
    ) -> AsyncIterator[tuple[TP, Message]]:
        thread = cast(ConsumerThread, self._thread)
        batch = cast(AsyncGenerator[tuple[TP, Message]], super().getmany(timeout))
        async with aclosing(batch) as records:
            async for tp, message in records:
                if thread.fetched_before_a_seek(tp):
                    # The seek moved the partition back to its committed offset: fetched again.
                    continue
                yield tp, message
                if thread.fetched_before_a_seek(tp) and tp in self._read_offsets_after_seek:
                    # The seek ran while this record was delivered, and the Fetcher has just
                    # marked it read over the read offset the seek set: put that back.
                    self._read_offset[tp] = self._read_offsets_after_seek[tp]


class Transport(faust_aiokafka.Transport):
    Consumer = Consumer
