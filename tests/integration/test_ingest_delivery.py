"""The ingest timer against a real broker that refuses its raw records, then takes them."""

import asyncio
import re

import orjson

from tests.harness.kafka import create_topics, read_topic, set_max_message_bytes
from tests.integration.support import AppEnv, Worker, run_command, wait_until
from weather_app.sources.cities import DEFAULT_CITIES

CITIES = {city.name for city in DEFAULT_CITIES}
# Every raw reading encodes to about 300 bytes: a topic limit of 100 makes the broker refuse
# each one (MESSAGE_TOO_LARGE, which the producer does not retry); 1 MiB takes them again.
REFUSING_BYTES = "100"
TAKING_BYTES = 1048588


def create_refusing_raw_topic(env: AppEnv) -> None:
    asyncio.run(
        create_topics(env.broker, [env.raw_topic], configs={"max.message.bytes": REFUSING_BYTES})
    )


def counted_failures(worker: Worker, topic: str) -> float:
    status, metrics = worker.get("/metrics")
    if status != 200:
        return 0.0
    line = re.search(
        rf'^weather_publish_failures_total{{topic="{re.escape(topic)}"}} (\S+)$',
        metrics,
        re.MULTILINE,
    )
    return float(line.group(1)) if line else 0.0


def test_refused_raw_readings_are_counted_and_logged_and_the_timer_goes_on(app_env: AppEnv):
    create_refusing_raw_topic(app_env)
    app_env.extra.update(WEATHER_INTERVAL="1")
    worker = Worker(app_env)
    try:
        wait_until(
            lambda: counted_failures(worker, app_env.raw_topic) >= 2 * len(CITIES),
            120,
            "two rounds of refused readings counted",
        )
        set_max_message_bytes(app_env.broker, app_env.raw_topic, TAKING_BYTES)
        enriched = read_topic(
            app_env.broker,
            app_env.enriched_topic,
            lambda records: {orjson.loads(r.value)["city"] for r in records} == CITIES,
            90,
        )
    finally:
        worker.stop()
    assert {orjson.loads(record.value)["city"] for record in enriched} == CITIES
    log = worker.log()
    # A round's refusals are logged at its deadline, and those answered later once they are: a
    # round may be split across both lines.
    refused = re.findall(
        rf"Could not publish (\d+) raw readings to {re.escape(app_env.raw_topic)} after "
        r"(?:the retries that fit in the round|the end of their round): (.*)",
        log,
    )
    assert sum(int(count) for count, _ in refused) >= 2 * len(CITIES)
    for count, detail in refused:
        assert sum(city in detail for city in CITIES) == int(count), detail
        assert "MessageSizeTooLargeError" in detail
    assert "Retrying 10 readings to" in log


def test_produce_exits_1_saying_how_many_readings_the_broker_refused(app_env: AppEnv):
    create_refusing_raw_topic(app_env)
    refused = run_command(app_env, "produce", timeout=180)
    assert refused.returncode == 1, refused.stdout + refused.stderr
    assert f"produce: {len(CITIES)} of {len(CITIES)} readings of round 1 were not delivered" in (
        refused.stderr
    )
    set_max_message_bytes(app_env.broker, app_env.raw_topic, TAKING_BYTES)
    taken = run_command(app_env, "produce", timeout=180)
    assert taken.returncode == 0, taken.stderr
    assert f"{len(CITIES)} of {len(CITIES)} readings delivered" in taken.stdout
