"""Command-line tools that reuse the worker's rules: `faust -A weather_app <command>`."""

import asyncio
from datetime import UTC, datetime
from typing import Any

import click
import orjson
from aiokafka import AIOKafkaConsumer
from faust.cli import AppCommand, option

from weather_app.app import app, raw_topic, settings
from weather_app.sources.fetcher import WeatherFetcher
from weather_app.validation import encode_key, encode_record
from weather_app.worker import BrokerUnavailable, exit_unusable_broker, prepare_broker


async def prepare_or_exit() -> None:
    try:
        await prepare_broker(settings, app.conf.topic_replication_factor)
    except BrokerUnavailable as error:
        exit_unusable_broker(error)


@app.command(
    option(
        "--num", type=click.IntRange(min=1), default=1, show_default=True, help="Rounds to publish."
    ),
    option(
        "--interval",
        type=click.FloatRange(min=0),
        default=0.0,
        show_default=True,
        help="Seconds between rounds.",
    ),
)
async def produce(self: AppCommand, num: int, interval: float) -> None:
    """Publish NUM rounds of readings (one per city) to the raw topic, then exit."""
    await prepare_or_exit()
    fetcher = WeatherFetcher(settings)
    async with fetcher:
        for round_number in range(1, num + 1):
            readings = await fetcher.fetch_all(datetime.now(UTC))
            for reading in readings:
                await raw_topic.send(key=encode_key(reading.city), value=encode_record(reading))
            await app.producer.flush()
            self.say(
                f"round {round_number}/{num}: {len(readings)} readings -> {settings.raw_topic}"
            )
            if round_number < num and interval:
                await asyncio.sleep(interval)


@app.command(
    option("--from-beginning", is_flag=True, help="Start at the oldest record, not the newest."),
    option("--limit", type=click.IntRange(min=1), default=None, help="Stop after this many."),
)
async def watch(self: AppCommand, from_beginning: bool, limit: int | None) -> None:
    """Print enriched records from the enriched topic as they arrive (Ctrl-C stops)."""
    await prepare_or_exit()
    consumer = AIOKafkaConsumer(
        settings.enriched_topic,
        bootstrap_servers=settings.kafka_broker.removeprefix("kafka://").replace(";", ","),
        group_id=None,
        auto_offset_reset="earliest" if from_beginning else "latest",
    )
    await consumer.start()
    shown = 0
    try:
        async for message in consumer:
            self.say(describe_enriched(orjson.loads(message.value)))
            shown += 1
            if limit is not None and shown >= limit:
                break
    finally:
        await consumer.stop()


def describe_enriched(record: dict[str, Any]) -> str:
    flags = "".join(
        label for label, field in ((" RAIN", "is_rain"), (" STORM", "is_storm")) if record[field]
    )
    return (
        f"{record['timestamp']}  {record['city']:<12} {record['temperature']:6.1f}°C "
        f"{record['humidity']:5.1f}%  {record['wind_speed']:5.1f} km/h "
        f"{record['precipitation']:5.2f} mm/h  next hour {record['next_hour_temp']:5.1f}°C "
        f"{record['next_hour_precip']:5.2f} mm  [{record['data_origin']}]{flags}"
    )
