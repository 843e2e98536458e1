"""Leader-only rounds: fetch every city's current weather and publish it to the raw topic.

The first round starts as soon as the worker leads, then one every interval
(weather_app.rules.schedule). A task of ours asks the schedule every tick rather than an
`app.timer`: Faust's timer sleeps a whole interval before its first call, and mode warns "Timer
... is overlapping" for each call that outlasts the timer's interval, which a round does when
ticks are short. `WEATHER_SOURCE=none` starts no rounds at all.
"""

import time
from datetime import UTC, datetime

from weather_app.app import app, raw_sender, raw_topic, settings
from weather_app.rules.schedule import RoundSchedule, tick_seconds
from weather_app.settings import NO_SOURCE
from weather_app.sources.fetcher import WeatherFetcher
from weather_app.sources.publishing import RoundResult, publish_round

fetcher = WeatherFetcher(settings)
schedule = RoundSchedule(settings.fetch_interval_seconds)


async def ingest_round() -> RoundResult:
    """One round: fetch, publish, and account for every delivery before the next round."""
    deadline = time.monotonic() + settings.fetch_interval_seconds
    readings = await fetcher.fetch_all(datetime.now(UTC))
    return await publish_round(
        readings, await raw_sender(), topic=raw_topic.get_topic_name(), deadline=deadline
    )


async def ingest_weather() -> None:
    tick = tick_seconds(settings.fetch_interval_seconds)
    while not app.should_stop:
        if app.is_leader() and schedule.start_if_due(time.monotonic()):
            await ingest_round()
        await app.sleep(tick)


if settings.weather_source != NO_SOURCE:
    app.add_dependency(fetcher)
    app.task(ingest_weather)
