"""Leader-only timer: fetch every city's current weather and publish it to the raw topic."""

import time
from datetime import UTC, datetime

from weather_app.app import app, raw_topic, send_raw, settings
from weather_app.sources.fetcher import WeatherFetcher
from weather_app.sources.publishing import RoundResult, publish_round

fetcher = WeatherFetcher(settings)
app.add_dependency(fetcher)


async def ingest_round() -> RoundResult:
    """One round: fetch, publish, and account for every delivery before the next round."""
    deadline = time.monotonic() + settings.fetch_interval_seconds
    readings = await fetcher.fetch_all(datetime.now(UTC))
    return await publish_round(
        readings, send_raw, topic=raw_topic.get_topic_name(), deadline=deadline
    )


@app.timer(interval=settings.fetch_interval_seconds, on_leader=True)
async def ingest_weather() -> None:
    await ingest_round()
