"""Re-read the raw topic from a point in time or an offset, re-enrich, re-publish.

A plain consumer with no group: the live workers' group and offsets are not touched. Each
partition is read from a little before the window so every city's forecast history is rebuilt
as the first pass had it; only the readings inside the window are published again, and because
enrichment is deterministic given that history they come out identical, so downstream points
(keyed by city and observation time) are overwritten, not duplicated.
"""

import asyncio
from collections.abc import Callable, Collection
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, ConsumerRecord, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.errors import KafkaError, KafkaTimeoutError

from models import Sample
from models.codec import encode_key, encode_record
from weather_app.errors import BrokerUnavailable
from weather_app.faust_internals.consumer import stop_consumer
from weather_app.faust_internals.producer import abandon_unwritten
from weather_app.rules.admission import CityAdmission
from weather_app.rules.batch import process_reading
from weather_app.rules.headers import EnrichedHeaders, Headers
from weather_app.rules.timestamps import parse_rfc3339
from weather_app.rules.validation import InvalidReading, decode_raw
from weather_app.settings import Settings


@dataclass(frozen=True)
class Bound:
    """A window edge: a Kafka record time or the same offset on every partition."""

    time: datetime | None = None
    offset: int | None = None

    @classmethod
    def parse(cls, text: str) -> "Bound":
        if text.strip().isdigit():
            return cls(offset=int(text))
        try:
            return cls(time=parse_rfc3339(text.strip()))
        except ValueError:
            raise ValueError(f"{text!r} is neither an RFC3339 time nor an offset") from None

    def millis(self) -> int:
        assert self.time is not None
        return int(self.time.timestamp() * 1000)


@dataclass(frozen=True)
class Window:
    """What to replay: from `start` to `end` (inclusive; None: the topic's end), `cities` only
    (empty: all)."""

    start: Bound
    end: Bound | None = None
    cities: Collection[str] = ()


async def topic_partitions(brokers: str, topic: str) -> int:
    admin = AIOKafkaAdminClient(bootstrap_servers=brokers)
    await admin.start()
    try:
        [description] = await admin.describe_topics([topic])
    finally:
        await admin.close()
    if description["error_code"] or not description["partitions"]:
        raise BrokerUnavailable(f"topic {topic} does not exist")
    return len(description["partitions"])


@dataclass
class ReplayReport:
    delivered: int = 0
    failed: int = 0
    invalid: int = 0
    warmed: int = 0
    first_error: str = ""


class Deliveries:
    """Sends records and counts each one delivered or failed by the broker's answer."""

    def __init__(self, producer: Any, topic: str, report: ReplayReport) -> None:
        self._producer = producer
        self._topic = topic
        self._report = report
        self._in_flight: list[asyncio.Future[Any]] = []

    async def send(self, key: bytes, value: bytes, headers: Headers) -> None:
        try:
            self._in_flight.append(
                await self._producer.send(self._topic, key=key, value=value, headers=headers)
            )
        except KafkaError as error:  # refused before it was queued
            self._count_failure(error)

    def count_answered(self) -> None:
        waiting = []
        for delivery in self._in_flight:
            if not delivery.done():
                waiting.append(delivery)
            elif (error := delivery.exception()) is not None:
                self._count_failure(error)
            else:
                self._report.delivered += 1
        self._in_flight = waiting

    def abandon(self) -> int:
        """Stop waiting for the answers still due (the broker is gone; each may or may not have
        been written): their errors are taken when they come, not logged as never retrieved.
        How many there were."""
        self.count_answered()
        for delivery in self._in_flight:
            delivery.add_done_callback(_take_outcome)
        return len(self._in_flight)

    async def settle(self) -> None:
        """Wait for the broker's answer to every record sent, and count them."""
        await self._producer.flush()
        if self._in_flight:
            await asyncio.wait(self._in_flight)
        self.count_answered()

    def _count_failure(self, error: BaseException) -> None:
        self._report.failed += 1
        if not self._report.first_error:
            self._report.first_error = f"{type(error).__name__}: {error}"


def _take_outcome(delivery: asyncio.Future[Any]) -> None:
    if not delivery.cancelled():
        delivery.exception()


def _record_time(record: ConsumerRecord[bytes, bytes]) -> datetime:
    """The Kafka time of a raw record: when it was published, what the live agent's clock read
    at the earliest, so a reading refused live as future-dated is refused on replay too."""
    return datetime.fromtimestamp(record.timestamp / 1000, UTC)


async def _offsets_at(
    consumer: Any,
    partitions: list[TopicPartition],
    bound: Bound,
    beginnings: dict[TopicPartition, int],
    ends: dict[TopicPartition, int],
    after: bool,
) -> dict[TopicPartition, int]:
    """Each partition's first offset in the window (`after`: first offset past it), clamped to
    the offsets the partition had when the replay started."""
    if bound.offset is not None:
        wanted = {p: bound.offset + after for p in partitions}
    else:
        found = await consumer.offsets_for_times({p: bound.millis() + after for p in partitions})
        wanted = {p: found[p].offset if found.get(p) else ends[p] for p in partitions}
    return {p: min(max(wanted[p], beginnings[p]), ends[p]) for p in partitions}


async def replay(
    settings: Settings, window: Window, progress: Callable[[ReplayReport], None]
) -> ReplayReport:
    """Re-publish the raw readings in `window`."""
    brokers = settings.kafka.bootstrap_servers
    partitions = [
        TopicPartition(settings.stream.raw_topic, partition)
        for partition in range(await topic_partitions(brokers, settings.stream.raw_topic))
    ]
    consumer = AIOKafkaConsumer(
        bootstrap_servers=brokers,
        group_id=None,
        enable_auto_commit=False,
        # What the live agent reads; a position retention deleted goes on at the new log start.
        isolation_level="read_committed"
        if settings.stream.processing_guarantee == "exactly_once"
        else "read_uncommitted",
        auto_offset_reset="earliest",
    )
    producer = AIOKafkaProducer(
        bootstrap_servers=brokers, acks="all", enable_idempotence=True, linger_ms=5
    )
    await consumer.start()
    await producer.start()
    try:
        return await replay_partitions(consumer, producer, partitions, settings, window, progress)
    except BrokerUnavailable:
        # Its sends were counted unanswered; the producer would otherwise wait for them for ever
        # (it is stopped then, and stop() below does nothing).
        gave_up = KafkaTimeoutError("the replay gave up on the broker")
        await abandon_unwritten(producer, gave_up, settings.kafka.session_timeout_seconds)
        raise
    finally:
        # An interrupted replay is cancelled more than once as it stops: each cancellation would
        # cut these short, leaving the consumer unclosed.
        await asyncio.shield(_stop_clients(producer, consumer))


async def _stop_clients(producer: AIOKafkaProducer, consumer: AIOKafkaConsumer) -> None:
    await producer.stop()
    await stop_consumer(consumer)


async def replay_partitions(
    consumer: Any,
    producer: Any,
    partitions: list[TopicPartition],
    settings: Settings,
    window: Window,
    progress: Callable[[ReplayReport], None],
) -> ReplayReport:
    """`replay` with its consumer and producer started; BrokerUnavailable when the broker stays
    silent for KAFKA_SESSION_TIMEOUT."""
    report = ReplayReport()
    deliveries = Deliveries(producer, settings.stream.enriched_topic, report)
    headers = EnrichedHeaders(settings.stale_after_seconds)
    consumer.assign(partitions)
    beginnings = await consumer.beginning_offsets(partitions)
    # Taken once: records published while the replay runs are not part of it.
    ends = await consumer.end_offsets(partitions)
    starts = await _offsets_at(consumer, partitions, window.start, beginnings, ends, after=False)
    stops = ends
    if window.end is not None:
        stops = await _offsets_at(consumer, partitions, window.end, beginnings, ends, after=True)
    # Enough earlier readings to refill every city's history on this partition.
    warmup = settings.stream.history_size * len(settings.stream.cities)
    pending = set()
    for partition in partitions:
        first = max(beginnings[partition], starts[partition] - warmup)
        if first < stops[partition]:
            consumer.seek(partition, first)
            pending.add(partition)
    samples: dict[str, list[Sample]] = {}
    admission = CityAdmission(
        (city.name for city in settings.stream.cities),
        settings.stream.accept_unknown_cities,
        settings.stream.max_cities,
    )

    async def replay_record(record: ConsumerRecord[bytes, bytes], in_window: bool) -> bool:
        """Enrich one raw record again (rebuilding its city's history); whether it was sent."""
        try:
            reading = decode_raw(record.value, _record_time(record))
        except InvalidReading:
            report.invalid += in_window
            return False
        city = reading.city
        if record.key != encode_key(city):
            # Live, it was published again under its city's key; that copy is replayed.
            return False
        if not admission.tracks(city):
            report.invalid += in_window  # live: dead-lettered as unknown_city
            return False
        enriched, samples[city] = process_reading(
            reading, samples.get(city, []), settings.stream.history_size
        )
        if not in_window or (window.cities and city not in window.cities):
            report.warmed += 1
            return False
        await deliveries.send(encode_key(city), encode_record(enriched), headers.of(reading))
        return True

    # A broker lost mid-replay leaves fetches empty and sends waiting for room, for ever: after
    # KAFKA_SESSION_TIMEOUT without a fetched record, a moved position or a send taken, it stops.
    stall_seconds = settings.kafka.session_timeout_seconds
    positions: dict[TopicPartition, int] = {}
    try:
        async with asyncio.timeout(stall_seconds) as silence:

            def heard() -> None:
                silence.reschedule(asyncio.get_running_loop().time() + stall_seconds)

            while pending:
                batches = await consumer.getmany(*pending, timeout_ms=1000)
                if batches:
                    heard()
                for partition, records in batches.items():
                    for record in records:
                        if record.offset >= stops[partition]:
                            break
                        if await replay_record(record, record.offset >= starts[partition]):
                            heard()
                # The position passes transaction markers and deleted records, which no record
                # shows.
                for partition in list(pending):
                    position = await consumer.position(partition)
                    if position != positions.get(partition):
                        positions[partition] = position
                        heard()
                    if position >= stops[partition]:
                        pending.discard(partition)
                deliveries.count_answered()
                progress(report)
    except TimeoutError:
        unanswered = deliveries.abandon()
        raise BrokerUnavailable(
            f"replay stopped: nothing from the broker for {stall_seconds:g}s "
            f"(KAFKA_SESSION_TIMEOUT), {len(pending)} of {len(partitions)} partitions not read "
            f"to their end; {report.delivered} readings re-published, {unanswered} unanswered; "
            "replaying the same window again is safe"
        ) from None
    await deliveries.settle()
    return report
