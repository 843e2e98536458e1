"""Leader-only timer: fetch every city's current weather and publish it to the raw topic."""

import time
from datetime import UTC, datetime

from faust.types import FutureMessage

from models import RawReading
from weather_app.app import app, raw_topic, settings
from weather_app.sources.delivery import RoundResult, publish_round
from weather_app.sources.fetcher import WeatherFetcher
from weather_app.validation import encode_key, encode_record

fetcher = WeatherFetcher(settings)
app.add_dependency(fetcher)


async def send_raw(reading: RawReading) -> FutureMessage:
    """`raw_topic.send`, but returning Faust's own future of the delivery, which Faust fails
    too when the producer's fails: awaited, it is not left with an unread exception."""
    message = raw_topic.as_future_message(
        key=encode_key(reading.city), value=encode_record(reading)
    )
    await raw_topic.publish_message(message)
    return message


async def ingest_round() -> RoundResult:
    """One round: fetch, publish, and account for every delivery before the next round."""
    deadline = time.monotonic() + settings.interval_seconds
    readings = await fetcher.fetch_all(datetime.now(UTC))
    return await publish_round(
        readings, send_raw, topic=raw_topic.get_topic_name(), deadline=deadline
    )


@app.timer(interval=settings.interval_seconds, on_leader=True)
async def ingest_weather() -> None:
    await ingest_round()
