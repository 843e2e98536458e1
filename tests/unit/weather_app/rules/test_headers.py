import pytest

from tests.unit.weather_app.rules.test_enrichment import raw
from weather_app.rules.headers import (
    STALE_AFTER_SECONDS,
    WIND_DIR,
    EnrichedHeaders,
    header_number,
)


def test_a_reading_with_a_direction_carries_it_and_the_stale_threshold():
    headers = EnrichedHeaders(stale_after_seconds=1800.0)
    assert headers.of(raw(wind_dir=225.0)) == [
        (STALE_AFTER_SECONDS, b"1800.0"),
        (WIND_DIR, b"225.0"),
    ]


def test_a_reading_without_a_direction_carries_the_stale_threshold_only():
    assert EnrichedHeaders(1728.0).of(raw()) == [(STALE_AFTER_SECONDS, b"1728.0")]


@pytest.mark.parametrize("value", [0.0, 360.0, 359.99999999999994, 1e-05, 22.5, 864])
def test_header_numbers_read_back_as_the_same_float(value: float):
    text = header_number(value)
    assert text.isascii()
    assert float(text) == float(value)
