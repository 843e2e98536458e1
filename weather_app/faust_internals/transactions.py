"""Exactly-once on Faust's aiokafka transport: which Kafka transaction a record belongs to.

With `processing_guarantee="exactly_once"` Faust 0.15.3 keeps one transactional producer per
input partition and commits the consumer offsets of that partition inside its transaction.
Three things break that for us (faust-streaming/faust#323):

* `TransactionManager.send` picks the transaction from the record's *destination* topic and
  partition. The leader's timer publishes raw readings outside any stream, yet they land in the
  open transaction of their raw partition. That transaction commits only together with offsets
  of the same partition, and the agent, reading `read_committed`, never sees the uncommitted
  readings: nothing is consumed, nothing committed, and after `transaction_timeout_ms` (60 s)
  the broker aborts the transaction and bumps the producer epoch, so every later send fails
  with ProducerFenced. The enriched and dead-letter topics, not being consumed, are unknown to
  the consumer's metadata, and their records go out without any transaction.
* The offsets are taken when a commit starts, while the agent goes on sending into the same
  transactions: records of events processed during the commit commit without their offsets.
* After a rebalance, recovery resumes the input partitions and then seeks them back to the
  committed offsets: events fetched in between are processed twice in one transaction.
* A rebalance revokes every partition, kept ones too, and Faust forgets their acked offsets
  before its commit at revocation: the events handled since the last commit are handled again
  after the seek, and where the worker keeps the partition both copies commit together.

Here a record sent for an event (`join_transaction_of` its input partition, or Faust's current
event) joins the transaction of that event's input partition, as in Kafka Streams; a changelog
record keeps Faust's mapping (the partition it is sent to is the source event's); any other
record (timers, web views) goes out on the non-transactional producer and is visible at once. A
commit waits for the batch in progress (`ack_when_handled`); a rebalance first commits what was
acked; input partitions resume only after the seek (these three in
`weather_app.faust_internals.transport`, for both guarantees).
"""

from collections.abc import AsyncIterator, Awaitable, Mapping, Sequence
from contextlib import asynccontextmanager
from contextvars import ContextVar
from typing import Any

from faust.streams import current_event
from faust.transport.consumer import TransactionManager
from faust.types import TP, EventT
from faust.types.tuples import RecordMetadata

from weather_app.faust_internals import transport
from weather_app.faust_internals.batches import acknowledge

# The input partition of the event whose records are being sent.
_source: ContextVar[TP | None] = ContextVar("weather_transaction_source", default=None)


@asynccontextmanager
async def ack_when_handled(events: Sequence[EventT[Any]]) -> AsyncIterator[None]:
    """Handle `events` whole between two commits, acknowledging them once handled.

    If handling raises (or is cancelled), the events are never acknowledged, so their offsets
    are never committed: whichever worker reads their partitions next handles them again.
    `join_transaction_of` holds until the block ends.
    """
    async with transport.between_batches:
        token = _source.set(None)
        try:
            yield
        finally:
            _source.reset(token)
        acknowledge(events)


def join_transaction_of(tp: TP) -> None:
    """Records this task sends from now on belong to the transaction of input partition `tp`,
    until the next call or the end of the batch (`ack_when_handled`).

    A call, not a block around each event, which cost the agent 0.9 µs a reading: the batch's
    end resets it.
    """
    _source.set(tp)


class SourcePartitionTransactionManager(TransactionManager):
    def _transactional_id(self, tp: TP) -> str:
        group = self.app.assignor.group_for_topic(tp.topic)
        return f"{self.app.conf.id}-{group}-{tp.partition}"

    def _source_tp(self, topic: str, partition: int | None) -> TP | None:
        if topic in self.app.tables.changelog_topics and partition is not None:
            return TP(topic, partition)
        if (source := _source.get()) is not None:
            return source
        if (event := current_event()) is not None:
            return event.message.tp
        return None

    async def send(
        self,
        topic: str,
        key: bytes | None,
        value: bytes | None,
        partition: int | None,
        timestamp: float | None,
        headers: Any,
        *,
        transactional_id: str | None = None,
    ) -> Awaitable[RecordMetadata]:
        source = self._source_tp(topic, partition)
        return await self.producer.send(
            topic,
            key,
            value,
            partition,
            timestamp,
            headers,
            transactional_id=None if source is None else self._transactional_id(source),
        )

    async def commit(self, offsets: Mapping[TP, int], start_new_transaction: bool = True) -> bool:
        # Changelog records wait in the producer buffer: into this transaction with them, before
        # it commits with the offsets (Faust flushes only when not in a transaction).
        await self.producer.buffer.flush()
        return await super().commit(offsets, start_new_transaction=start_new_transaction)


class Transport(transport.Transport):
    """The app's transport with the exactly-once fixes above."""

    TransactionManager = SourcePartitionTransactionManager
