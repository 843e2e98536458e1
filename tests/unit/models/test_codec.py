import tracemalloc

from models.codec import encode_record
from weather_app.rules.timestamps import parse_rfc3339
from weather_app.sources.cities import DEFAULT_CITIES
from weather_app.sources.simulation import simulate_reading


def test_encoded_records_hold_no_more_memory_than_their_bytes():
    """A round of readings is held until delivered: orjson's own bytes would keep 4 KiB each."""
    reading = simulate_reading(DEFAULT_CITIES[0], parse_rfc3339("2026-11-30T12:00:00Z"), 1)
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        held = [encode_record(reading) for _ in range(1000)]
        used = tracemalloc.get_traced_memory()[0] - before
    finally:
        tracemalloc.stop()
    assert used < 1000 * (len(held[0]) + 200), f"{used / 1000:.0f} bytes a record"
