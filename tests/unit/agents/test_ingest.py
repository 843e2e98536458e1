"""The ingest timer's round through the app's raw sender, with a fake Kafka producer."""

import asyncio
import gc
import logging
from unittest.mock import AsyncMock, patch

import orjson
import pytest
from aiokafka.errors import NotLeaderForPartitionError, RequestTimedOutError
from prometheus_client import REGISTRY

import agents.ingest
import weather_app.app
from agents.ingest import ingest_round, ingest_weather
from weather_app.app import app, raw_topic, settings
from weather_app.rules.partitioning import home_partition
from weather_app.rules.schedule import RoundSchedule

CITY_NAMES = [city.name for city in settings.stream.cities]


class FlakyProducer:
    """Stands in for the producer `record_sender` gives: each record's first `failures`
    deliveries fail."""

    def __init__(self, failures: int, error: Exception) -> None:
        self.failures = failures
        self.error = error
        self.attempts: dict[bytes, int] = {}
        self.records: list[tuple[str, bytes, bytes]] = []
        self.partitions: list[int | None] = []

    async def send(self, topic, key, value, partition, timestamp, headers):
        self.records.append((topic, key, value))
        self.partitions.append(partition)
        self.attempts[key] = self.attempts.get(key, 0) + 1
        delivery = asyncio.get_running_loop().create_future()
        if self.attempts[key] <= self.failures:
            delivery.set_exception(self.error)
        else:
            delivery.set_result(None)
        return delivery


def counted_failures() -> float:
    labels = {"topic": raw_topic.get_topic_name()}
    return REGISTRY.get_sample_value("weather_publish_failures_total", labels) or 0.0


def counted_published() -> float:
    labels = {"topic": raw_topic.get_topic_name()}
    return REGISTRY.get_sample_value("weather_published_records_total", labels) or 0.0


def ingest_warnings(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [
        record.getMessage()
        for record in caplog.records
        if record.name == "weather_app.sources.publishing" and record.levelno >= logging.WARNING
    ]


async def publish_through(producer: FlakyProducer, known_partitions: int | None = None):
    with (
        patch.object(weather_app.app, "record_sender", AsyncMock(return_value=producer)),
        patch.object(weather_app.app, "known_partitions", return_value=known_partitions),
    ):
        return await ingest_round()


@pytest.mark.parametrize("topic_known", [False, True])
async def test_each_reading_goes_to_its_city_s_home_partition_once_the_producer_knows_the_topic(
    topic_known,
):
    partitions = settings.stream.partitions
    producer = FlakyProducer(failures=0, error=RequestTimedOutError())
    await publish_through(producer, partitions if topic_known else None)
    homes = [home_partition(key, partitions) for _, key, _ in producer.records]
    # Until then the producer's partitioner picks the same partition.
    assert producer.partitions == (homes if topic_known else [None] * len(homes))


async def test_a_round_whose_first_deliveries_fail_still_delivers_every_city(caplog):
    before, published = counted_failures(), counted_published()
    producer = FlakyProducer(failures=1, error=NotLeaderForPartitionError())
    result = await publish_through(producer)
    assert counted_published() == published + len(CITY_NAMES)
    assert sorted(result.delivered) == sorted(CITY_NAMES)
    assert (result.failed, result.in_flight) == ({}, [])
    assert len(producer.records) == 2 * len(CITY_NAMES)
    assert {orjson.loads(key) for _, key, _ in producer.records} == set(CITY_NAMES)
    assert {topic for topic, _, _ in producer.records} == {raw_topic.get_topic_name()}
    assert counted_failures() == before
    assert ingest_warnings(caplog) == []


async def test_a_round_the_broker_never_takes_is_counted_and_logged_not_raised(caplog):
    before, published = counted_failures(), counted_published()
    producer = FlakyProducer(failures=1000, error=RequestTimedOutError())
    result = await publish_through(producer)
    assert counted_published() == published
    assert list(result.failed) == CITY_NAMES
    assert result.delivered == []
    assert len(producer.records) == 3 * len(CITY_NAMES)  # the first try and two retries
    assert counted_failures() == before + len(CITY_NAMES)
    [warning] = ingest_warnings(caplog)
    assert warning.startswith(
        f"Could not publish {len(CITY_NAMES)} raw readings to {raw_topic.get_topic_name()} "
        "after the retries that fit in the round: "
    )
    assert all(name in warning for name in CITY_NAMES)
    assert "RequestTimedOutError" in warning


async def test_no_failed_delivery_is_left_unread(caplog):
    producer = FlakyProducer(failures=1000, error=RequestTimedOutError())
    await publish_through(producer)
    gc.collect()
    assert "exception was never retrieved" not in caplog.text


async def test_the_leader_starts_a_round_at_once_and_a_long_round_raises_no_timer_warning(caplog):
    """Faust's timer would call first after a whole interval, and mode warns for each call that
    outlasts the timer's interval; the ingest task does neither."""
    started: list[float] = []

    async def slow_round() -> None:
        started.append(asyncio.get_running_loop().time())
        await asyncio.sleep(1.5)  # longer than a tick

    begin = asyncio.get_running_loop().time()
    with (
        patch.object(agents.ingest, "ingest_round", slow_round),
        patch.object(agents.ingest, "schedule", RoundSchedule(interval=2.0)),
        patch.object(app, "is_leader", return_value=True),
        patch.object(app, "sleep", asyncio.sleep),
        caplog.at_level(logging.INFO),
        pytest.raises(TimeoutError),
    ):
        await asyncio.wait_for(ingest_weather(), timeout=4.5)
    assert started[0] - begin < 0.5
    assert 2 <= len(started) <= 3
    assert [record for record in caplog.records if record.name.startswith("mode.timers")] == []


async def test_a_worker_that_does_not_lead_starts_no_round():
    started: list[int] = []

    async def round_() -> None:
        started.append(1)

    with (
        patch.object(agents.ingest, "ingest_round", round_),
        patch.object(agents.ingest, "schedule", RoundSchedule(interval=2.0)),
        patch.object(app, "is_leader", return_value=False),
        patch.object(app, "sleep", asyncio.sleep),
        pytest.raises(TimeoutError),
    ):
        await asyncio.wait_for(ingest_weather(), timeout=1.5)
    assert started == []
