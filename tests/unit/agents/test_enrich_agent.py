"""The enrich agent on Faust's in-memory test context: no broker needed."""

import base64
from unittest.mock import AsyncMock, patch

import orjson
import pytest

from agents.enrich import enrich_readings
from models import ENRICHED_FIELDS
from weather_app.app import dlq_topic, enriched_topic, history, last_seen, raw_topic


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


@pytest.fixture
def sent():
    with patch.object(enriched_topic, "send", new_callable=AsyncMock) as send:
        yield send


@pytest.fixture(autouse=True)
def dead_letters():
    with patch.object(dlq_topic, "send", new_callable=AsyncMock) as send:
        yield send


@pytest.fixture(autouse=True)
def empty_tables():
    for table in (history, last_seen):
        table.data.clear()


async def test_each_raw_reading_becomes_one_enriched_record_keyed_by_city(sent):
    async with enrich_readings.test_context() as agent:
        await agent.put(
            key=b'"Paris"', value=raw_message("Paris", "2026-11-27T12:00:00Z", 9.0, 1.5)
        )
    sent.assert_awaited_once()
    assert sent.await_args.kwargs["key"] == b'"Paris"'
    record = orjson.loads(sent.await_args.kwargs["value"])
    assert set(record) == set(ENRICHED_FIELDS)
    assert record["is_rain"] == 1
    assert record["timestamp"] == "2026-11-27T12:00:00Z"


async def test_tables_keep_last_seen_and_history_per_city(sent):
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
    third = orjson.loads(sent.await_args_list[2].kwargs["value"])
    # Warming 0.5 °C every 10 minutes: 3 °C an hour, the forecast is not a copy.
    assert third["next_hour_temp"] == pytest.approx(13.0)


async def test_a_late_reading_does_not_move_last_seen_back(sent):
    async with enrich_readings.test_context() as agent:
        await agent.put(key=b'"Paris"', value=raw_message("Paris", "2026-11-27T12:20:00Z", 9.0))
        await agent.put(key=b'"Paris"', value=raw_message("Paris", "2026-11-27T12:10:00Z", 9.0))
    assert last_seen["Paris"]["timestamp"] == "2026-11-27T12:20:00Z"
    assert last_seen["Paris"]["latest"]["timestamp"] == "2026-11-27T12:20:00Z"
    assert last_seen["Paris"]["count"] == 2


async def test_bad_messages_go_to_dead_letters_and_the_agent_keeps_going(
    sent, dead_letters, caplog
):
    too_hot = raw_message("Paris", "2026-11-27T12:00:00Z", 99.0)
    async with enrich_readings.test_context() as agent:
        await agent.put(key=b'"Paris"', value=b"{broken")
        await agent.put(key=b'"Paris"', value=too_hot)
        await agent.put(key=b'"Paris"', value=raw_message("Paris", "2026-11-27T12:00:00Z", 9.0))
    assert sent.await_count == 1
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


async def test_an_unexpected_error_dead_letters_one_message_only(sent, dead_letters):
    with patch("agents.enrich.process_reading", side_effect=[ZeroDivisionError("bug"), None]):
        async with enrich_readings.test_context() as agent:
            await agent.put(key=b'"Paris"', value=raw_message("Paris", "2026-11-27T12:00:00Z", 9.0))
    [letter] = [orjson.loads(call.kwargs["value"]) for call in dead_letters.await_args_list]
    assert letter["reason"] == "processing_error"
    assert "ZeroDivisionError" in letter["detail"]


async def test_a_foreign_message_key_does_not_crash_the_agent(sent):
    async with enrich_readings.test_context() as agent:
        await agent.put(
            key=b"\xff not json", value=raw_message("Paris", "2026-11-27T12:00:00Z", 9.0)
        )
        await agent.put(key=None, value=raw_message("Rome", "2026-11-27T12:00:00Z", 9.0))
    assert [call.kwargs["key"] for call in sent.await_args_list] == [b'"Paris"', b'"Rome"']
