"""The exact bytes on our topics and table changelogs, pinned by a fixture written by the
dataclass version of the records (commit 95c2a86): consumers of `weather_data_v2` and a worker
recovering a changelog that an older worker wrote must see no difference.

`fixtures/wire_v2.txt` holds one record a line: name, key and value, separated by tabs (JSON as
orjson writes it never holds a raw tab or newline), with `-` for no key.
"""

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import orjson
from faust.types import Message

from models import EnrichedReading, FreshnessAlert, LastSeen, RawReading, Sample, StoredSamples
from models.codec import encode_key, encode_record
from weather_app.app import history, last_seen, settings
from weather_app.faust_internals.tables import changelog_record
from weather_app.rules.batch import BatchProcessor
from weather_app.rules.deadletter import dead_letter
from weather_app.rules.partitioning import home_partition
from weather_app.rules.validation import decode_raw, validate_raw

FIXTURE = Path(__file__).parent / "fixtures" / "wire_v2.txt"
NOW = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)
CITIES = ("Paris", "São Paulo", "東京", 'O"Hare\\')


def raw_readings() -> list[RawReading]:
    return [
        RawReading(  # every field set, awkward numbers as a source could pass them
            city="São Paulo",
            country="BR",
            station_id="SIM-SAO",
            timestamp="2026-11-30T11:00:00Z",
            temperature=-0.0,
            humidity=1,
            wind_speed=0.1 + 0.2,
            precipitation=0,
            data_origin="api",
            wind_dir=359.99999999999994,
            conditions="Rain, Partially cloudy",
            icon="thunder-rain",
            forecast_temp=1e-7,
            forecast_precip=12.5,
            source_station_id="07149099999",
        ),
        RawReading(  # the optional fields left out
            city="東京",
            country="JP",
            station_id="SIM-TYO",
            timestamp="2026-11-30T11:00:00Z",
            temperature=21.123456789012345,
            humidity=55.0,
            wind_speed=3.3,
            precipitation=0.0,
            data_origin="simulated",
        ),
        validate_raw(  # as decoded from the raw topic: numbers made floats, time made UTC
            {
                "city": 'O"Hare\\',
                "country": "US",
                "station_id": "SIM-ORD",
                "timestamp": "2026-11-30T12:30:00+01:00",
                "temperature": -3,
                "humidity": 100,
                "wind_speed": 0,
                "precipitation": 8,
                "data_origin": "api",
                "forecast_temp": None,
                "forecast_precip": 0,
                "icon": "",
            },
            NOW,
        ),
    ]


def paris(timestamp: str, temperature: float, precipitation: float) -> RawReading:
    return RawReading(
        city="Paris",
        country="FR",
        station_id="SIM-PAR",
        timestamp=timestamp,
        temperature=temperature,
        humidity=60.5,
        wind_speed=55.0,
        precipitation=precipitation,
        data_origin="simulated",
    )


def wire_records() -> Iterator[tuple[str, bytes | None, bytes | None]]:
    """What this version writes for each case: (name, key, value)."""
    for city in CITIES:
        yield f"key {city}", None, encode_key(city)
    raws = raw_readings()
    for index, reading in enumerate(raws):
        yield f"raw {index}", encode_key(reading.city), encode_record(reading)

    # Two batches through the agent's processor, the second reading the tables the first wrote,
    # with a late Paris reading that must not move its newest observation back.
    tables: dict[str, dict[str, object]] = {"history": {}, "last_seen": {}}
    batches = [
        [
            *raws,
            paris("2026-11-30T11:00:00Z", 9.0, 0.0),
            paris("2026-11-30T11:10:00Z", 9.123456789, 0.30000000000000004),
        ],
        [paris("2026-11-30T11:20:00Z", 10.0, 8.0), paris("2026-11-30T10:50:00Z", 8.5, 0.0)],
    ]
    for number, readings in enumerate(batches, 1):
        batch = BatchProcessor(3, tables["history"].get, tables["last_seen"].get)  # type: ignore[arg-type]
        for index, reading in enumerate(readings):
            enriched = batch.process(reading, partition=index % 6)
            yield f"enriched {number}.{index}", encode_key(reading.city), encode_record(enriched)
        for city, update in batch.updates():
            for table, value in ((history, update.samples), (last_seen, update.last_seen)):
                record = changelog_record(table, city, value, update.partition)
                yield f"changelog {table.name} {number} {city}", record.key, record.value
                tables[table.name][city] = value

    letters = [
        dead_letter(
            "not_json",
            "unexpected character: line 1 column 1 (char 0)",
            topic="weather_raw",
            partition=2,
            offset=41,
            timestamp_ms=1_764_500_000_123,
            key=None,
            value=b"\xff{broken",
            now=NOW,
        ),
        dead_letter(
            "future_timestamp",
            "timestamp 2026-12-01T00:00:00Z is in the future",
            topic="weather_raw",
            partition=0,
            offset=0,
            timestamp_ms=0,
            key=encode_key("Zürich"),
            value=b"",
            now=NOW,
        ),
    ]
    for index, letter in enumerate(letters):
        yield f"dead letter {index}", None, encode_record(letter)

    alerts = [
        FreshnessAlert(
            city="São Paulo",
            state="stale",
            last_seen="2026-11-30T11:00:00Z",
            age_seconds=3600.1,
            threshold_seconds=20,
            detected_at="2026-11-30T12:00:00Z",
        ),
        FreshnessAlert(
            city="Paris",
            state="fresh",
            last_seen="2026-11-30T11:59:59Z",
            age_seconds=-0.0,
            threshold_seconds=20.0,
            detected_at="2026-11-30T12:00:00Z",
        ),
    ]
    for index, alert in enumerate(alerts):
        yield f"alert {index}", encode_key(alert.city), encode_record(alert)


def read_fixture() -> list[tuple[str, bytes | None, bytes | None]]:
    records: list[tuple[str, bytes | None, bytes | None]] = []
    for line in FIXTURE.read_text(encoding="utf-8").splitlines():
        name, key, value = line.split("\t")
        records.append((name, None if key == "-" else key.encode(), value.encode()))
    return records


def test_records_and_changelogs_are_written_byte_for_byte_as_the_fixture_says():
    assert list(wire_records()) == read_fixture()


async def test_a_changelog_an_older_worker_wrote_recovers_into_typed_entries():
    """Decoded as the recovery decodes changelog records, the fixture's last_seen and history
    values become `LastSeen` and `StoredSamples`, and write back the bytes they were read from."""
    changelogs = [
        (table, key, value)
        for name, key, value in read_fixture()
        for table in (history, last_seen)
        if name.startswith(f"changelog {table.name} ")
    ]
    assert len(changelogs) == 10
    for table, key, value in changelogs:
        assert key is not None
        city = orjson.loads(key)
        partition = home_partition(key, settings.stream.partitions)
        topic = table.changelog_topic
        message = Message(topic.get_topic_name(), partition, 0, 0.0, 0, None, key, value, None)
        event = await topic.decode(message, propagate=True)
        table.apply_changelog_batch([event])
        entry = table.data[city]
        assert type(entry) is (LastSeen if table is last_seen else StoredSamples)
        assert changelog_record(table, city, entry, partition).value == value

    paris = last_seen.data["Paris"]
    assert (paris.timestamp, paris.count) == ("2026-11-30T11:20:00Z", 4)
    assert isinstance(paris.latest, EnrichedReading)
    assert (paris.latest.next_hour_temp, paris.latest.is_storm) == (13.0, 1)
    assert history.data["São Paulo"].samples == [Sample(1796036400.0, -0.0, 0)]
    assert [sample.temperature for sample in history.data["Paris"].samples] == [
        9.0,
        9.123456789,
        10.0,
    ]
    last_seen.data.clear()
    history.data.clear()


def test_raw_messages_written_before_source_station_id_still_decode():
    """`fixtures/raw_before_source_station.txt`: the raw lines of `wire_v2.txt` before raw readings
    carried `source_station_id`. They decode as they did, the new field None."""
    old_raw = Path(__file__).parent / "fixtures" / "raw_before_source_station.txt"
    lines = old_raw.read_text(encoding="utf-8").splitlines()
    assert len(lines) == 3
    for line in lines:
        value = line.split("\t")[2].encode()
        reading = decode_raw(value, NOW)
        assert reading.source_station_id is None
        assert "source_station_id" not in orjson.loads(value)
        assert orjson.loads(encode_record(reading)) == {
            **orjson.loads(value),
            "source_station_id": None,
        }
