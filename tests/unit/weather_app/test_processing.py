from models import RawReading
from weather_app.processing import next_last_seen, process_reading


def raw(timestamp: str, temperature: float) -> RawReading:
    return RawReading(
        city="Paris",
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
    assert seen["timestamp"] == "2026-11-27T12:20:00Z"
    assert seen["latest"]["temperature"] == 9.0
    assert seen["count"] == 2
