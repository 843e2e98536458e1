"""Worker -> Kafka -> Telegraf -> InfluxDB 2, all real processes on loopback."""

import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import orjson
import pytest

from models import ENRICHED_FIELDS
from tests.harness.kafka import partition_count, read_topic
from tests.harness.ports import free_port
from tests.harness.processes import ScriptService
from tests.integration.scoped_tokens import scoped_token_env
from tests.integration.support import (
    AppEnv,
    Worker,
    flux,
    run_command,
    send_enriched,
    telegraf_errors,
    unique_name,
    wait_until,
)
from weather_app.cli.influx import InfluxTarget
from weather_app.rules.headers import STALE_AFTER_SECONDS, WIND_DIR
from weather_app.rules.timestamps import format_rfc3339, parse_rfc3339
from weather_app.sources.cities import DEFAULT_CITIES

CITIES = {city.name for city in DEFAULT_CITIES}
FLOAT_FIELDS = (
    "temperature",
    "humidity",
    "wind_speed",
    "precipitation",
    "next_hour_temp",
    "next_hour_precip",
)
INT_FIELDS = ("is_rain", "is_storm")


@pytest.fixture
def pipeline_env(app_env: AppEnv, influxdb: InfluxTarget) -> AppEnv:
    """Telegraf writes and `check` reads with the bucket's scoped tokens, never the admin one."""
    app_env.extra.update(
        WEATHER_INTERVAL="3",
        INFLUXDB_URL=influxdb.url,
        INFLUXDB_ORG=influxdb.org,
        INFLUXDB_BUCKET=influxdb.bucket,
        **scoped_token_env(influxdb, app_env.workdir / "tokens"),
    )
    return app_env


@pytest.fixture
def telegraf_log(pipeline_env: AppEnv) -> Path:
    return pipeline_env.workdir / "telegraf.log"


@pytest.fixture
def telegraf(pipeline_env: AppEnv, telegraf_log: Path) -> Iterator[ScriptService]:
    """Telegraf reading this test's enriched topic into this test's bucket (topic must exist)."""
    env = {
        **pipeline_env.variables(),
        "TELEGRAF_HEALTH_PORT": str(free_port()),
        "TELEGRAF_LOG": str(telegraf_log),
        "TELEGRAF_CONSUMER_GROUP": unique_name("telegraf"),
        "WEATHER_ENRICHED_TOPIC": pipeline_env.enriched_topic,
    }
    # The app declares its topics with their partition count; Telegraf must not be first.
    assert run_command(pipeline_env, "create-topics").returncode == 0
    service = ScriptService("telegraf.sh", env)
    service.up()
    try:
        yield service
    finally:
        service.down()


def weather_points(target: InfluxTarget, field: str = "temperature") -> list[dict[str, Any]]:
    return flux(
        target,
        f"""
from(bucket: "{target.bucket}")
  |> range(start: -1h, stop: 1h)
  |> filter(fn: (r) => r._measurement == "weather" and r._field == "{field}")
""",
    )


def points_per_city(target: InfluxTarget) -> dict[str, int]:
    counts: dict[str, int] = {}
    for point in weather_points(target):
        counts[point["city"]] = counts.get(point["city"], 0) + 1
    return counts


def test_every_city_lands_in_influxdb_at_its_observation_time(
    pipeline_env: AppEnv, influxdb: InfluxTarget, telegraf: ScriptService, telegraf_log: Path
):
    worker = Worker(pipeline_env)
    try:
        # Two rounds of the worker's timer, so it is running when `check` asks.
        wait_until(
            lambda: (
                all(count >= 2 for count in points_per_city(influxdb).values())
                and points_per_city(influxdb).keys() >= CITIES
            ),
            timeout=120,
            what="points for every city",
        )
        published = read_topic(
            pipeline_env.broker,
            pipeline_env.enriched_topic,
            until=lambda records: len(records) >= 2 * len(CITIES),
            timeout=30,
        )
        check_running = run_command(pipeline_env, "check")
    finally:
        assert worker.stop() == 0, worker.log()

    # Every published record is a point at its own observation time with its own value.
    expected = {}
    for record in published:
        value = orjson.loads(record.value)
        expected[(value["city"], parse_rfc3339(value["timestamp"]))] = value

    def stored() -> dict[tuple[str, datetime], dict[str, Any]]:
        return {(point["city"], point["_time"]): point for point in weather_points(influxdb)}

    points = wait_until(
        lambda: (found := stored()).keys() >= expected.keys() and found,
        timeout=30,
        what="every published record in InfluxDB",
    )
    for key, value in expected.items():
        point = points[key]
        assert point["_value"] == value["temperature"]
        assert point["country"] == value["country"]
        assert point["station_id"] == value["station_id"]
        assert point["data_origin"] == value["data_origin"] == "simulated"

    # The raw reading's wind direction and the stale threshold (2 x the 3 s interval) travel as
    # Kafka headers of the v2 record and become float fields of the same point, not tags.
    raw = read_topic(
        pipeline_env.broker,
        pipeline_env.raw_topic,
        until=lambda records: len(records) >= len(published),
        timeout=30,
    )
    directions = {}
    for record in raw:
        value = orjson.loads(record.value)
        directions[(value["city"], parse_rfc3339(value["timestamp"]))] = value["wind_dir"]
    wind = {(p["city"], p["_time"]): p for p in weather_points(influxdb, "wind_dir")}
    stale_after = {
        (p["city"], p["_time"]): p for p in weather_points(influxdb, "stale_after_seconds")
    }
    for key, value in expected.items():
        assert set(value) == set(ENRICHED_FIELDS)
        assert 0.0 <= directions[key] <= 360.0
        assert wind[key]["_value"] == directions[key]
        assert stale_after[key]["_value"] == 6.0
        assert "wind_dir" not in points[key]
        assert "stale_after_seconds" not in points[key]

    for field in (*FLOAT_FIELDS, "wind_dir", "stale_after_seconds"):
        assert {type(p["_value"]) for p in weather_points(influxdb, field)} == {float}, field
    for field in INT_FIELDS:
        assert {type(p["_value"]) for p in weather_points(influxdb, field)} == {int}, field

    assert check_running.returncode == 0, check_running.stdout + check_running.stderr
    assert "all 10 cities fresh" in check_running.stdout

    # With the worker gone for more than 2 x the interval (6 s), every city is stale.
    time.sleep(8)
    check_stopped = run_command(pipeline_env, "check")
    assert check_stopped.returncode == 1, check_stopped.stdout + check_stopped.stderr
    assert check_stopped.stdout.count("STALE") == len(CITIES)

    assert partition_count(pipeline_env.broker, pipeline_env.enriched_topic) == 6
    assert telegraf_errors(telegraf_log) == []


def paris_v2(observed: datetime) -> dict[str, Any]:
    """A v2 record of Paris observed at `observed`."""
    return {
        "city": "Paris",
        "country": "FR",
        "station_id": "SIM-PAR",
        "timestamp": format_rfc3339(observed),
        "temperature": 7.5,
        "humidity": 80.0,
        "wind_speed": 12.0,
        "precipitation": 0.0,
        "next_hour_temp": 7.0,
        "next_hour_precip": 0.0,
        "is_rain": 0,
        "is_storm": 0,
        "data_origin": "simulated",
    }


def test_a_replayed_record_overwrites_its_point_instead_of_adding_one(
    pipeline_env: AppEnv, influxdb: InfluxTarget, telegraf: ScriptService, telegraf_log: Path
):
    observed = datetime.now(UTC).replace(microsecond=0) - timedelta(minutes=10)
    original = paris_v2(observed)
    marker = {**original, "timestamp": format_rfc3339(observed + timedelta(minutes=1))}
    send_enriched(pipeline_env.broker, pipeline_env.enriched_topic, [original])
    wait_until(lambda: weather_points(influxdb), timeout=30, what="the first point")

    # Same city, tags and timestamp again (also with a corrected value), then a marker on the
    # same key and so the same partition: once the marker is stored, the replays were read.
    replays = [original, {**original, "temperature": 7.75}]
    send_enriched(pipeline_env.broker, pipeline_env.enriched_topic, [*replays, marker])
    points = wait_until(
        lambda: len(found := weather_points(influxdb)) >= 2 and found,
        timeout=30,
        what="the marker point",
    )
    at_original = [p for p in points if p["_time"] == parse_rfc3339(original["timestamp"])]
    assert len(at_original) == 1
    assert at_original[0]["_value"] == 7.75
    assert telegraf_errors(telegraf_log) == []


def test_a_header_that_is_not_a_number_is_dropped_and_its_point_kept(
    pipeline_env: AppEnv, influxdb: InfluxTarget, telegraf: ScriptService, telegraf_log: Path
):
    # What a producer other than the enrich agent might send (README, Troubleshooting).
    observed = datetime.now(UTC).replace(microsecond=0) - timedelta(minutes=10)
    headers = [(WIND_DIR, b"north"), (STALE_AFTER_SECONDS, b"6")]
    send_enriched(pipeline_env.broker, pipeline_env.enriched_topic, [paris_v2(observed)], headers)
    [point] = wait_until(lambda: weather_points(influxdb), timeout=30, what="the point")
    assert (point["city"], point["_value"]) == ("Paris", 7.5)
    assert WIND_DIR not in point  # not a tag either: the city keeps one series
    assert [p["_value"] for p in weather_points(influxdb, STALE_AFTER_SECONDS)] == [6.0]
    assert weather_points(influxdb, WIND_DIR) == []
    errors = telegraf_errors(telegraf_log)
    assert errors
    assert all("Converting to float" in line and "failed" in line for line in errors), errors


def test_check_reports_missing_cities_when_nothing_was_written(
    pipeline_env: AppEnv, influxdb: InfluxTarget
):
    result = run_command(pipeline_env, "check")
    assert result.returncode == 1
    assert sum(line.endswith("  missing") for line in result.stdout.splitlines()) == len(CITIES)
