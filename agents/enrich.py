"""Enrich every raw reading into `weather_data_v2` and keep the per-city tables.

A message that cannot be enriched goes to the dead-letter topic with its reason and original
bytes; the agent never stops over one message.
"""

import logging
from datetime import UTC, datetime
from typing import Any

from faust import StreamT
from faust.types import EventT

from weather_app.app import app, dlq_topic, enriched_topic, history, last_seen, raw_topic, settings
from weather_app.deadletter import dead_letter
from weather_app.metrics import invalid_messages
from weather_app.processing import next_last_seen, process_reading, samples_from_table
from weather_app.validation import InvalidReading, decode_raw, encode_key, encode_record

logger = logging.getLogger(__name__)
PROCESSING_ERROR = "processing_error"


@app.agent(raw_topic)
async def enrich_readings(stream: StreamT[bytes]) -> Any:
    async for event in stream.events():
        now = datetime.now(UTC)
        try:
            reading = decode_raw(event.value, now=now)
        except InvalidReading as invalid:
            await send_to_dead_letters(event, invalid.reason, invalid.detail, now)
            continue
        city = reading.city
        try:
            enriched, samples = process_reading(
                reading, samples_from_table(history.get(city)), settings.history_size
            )
        except Exception as error:  # a bug must cost one message, not the stream
            logger.exception("Enriching a valid reading failed")
            await send_to_dead_letters(event, PROCESSING_ERROR, repr(error), now)
            continue
        history[city] = samples
        last_seen[city] = next_last_seen(last_seen.get(city), enriched)
        await enriched_topic.send(key=encode_key(city), value=encode_record(enriched))


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
