from datetime import UTC, datetime

import orjson
import pytest

from models.codec import encode_record
from weather_app.rules.validation import (
    MAX_ENCODING_GROWTH,
    MAX_MESSAGE_BYTES,
    InvalidReading,
    decode_raw,
)

NOW = datetime(2026, 11, 28, 12, 0, tzinfo=UTC)
GOOD = {
    "city": "Paris",
    "country": "FR",
    "station_id": "SIM-PAR",
    "timestamp": "2026-11-28T13:00:00+01:00",
    "temperature": 10,
    "humidity": 70.5,
    "wind_speed": 12.0,
    "precipitation": 0.0,
    "data_origin": "simulated",
}


def test_a_good_message_decodes_with_a_normalised_utc_timestamp():
    reading = decode_raw(orjson.dumps(GOOD), NOW)
    assert reading.timestamp == "2026-11-28T12:00:00Z"
    assert reading.temperature == 10.0
    assert isinstance(reading.temperature, float)


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (None, "empty"),
        (b"{not json", "not_json"),
        (b"[1, 2]", "not_object"),
        (b"x" * (MAX_MESSAGE_BYTES + 1), "too_large"),
        (orjson.dumps({**GOOD, "city": None}), "missing_field"),
        (orjson.dumps({k: v for k, v in GOOD.items() if k != "humidity"}), "missing_field"),
        (orjson.dumps({**GOOD, "temperature": "warm"}), "wrong_type"),
        (orjson.dumps({**GOOD, "temperature": True}), "wrong_type"),
        (orjson.dumps({**GOOD, "city": 3}), "wrong_type"),
        (b'{"temperature": NaN}', "not_json"),
        (orjson.dumps({**GOOD, "temperature": 61}), "out_of_range"),
        (orjson.dumps({**GOOD, "humidity": -1}), "out_of_range"),
        (orjson.dumps({**GOOD, "wind_speed": 401}), "out_of_range"),
        (orjson.dumps({**GOOD, "precipitation": 501}), "out_of_range"),
        (orjson.dumps({**GOOD, "data_origin": "guess"}), "bad_value"),
        (orjson.dumps({**GOOD, "timestamp": "yesterday"}), "bad_timestamp"),
        (orjson.dumps({**GOOD, "timestamp": "2026-11-28T12:10:00Z"}), "future_timestamp"),
    ],
)
def test_bad_messages_are_refused_with_a_reason(data, reason):
    with pytest.raises(InvalidReading) as refused:
        decode_raw(data, NOW)
    assert refused.value.reason == reason


def test_small_clock_skew_is_tolerated():
    decode_raw(orjson.dumps({**GOOD, "timestamp": "2026-11-28T12:04:00Z"}), NOW)


def padded_to(size: int, payload: dict[str, object]) -> bytes:
    """`payload` with its conditions padded so the message is exactly `size` bytes."""
    base = len(orjson.dumps({**payload, "conditions": ""}))
    data = orjson.dumps({**payload, "conditions": "x" * (size - base)})
    assert len(data) == size
    return data


def test_a_message_at_the_limit_whose_normalised_form_outgrows_it_is_too_large():
    # Four integers gain ".0", the timestamp is rewritten in UTC and the optional fields appear.
    tight = {**GOOD, "temperature": 1, "humidity": 1, "wind_speed": 1, "precipitation": 0}
    with pytest.raises(InvalidReading) as refused:
        decode_raw(padded_to(MAX_MESSAGE_BYTES, tight), NOW)
    assert refused.value.reason == "too_large"


def test_the_growth_margin_covers_the_largest_normalisation():
    # What grows most: numbers written as one-digit integers or exponents (1 -> 1.0,
    # 1e1 -> 10.0), and absent optional fields (written as null or "").
    smallest = {**GOOD, "temperature": 1, "humidity": 1, "wind_speed": 1, "precipitation": 1}
    smallest.update(wind_dir=1, forecast_temp=1e1, forecast_precip=1)
    data = orjson.dumps(smallest)
    grown = len(encode_record(decode_raw(data, NOW))) - len(data)
    assert 0 < grown <= MAX_ENCODING_GROWTH // 2
    minimal = orjson.dumps({key: GOOD[key] for key in GOOD})
    assert len(encode_record(decode_raw(minimal, NOW))) - len(minimal) <= MAX_ENCODING_GROWTH // 2


@pytest.mark.parametrize(
    "city",
    ["x" * 101, "Rome\nFAKE LOG LINE", "Paris\r", "Nul\x00", "Zero\u200bwidth", "Sep\u2028line"],
)
def test_a_city_name_that_is_too_long_or_holds_control_characters_is_refused(city):
    with pytest.raises(InvalidReading) as refused:
        decode_raw(orjson.dumps({**GOOD, "city": city}), NOW)
    assert refused.value.reason == "bad_city"
    assert "\n" not in str(refused.value)


@pytest.mark.parametrize("city", ["x" * 100, "São Paulo", "Zürich", "Saint-Denis", "東京"])
def test_ordinary_city_names_up_to_100_characters_are_accepted(city):
    assert decode_raw(orjson.dumps({**GOOD, "city": city}), NOW).city == city
