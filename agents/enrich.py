"""Enrich every raw reading into `weather_data_v2` and keep the per-city tables.

A message that cannot be enriched goes to the dead-letter topic with its reason and original
bytes; the agent never stops over one message. A batch's readings are acknowledged only once the
broker has every record the batch produced (weather_app.broker.outbox). The tables' entries are
held (`TABLE_WRITES`) until the next commit sends each city's newest ones to the changelogs
before it commits the readings' offsets, and the tables take them only then, so they never get
ahead of their changelogs.
"""

import logging
from collections.abc import Awaitable, Sequence
from datetime import UTC, datetime
from typing import Any

from faust import StreamT
from faust.types import EventT

from models.codec import encode_key, encode_record
from weather_app.app import (
    admission,
    app,
    dlq_topic,
    enriched_topic,
    exactly_once,
    history,
    last_seen,
    raw_topic,
    settings,
)
from weather_app.broker.outbox import Outbox, OutgoingRecord
from weather_app.faust_internals.batches import take_batches
from weather_app.faust_internals.producer import known_partitions, record_sender
from weather_app.faust_internals.tables import TableWrites
from weather_app.faust_internals.transactions import ack_when_handled, join_transaction_of
from weather_app.faust_internals.transport import run_before_each_commit
from weather_app.metrics import invalid_messages, published_records, rekeyed_readings
from weather_app.rules.batch import BatchProcessor
from weather_app.rules.deadletter import dead_letter
from weather_app.rules.headers import EnrichedHeaders
from weather_app.rules.partitioning import home_partition
from weather_app.rules.validation import InvalidReading, decode_raw
from weather_app.worker import stop_worker

logger = logging.getLogger(__name__)
PROCESSING_ERROR = "processing_error"
HEADERS = EnrichedHeaders(settings.stale_after_seconds)
TABLE_WRITES = TableWrites()


@app.agent(raw_topic)
async def enrich_readings(stream: StreamT[bytes]) -> Any:
    # Batches, so that each city's tables are read and written once per batch, not per reading,
    # taken without Faust's per-event stream machinery (weather_app.faust_internals.batches).
    # `ack_when_handled` acknowledges a batch's events only when `enrich_batch` returns
    # (weather_app.faust_internals.transactions).
    run_before_each_commit(app, write_tables)
    batches = take_batches(stream, settings.stream.batch_size, settings.stream.batch_seconds)
    async for events in batches:
        try:
            async with ack_when_handled(events):
                await enrich_batch(events)
        except Exception as error:
            # The batch stays unacknowledged: the worker stops without committing past it and
            # whichever worker takes its partitions reads it again.
            stop_worker(f"a batch of {len(events)} raw readings failed: {error!r}")


def write_tables() -> Awaitable[None]:
    """Before each commit, with no batch in progress: take the entries held since the last one;
    the commit awaits their writing into the changelogs and tables."""
    return write_taken_tables(TABLE_WRITES.take())


async def write_taken_tables(taken: int) -> None:
    if not taken:  # an idle commit: no outbox, no producer to ask for
        return
    try:
        await TABLE_WRITES.write(await new_outbox())
    except Exception as error:
        # Their readings are acknowledged: committed without them, the tables would lose them.
        stop_worker(f"writing {taken} table entries to their changelogs failed: {error!r}")


async def new_outbox() -> Outbox:
    # Straight to the producer (the transactional one under exactly-once), not `Topic.send`,
    # whose per-message schema, future and sensor work cost more than the enrichment itself.
    # A worker asked to stop gives up a batch the broker does not take (else it never stops).
    producer = await record_sender(app)
    return Outbox(producer, retry=not exactly_once, stopping=lambda: app.should_stop)


async def enrich_batch(events: Sequence[EventT[bytes]]) -> None:
    now = datetime.now(UTC)
    batch = BatchProcessor(
        settings.stream.history_size,
        lambda city: TABLE_WRITES.get(history, city),
        lambda city: TABLE_WRITES.get(last_seen, city),
    )
    outbox = await new_outbox()
    output = enriched_topic.get_topic_name()
    # With as many partitions as the raw topic, the producer's partitioner puts a city's record on
    # the partition its reading came from (the city's home): saying so spares aiokafka listing
    # the partitions and calling the partitioner. Until the producer's metadata holds the topic
    # (under exactly_once the transactional producers send these records) the partitioner picks
    # the same partition.
    to_source_partition = known_partitions(app, output) == settings.stream.partitions
    enriched_count = rekeyed = 0

    def held(city: str) -> bool:
        return batch.holds(city) or TABLE_WRITES.holds(last_seen, city)

    def cities_held() -> int:
        return TABLE_WRITES.size(last_seen) + batch.new_cities

    for event in events:
        message = event.message
        if exactly_once:  # its records join its input partition's transaction
            join_transaction_of(message.tp)
        try:
            reading = decode_raw(event.value, now=now)
            key = encode_key(reading.city)
            if message.key != key or message.partition != home_partition(
                key, settings.stream.partitions
            ):
                # Enriched here, its table entries would land on a partition that does not
                # own the city. Sent again under its city's key, it comes back on the right one.
                await outbox.send(OutgoingRecord(message.topic, key, event.value))
                rekeyed += 1
                continue
            admission.check(reading.city, held, cities_held)
        except InvalidReading as invalid:
            await outbox.send(dead_letter_record(event, invalid.reason, invalid.detail, now))
            continue
        try:
            enriched = batch.process(reading, message.partition)
        except Exception as error:  # a bug must cost one message, not the stream
            logger.exception("Enriching a valid reading failed")
            await outbox.send(dead_letter_record(event, PROCESSING_ERROR, repr(error), now))
            continue
        partition = message.partition if to_source_partition else None
        await outbox.send(
            OutgoingRecord(output, key, encode_record(enriched), partition, HEADERS.of(reading))
        )
        enriched_count += 1
    await outbox.deliver()
    for city, update in batch.updates():
        TABLE_WRITES.set(history, city, update.samples, update.partition)
        TABLE_WRITES.set(last_seen, city, update.last_seen, update.partition)
    published_records.labels(topic=output).inc(enriched_count)
    rekeyed_readings.inc(rekeyed)


def dead_letter_record(
    event: EventT[Any], reason: str, detail: str, now: datetime
) -> OutgoingRecord:
    message = event.message
    invalid_messages.labels(reason=reason).inc()
    logger.warning(
        "Dead-lettered raw message %s[%d]@%d: %s: %r",
        message.topic,
        message.partition,
        message.offset,
        reason,
        detail,
    )
    letter = dead_letter(
        reason,
        detail,
        topic=message.topic,
        partition=message.partition,
        offset=message.offset,
        timestamp_ms=int(message.timestamp * 1000),
        key=message.key,
        value=message.value,
        now=now,
    )
    return OutgoingRecord(dlq_topic.get_topic_name(), message.key, encode_record(letter))
