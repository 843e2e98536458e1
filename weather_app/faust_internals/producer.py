"""The aiokafka producer, beside Faust's: giving up on what it has not written yet, the enrich
agent's records sent to it without Faust's per-record wrapper (`record_sender`), and Faust's
transactional producers kept alive through a broker's death (`FaustProducer`).

aiokafka 0.14's sender retries a coordinator lookup that finds no coordinator or no connection,
but not one whose connection the broker closed while it waited for the answer
(`Sender._find_coordinator` raises KafkaError for any other error): that ends the sender's task,
every later send and commit of that transactional producer fails, and the worker stopped when a
broker died as it looked up a transaction or group coordinator (`test_cluster.py`, once in 22
runs). `FaustProducer` makes them with a sender that retries any retriable error there.

aiokafka 0.14's idempotent producer never expires a batch: `SendProduceReqHandler._can_retry`
retries an expired one whenever a transaction manager exists, which idempotence creates. Its
`stop()` first waits for the accumulator to flush, so with the broker gone for good it waits for
ever. `abandon_unwritten` stops the sender, fails what it still held, then stops the producer.
"""

import asyncio
from collections.abc import Coroutine
from typing import Any, cast

from aiokafka import AIOKafkaProducer
from aiokafka.errors import KafkaError
from aiokafka.producer.sender import Sender
from aiokafka.record.default_records import DefaultRecordBatchBuilder
from aiokafka.structs import RecordMetadata, TopicPartition
from faust.exceptions import NotReady
from faust.transport.drivers.aiokafka import Producer as AiokafkaProducer
from faust.types import AppT

from weather_app.broker.outbox import Producer
from weather_app.faust_internals.cancellation import caller_cancelled


class _CoordinatorRetryingSender(Sender):
    async def _find_coordinator(self, coordinator_type: Any, coordinator_key: str) -> int:
        while True:
            try:
                return cast(int, await super()._find_coordinator(coordinator_type, coordinator_key))
            except KafkaError as error:
                if not getattr(error.__cause__, "retriable", False):
                    raise
            await self.client.force_metadata_update()
            await asyncio.sleep(self._retry_backoff)


class CoordinatorRetryingProducer(AIOKafkaProducer):
    """aiokafka's producer whose sender retries a coordinator lookup that failed on a retriable
    error (a connection the broker closed)."""

    def __init__(self, **configs: Any) -> None:
        super().__init__(**configs)
        # The sender is made inside aiokafka's __init__; only this method differs.
        self._sender.__class__ = _CoordinatorRetryingSender


class FaustProducer(AiokafkaProducer):
    """Faust's aiokafka producer, making its producers (the transactional ones under
    exactly_once) as `CoordinatorRetryingProducer`s."""

    @property
    def _producer_type(self) -> type[AIOKafkaProducer]:
        return CoordinatorRetryingProducer


async def abandon_unwritten(producer: AIOKafkaProducer, error: Exception, within: float) -> None:
    """Fail every record `producer` holds that the broker has not acknowledged, with `error`, and
    stop `producer`.

    The sender is stopped first: a send in flight puts its batches back in the queue when it
    fails (at once when the broker refuses connections; after a request timeout when it does not
    answer), and a batch failed before that would be put back failed. The sender gets `within`
    seconds for it; one still waiting then is cancelled again by `stop()`, which raises that
    cancellation. It is the sender's, not the caller's: taken for the caller's, it ended the
    replay command with exit code 0 and no word (mode's worker takes a cancellation for a stop).
    """
    sender_task = producer._sender.sender_task
    if sender_task is not None and not sender_task.done():
        sender_task.cancel()  # it waits for its sends in flight, then ends
        await asyncio.wait([sender_task], timeout=within)
    accumulator = producer._message_accumulator
    # A batch sent and queued again has left `_pending_batches`, yet the callback its first send
    # added removes it from there when it completes: without putting it back, failing it logs a
    # KeyError (`MessageAccumulator.fail_all` does not expect retries).
    queued = [batch for batches in accumulator._batches.values() for batch in batches]
    accumulator._pending_batches.update(batch for batch in queued if batch.retry_count)
    failed = list(accumulator._pending_batches) + queued
    accumulator.fail_all(error)
    accumulator._batches.clear()
    for batch in failed:  # nobody waits for a batch to drain here: no "never retrieved" logged
        if not batch._drain_waiter.cancelled():
            batch._drain_waiter.exception()
    try:
        await producer.stop()
    except asyncio.CancelledError:
        if caller_cancelled():
            raise
        await producer.client.close()


class KafkaRecordSender:
    """The aiokafka producer under Faust's, as the enrich agent's outbox sends to it.

    Faust's `Producer.send` adds to every record a signal nobody listens to, header and timestamp
    conversions the outbox does not need and a wrapper around aiokafka's errors (the outbox takes
    any error as a failed record). Without it, aiokafka's coroutine is handed on as it is.

    A record for a partition the producer's metadata holds goes straight to aiokafka's batches
    (`MessageAccumulator.add_message`), with the same size check: aiokafka's `send` would ask for
    the topic's metadata and copy its partitions into a new set twice (`partitions_for_topic`) to
    check what the metadata already says. Any other record takes aiokafka's `send`.
    """

    __slots__ = ("_cluster", "_direct", "_producer", "_timeout")

    def __init__(self, producer: AIOKafkaProducer) -> None:
        self._producer = producer
        self._cluster = producer.client.cluster
        # aiokafka's `send` serializes first (the agent's records are bytes already) and checks
        # that a transactional producer is in a transaction (under exactly once the agent sends
        # through Faust's transaction manager instead).
        transactions = producer._txn_manager
        self._direct = (
            producer._key_serializer is None
            and producer._value_serializer is None
            and (transactions is None or transactions.transactional_id is None)
        )
        self._timeout = producer._request_timeout_ms / 1000

    def send(
        self,
        topic: str,
        key: bytes | None,
        value: bytes | None,
        partition: int | None,
        timestamp: float | None,
        headers: Any,
    ) -> Coroutine[Any, Any, "asyncio.Future[RecordMetadata]"]:
        timestamp_ms = None if timestamp is None else int(timestamp * 1000)
        producer = self._producer
        record_headers = headers or []
        if (
            self._direct
            and partition in self._cluster._partitions.get(topic, ())
            and (key is not None or value is not None)  # else aiokafka's `send` refuses it
            and DefaultRecordBatchBuilder.estimate_size_in_bytes(key, value, record_headers)
            <= producer._max_request_size
        ):
            return cast(
                Coroutine[Any, Any, "asyncio.Future[RecordMetadata]"],
                producer._message_accumulator.add_message(
                    TopicPartition(topic, partition),
                    key,
                    value,
                    self._timeout,
                    timestamp_ms=timestamp_ms,
                    headers=record_headers,
                ),
            )
        sent = producer.send(
            topic, value, key=key, partition=partition, timestamp_ms=timestamp_ms, headers=headers
        )
        return cast(Coroutine[Any, Any, "asyncio.Future[RecordMetadata]"], sent)

    async def flush(self) -> None:
        await self._producer.flush()


def known_partitions(app: AppT, topic: str) -> int | None:
    """How many partitions `topic` has in the metadata of the app's (non-transactional) producer;
    None while that metadata does not hold it (before a first send to it, or once a refresh for
    the topics the producer sends to has left it out) or the producer is not running."""
    try:
        producer = cast(AiokafkaProducer, app.producer)._ensure_producer()
    except NotReady:
        return None
    partitions = producer.client.cluster.partitions_for_topic(topic)
    return None if partitions is None else len(partitions)


async def record_sender(app: AppT) -> Producer:
    """What the enrich agent sends its records to: under exactly_once Faust's transaction
    manager (each record joins its source partition's transaction), else aiokafka's producer."""
    producer = await app.maybe_start_producer()
    if app.in_transaction:
        return cast(Producer, producer)
    return KafkaRecordSender(cast(AiokafkaProducer, producer)._ensure_producer())
