"""Nothing acknowledged that was not delivered, on the real broker: every raw reading the broker
accepted ends on `weather_data_v2` or in the dead-letter topic, whatever the broker refuses."""

import asyncio
import base64
import hashlib
import re
import signal
import threading
import time
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson
from aiokafka import AIOKafkaProducer

from tests.harness.kafka import publish, read_to_end, read_topic, set_max_message_bytes
from tests.harness.processes import ScriptService
from tests.integration.support import AppEnv, Worker, run_command, wait_until
from tests.integration.support import (
    reading as raw_reading,
)
from weather_app.rules.partitioning import home_partition
from weather_app.sources.cities import DEFAULT_CITIES

CITIES = [city.name for city in DEFAULT_CITIES]
PARTITIONS = 6
# Kafka's default message.max.bytes: the largest record batch the broker takes.
BROKER_MAX_MESSAGE_BYTES = 1_048_588


def reading(city: str, moment: datetime, **overrides: Any) -> bytes:
    return orjson.dumps(raw_reading(city, moment, **overrides))


def readings(count: int, start: datetime) -> Iterator[tuple[bytes, bytes]]:
    """`count` distinct readings (city, one second apart), keyed by city, all in the past."""
    for index in range(count):
        city = CITIES[index % len(CITIES)]
        yield orjson.dumps(city), reading(city, start + timedelta(seconds=index))


def observed(records: list[Any]) -> Counter[tuple[str, str]]:
    return Counter(
        (value["city"], value["timestamp"])
        for value in (orjson.loads(record.value) for record in records)
    )


class Publisher:
    """Publishes raw readings at a steady pace from a thread until stopped; a send that fails
    (broker down) is retried, so every reading in `sent` is on the raw topic."""

    def __init__(self, broker: str, topic: str, per_second: float, start: datetime) -> None:
        self.sent: list[bytes] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(
            target=asyncio.run, args=(self._run(broker, topic, per_second, start),)
        )
        self._thread.start()

    async def _run(self, broker: str, topic: str, per_second: float, start: datetime) -> None:
        producer = AIOKafkaProducer(
            bootstrap_servers=broker, acks="all", enable_idempotence=True, request_timeout_ms=60_000
        )
        await producer.start()
        try:
            for key, value in readings(100_000, start):
                if self._stop.is_set():
                    break
                await producer.send_and_wait(topic, key=key, value=value)
                self.sent.append(value)
                await asyncio.sleep(1 / per_second)
        finally:
            await producer.stop()

    def stop(self) -> list[bytes]:
        self._stop.set()
        self._thread.join(90)
        return self.sent


def expected(values: list[bytes]) -> Counter[tuple[str, str]]:
    return Counter((reading["city"], reading["timestamp"]) for reading in map(orjson.loads, values))


def wait_for_all(
    env: AppEnv, values: list[bytes], timeout: float, isolation: str = "read_uncommitted"
) -> list[Any]:
    want = expected(values)
    return read_topic(
        env.broker,
        env.enriched_topic,
        lambda records: set(observed(records)) >= set(want),
        timeout=timeout,
        isolation=isolation,
    )


def start_worker(env: AppEnv, **settings: str) -> Worker:
    env.extra.update(WEATHER_SOURCE="none", **settings)  # only the readings the test sends
    wait_until(lambda: run_command(env, "create-topics").returncode == 0, 60, "topics")
    worker = Worker(env)
    wait_until(lambda: worker.get("/weather/")[0] == 200, 60, "the worker's web view")
    return worker


def test_no_reading_is_lost_while_the_broker_refuses_v2_records_for_15_seconds(app_env, capsys):
    worker = start_worker(app_env)
    start = datetime.now(UTC).replace(microsecond=0) - timedelta(hours=2)
    try:
        publisher = Publisher(app_env.broker, app_env.raw_topic, per_second=25, start=start)
        time.sleep(3)
        set_max_message_bytes(app_env.broker, app_env.enriched_topic, 64)  # no record fits
        time.sleep(15)
        set_max_message_bytes(app_env.broker, app_env.enriched_topic, BROKER_MAX_MESSAGE_BYTES)
        time.sleep(3)
        sent = publisher.stop()
        enriched = wait_for_all(app_env, sent, timeout=120)
        assert worker.process.poll() is None, worker.log()
    finally:
        worker.stop()
    log = worker.log()
    missing = set(expected(sent)) - set(observed(enriched))
    with capsys.disabled():
        print(f"\n  v2 refused 15 s: {len(sent)} readings sent, {len(missing)} missing on v2")
    assert "records not delivered" in log  # the refusal did hit the worker
    assert not missing, f"{len(missing)} of {len(sent)} readings lost"


def test_no_reading_is_lost_when_the_broker_is_down_longer_than_the_delivery_timeout(
    app_env: AppEnv, kafka_service: ScriptService, capsys
):
    # The worker's producer gives a record up after 5 s; the broker stays down 12 s.
    worker = start_worker(app_env, WEATHER_PRODUCER_TIMEOUT="5")
    start = datetime.now(UTC).replace(microsecond=0) - timedelta(hours=2)
    before = list(readings(60, start))
    after = list(readings(120, start))[60:]
    try:
        # v2 refused first, so that the worker holds undelivered records when the broker stops.
        set_max_message_bytes(app_env.broker, app_env.enriched_topic, 64)
        publish(app_env.broker, app_env.raw_topic, list(before))
        wait_until(lambda: "records not delivered" in worker.log(), 60, "a refused delivery")
        kafka_service.down()
        retries_before = worker.log().count("records not delivered")
        time.sleep(12)
        retries_during = worker.log().count("records not delivered") - retries_before
        kafka_service.up()
        set_max_message_bytes(app_env.broker, app_env.enriched_topic, BROKER_MAX_MESSAGE_BYTES)
        publish(app_env.broker, app_env.raw_topic, list(after))
        values = [value for _, value in before + after]
        enriched = wait_for_all(app_env, values, timeout=120)
        assert worker.process.poll() is None, worker.log()
    finally:
        worker.stop()
    missing = set(expected(values)) - set(observed(enriched))
    with capsys.disabled():
        print(f"\n  broker down 12 s (delivery timeout 5 s): {len(missing)} of {len(values)} lost")
    assert retries_during > 0  # the worker held undelivered records through the outage
    assert not missing


def refuse_v2_and_publish(env: AppEnv) -> list[bytes]:
    """Make the broker refuse every v2 record (64 bytes at most), then publish 30 readings; their
    values."""
    values = [value for _, value in readings(30, datetime.now(UTC) - timedelta(hours=1))]
    set_max_message_bytes(env.broker, env.enriched_topic, 64)
    publish(
        env.broker,
        env.raw_topic,
        [(orjson.dumps(orjson.loads(value)["city"]), value) for value in values],
    )
    return values


def test_a_worker_asked_to_stop_with_a_batch_the_broker_refuses_stops_and_loses_nothing(
    app_env: AppEnv,
):
    # At least once, a refused batch is sent again for as long as it takes; Faust's stop waits
    # for its readings to be acknowledged, so the worker would never stop.
    worker = start_worker(app_env, KAFKA_SESSION_TIMEOUT="6")
    try:
        values = refuse_v2_and_publish(app_env)
        wait_until(lambda: "records not delivered" in worker.log(), 60, "a refused delivery")
        worker.process.send_signal(signal.SIGTERM)
        wait_until(lambda: worker.process.poll() is not None, 30, "the worker to stop")
    finally:
        code = worker.stop()
    [stopped] = [line for line in worker.log().splitlines() if "worker stopped:" in line]
    assert code == 1
    assert "the worker is stopping before the broker took them" in stopped, stopped
    set_max_message_bytes(app_env.broker, app_env.enriched_topic, BROKER_MAX_MESSAGE_BYTES)
    second = Worker(app_env, "second")
    try:
        enriched = wait_for_all(app_env, values, timeout=90)
    finally:
        second.stop()
    assert not set(expected(values)) - set(observed(enriched))


def test_under_exactly_once_an_undeliverable_batch_stops_the_worker_and_is_read_again(
    app_env: AppEnv,
):
    worker = start_worker(
        app_env, WEATHER_PROCESSING_GUARANTEE="exactly_once", KAFKA_SESSION_TIMEOUT="6"
    )
    try:
        values = refuse_v2_and_publish(app_env)
        wait_until(lambda: worker.process.poll() is not None, 90, "the worker to stop")
    finally:
        code = worker.stop()
    stopped = [line for line in worker.log().splitlines() if "worker stopped:" in line]
    assert code == 1
    assert stopped, worker.log()[-3000:]
    # How many readings the first batch holds depends on how fast they arrived (a 10 ms window).
    assert re.search(
        r"weather-speed-layer: worker stopped: a batch of \d+ raw readings failed", stopped[-1]
    )
    set_max_message_bytes(app_env.broker, app_env.enriched_topic, BROKER_MAX_MESSAGE_BYTES)
    second = Worker(app_env, "second")
    try:
        enriched = wait_for_all(app_env, values, timeout=90, isolation="read_committed")
        assert second.process.poll() is None, second.log()[-3000:]
    finally:
        second.stop()
    assert observed(enriched) == expected(values)  # every reading once, none twice


def test_raw_messages_up_to_the_brokers_maximum_are_dead_lettered_without_losing_the_batch(
    app_env: AppEnv,
):
    worker = start_worker(app_env)
    now = datetime.now(UTC).replace(microsecond=0)
    good = list(readings(40, now - timedelta(hours=1)))
    large = {
        "0.9 MiB": b'{"city": "' + b"x" * 943_700 + b'"}',
        "broker maximum": b'{"city": "' + b"y" * (BROKER_MAX_MESSAGE_BYTES - 200) + b'"}',
    }
    try:
        messages = [*good[:20], *[(b'"Paris"', value) for value in large.values()], *good[20:]]
        publish(app_env.broker, app_env.raw_topic, messages)
        letters = read_topic(app_env.broker, app_env.dlq_topic, lambda r: len(r) >= 2, 60)
        enriched = wait_for_all(app_env, [value for _, value in good], timeout=60)
        assert worker.process.poll() is None, worker.log()
    finally:
        worker.stop()
    assert set(observed(enriched)) == set(expected([value for _, value in good]))
    decoded = sorted(
        (orjson.loads(record.value) for record in letters),
        key=lambda letter: letter["original_value_bytes"],
    )
    assert len(decoded) == 2
    for letter, value in zip(decoded, large.values(), strict=True):
        assert letter["reason"] == "too_large"
        assert letter["truncated"] is True
        assert letter["original_value_bytes"] == len(value)
        assert letter["original_value_sha256"] == hashlib.sha256(value).hexdigest()
        assert value.startswith(base64.b64decode(letter["original_value_base64"]))


def test_readings_without_their_city_s_key_are_enriched_on_its_partition_only(app_env: AppEnv):
    key = orjson.dumps("Rome")
    home = home_partition(key, PARTITIONS)
    stray_partition = (home + 1) % PARTITIONS
    changelog = app_env.changelog("last_seen")
    wait_until(lambda: run_command(app_env, "create-topics").returncode == 0, 60, "topics")
    stray = {"timestamp": "2020-01-01T00:00:00Z", "data_origin": "simulated", "count": 999}

    async def seed_a_stray_entry() -> None:
        producer = AIOKafkaProducer(bootstrap_servers=app_env.broker)
        await producer.start()
        try:
            await producer.send_and_wait(
                changelog, key=key, value=orjson.dumps(stray), partition=stray_partition
            )
        finally:
            await producer.stop()

    asyncio.run(seed_a_stray_entry())
    cleaned = run_command(app_env, "create-topics")  # what a worker does first, too
    assert cleaned.returncode == 0, cleaned.stderr
    assert "removed 1 stray table entries" in cleaned.stderr
    worker = start_worker(app_env)
    start = datetime.now(UTC).replace(microsecond=0) - timedelta(hours=1)
    keyless = [(None, reading("Rome", start + timedelta(minutes=i))) for i in range(24)]
    try:
        publish(app_env.broker, app_env.raw_topic, keyless)
        enriched = wait_for_all(app_env, [value for _, value in keyless], timeout=60)
        views: list[tuple[int, Any]] = []

        def rome_counted() -> bool:
            views.append(worker.get("/weather/cities/Rome/"))
            status, body = views[-1]
            return status == 200 and body["count"] == 24

        deadline = time.monotonic() + 60
        while not rome_counted() and time.monotonic() < deadline:
            time.sleep(0.5)
        city = views[-1][1]
    finally:
        worker.stop()
    assert sum(observed(enriched).values()) == 24  # each once
    entries = read_to_end(app_env.broker, changelog)
    rome = [record for record in entries if record.key == key]
    on_stray = [record.value for record in rome if record.partition == stray_partition]
    assert on_stray == [orjson.dumps(stray), None]  # the seeded stray entry, tombstoned
    assert {record.partition for record in rome if record.partition != stray_partition} == {home}
    assert city["count"] == 24, views[-3:]
