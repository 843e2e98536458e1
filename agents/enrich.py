"""Enrich every raw reading into `weather_data_v2` and keep the per-city tables."""

import logging
from datetime import UTC, datetime
from typing import Any

from faust import StreamT

from weather_app.app import app, enriched_topic, history, last_seen, raw_topic, settings
from weather_app.metrics import invalid_messages
from weather_app.processing import next_last_seen, process_reading, samples_from_table
from weather_app.validation import InvalidReading, decode_raw, encode_key, encode_record

logger = logging.getLogger(__name__)


@app.agent(raw_topic)
async def enrich_readings(stream: StreamT[bytes]) -> Any:
    async for event in stream.events():
        try:
            reading = decode_raw(event.value, now=datetime.now(UTC))
        except InvalidReading as invalid:
            message = event.message
            invalid_messages.labels(reason=invalid.reason).inc()
            logger.warning(
                "Skipped raw message %s[%d]@%d: %s",
                message.topic,
                message.partition,
                message.offset,
                invalid,
            )
            continue
        city = reading.city
        enriched, samples = process_reading(
            reading, samples_from_table(history.get(city)), settings.history_size
        )
        history[city] = samples
        last_seen[city] = next_last_seen(last_seen.get(city), enriched)
        await enriched_topic.send(key=encode_key(city), value=encode_record(enriched))
