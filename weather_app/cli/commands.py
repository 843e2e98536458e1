"""Command-line tools that reuse the worker's rules: `faust -A weather_app <command>`."""

import asyncio
import os
import time
from contextlib import AsyncExitStack
from datetime import UTC, datetime
from typing import Any

import aiohttp
import click
from aiokafka import AIOKafkaConsumer
from faust.cli import AppCommand, option
from influxdb_client.rest import ApiException

from models.codec import decode_value
from weather_app.app import app, raw_sender, settings
from weather_app.broker.topics import app_topics, list_topics, wait_for_broker
from weather_app.cli.influx import InfluxSetupError, InfluxTarget, city_activity, read_token
from weather_app.cli.replay import Bound, ReplayReport, Window
from weather_app.cli.replay import replay as run_replay
from weather_app.errors import BrokerUnavailable, exit_with
from weather_app.faust_internals.leader import leader_topic_name
from weather_app.rules.freshness import assess
from weather_app.rules.timestamps import format_rfc3339
from weather_app.sources.cities import CityConfigError, choose_cities
from weather_app.sources.fetcher import WeatherFetcher
from weather_app.sources.publishing import publish_round
from weather_app.sources.scenarios import SCENARIOS, forced_readings
from weather_app.worker import changelog_topics, prepare_broker

# How long `produce` waits for a round's deliveries, retries included.
PRODUCE_DELIVERY_SECONDS = 60.0


async def prepare_or_exit() -> list[str]:
    try:
        return await prepare_broker()
    except BrokerUnavailable as error:
        exit_with(str(error))


@app.command()
async def create_topics(self: AppCommand) -> None:
    """Create the app's topics and table changelogs where missing (the worker does it too)."""
    created = await prepare_or_exit()
    for name in created:
        self.say(f"created {name}")
    topics = app_topics(settings, changelog_topics(), leader_topic_name(app))
    self.say(f"{len(topics) - len(created)} topics already existed")


@app.command()
async def topics(self: AppCommand) -> None:
    """List every topic on the broker with its partitions and the messages it keeps; exits 1
    naming the partitions that have no leader."""
    try:
        wait_for_broker(settings.kafka.broker, settings.kafka.connect_wait_seconds)
        sizes = await list_topics(settings.kafka.bootstrap_servers)
    except BrokerUnavailable as error:
        exit_with(str(error))
    width = max((len(size.name) for size in sizes), default=5)
    self.say(f"{'topic':<{width}}  {'partitions':>10}  {'messages':>10}")
    for size in sizes:
        self.say(f"{size.name:<{width}}  {size.partitions:>10}  {size.messages:>10}")
    if leaderless := [partition for size in sizes for partition in size.leaderless]:
        exit_with(
            f"{len(leaderless)} partitions have no leader, their messages are not counted: "
            f"{', '.join(leaderless)}; check that their brokers are up"
        )


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
    option(
        "--scenario",
        type=click.Choice(SCENARIOS),
        default=None,
        help="Force the weather: simulated readings made into rain, a storm or dry weather.",
    ),
    option("--city", "city_names", multiple=True, help="Only these cities (repeatable)."),
)
async def produce(
    self: AppCommand,
    num: int,
    interval: float,
    scenario: str | None,
    city_names: tuple[str, ...],
) -> None:
    """Publish NUM rounds of readings (one per city) to the raw topic, then exit."""
    try:
        cities = choose_cities(settings.stream.cities, city_names) if city_names else None
    except CityConfigError as error:
        exit_with(f"produce --city: {error}", code=2)
    finished = 0
    in_round = False
    try:
        await prepare_or_exit()
        async with AsyncExitStack() as stack:
            # Forced readings are simulated: no fetcher, no API session, no quota line.
            fetcher = (
                None if scenario else await stack.enter_async_context(WeatherFetcher(settings))
            )
            for round_number in range(1, num + 1):
                in_round = True
                now = datetime.now(UTC)
                if fetcher is not None:
                    readings = await fetcher.fetch_all(now, cities)
                else:
                    assert scenario is not None
                    readings = forced_readings(
                        cities or settings.stream.cities,
                        now,
                        settings.stream.simulation_seed,
                        scenario,
                    )
                result = await publish_round(
                    readings,
                    await raw_sender(),
                    topic=settings.stream.raw_topic,
                    deadline=time.monotonic() + PRODUCE_DELIVERY_SECONDS,
                )
                self.say(
                    f"round {round_number}/{num}: {len(result.delivered)} of {len(readings)} "
                    f"readings delivered -> {settings.stream.raw_topic}"
                    + (f" (forced {scenario})" if scenario else "")
                )
                if undelivered := len(readings) - len(result.delivered):
                    exit_with(
                        f"produce: {undelivered} of {len(readings)} readings of round "
                        f"{round_number} were not delivered to {settings.stream.raw_topic} "
                        "(the warning above says why)"
                    )
                finished, in_round = round_number, False
                if round_number < num and interval:
                    await asyncio.sleep(interval)
    except asyncio.CancelledError:
        # SIGINT or SIGTERM: mode's worker would take the cancelled command for a finished one
        # (exit 0), and a script for every round published. Exiting by exception here, the
        # code was lost while mode's worker stopped (exit 0 all the same): it exits at once.
        # Each round shown was delivered.
        exit_with(
            f"produce interrupted after {finished} of {num} rounds"
            + (f" (round {finished + 1} may be partly published)" if in_round else ""),
            immediately=True,
        )


@app.command(
    option("--from-beginning", is_flag=True, help="Start at the oldest record, not the newest."),
    option("--limit", type=click.IntRange(min=1), default=None, help="Stop after this many."),
)
async def watch(self: AppCommand, from_beginning: bool, limit: int | None) -> None:
    """Print enriched records from the enriched topic as they arrive (Ctrl-C stops)."""
    await prepare_or_exit()
    consumer = AIOKafkaConsumer(
        settings.stream.enriched_topic,
        bootstrap_servers=settings.kafka.bootstrap_servers,
        group_id=None,
        auto_offset_reset="earliest" if from_beginning else "latest",
    )
    await consumer.start()
    shown = 0
    try:
        async for message in consumer:
            self.say(describe_enriched(decode_value(message.value)))
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


@app.command(
    option(
        "--window",
        type=click.IntRange(min=1),
        default=60,
        show_default=True,
        help="Seconds of the heartbeat window (points counted per city).",
    ),
)
async def check(self: AppCommand, window: int) -> None:
    """Verify InfluxDB has recent points for every city; exit 1 if one is stale or missing."""
    try:
        token = read_token(settings.influxdb, os.environ)
    except InfluxSetupError as error:
        exit_with(str(error), code=2)
    target = InfluxTarget(
        url=settings.influxdb.url,
        org=settings.influxdb.org,
        bucket=settings.influxdb.bucket,
        token=token,
    )
    max_age = settings.stale_after_seconds
    try:
        last_seen, counts = await city_activity(
            target, lookback_seconds=max(3600, int(10 * max_age)), window_seconds=window
        )
    except (aiohttp.ClientError, OSError, ApiException) as error:
        reason = f"HTTP {error.status}" if isinstance(error, ApiException) else type(error).__name__
        exit_with(
            f"cannot query InfluxDB at {target.url} "
            f"(org {target.org}, bucket {target.bucket}): {reason}; "
            "check INFLUXDB_URL, INFLUXDB_ORG, INFLUXDB_BUCKET and the token "
            "(INFLUXDB_TOKEN or INFLUXDB_READ_TOKEN_FILE)",
            code=2,
        )
    verdicts = assess(
        [city.name for city in settings.stream.cities],
        last_seen,
        counts,
        datetime.now(UTC),
        max_age,
    )
    self.say(f"{'city':<14}{'last point':<22}{'age':>9}{f'points/{window}s':>14}  status")
    for verdict in verdicts:
        seen = format_rfc3339(verdict.last_seen) if verdict.last_seen else "-"
        age = f"{verdict.age_seconds:.1f}s" if verdict.age_seconds is not None else "-"
        status = "ok" if verdict.fresh else ("missing" if verdict.last_seen is None else "STALE")
        self.say(f"{verdict.city:<14}{seen:<22}{age:>9}{verdict.recent_points:>14}  {status}")
    stale = [verdict.city for verdict in verdicts if not verdict.fresh]
    if stale:
        exit_with(f"{len(stale)} of {len(verdicts)} cities older than {max_age:.0f}s or missing")
    self.say(f"all {len(verdicts)} cities fresh (newer than {max_age:.0f}s)")


@app.command(
    option("--from", "start", required=True, help="RFC3339 time or offset to replay from."),
    option("--to", "end", default=None, help="RFC3339 time or offset to stop at (inclusive)."),
    option("--city", "cities", multiple=True, help="Only these cities (repeatable)."),
)
async def replay(self: AppCommand, start: str, end: str | None, cities: tuple[str, ...]) -> None:
    """Re-enrich the raw topic from a time or offset and re-publish, outside the live group."""
    try:
        bound_from = Bound.parse(start)
        bound_to = Bound.parse(end) if end else None
    except ValueError as error:
        exit_with(f"--from/--to: {error}", code=2)
    await prepare_or_exit()
    self.say(
        f"replaying {settings.stream.raw_topic} -> {settings.stream.enriched_topic} from {start}"
        + (f" to {end}" if end else " to its current end")
        + (f" for {', '.join(cities)}" if cities else "")
    )
    last_shown = 0

    def show_progress(report: ReplayReport) -> None:
        nonlocal last_shown
        if report.delivered - last_shown >= 1000:
            last_shown = report.delivered
            self.say(f"  {report.delivered} re-published")

    try:
        report = await run_replay(
            settings, Window(bound_from, bound_to, set(cities)), show_progress
        )
    except BrokerUnavailable as error:
        exit_with(str(error))
    except asyncio.CancelledError:
        # SIGINT or SIGTERM: mode's worker would take the cancelled command for a finished one
        # (exit 0), and a script for a complete replay.
        exit_with(
            f"replay interrupted before the end of its window ({last_shown} or more readings "
            "re-published); replaying the same window again is safe"
        )
    counts = (
        f"({report.invalid} invalid skipped, "
        f"{report.warmed} read before the window to rebuild history)"
    )
    if report.failed:
        exit_with(
            f"replay incomplete: {report.failed} readings failed to publish, "
            f"{report.delivered} delivered {counts}; first error: {report.first_error}; "
            "replaying the same window again is safe"
        )
    self.say(f"replayed {report.delivered} readings {counts}")
