"""Enrich every raw reading into `weather_data_v2` and keep the per-city tables.

A message that cannot be enriched goes to the dead-letter topic with its reason and original
bytes; the agent never stops over one message.
"""

import logging
from asyncio import Future
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any, cast

from faust import Stream, StreamT
from faust.types import EventT, ProducerT, RecordMetadata, TableT

from weather_app.app import app, dlq_topic, enriched_topic, history, last_seen, raw_topic, settings
from weather_app.deadletter import dead_letter
from weather_app.metrics import invalid_messages, published_records
from weather_app.processing import BatchProcessor
from weather_app.transactions import processing, sending_for
from weather_app.validation import InvalidReading, decode_raw, encode_key, encode_record

logger = logging.getLogger(__name__)
PROCESSING_ERROR = "processing_error"


@app.agent(raw_topic)
async def enrich_readings(stream: StreamT[bytes]) -> Any:
    # Batches, so that each city's tables are read and written once per batch, not per reading.
    # Faust acks a batch's events only after this body has handled the whole batch; with
    # exactly_once no commit comes in between (weather_app.transactions).
    batches = cast(Stream[bytes], stream).take_events  # StreamT does not declare take_events
    async for events in batches(settings.batch_size, within=settings.batch_seconds):
        async with processing(stream, events):
            await enrich_batch(events)


async def enrich_batch(events: Sequence[EventT[bytes]]) -> None:
    now = datetime.now(UTC)
    batch = BatchProcessor(settings.history_size, history.get, last_seen.get)
    # Straight to the producer (the transactional one under exactly-once), not `Topic.send`,
    # whose per-message schema, future and sensor work cost more than the enrichment itself.
    producer = await app.maybe_start_producer()
    output = enriched_topic.get_topic_name()
    sent: list[Future[RecordMetadata]] = []
    for event in events:
        with sending_for(event):  # its records join its partition's transaction (exactly_once)
            try:
                reading = decode_raw(event.value, now=now)
            except InvalidReading as invalid:
                await send_to_dead_letters(event, invalid.reason, invalid.detail, now)
                continue
            try:
                enriched = batch.process(reading, event.message.partition)
            except Exception as error:  # a bug must cost one message, not the stream
                logger.exception("Enriching a valid reading failed")
                await send_to_dead_letters(event, PROCESSING_ERROR, repr(error), now)
                continue
            key, value = encode_key(reading.city), encode_record(enriched)
            record = await producer.send(output, key, value, None, None, None)
            sent.append(cast("Future[RecordMetadata]", record))
    published_records.labels(topic=output).inc(len(sent))
    for city, update in batch.updates():
        partition = update.partition
        sent.append(await write_table(producer, history, city, update.samples, partition))
        sent.append(await write_table(producer, last_seen, city, update.last_seen, partition))
    # The batch's events are acked when this returns: only once the broker has all its records.
    await producer.flush()
    errors = [error for error in (result.exception() for result in sent) if error is not None]
    if errors:  # records the producer gave up on: fail the batch, so its events are not acked
        raise errors[0]


async def write_table(
    producer: ProducerT, table: TableT[str, Any], key: str, value: Any, partition: int
) -> "Future[RecordMetadata]":
    """`table[key] = value`, its changelog record sent to `partition`, the source event's.

    `table[key] =` would pick the partition of Faust's current event, which inside a batch is not
    the one the key came from, and queue the record in Faust's producer buffer, which sends one
    record per event-loop turn and stalls the stream whenever it holds over 100. The memory store
    keeps no changelog offsets, so nothing else needs to see the record go out.
    """
    changelog = table.changelog_topic
    data, _ = changelog.prepare_key(key, None)  # None: the table's own serializers
    encoded, _ = changelog.prepare_value(value, None)
    record = await producer.send(changelog.get_topic_name(), data, encoded, partition, None, None)
    table.data[key] = value
    return cast("Future[RecordMetadata]", record)


async def send_to_dead_letters(event: EventT[Any], reason: str, detail: str, now: datetime) -> None:
    message = event.message
    invalid_messages.labels(reason=reason).inc()
    logger.warning(
        "Dead-lettered raw message %s[%d]@%d: %s: %s",
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
    await dlq_topic.send(key=message.key, value=encode_record(letter))
