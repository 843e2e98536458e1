"""Enrich every raw reading into `weather_data_v2` and keep the per-city tables."""

import logging
from datetime import UTC, datetime
from typing import Any

from faust import StreamT

from weather_app.app import app, enriched_topic, history, last_seen, raw_topic, settings
from weather_app.enrichment import enrich, sample_of
from weather_app.forecast import Sample, record_sample
from weather_app.validation import InvalidReading, decode_raw, encode_key, encode_record

logger = logging.getLogger(__name__)


@app.agent(raw_topic)
async def enrich_readings(stream: StreamT[bytes]) -> Any:
    async for event in stream.events():
        try:
            reading = decode_raw(event.value, now=datetime.now(UTC))
        except InvalidReading as invalid:
            message = event.message
            logger.warning(
                "Skipped raw message %s[%d]@%d: %s",
                message.topic,
                message.partition,
                message.offset,
                invalid,
            )
            continue
        city = reading.city
        samples = [Sample(*sample) for sample in history.get(city, ())]
        enriched = enrich(reading, samples)
        history[city] = record_sample(samples, sample_of(reading), settings.history_size)
        seen = last_seen.get(city)
        last_seen[city] = {
            "timestamp": max(reading.timestamp, seen["timestamp"]) if seen else reading.timestamp,
            "data_origin": reading.data_origin,
            "count": (seen["count"] if seen else 0) + 1,
        }
        await enriched_topic.send(key=encode_key(city), value=encode_record(enriched))
