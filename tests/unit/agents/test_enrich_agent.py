"""The enrich agent on Faust's in-memory test context: no broker needed."""

import asyncio
import base64
from types import SimpleNamespace
from typing import Any, cast
from unittest.mock import AsyncMock, patch

import orjson
import pytest
from aiokafka.errors import KafkaTimeoutError
from faust.types import EventT

from agents.enrich import enrich_batch, enrich_readings
from models import ENRICHED_FIELDS
from weather_app.app import app, dlq_topic, enriched_topic, history, last_seen, raw_topic


def raw_message(city: str, timestamp: str, temperature: float, precipitation: float = 0.0):
    return orjson.dumps(
        {
            "city": city,
            "country": "FR",
            "station_id": "SIM-X",
            "timestamp": timestamp,
            "temperature": temperature,
            "humidity": 60.0,
            "wind_speed": 10.0,
            "precipitation": precipitation,
            "data_origin": "simulated",
        }
    )


class FakeProducer:
    """Stands in for the Kafka producer the agent publishes with (no broker in unit tests)."""

    def __init__(self, error: Exception | None = None) -> None:
        self.records: list[tuple[str, bytes, bytes, int | None]] = []
        self.flushes = 0
        self.error = error

    async def send(self, topic, key, value, partition, timestamp, headers):
        self.records.append((topic, key, value, partition))
        result = asyncio.get_running_loop().create_future()
        if self.error is None:
            result.set_result(None)
        else:
            result.set_exception(self.error)
        return result

    async def flush(self) -> None:
        self.flushes += 1


@pytest.fixture
def producer():
    fake = FakeProducer()
    with patch.object(app, "maybe_start_producer", AsyncMock(return_value=fake)):
        yield fake


def published(producer: FakeProducer) -> list[tuple[bytes, bytes]]:
    """The (key, value) of every record published to the enriched topic."""
    output = enriched_topic.get_topic_name()
    return [(key, value) for topic, key, value, _ in producer.records if topic == output]


def changelog(producer: FakeProducer, table: Any) -> list[tuple[str, int | None]]:
    """(key, partition) of every changelog record of `table`."""
    name = table.changelog_topic.get_topic_name()
    return [(orjson.loads(key), part) for topic, key, _, part in producer.records if topic == name]


@pytest.fixture(autouse=True)
def dead_letters():
    with patch.object(dlq_topic, "send", new_callable=AsyncMock) as send:
        yield send


@pytest.fixture(autouse=True)
def empty_tables():
    for table in (history, last_seen):
        table.data.clear()


async def test_each_raw_reading_becomes_one_enriched_record_keyed_by_city(producer):
    async with enrich_readings.test_context() as agent:
        await agent.put(
            key=b'"Paris"', value=raw_message("Paris", "2026-11-27T12:00:00Z", 9.0, 1.5)
        )
    [(key, value)] = published(producer)
    assert key == b'"Paris"'
    record = orjson.loads(value)
    assert set(record) == set(ENRICHED_FIELDS)
    assert record["is_rain"] == 1
    assert record["timestamp"] == "2026-11-27T12:00:00Z"


async def test_tables_keep_last_seen_and_history_per_city(producer):
    async with enrich_readings.test_context() as agent:
        for minute, temperature in ((0, 9.0), (10, 9.5), (20, 10.0)):
            stamp = f"2026-11-27T12:{minute:02d}:00Z"
            await agent.put(key=b'"Paris"', value=raw_message("Paris", stamp, temperature))
        await agent.put(key=b'"Rome"', value=raw_message("Rome", "2026-11-27T12:05:00Z", 15.0))
    paris = last_seen["Paris"]
    assert (paris["timestamp"], paris["data_origin"], paris["count"]) == (
        "2026-11-27T12:20:00Z",
        "simulated",
        3,
    )
    assert paris["latest"]["temperature"] == 10.0
    assert paris["latest"]["timestamp"] == "2026-11-27T12:20:00Z"
    assert last_seen["Rome"]["count"] == 1
    assert len(history["Paris"]) == 3
    third = orjson.loads(published(producer)[2][1])
    # Warming 0.5 °C every 10 minutes: 3 °C an hour, the forecast is not a copy.
    assert third["next_hour_temp"] == pytest.approx(13.0)


async def test_a_late_reading_does_not_move_last_seen_back(producer):
    async with enrich_readings.test_context() as agent:
        await agent.put(key=b'"Paris"', value=raw_message("Paris", "2026-11-27T12:20:00Z", 9.0))
        await agent.put(key=b'"Paris"', value=raw_message("Paris", "2026-11-27T12:10:00Z", 9.0))
    assert last_seen["Paris"]["timestamp"] == "2026-11-27T12:20:00Z"
    assert last_seen["Paris"]["latest"]["timestamp"] == "2026-11-27T12:20:00Z"
    assert last_seen["Paris"]["count"] == 2


async def test_bad_messages_go_to_dead_letters_and_the_agent_keeps_going(
    producer, dead_letters, caplog
):
    too_hot = raw_message("Paris", "2026-11-27T12:00:00Z", 99.0)
    async with enrich_readings.test_context() as agent:
        await agent.put(key=b'"Paris"', value=b"{broken")
        await agent.put(key=b'"Paris"', value=too_hot)
        await agent.put(key=b'"Paris"', value=raw_message("Paris", "2026-11-27T12:00:00Z", 9.0))
    assert len(published(producer)) == 1
    letters = [orjson.loads(call.kwargs["value"]) for call in dead_letters.await_args_list]
    assert [letter["reason"] for letter in letters] == ["not_json", "out_of_range"]
    assert base64.b64decode(letters[0]["original_value_base64"]) == b"{broken"
    assert base64.b64decode(letters[1]["original_value_base64"]) == too_hot
    assert base64.b64decode(letters[1]["original_key_base64"]) == b'"Paris"'
    assert [letter["source_offset"] for letter in letters] == [0, 1]
    assert all(letter["source_topic"] == raw_topic.get_topic_name() for letter in letters)
    assert [call.kwargs["key"] for call in dead_letters.await_args_list] == [b'"Paris"'] * 2
    assert "not_json" in caplog.text
    assert "out_of_range" in caplog.text


async def test_an_unexpected_error_dead_letters_one_message_only(producer, dead_letters):
    with patch(
        "weather_app.processing.process_reading", side_effect=[ZeroDivisionError("bug"), None]
    ):
        async with enrich_readings.test_context() as agent:
            await agent.put(key=b'"Paris"', value=raw_message("Paris", "2026-11-27T12:00:00Z", 9.0))
    [letter] = [orjson.loads(call.kwargs["value"]) for call in dead_letters.await_args_list]
    assert letter["reason"] == "processing_error"
    assert "ZeroDivisionError" in letter["detail"]


async def test_a_foreign_message_key_does_not_crash_the_agent(producer):
    async with enrich_readings.test_context() as agent:
        await agent.put(
            key=b"\xff not json", value=raw_message("Paris", "2026-11-27T12:00:00Z", 9.0)
        )
        await agent.put(key=None, value=raw_message("Rome", "2026-11-27T12:00:00Z", 9.0))
    assert [key for key, _ in published(producer)] == [b'"Paris"', b'"Rome"']


async def test_table_changelog_records_go_to_the_partition_the_reading_came_from(producer):
    async with enrich_readings.test_context() as agent:
        for minute in (0, 10, 20):
            stamp = f"2026-11-27T12:{minute:02d}:00Z"
            await agent.put(key=b'"Paris"', value=raw_message("Paris", stamp, 9.0), partition=2)
            await agent.put(key=b'"Rome"', value=raw_message("Rome", stamp, 15.0), partition=5)
    assert len(published(producer)) == 6
    for table in (history, last_seen):
        assert set(changelog(producer, table)) == {("Paris", 2), ("Rome", 5)}
    assert len(history["Paris"]) == 3
    assert last_seen["Rome"]["count"] == 3


async def test_a_record_the_producer_gave_up_on_fails_the_batch_so_it_is_not_acked():
    failing = FakeProducer(error=KafkaTimeoutError())
    message = SimpleNamespace(topic="weather_raw", partition=0, offset=0, timestamp=0.0)
    event = SimpleNamespace(
        value=raw_message("Paris", "2026-11-27T12:00:00Z", 9.0), message=message
    )
    with (
        patch.object(app, "maybe_start_producer", AsyncMock(return_value=failing)),
        pytest.raises(KafkaTimeoutError),
    ):
        await enrich_batch([cast(EventT[bytes], event)])
    assert failing.flushes == 1
