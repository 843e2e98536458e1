"""Re-read the raw topic from a point in time or an offset, re-enrich, re-publish.

A plain consumer with no group: the live workers' group and offsets are not touched. Each
partition is read from a little before the window so every city's forecast history is rebuilt
as the first pass had it; only the readings inside the window are published again, and because
enrichment is deterministic given that history they come out identical, so downstream points
(keyed by city and observation time) are overwritten, not duplicated.
"""

from collections.abc import Callable, Collection
from dataclasses import dataclass
from datetime import UTC, datetime

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient

from weather_app.forecast import Sample
from weather_app.processing import process_reading
from weather_app.settings import Settings
from weather_app.timeutil import parse_rfc3339
from weather_app.validation import InvalidReading, decode_raw, encode_key, encode_record


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


async def topic_partitions(brokers: str, topic: str) -> int:
    admin = AIOKafkaAdminClient(bootstrap_servers=brokers)
    await admin.start()
    try:
        [description] = await admin.describe_topics([topic])
    finally:
        await admin.close()
    if description["error_code"] or not description["partitions"]:
        raise ValueError(f"topic {topic} does not exist")
    return len(description["partitions"])


@dataclass
class ReplayReport:
    published: int = 0
    invalid: int = 0
    warmed: int = 0


def _before_end(bound_to: Bound | None, offset: int, timestamp_ms: int) -> bool:
    if bound_to is None:
        return True
    if bound_to.offset is not None:
        return offset <= bound_to.offset
    return timestamp_ms <= bound_to.millis()


async def _window_starts(
    consumer: AIOKafkaConsumer,
    partitions: list[TopicPartition],
    bound_from: Bound,
    beginnings: dict[TopicPartition, int],
    ends: dict[TopicPartition, int],
) -> dict[TopicPartition, int]:
    if bound_from.offset is not None:
        return {p: min(max(bound_from.offset, beginnings[p]), ends[p]) for p in partitions}
    found = await consumer.offsets_for_times({p: bound_from.millis() for p in partitions})
    return {p: found[p].offset if found.get(p) else ends[p] for p in partitions}


async def replay(
    settings: Settings,
    bound_from: Bound,
    bound_to: Bound | None,
    cities: Collection[str],
    progress: Callable[[ReplayReport], None],
) -> ReplayReport:
    """Re-publish the raw readings in [bound_from, bound_to] (of `cities`, if given)."""
    brokers = settings.bootstrap_servers
    consumer = AIOKafkaConsumer(bootstrap_servers=brokers, group_id=None, enable_auto_commit=False)
    producer = AIOKafkaProducer(bootstrap_servers=brokers, acks="all", linger_ms=5)
    await consumer.start()
    await producer.start()
    report = ReplayReport()
    try:
        partitions = [
            TopicPartition(settings.raw_topic, partition)
            for partition in range(await topic_partitions(brokers, settings.raw_topic))
        ]
        consumer.assign(partitions)
        beginnings = await consumer.beginning_offsets(partitions)
        ends = await consumer.end_offsets(partitions)
        starts = await _window_starts(consumer, partitions, bound_from, beginnings, ends)
        # Enough earlier readings to refill every city's history on this partition.
        warmup = settings.history_size * len(settings.cities)
        pending = set()
        for partition in partitions:
            first = max(beginnings[partition], starts[partition] - warmup)
            if first < ends[partition]:
                consumer.seek(partition, first)
                pending.add(partition)
        samples: dict[str, list[Sample]] = {}
        now = datetime.now(UTC)
        while pending:
            batches = await consumer.getmany(*pending, timeout_ms=1000)
            for partition, records in batches.items():
                for record in records:
                    if record.offset >= ends[partition] or not _before_end(
                        bound_to, record.offset, record.timestamp
                    ):
                        pending.discard(partition)
                        break
                    in_window = record.offset >= starts[partition]
                    try:
                        reading = decode_raw(record.value, now)
                    except InvalidReading:
                        report.invalid += in_window
                        continue
                    city = reading.city
                    enriched, samples[city] = process_reading(
                        reading, samples.get(city, []), settings.history_size
                    )
                    if in_window and (not cities or city in cities):
                        await producer.send(
                            settings.enriched_topic,
                            key=encode_key(city),
                            value=encode_record(enriched),
                        )
                        report.published += 1
                    else:
                        report.warmed += 1
                else:
                    if records and records[-1].offset >= ends[partition] - 1:
                        pending.discard(partition)
            progress(report)
        await producer.flush()
    finally:
        await producer.stop()
        await consumer.stop()
    return report
