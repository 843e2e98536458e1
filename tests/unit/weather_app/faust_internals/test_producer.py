"""What `abandon_unwritten` relies on in aiokafka, pinned: an idempotent producer retries an
expired batch for ever, so only failing its batches lets the accumulator flush (and `stop()` go
on); a send in flight puts its batches back in the queue, so the sender is stopped first."""

import asyncio
from collections.abc import AsyncIterator, Coroutine
from types import SimpleNamespace
from typing import Any, cast
from unittest.mock import AsyncMock

import faust
import pytest
from aiokafka import AIOKafkaProducer, TopicPartition
from aiokafka.errors import (
    GroupAuthorizationFailedError,
    KafkaConnectionError,
    KafkaError,
    KafkaTimeoutError,
    UnsupportedVersionError,
)
from aiokafka.producer.sender import CoordinationType, SendProduceReqHandler
from aiokafka.protocol.metadata import MetadataResponse_v0
from faust.transport.drivers.aiokafka import Producer as AiokafkaProducer
from faust.types import AppT

from weather_app.faust_internals import transport
from weather_app.faust_internals.producer import (
    CoordinatorRetryingProducer,
    KafkaRecordSender,
    abandon_unwritten,
    known_partitions,
    record_sender,
)

EXPIRED = SimpleNamespace(expired=lambda: True)
TP = TopicPartition("weather", 0)
GONE = KafkaTimeoutError("gone")


def idempotent_producer() -> AIOKafkaProducer:
    producer = AIOKafkaProducer(bootstrap_servers="127.0.0.1:9", enable_idempotence=True)
    producer._txn_manager.set_pid_and_epoch(1, 0)  # as the sender has it before a first send
    return producer


@pytest.fixture
async def loop_errors() -> AsyncIterator[list[dict[str, Any]]]:
    """What the event loop's exception handler is given (e.g. an exception in a callback)."""
    loop = asyncio.get_running_loop()
    errors: list[dict[str, Any]] = []
    loop.set_exception_handler(lambda _, context: errors.append(context))
    yield errors
    loop.set_exception_handler(None)


async def run_as_sender(producer: AIOKafkaProducer, routine: Coroutine[Any, Any, None]) -> None:
    """Run `routine` as `producer`'s sender, started (a task cancelled before it first runs
    never runs at all)."""
    producer._sender._sender_task = asyncio.ensure_future(routine)
    await asyncio.sleep(0)


async def test_an_idempotent_producer_retries_an_expired_batch_and_a_plain_one_does_not():
    idempotent = AIOKafkaProducer(bootstrap_servers="127.0.0.1:9", enable_idempotence=True)
    plain = AIOKafkaProducer(bootstrap_servers="127.0.0.1:9")
    lost = KafkaConnectionError()
    try:
        assert SendProduceReqHandler(idempotent._sender, {})._can_retry(lost, EXPIRED)
        assert not SendProduceReqHandler(plain._sender, {})._can_retry(lost, EXPIRED)
    finally:
        await idempotent.stop()
        await plain.stop()


async def test_failing_the_unwritten_records_ends_the_flush_that_stop_waits_for():
    producer = idempotent_producer()
    accumulator = producer._message_accumulator
    try:
        sent = await accumulator.add_message(TP, b"Paris", b"{}", 1)
        flush = asyncio.ensure_future(accumulator.flush())
        await asyncio.sleep(0.05)
        assert not flush.done()
        await abandon_unwritten(producer, GONE, 1)
        await asyncio.wait_for(flush, 1)
        with pytest.raises(KafkaTimeoutError):
            await sent
    finally:
        await producer.stop()


async def test_a_batch_queued_again_for_a_retry_fails_without_an_error_logged(loop_errors):
    producer = idempotent_producer()
    accumulator = producer._message_accumulator
    try:
        sent = await accumulator.add_message(TP, b"Paris", b"{}", 1)
        accumulator.reenqueue(accumulator._pop_batch(TP))  # sent once, not answered
        await abandon_unwritten(producer, GONE, 1)
        with pytest.raises(KafkaTimeoutError):
            await sent
        await asyncio.sleep(0)
        assert loop_errors == []
    finally:
        await producer.stop()


async def test_a_send_in_flight_puts_its_batch_back_before_it_is_failed(loop_errors):
    producer = idempotent_producer()
    accumulator = producer._message_accumulator
    sent = await accumulator.add_message(TP, b"Paris", b"{}", 1)
    in_flight = accumulator._pop_batch(TP)

    async def sender_routine() -> None:
        # As aiokafka's: cancelled, it waits for its sends in flight, which fail (the broker is
        # gone) and put their batches back in the queue after a backoff.
        try:
            await asyncio.Event().wait()
        except asyncio.CancelledError:
            await asyncio.sleep(0.05)
            accumulator.reenqueue(in_flight)

    await run_as_sender(producer, sender_routine())
    try:
        await abandon_unwritten(producer, GONE, 1)
        with pytest.raises(KafkaTimeoutError):
            await sent
        await asyncio.wait_for(accumulator.flush(), 1)
        await asyncio.sleep(0)
        assert loop_errors == []
        assert accumulator._batches == {}
    finally:
        await producer.stop()


async def slow_sender(producer: AIOKafkaProducer, in_flight_seconds: float) -> None:
    """A sender that, cancelled, waits `in_flight_seconds` for a send in flight, as aiokafka's
    does for one waiting on a broker that does not answer (up to the request timeout)."""

    async def sender_routine() -> None:
        try:
            await asyncio.Event().wait()
        except asyncio.CancelledError:
            await asyncio.sleep(in_flight_seconds)

    await run_as_sender(producer, sender_routine())


async def test_a_sender_that_outlasts_the_wait_is_stopped_without_raising_its_cancellation():
    # aiokafka's stop() cancels it again and raises that cancellation (CI: the replay exited 0).
    producer = idempotent_producer()
    await slow_sender(producer, 0.5)
    await abandon_unwritten(producer, GONE, 0.05)
    assert producer._sender.sender_task.done()
    await producer.stop()  # already stopped: returns at once


class RecordingKafkaProducer:
    def __init__(self) -> None:
        self.sent: list[tuple[Any, ...]] = []
        self.flushes = 0
        # What KafkaRecordSender reads of aiokafka's producer: no partition known.
        self.client = SimpleNamespace(cluster=SimpleNamespace(_partitions={}))
        self._key_serializer = self._value_serializer = self._txn_manager = None
        self._request_timeout_ms = 40_000

    async def send(
        self, topic, value=None, key=None, partition=None, timestamp_ms=None, headers=None
    ):
        self.sent.append((topic, value, key, partition, timestamp_ms, headers))
        return "delivery"

    async def flush(self) -> None:
        self.flushes += 1


async def test_the_agent_s_records_go_to_aiokafka_as_faust_would_send_them():
    kafka = RecordingKafkaProducer()
    sender = KafkaRecordSender(cast(AIOKafkaProducer, kafka))
    headers = [("stale_after_seconds", b"20.0")]
    deliveries: list[object] = [
        await sender.send("v2", b'"Paris"', b"{}", 3, 1.5, headers),
        await sender.send("v2", None, b"{}", None, None, None),
    ]
    assert deliveries == ["delivery", "delivery"]
    await sender.flush()
    assert kafka.sent == [
        ("v2", b"{}", b'"Paris"', 3, 1500, headers),
        ("v2", b"{}", None, None, None, None),
    ]
    assert kafka.flushes == 1


def producer_knowing(topic: str, partitions: int, **configs: Any) -> AIOKafkaProducer:
    producer = AIOKafkaProducer(bootstrap_servers="127.0.0.1:9", **configs)
    producer.client.cluster.update_metadata(
        MetadataResponse_v0(
            brokers=[(1, "127.0.0.1", 9)],
            topics=[(0, topic, [(0, partition, 1, [1], [1]) for partition in range(partitions)])],
        )
    )
    return producer


def batches_of(producer: AIOKafkaProducer) -> dict[TopicPartition, list[bytes]]:
    """The bytes of each batch the producer holds, by partition."""
    batches = producer._message_accumulator._batches
    return {tp: [bytes(batch.get_data_buffer()) for batch in held] for tp, held in batches.items()}


async def test_a_record_for_a_known_partition_is_batched_as_aiokafka_s_send_batches_it():
    ours, aiokafka_s = producer_knowing("v2", 6), producer_knowing("v2", 6)
    headers = [("stale_after_seconds", b"20.0")]
    try:
        sender = KafkaRecordSender(ours)
        ours.send = not_called
        sent = await sender.send("v2", b'"Paris"', b"{}", 3, 1.5, headers)
        await aiokafka_s.send(
            "v2", b"{}", key=b'"Paris"', partition=3, timestamp_ms=1500, headers=headers
        )
        assert not sent.done()  # the broker's answer resolves it
        assert batches_of(ours) == batches_of(aiokafka_s)
        assert list(batches_of(ours)) == [TopicPartition("v2", 3)]
    finally:
        await ours.stop()
        await aiokafka_s.stop()


async def not_called(*args: Any, **kwargs: Any) -> None:
    raise AssertionError("the record went through aiokafka's send")


@pytest.mark.parametrize(
    ("topic", "partition", "value", "configs"),
    [
        ("v2", None, b"{}", {}),  # the partitioner picks it
        ("v2", 6, b"{}", {}),  # not in the metadata: aiokafka's send says so
        ("raw", 0, b"{}", {}),  # a topic the metadata does not hold: aiokafka's send asks for it
        ("v2", 0, b"x" * 2_000, {}),  # over max_request_size: aiokafka's send refuses it
        ("v2", 0, b"{}", {"value_serializer": bytes}),  # aiokafka's send serializes it
        ("v2", 0, None, {}),  # without a key either: aiokafka's send refuses it
        ("v2", 0, b"{}", {"transactional_id": "t"}),  # aiokafka's send checks the transaction
    ],
)
async def test_any_other_record_takes_aiokafka_s_send(topic, partition, value, configs):
    producer = producer_knowing("v2", 6, max_request_size=1_000, **configs)
    key = None if value is None else b'"Paris"'
    taken: list[tuple[Any, ...]] = []

    async def send(*record: Any, **fields: Any) -> str:
        taken.append(record)
        return "delivery"

    try:
        sender = KafkaRecordSender(producer)
        producer.send = send
        delivery: object = await sender.send(topic, key, value, partition, None, None)
        assert delivery == "delivery"
        assert (taken, batches_of(producer)) == ([(topic, value)], {})
    finally:
        await producer.stop()


@pytest.mark.parametrize("in_transaction", [False, True])
async def test_only_exactly_once_sends_through_faust_s_producer(in_transaction: bool):
    kafka = RecordingKafkaProducer()
    faust_producer = SimpleNamespace(_ensure_producer=lambda: kafka)
    app = SimpleNamespace(
        in_transaction=in_transaction, maybe_start_producer=AsyncMock(return_value=faust_producer)
    )
    sender = await record_sender(cast(AppT, app))
    if in_transaction:  # Faust's transaction manager: each record joins its transaction
        assert sender is faust_producer
    else:
        assert isinstance(sender, KafkaRecordSender)
        await sender.send("v2", None, b"{}", None, None, None)
        assert kafka.sent == [("v2", b"{}", None, None, None, None)]


async def test_a_topics_partitions_are_known_once_the_producer_has_its_metadata():
    kafka = AIOKafkaProducer(bootstrap_servers="127.0.0.1:9")
    app = cast(AppT, SimpleNamespace(producer=SimpleNamespace(_ensure_producer=lambda: kafka)))
    assert known_partitions(app, "v2") is None
    partitions = [(0, partition, 1, [1], [1]) for partition in range(12)]
    kafka.client.cluster.update_metadata(
        MetadataResponse_v0(brokers=[(1, "127.0.0.1", 9)], topics=[(0, "v2", partitions)])
    )
    assert known_partitions(app, "v2") == 12
    assert known_partitions(app, "raw") is None
    await kafka.stop()


def test_no_topic_s_partitions_are_known_while_the_producer_is_not_running():
    faust_producer = faust.App("t", broker="kafka://127.0.0.1:9").producer
    assert known_partitions(cast(AppT, SimpleNamespace(producer=faust_producer)), "v2") is None


def test_faust_s_producer_still_hands_out_its_aiokafka_producer():
    assert callable(AiokafkaProducer._ensure_producer)


async def test_a_caller_cancelled_while_the_producer_stops_is_cancelled():
    producer = idempotent_producer()

    async def sender_routine() -> None:  # outlasts the cancellations of abandon and of stop()
        try:
            await asyncio.Event().wait()
        except asyncio.CancelledError:
            try:
                await asyncio.sleep(0.5)
            except asyncio.CancelledError:
                await asyncio.sleep(0.5)

    await run_as_sender(producer, sender_routine())
    abandoning = asyncio.ensure_future(abandon_unwritten(producer, GONE, 0.05))
    await asyncio.sleep(0.2)  # in stop(), waiting for the sender
    abandoning.cancel()
    with pytest.raises(asyncio.CancelledError):
        await abandoning


class CoordinatorLookups:
    """A client whose coordinator lookups fail with `errors` in turn, then find node 2."""

    def __init__(self, *errors: Exception) -> None:
        self.errors = list(errors)
        self.lookups = 0

    async def coordinator_lookup(self, coordinator_type: Any, key: str) -> int:
        self.lookups += 1
        if self.errors:
            raise self.errors.pop(0)
        return 2

    async def ready(self, node_id: int, group: Any = None) -> bool:
        return True

    def force_metadata_update(self) -> "asyncio.Future[bool]":
        updated = asyncio.get_running_loop().create_future()
        updated.set_result(True)
        return updated


def closed_while_waiting() -> KafkaConnectionError:
    return KafkaConnectionError("Connection at 127.0.0.1:9 closed")


async def find_coordinator(producer: AIOKafkaProducer, client: CoordinatorLookups) -> int:
    producer._sender.client = client
    return cast(int, await producer._sender._find_coordinator(CoordinationType.GROUP, "group"))


async def test_aiokafka_gives_up_a_coordinator_lookup_whose_connection_the_broker_closed():
    # Its sender's task ends with this error, and the transactional producer with it. The day
    # aiokafka retries it, CoordinatorRetryingProducer can go.
    producer = AIOKafkaProducer(bootstrap_servers="127.0.0.1:9", transactional_id="t")
    with pytest.raises(KafkaError) as raised:
        await find_coordinator(producer, CoordinatorLookups(closed_while_waiting()))
    assert isinstance(raised.value.__cause__, KafkaConnectionError)
    await producer.stop()


async def test_a_coordinator_lookup_whose_connection_the_broker_closed_is_tried_again():
    producer = CoordinatorRetryingProducer(
        bootstrap_servers="127.0.0.1:9", transactional_id="t", retry_backoff_ms=1
    )
    client = CoordinatorLookups(closed_while_waiting(), closed_while_waiting())
    assert await find_coordinator(producer, client) == 2
    assert client.lookups == 3
    await producer.stop()


@pytest.mark.parametrize(
    ("error", "raised"),
    # aiokafka raises the second as it is: its transaction code tells it apart.
    [
        (UnsupportedVersionError(), KafkaError),
        (GroupAuthorizationFailedError(), GroupAuthorizationFailedError),
    ],
    ids=["unsupported version", "group not authorized"],
)
async def test_a_coordinator_lookup_that_cannot_succeed_still_fails(error, raised):
    producer = CoordinatorRetryingProducer(
        bootstrap_servers="127.0.0.1:9", transactional_id="t", retry_backoff_ms=1
    )
    client = CoordinatorLookups(error)
    with pytest.raises(raised):
        await find_coordinator(producer, client)
    assert client.lookups == 1
    await producer.stop()


async def test_the_app_s_transport_makes_faust_s_producers_retry_coordinator_lookups():
    app = faust.App("t", broker="kafka://127.0.0.1:9", processing_guarantee="exactly_once")
    producer = transport.Transport(app.conf.broker_consumer, app).create_producer()
    made = cast(AiokafkaProducer, producer)._new_producer(transactional_id="t-1-0")
    assert isinstance(made, CoordinatorRetryingProducer)
    client = CoordinatorLookups(closed_while_waiting())
    assert await find_coordinator(made, client) == 2
    await made.stop()
