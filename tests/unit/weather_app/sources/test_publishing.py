"""Publishing a round of raw readings against a fake producer whose sends fail on demand."""

import asyncio
import logging
import time
from datetime import UTC, datetime

import pytest
from aiokafka.errors import KafkaTimeoutError, NotLeaderForPartitionError
from prometheus_client import REGISTRY

from tests.unit.loop_turns import counting_loop_turns
from weather_app.sources.backoff import RetryPolicy, backoff_schedule
from weather_app.sources.cities import City
from weather_app.sources.publishing import publish_round
from weather_app.sources.simulation import simulate_reading
from weather_app.sources.slices import SLICE

CITIES = [City(f"City{number}", "FR", 40.0 + number, 2.0, f"C{number}") for number in range(10)]
NOW = datetime(2026, 11, 28, 12, tzinfo=UTC)
READINGS = [simulate_reading(city, NOW, seed=1) for city in CITIES]
RAND = 0.0  # the injected jitter draw: waits of 0.25 s, then 0.5 s


class FakeProducer:
    """`send` schedules a reading and returns its delivery future, which the fake settles.

    `failures[city]` deliveries of that city fail (`refusals[city]`: sends raise) before one
    succeeds; a city in `stuck` never settles until the test settles it.
    """

    def __init__(self) -> None:
        self.failures: dict[str, int] = {}
        self.refusals: dict[str, int] = {}
        self.stuck: set[str] = set()
        self.sends: list[str] = []
        self.held: dict[str, asyncio.Future[None]] = {}

    async def send(self, reading):
        city = reading.city
        self.sends.append(city)
        if self.refusals.get(city, 0) > 0:
            self.refusals[city] -= 1
            raise KafkaTimeoutError("buffer full")
        delivery: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        if city in self.stuck:
            self.held[city] = delivery
        elif self.failures.get(city, 0) > 0:
            self.failures[city] -= 1
            asyncio.get_running_loop().call_later(0.01, delivery.set_exception, leader_moved())
        else:
            asyncio.get_running_loop().call_later(0.01, delivery.set_result, None)
        return delivery


def leader_moved() -> NotLeaderForPartitionError:
    return NotLeaderForPartitionError("leader moved")


def failures_counted(topic: str) -> float:
    return REGISTRY.get_sample_value("weather_publish_failures_total", {"topic": topic}) or 0.0


def published_counted(topic: str) -> float:
    return REGISTRY.get_sample_value("weather_published_records_total", {"topic": topic}) or 0.0


async def publish(producer, topic, round_seconds=10.0, sleeps=None):
    async def sleep(seconds: float) -> None:
        if sleeps is not None:
            sleeps.append(seconds)
        await asyncio.sleep(seconds)

    return await publish_round(
        READINGS,
        producer.send,
        topic=topic,
        deadline=time.monotonic() + round_seconds,
        sleep=sleep,
        rand=lambda: RAND,
    )


async def test_a_round_sends_every_reading_once_and_sees_each_delivered(caplog):
    producer = FakeProducer()
    started = time.monotonic()
    result = await publish(producer, "raw-ok")
    assert result.delivered == [city.name for city in CITIES]
    assert (result.failed, result.in_flight) == ({}, [])
    assert producer.sends == [city.name for city in CITIES]
    # All sent before any is awaited: one delivery time for the round, not one per city.
    assert time.monotonic() - started < 0.1
    assert failures_counted("raw-ok") == 0
    assert not [r for r in caplog.records if r.levelno >= logging.WARNING]


async def test_a_round_of_many_readings_lets_the_event_loop_turn_between_slices_of_sends():
    cities = [City(f"Station {n:04d}", "XX", 10.0, 20.0, f"S{n:04d}") for n in range(8 * SLICE)]
    readings = [simulate_reading(city, NOW, seed=1) for city in cities]
    sent_at_turn: list[int] = []
    async with counting_loop_turns() as turns:

        async def send(reading):
            sent_at_turn.append(turns.count)
            delivery = asyncio.get_running_loop().create_future()
            delivery.set_result(None)
            return delivery

        deadline = time.monotonic() + 10
        result = await publish_round(readings, send, topic="raw-many", deadline=deadline)
    assert len(result.delivered) == len(readings)
    # Sent in one go, every send came before the loop's first turn.
    assert sent_at_turn[-1] >= 7


@pytest.mark.parametrize("fault", ["delivery", "send"])
async def test_a_transient_failure_is_retried_with_backoff_and_delivered(fault, caplog):
    producer = FakeProducer()
    faults = producer.failures if fault == "delivery" else producer.refusals
    faults["City3"] = 2
    sleeps: list[float] = []
    result = await publish(producer, f"raw-transient-{fault}", sleeps=sleeps)
    assert sorted(result.delivered) == sorted(city.name for city in CITIES)
    assert result.failed == {}
    assert producer.sends.count("City3") == 3
    assert len(producer.sends) == len(CITIES) + 2  # only the failing reading is sent again
    assert sleeps == backoff_schedule(RetryPolicy(attempts=3), lambda: RAND) == [0.25, 0.5]
    assert failures_counted(f"raw-transient-{fault}") == 0
    assert not [r for r in caplog.records if r.levelno >= logging.WARNING]


async def test_a_permanent_failure_is_counted_and_logged_once_and_does_not_raise(caplog):
    producer = FakeProducer()
    producer.failures = {"City1": 99, "City4": 99}
    producer.refusals = {"City7": 99}
    result = await publish(producer, "raw-down")
    assert result.failed == {
        "City1": "[Error 6] NotLeaderForPartitionError: leader moved",
        "City4": "[Error 6] NotLeaderForPartitionError: leader moved",
        "City7": "KafkaTimeoutError: buffer full",
    }
    assert len(result.delivered) == 7
    assert producer.sends.count("City1") == producer.sends.count("City7") == 3
    assert failures_counted("raw-down") == 3
    [warning] = [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING]
    assert warning == (
        "Could not publish 3 raw readings to raw-down after the retries that fit in the round: "
        "City1, City4 ([Error 6] NotLeaderForPartitionError: leader moved); "
        "City7 (KafkaTimeoutError: buffer full)"
    )


async def test_no_retry_starts_after_the_round_ends():
    producer = FakeProducer()
    producer.failures = {"City2": 99}
    started = time.monotonic()
    # Deliveries settle after 10 ms; the first wait (0.25 s) would end after the 0.2 s round.
    result = await publish(producer, "raw-short-round", round_seconds=0.2)
    assert time.monotonic() - started < 0.2
    assert producer.sends.count("City2") == 1
    assert list(result.failed) == ["City2"]
    assert failures_counted("raw-short-round") == 1


async def test_a_delivery_still_in_flight_at_the_round_end_is_accounted_when_it_settles(caplog):
    producer = FakeProducer()
    producer.stuck = {"City0", "City5", "City9"}
    started = time.monotonic()
    result = await publish(producer, "raw-outage", round_seconds=0.5)
    # The round ends on time, leaving the producer to retry what it holds.
    assert 0.5 <= time.monotonic() - started < 0.7
    assert result.in_flight == ["City0", "City5", "City9"]
    assert (len(result.delivered), result.failed) == (7, {})
    assert published_counted("raw-outage") == 7
    producer.held["City0"].set_result(None)
    producer.held["City5"].set_exception(KafkaTimeoutError("batch expired"))
    await asyncio.sleep(0)
    assert failures_counted("raw-outage") == 0  # reported once all three settle
    producer.held["City9"].set_exception(KafkaTimeoutError("batch expired"))
    await asyncio.sleep(0)
    assert failures_counted("raw-outage") == 2
    assert published_counted("raw-outage") == 8
    [warning] = [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING]
    assert warning == (
        "Could not publish 2 raw readings to raw-outage after the end of their round: "
        "City5, City9 (KafkaTimeoutError: batch expired)"
    )
