from typing import Any

import pytest

from models import LastSeen, RawReading, Sample, StoredSamples
from weather_app.rules.batch import (
    BatchProcessor,
    next_last_seen,
    process_reading,
    samples_from_table,
)


def raw(timestamp: str, temperature: float, city: str = "Paris") -> RawReading:
    return RawReading(
        city=city,
        country="FR",
        station_id="SIM-PAR",
        timestamp=timestamp,
        temperature=temperature,
        humidity=60.0,
        wind_speed=10.0,
        precipitation=0.0,
        data_origin="simulated",
    )


def test_processing_returns_the_record_and_the_grown_history():
    enriched, samples = process_reading(raw("2026-11-27T12:00:00Z", 9.0), [], history_size=2)
    assert enriched.temperature == 9.0
    assert len(samples) == 1
    _, samples = process_reading(raw("2026-11-27T12:10:00Z", 9.5), samples, history_size=2)
    _, samples = process_reading(raw("2026-11-27T12:20:00Z", 10.0), samples, history_size=2)
    assert [sample.temperature for sample in samples] == [9.5, 10.0]


def test_last_seen_keeps_the_newest_observation_and_counts_every_reading():
    first, _ = process_reading(raw("2026-11-27T12:20:00Z", 9.0), [], 12)
    late, _ = process_reading(raw("2026-11-27T12:10:00Z", 7.0), [], 12)
    seen = next_last_seen(None, first)
    seen = next_last_seen(seen, late)
    assert seen.timestamp == "2026-11-27T12:20:00Z"
    assert seen.latest.temperature == 9.0
    assert seen.count == 2


def city_raw(city: str, timestamp: str, temperature: float) -> RawReading:
    return raw(timestamp, temperature, city)


def nothing_stored(city: str) -> None:
    return None


def one_at_a_time(readings, history, seen, history_size):
    records = []
    for reading in readings:
        record, samples = process_reading(
            reading, samples_from_table(history.get(reading.city)), history_size
        )
        history[reading.city] = StoredSamples(samples=samples)
        seen[reading.city] = next_last_seen(seen.get(reading.city), record)
        records.append(record)
    return records


def test_a_batch_gives_the_records_and_table_entries_of_one_reading_at_a_time():
    stored_history = {"Paris": StoredSamples(samples=[Sample(1795778400.0, 8.0, 0.0)])}  # 11:20Z
    rome, _ = process_reading(city_raw("Rome", "2026-11-27T13:00:00Z", 14.0), [], 3)
    stored_seen = {
        "Rome": LastSeen(timestamp=rome.timestamp, data_origin="api", count=5, latest=rome)
    }
    readings = [
        city_raw("Paris", "2026-11-27T12:00:00Z", 9.0),
        city_raw("Rome", "2026-11-27T12:00:00Z", 15.0),
        city_raw("Paris", "2026-11-27T12:10:00Z", 9.5),
        city_raw("Paris", "2026-11-27T12:05:00Z", 9.2),  # late
        city_raw("Paris", "2026-11-27T12:20:00Z", 10.0),
        city_raw("Paris", "2026-11-27T12:20:00Z", 10.5),  # same time again: the later one wins
    ]
    history: dict[str, Any] = dict(stored_history)
    seen = dict(stored_seen)
    expected = one_at_a_time(readings, history, seen, history_size=3)

    batch = BatchProcessor(3, stored_history.get, stored_seen.get)
    assert [batch.process(reading, partition=4) for reading in readings] == expected
    updates = dict(batch.updates())
    assert set(updates) == {"Paris", "Rome"}
    for city, update in updates.items():
        assert update.samples == history[city]
        assert update.last_seen == seen[city]
        assert update.partition == 4
    assert updates["Rome"].last_seen.count == 6
    assert updates["Rome"].last_seen.timestamp == "2026-11-27T13:00:00Z"
    assert updates["Rome"].last_seen.latest == rome
    assert updates["Paris"].last_seen.latest.temperature == 10.5


def test_a_city_whose_only_reading_failed_has_no_update():
    batch = BatchProcessor(3, nothing_stored, nothing_stored)
    with pytest.raises(ValueError, match="isoformat"):
        batch.process(city_raw("Paris", "not a time", 9.0), partition=0)
    assert list(batch.updates()) == []


def test_a_city_update_goes_to_the_partition_of_its_last_reading():
    batch = BatchProcessor(3, nothing_stored, nothing_stored)
    batch.process(city_raw("Paris", "2026-11-27T12:00:00Z", 9.0), partition=1)
    batch.process(city_raw("Paris", "2026-11-27T12:10:00Z", 9.0), partition=2)
    assert dict(batch.updates())["Paris"].partition == 2
