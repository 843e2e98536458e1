"""Leader-only timer: fetch every city's current weather and publish it to the raw topic."""

from datetime import UTC, datetime

from weather_app.app import app, raw_topic, settings
from weather_app.sources.fetcher import WeatherFetcher
from weather_app.validation import encode_key, encode_record

fetcher = WeatherFetcher(settings)
app.add_dependency(fetcher)


@app.timer(interval=settings.interval_seconds, on_leader=True)
async def ingest_weather() -> None:
    readings = await fetcher.fetch_all(datetime.now(UTC))
    for reading in readings:
        await raw_topic.send(key=encode_key(reading.city), value=encode_record(reading))
