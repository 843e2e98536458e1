"""The worker on a real Kafka: raw readings in, enriched records out, tables in changelogs."""

import asyncio
import re
import signal
from datetime import UTC

import orjson
from aiokafka.admin import NewTopic

from models import ENRICHED_FIELDS
from tests.harness.kafka import admin_client, partition_count, read_topic
from tests.integration.support import AppEnv, Worker, interrupt, run_command, start_command
from weather_app.rules.timestamps import parse_rfc3339
from weather_app.sources.cities import DEFAULT_CITIES

CITIES = {city.name for city in DEFAULT_CITIES}


def cities_in(records) -> set[str]:
    return {orjson.loads(record.key) for record in records}


def test_worker_enriches_every_city_with_the_exact_schema(app_env: AppEnv):
    app_env.extra["WEATHER_INTERVAL"] = "1"
    worker = Worker(app_env)
    try:
        records = read_topic(
            app_env.broker,
            app_env.enriched_topic,
            until=lambda records: len(records) >= 3 * len(CITIES) and cities_in(records) >= CITIES,
            timeout=90,
        )
        changelog = read_topic(
            app_env.broker,
            app_env.changelog("last_seen"),
            until=lambda records: cities_in(records) >= CITIES,
            timeout=30,
        )
        assert worker.process.poll() is None, worker.log()
    finally:
        exit_code = worker.stop(signal.SIGTERM)

    assert cities_in(records) == CITIES, worker.log()
    for record in records:
        value = orjson.loads(record.value)
        assert set(value) == set(ENRICHED_FIELDS)
        for name, expected in ENRICHED_FIELDS.items():
            assert type(value[name]) is expected, (name, value)
        assert orjson.loads(record.key) == value["city"]
        assert value["timestamp"].endswith("Z")
        assert parse_rfc3339(value["timestamp"]).tzinfo == UTC
        assert value["is_rain"] == int(value["precipitation"] > 0)
        assert value["is_storm"] in (0, 1)
        assert value["data_origin"] == "simulated"
    assert partition_count(app_env.broker, app_env.enriched_topic) == 6
    assert cities_in(changelog) == CITIES
    last = {orjson.loads(record.key): orjson.loads(record.value) for record in changelog}
    assert all(
        entry["count"] >= 1 and entry["data_origin"] == "simulated" for entry in last.values()
    )
    assert exit_code == 0, worker.log()
    assert "Traceback" not in worker.log()


def test_the_first_round_comes_at_start_not_one_interval_later(app_env: AppEnv):
    # Visual Crossing's free budget makes the interval 864 s: the first records must not wait it.
    app_env.extra.update(WEATHER_INTERVAL="3600", WEATHER_CITIES="Paris,Rome")
    worker = Worker(app_env)
    try:
        records = read_topic(
            app_env.broker,
            app_env.enriched_topic,
            until=lambda records: cities_in(records) >= {"Paris", "Rome"},
            timeout=90,
        )
        assert worker.process.poll() is None, worker.log()
    finally:
        worker.stop(signal.SIGTERM)
    assert sorted(orjson.loads(record.key) for record in records) == ["Paris", "Rome"]


def test_produce_publishes_one_reading_per_city_per_round(app_env: AppEnv):
    app_env.extra["WEATHER_PARTITIONS"] = "4"
    result = run_command(app_env, "produce", "--num", "3")
    assert result.returncode == 0, result.stderr
    assert "round 3/3" in result.stdout
    records = read_topic(
        app_env.broker, app_env.raw_topic, until=lambda r: len(r) >= 3 * len(CITIES), timeout=30
    )
    assert len(records) == 3 * len(CITIES)
    assert {orjson.loads(record.key) for record in records} == CITIES
    assert partition_count(app_env.broker, app_env.raw_topic) == 4
    for record in records:
        assert orjson.loads(record.value)["city"] == orjson.loads(record.key)
    listing = run_command(app_env, "topics")
    assert listing.returncode == 0, listing.stderr
    assert re.search(
        rf"^{re.escape(app_env.raw_topic)}\s+4\s+{3 * len(CITIES)}$", listing.stdout, re.MULTILINE
    ), listing.stdout


def test_an_interrupted_produce_exits_1_saying_how_many_rounds_it_published(app_env: AppEnv):
    # mode's worker takes a command cancelled by SIGINT or SIGTERM (the same path) for a
    # finished one: it exited 0, and a script took a partial run for a complete one.
    exit_code, log = interrupt(
        start_command(app_env, "round 2/1000", "produce", "--num", "1000", "--interval", "0.2")
    )
    assert exit_code == 1, log[-3000:]
    published = max(int(n) for n in re.findall(r"round (\d+)/1000:", log))
    [line] = [line for line in log.splitlines() if "produce interrupted" in line]
    assert f"after {published} of 1000 rounds" in line


def test_produce_forces_rain_a_storm_and_dry_weather_through_the_raw_topic_and_the_worker(
    app_env: AppEnv,
):
    # No live reading during the test: the worker fetches nothing.
    app_env.extra.update(WEATHER_SOURCE="none", WEATHER_CITIES="Paris,Rome,Berlin")
    forced = {"Paris": "storm", "Rome": "rain", "Berlin": "dry"}
    worker = Worker(app_env)
    try:
        for city, scenario in forced.items():
            result = run_command(app_env, "produce", "--scenario", scenario, "--city", city)
            assert result.returncode == 0, result.stderr
            assert f"1 of 1 readings delivered -> {app_env.raw_topic} (forced {scenario})" in (
                result.stdout
            )
        records = read_topic(
            app_env.broker,
            app_env.enriched_topic,
            until=lambda records: cities_in(records) >= set(forced),
            timeout=90,
        )
        assert worker.process.poll() is None, worker.log()
    finally:
        worker.stop(signal.SIGTERM)

    raw = read_topic(app_env.broker, app_env.raw_topic, until=lambda r: len(r) >= 3, timeout=30)
    assert sorted(orjson.loads(record.key) for record in raw) == sorted(forced)
    enriched = {orjson.loads(record.key): orjson.loads(record.value) for record in records}
    assert len(records) == len(forced), records
    assert {city: (value["is_rain"], value["is_storm"]) for city, value in enriched.items()} == {
        "Paris": (1, 1),
        "Rome": (1, 0),
        "Berlin": (0, 0),
    }
    assert {value["data_origin"] for value in enriched.values()} == {"simulated"}


def test_topics_lists_every_topic_of_a_broker_holding_hundreds(app_env: AppEnv):
    # aiokafka's offset request learns of one unknown topic per 100 ms retry: unless the
    # command makes them known at once, 500 topics take past its 40 s timeout.
    names = [f"{app_env.app_id}-many-{n}" for n in range(500)]

    async def create_or_delete(create: bool) -> None:
        async with admin_client(app_env.broker) as admin:
            if create:
                await admin.create_topics([NewTopic(name, 1, 1) for name in names])
            else:
                await admin.delete_topics(names)

    asyncio.run(create_or_delete(create=True))
    try:
        listing = run_command(app_env, "topics")
    finally:
        asyncio.run(create_or_delete(create=False))
    assert listing.returncode == 0, listing.stderr
    listed = {line.split()[0] for line in listing.stdout.splitlines()[1:]}
    assert listed >= set(names)
