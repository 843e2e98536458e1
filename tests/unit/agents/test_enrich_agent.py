"""The enrich agent on Faust's in-memory test context: no broker needed."""

import asyncio
import base64
from types import SimpleNamespace
from typing import Any
from unittest.mock import AsyncMock, patch

import orjson
import pytest
from aiokafka.errors import KafkaTimeoutError
from faust.types import TP

from agents.enrich import enrich_batch, enrich_readings
from models import ENRICHED_FIELDS
from models.codec import encode_key
from weather_app.app import (
    app,
    dlq_topic,
    enriched_topic,
    history,
    last_seen,
    raw_topic,
    settings,
)
from weather_app.faust_internals.tables import TableWrites
from weather_app.metrics import rekeyed_readings
from weather_app.rules.partitioning import home_partition


def raw_message(
    city: str,
    timestamp: str,
    temperature: float,
    precipitation: float = 0.0,
    wind_dir: float | None = None,
):
    return orjson.dumps(
        {
            "wind_dir": wind_dir,
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
    """Stands in for the Kafka producer the agent publishes with (no broker in unit tests).

    `failures`: how many times in a row each record's delivery fails before it succeeds.
    """

    def __init__(self, error: Exception | None = None, failures: int = 0) -> None:
        self.records: list[tuple[str, bytes, bytes, int | None]] = []
        self.headers: dict[bytes, list[tuple[str, bytes]] | None] = {}  # by record value
        self.attempts: dict[tuple[str, bytes | None, bytes | None], int] = {}
        self.flushes = 0
        self.error = error
        self.failures = failures
        self.tables_at_failures: list[bool] = []

    async def send(self, topic, key, value, partition, timestamp, headers):
        attempt = self.attempts[(topic, key, value)] = self.attempts.get((topic, key, value), 0) + 1
        result = asyncio.get_running_loop().create_future()
        if self.error is not None and attempt <= self.failures:
            if topic != dlq_topic.get_topic_name():  # a record of the Paris reading's batch
                self.tables_at_failures.append("Paris" in last_seen or "Paris" in history)
            result.set_exception(self.error)
        else:
            self.records.append((topic, key, value, partition))
            self.headers[value] = headers
            result.set_result(None)
        return result

    async def flush(self) -> None:
        self.flushes += 1


@pytest.fixture
def producer():
    fake = FakeProducer()
    with patch("agents.enrich.record_sender", AsyncMock(return_value=fake)):
        yield fake


@pytest.fixture(autouse=True)
def no_producer_metadata():
    """The app's producer is never started here: it knows no topic's partitions."""
    with patch("agents.enrich.known_partitions", return_value=None):
        yield


@pytest.fixture(autouse=True)
def no_pauses():
    with patch("weather_app.broker.outbox.FIRST_PAUSE_SECONDS", 0.001):
        yield


@pytest.fixture(autouse=True)
def stop_worker():
    with patch("agents.enrich.stop_worker") as stop:
        yield stop


def records_on(producer: FakeProducer, topic: Any) -> list[tuple[bytes, bytes]]:
    name = topic if isinstance(topic, str) else topic.get_topic_name()
    return [(key, value) for sent, key, value, _ in producer.records if sent == name]


def published(producer: FakeProducer) -> list[tuple[bytes, bytes]]:
    """The (key, value) of every record published to the enriched topic."""
    return records_on(producer, enriched_topic)


def letters(producer: FakeProducer) -> list[dict[str, Any]]:
    return [orjson.loads(value) for _, value in records_on(producer, dlq_topic)]


def changelog(producer: FakeProducer, table: Any) -> list[tuple[str, int | None]]:
    """(key, partition) of every changelog record of `table`."""
    name = table.changelog_topic.get_topic_name()
    return [(orjson.loads(key), part) for topic, key, _, part in producer.records if topic == name]


def home(city: str) -> int:
    return home_partition(encode_key(city), settings.stream.partitions)


async def put(agent: Any, city: str, value: bytes, key: bytes | None = None, **kwargs: Any):
    """Put `value` as its city's producer would: under the city's key, on its home partition."""
    kwargs.setdefault("partition", home(city))
    return await agent.put(key=encode_key(city) if key is None else key, value=value, **kwargs)


async def settled(event: Any) -> None:
    """Wait until `event`'s batch is through, acked or not (put returns once it is taken)."""
    for _ in range(200):
        if event.message.acked:
            return
        await asyncio.sleep(0.01)


@pytest.fixture(autouse=True)
def empty_tables():
    for table in (history, last_seen):
        table.data.clear()
    with patch("agents.enrich.TABLE_WRITES", TableWrites()) as held:
        yield held


async def commit() -> None:
    """The consumer's commit, which first writes the held table entries (no offset to commit)."""
    await app.consumer.commit()


async def test_each_raw_reading_becomes_one_enriched_record_keyed_by_city(producer):
    async with enrich_readings.test_context() as agent:
        await put(agent, "Paris", raw_message("Paris", "2026-11-27T12:00:00Z", 9.0, 1.5))
    [(key, value)] = published(producer)
    assert key == b'"Paris"'
    record = orjson.loads(value)
    assert set(record) == set(ENRICHED_FIELDS)
    assert record["is_rain"] == 1
    assert record["timestamp"] == "2026-11-27T12:00:00Z"


async def test_each_record_carries_its_wind_direction_and_the_stale_threshold_in_headers(
    producer,
):
    stale_after = str(2 * settings.fetch_interval_seconds).encode()
    async with enrich_readings.test_context() as agent:
        await put(agent, "Paris", raw_message("Paris", "2026-11-27T12:00:00Z", 9.0, wind_dir=225))
        await put(agent, "Paris", raw_message("Paris", "2026-11-27T12:10:00Z", 9.0))
        await put(agent, "Paris", raw_message("Paris", "2026-11-27T12:20:00Z", 9.0, wind_dir=361))
    with_direction, without_direction = published(producer)
    assert set(orjson.loads(with_direction[1])) == set(ENRICHED_FIELDS)
    assert producer.headers[with_direction[1]] == [
        ("stale_after_seconds", stale_after),
        ("wind_dir", b"225.0"),
    ]
    assert producer.headers[without_direction[1]] == [("stale_after_seconds", stale_after)]
    # A direction outside 0..360 costs the whole reading, as every bound does.
    [letter] = letters(producer)
    assert (letter["reason"], letter["detail"]) == (
        "out_of_range",
        "wind_dir=361.0 outside 0.0..360.0",
    )


async def test_tables_keep_last_seen_and_history_per_city(producer):
    async with enrich_readings.test_context() as agent:
        for minute, temperature in ((0, 9.0), (10, 9.5), (20, 10.0)):
            stamp = f"2026-11-27T12:{minute:02d}:00Z"
            await put(agent, "Paris", raw_message("Paris", stamp, temperature))
        await put(agent, "Rome", raw_message("Rome", "2026-11-27T12:05:00Z", 15.0))
    await commit()
    paris = last_seen["Paris"]
    assert (paris.timestamp, paris.data_origin, paris.count) == (
        "2026-11-27T12:20:00Z",
        "simulated",
        3,
    )
    assert paris.latest.temperature == 10.0
    assert paris.latest.timestamp == "2026-11-27T12:20:00Z"
    assert last_seen["Rome"].count == 1
    assert len(history["Paris"].samples) == 3
    third = orjson.loads(published(producer)[2][1])
    # Warming 0.5 °C every 10 minutes: 3 °C an hour, the forecast is not a copy.
    assert third["next_hour_temp"] == pytest.approx(13.0)


async def test_a_late_reading_does_not_move_last_seen_back(producer):
    async with enrich_readings.test_context() as agent:
        await put(agent, "Paris", raw_message("Paris", "2026-11-27T12:20:00Z", 9.0))
        await put(agent, "Paris", raw_message("Paris", "2026-11-27T12:10:00Z", 9.0))
    await commit()
    assert last_seen["Paris"].timestamp == "2026-11-27T12:20:00Z"
    assert last_seen["Paris"].latest.timestamp == "2026-11-27T12:20:00Z"
    assert last_seen["Paris"].count == 2


async def test_bad_messages_go_to_dead_letters_and_the_agent_keeps_going(producer, caplog):
    too_hot = raw_message("Paris", "2026-11-27T12:00:00Z", 99.0)
    async with enrich_readings.test_context() as agent:
        await put(agent, "Paris", b"{broken")
        await put(agent, "Paris", too_hot)
        await put(agent, "Paris", raw_message("Paris", "2026-11-27T12:00:00Z", 9.0))
    assert len(published(producer)) == 1
    dead = letters(producer)
    assert [letter["reason"] for letter in dead] == ["not_json", "out_of_range"]
    assert base64.b64decode(dead[0]["original_value_base64"]) == b"{broken"
    assert base64.b64decode(dead[1]["original_value_base64"]) == too_hot
    assert base64.b64decode(dead[1]["original_key_base64"]) == b'"Paris"'
    assert [letter["source_offset"] for letter in dead] == [0, 1]
    assert all(letter["source_topic"] == raw_topic.get_topic_name() for letter in dead)
    assert [key for key, _ in records_on(producer, dlq_topic)] == [b'"Paris"'] * 2
    assert "not_json" in caplog.text
    assert "out_of_range" in caplog.text


async def test_a_raw_message_as_large_as_the_broker_takes_is_dead_lettered_with_the_batch_intact(
    producer,
):
    huge = b'{"city": "Paris", "conditions": "' + b"x" * 1_048_000 + b'"}'
    async with enrich_readings.test_context() as agent:
        await put(agent, "Paris", huge)
        await put(agent, "Paris", raw_message("Paris", "2026-11-27T12:00:00Z", 9.0))
    [letter] = letters(producer)
    assert (letter["reason"], letter["truncated"], letter["original_value_bytes"]) == (
        "too_large",
        True,
        len(huge),
    )
    assert max(len(value) for _, value in records_on(producer, dlq_topic)) < 16 * 1024
    assert len(published(producer)) == 1


async def test_an_unexpected_error_dead_letters_one_message_only(producer):
    with patch(
        "weather_app.rules.batch.process_reading", side_effect=[ZeroDivisionError("bug"), None]
    ):
        async with enrich_readings.test_context() as agent:
            await put(agent, "Paris", raw_message("Paris", "2026-11-27T12:00:00Z", 9.0))
    [letter] = letters(producer)
    assert letter["reason"] == "processing_error"
    assert "ZeroDivisionError" in letter["detail"]


async def test_a_reading_under_another_key_is_republished_under_its_city_s_key(producer):
    before = rekeyed_readings._value.get()
    paris = raw_message("Paris", "2026-11-27T12:00:00Z", 9.0)
    rome = raw_message("Rome", "2026-11-27T12:00:00Z", 9.0)
    async with enrich_readings.test_context() as agent:
        await put(agent, "Paris", paris, key=b"\xff not json", partition=home("Paris"))
        await agent.put(
            key=None, value=rome, partition=(home("Rome") + 1) % settings.stream.partitions
        )
    assert published(producer) == []
    assert changelog(producer, last_seen) == []
    assert "Paris" not in last_seen
    assert records_on(producer, raw_topic) == [(b'"Paris"', paris), (b'"Rome"', rome)]
    assert all(
        part is None for topic, *_, part in producer.records if topic == raw_topic.get_topic_name()
    )
    assert rekeyed_readings._value.get() == before + 2


async def test_a_reading_under_its_key_on_another_partition_is_republished(producer):
    paris = raw_message("Paris", "2026-11-27T12:00:00Z", 9.0)
    async with enrich_readings.test_context() as agent:
        await put(agent, "Paris", paris, partition=(home("Paris") + 1) % settings.stream.partitions)
        await put(agent, "Paris", paris)
    assert records_on(producer, raw_topic) == [(b'"Paris"', paris)]
    assert len(published(producer)) == 1


async def test_table_changelog_records_go_to_the_city_s_home_partition(producer):
    async with enrich_readings.test_context() as agent:
        for minute in (0, 10, 20):
            stamp = f"2026-11-27T12:{minute:02d}:00Z"
            await put(agent, "Paris", raw_message("Paris", stamp, 9.0))
            await put(agent, "Rome", raw_message("Rome", stamp, 15.0))
    await commit()
    assert len(published(producer)) == 6
    for table in (history, last_seen):
        assert set(changelog(producer, table)) == {("Paris", home("Paris")), ("Rome", home("Rome"))}
    assert len(history["Paris"].samples) == 3
    assert last_seen["Rome"].count == 3


def raw_event(city: str, value: bytes, offset: int) -> Any:
    """A raw reading's event as the agent's batch holds it, on its city's home partition."""
    topic, partition = raw_topic.get_topic_name(), home(city)
    message = SimpleNamespace(
        topic=topic,
        partition=partition,
        tp=TP(topic, partition),
        key=encode_key(city),
        value=value,
        offset=offset,
        timestamp=0.0,
    )
    return SimpleNamespace(message=message, value=value)


async def test_under_exactly_once_each_readings_records_join_its_input_partitions_transaction(
    producer, monkeypatch
):
    joined: list[Any] = []
    sent_in: list[tuple[str, Any]] = []
    send = producer.send

    async def send_noting_transaction(topic, key, value, partition, timestamp, headers):
        sent_in.append((topic, joined[-1] if joined else None))
        return await send(topic, key, value, partition, timestamp, headers)

    monkeypatch.setattr("agents.enrich.exactly_once", True)
    monkeypatch.setattr("agents.enrich.join_transaction_of", joined.append)
    monkeypatch.setattr(producer, "send", send_noting_transaction)
    assert home("Paris") != home("Berlin")
    batch = [  # one batch, its partitions interleaved as Faust hands them over
        raw_event("Paris", raw_message("Paris", "2026-11-27T12:00:00Z", 9.0), 0),
        raw_event("Berlin", raw_message("Berlin", "2026-11-27T12:00:00Z", 5.0), 0),
        raw_event("Paris", raw_message("Paris", "2026-11-27T12:10:00Z", 9.5), 1),
        raw_event("Berlin", b"not json", 1),
    ]
    await enrich_batch(batch)
    output, dlq = enriched_topic.get_topic_name(), dlq_topic.get_topic_name()
    assert [(topic, tp.partition) for topic, tp in sent_in if topic in (output, dlq)] == [
        (output, home("Paris")),
        (output, home("Berlin")),
        (output, home("Paris")),
        (dlq, home("Berlin")),
    ]


@pytest.mark.parametrize(
    ("output_partitions", "expected"),
    [(settings.stream.partitions, "home"), (settings.stream.partitions + 1, None), (None, None)],
)
async def test_an_enriched_record_is_sent_to_its_readings_partition_when_the_topics_match(
    producer, monkeypatch, output_partitions, expected
):
    # Where the producer's partitioner would put it; when the topics' partitions differ (or the
    # producer does not know the enriched topic yet), the partitioner picks.
    monkeypatch.setattr("agents.enrich.known_partitions", lambda app, topic: output_partitions)
    async with enrich_readings.test_context() as agent:
        await put(agent, "Paris", raw_message("Paris", "2026-11-27T12:00:00Z", 9.0))
        await put(agent, "Rome", raw_message("Rome", "2026-11-27T12:00:00Z", 15.0))
    output = enriched_topic.get_topic_name()
    sent = [(orjson.loads(key), part) for to, key, _, part in producer.records if to == output]
    assert sent == [
        (city, home(city) if expected == "home" else None) for city in ("Paris", "Rome")
    ]


async def test_an_unknown_city_is_dead_lettered_unless_accepted(producer):
    async with enrich_readings.test_context() as agent:
        await put(agent, "Atlantis", raw_message("Atlantis", "2026-11-27T12:00:00Z", 9.0))
    assert [letter["reason"] for letter in letters(producer)] == ["unknown_city"]
    assert published(producer) == []
    assert "Atlantis" not in last_seen


async def test_accepted_unknown_cities_stop_at_the_maximum(producer):
    from weather_app.app import admission

    with patch.object(admission, "accept_unknown", True), patch.object(admission, "max_cities", 3):
        async with enrich_readings.test_context() as agent:
            for city in ("Paris", "Atlantis", "Lemuria", "Mu", "Atlantis", "Tokyo"):
                await put(agent, city, raw_message(city, "2026-11-27T12:00:00Z", 9.0))
    await commit()
    assert [letter["reason"] for letter in letters(producer)] == ["too_many_cities"]
    assert [orjson.loads(key) for key, _ in published(producer)].count("Atlantis") == 2
    assert sorted(last_seen.keys()) == ["Atlantis", "Lemuria", "Paris", "Tokyo"]


async def test_records_the_producer_failed_are_sent_again_and_the_tables_wait_for_them():
    flaky = FakeProducer(error=KafkaTimeoutError(), failures=3)
    with patch("agents.enrich.record_sender", AsyncMock(return_value=flaky)):
        async with enrich_readings.test_context() as agent:
            event = await put(agent, "Paris", raw_message("Paris", "2026-11-27T12:00:00Z", 9.0))
            await settled(event)
            await settled(await put(agent, "Paris", b"{broken"))
        await commit()
    assert len(published(flaky)) == 1
    assert len(letters(flaky)) == 1
    assert {topic for topic, *_ in flaky.records} >= {
        history.changelog_topic.get_topic_name(),
        last_seen.changelog_topic.get_topic_name(),
    }
    assert all(attempts == 4 for attempts in flaky.attempts.values())
    assert flaky.tables_at_failures
    assert not any(flaky.tables_at_failures)
    assert last_seen["Paris"].count == 1
    assert event.message.acked


async def test_a_batch_that_cannot_be_delivered_is_not_acked_and_stops_the_worker(stop_worker):
    failing = FakeProducer(error=KafkaTimeoutError(), failures=10**9)
    with (
        patch("agents.enrich.record_sender", AsyncMock(return_value=failing)),
        patch("agents.enrich.exactly_once", True),
    ):
        async with enrich_readings.test_context() as agent:
            event = await put(agent, "Paris", raw_message("Paris", "2026-11-27T12:00:00Z", 9.0))
            await settled(event)
    assert not event.message.acked
    [call] = stop_worker.call_args_list
    assert "KafkaTimeoutError" in call.args[0]
    assert "Paris" not in last_seen


async def test_the_tables_take_a_city_s_newest_entries_at_the_next_commit_in_one_record_each(
    producer,
):
    async with enrich_readings.test_context() as agent:
        for minute in (0, 10, 20):  # a batch each
            stamp = f"2026-11-27T12:{minute:02d}:00Z"
            await settled(await put(agent, "Paris", raw_message("Paris", stamp, 9.0)))
        assert len(published(producer)) == 3
        assert changelog(producer, history) == changelog(producer, last_seen) == []
        assert "Paris" not in last_seen
        await commit()
    for table in (history, last_seen):
        assert changelog(producer, table) == [("Paris", home("Paris"))]
    assert last_seen["Paris"].count == 3
    assert len(history["Paris"].samples) == 3


async def test_table_entries_that_cannot_be_written_at_a_commit_stop_the_worker(
    producer, stop_worker
):
    async with enrich_readings.test_context() as agent:
        event = await put(agent, "Paris", raw_message("Paris", "2026-11-27T12:00:00Z", 9.0))
        await settled(event)
        assert event.message.acked
        producer.error, producer.failures = KafkaTimeoutError(), 10**9
        with patch("agents.enrich.exactly_once", True):
            await commit()
    [call] = stop_worker.call_args_list
    assert "2 table entries" in call.args[0]
    assert "KafkaTimeoutError" in call.args[0]
    assert "Paris" not in last_seen
