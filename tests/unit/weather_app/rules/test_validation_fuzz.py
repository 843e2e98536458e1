"""Property-based fuzzing of the raw decoder and validator.

Whatever arrives, `decode_raw` / `validate_raw` either return a valid `RawReading` (which then
round-trips through `encode_record` and enriches) or raise `InvalidReading` with a known reason.
"""

import json
import math
from collections.abc import Callable
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import orjson
import pytest
from hypothesis import HealthCheck, event, example, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st

from models import EnrichedReading, RawReading, Sample
from models.codec import encode_record
from weather_app.rules.enrichment import enrich_sample, sample_of
from weather_app.rules.timestamps import parse_rfc3339
from weather_app.rules.validation import (
    BOUNDS,
    MAX_FUTURE_SKEW,
    MAX_MESSAGE_BYTES,
    OPTIONAL_BOUNDS,
    InvalidReading,
    decode_raw,
    validate_raw,
)

NOW = datetime(2026, 11, 28, 12, tzinfo=UTC)
KNOWN_REASONS = frozenset(
    {
        "empty",
        "too_large",
        "not_json",
        "not_object",
        "missing_field",
        "wrong_type",
        "not_finite",
        "out_of_range",
        "bad_value",
        "bad_timestamp",
        "future_timestamp",
        "bad_city",
    }
)
TEXT_FIELDS = ("city", "country", "station_id", "timestamp", "data_origin", "conditions", "icon")
NUMBER_FIELDS = (*BOUNDS, *OPTIONAL_BOUNDS)
FUZZ = hypothesis_settings(
    deadline=None,
    database=None,  # the working tree is shared: keep no example database in it
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)

# -- valid readings ---------------------------------------------------------------------------

names = st.text(min_size=1, max_size=30).filter(lambda text: text.strip() != "")
offsets = st.sampled_from(
    [UTC, timezone(timedelta(hours=2)), timezone(timedelta(hours=-9, minutes=-30))]
)


@st.composite
def timestamps(draw: st.DrawFn) -> str:
    """RFC3339 times from 1970 up to the tolerated clock skew, in several offsets and styles."""
    moment = draw(
        st.datetimes(
            min_value=datetime(1970, 1, 1, 12),
            max_value=(NOW + MAX_FUTURE_SKEW).replace(tzinfo=None),
            timezones=st.just(UTC),
        )
    ).astimezone(draw(offsets))
    if draw(st.booleans()) and moment.utcoffset() == timedelta(0):
        return moment.strftime("%Y-%m-%dT%H:%M:%SZ")
    return moment.isoformat(timespec=draw(st.sampled_from(["seconds", "milliseconds", "auto"])))


def in_bounds(low: float, high: float) -> st.SearchStrategy[float | int]:
    return st.floats(low, high) | st.integers(math.ceil(low), math.floor(high))


valid_payloads: st.SearchStrategy[dict[str, Any]] = st.fixed_dictionaries(
    {
        "city": names,
        "country": names,
        "station_id": names,
        "timestamp": timestamps(),
        "data_origin": st.sampled_from(["api", "simulated"]),
        **{name: in_bounds(low, high) for name, (low, high) in BOUNDS.items()},
    },
    optional={
        "conditions": st.text(max_size=40) | st.none(),
        "icon": st.sampled_from(["rain", "thunder-rain", "clear-day", ""]) | st.none(),
        **{name: in_bounds(low, high) | st.none() for name, (low, high) in OPTIONAL_BOUNDS.items()},
    },
)

# -- mutations --------------------------------------------------------------------------------

junk = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4)
    ),
    max_leaves=12,
)
bad_numbers = st.sampled_from(
    [math.nan, math.inf, -math.inf, 1e308, -1e308, 10**400, -(10**30), 2**63, -0.0, 500.0001]
) | st.floats(allow_nan=True, allow_infinity=True)
bad_timestamps = (
    st.sampled_from(
        [
            "0001-01-01T00:00:00+01:00",  # before datetime.min once in UTC
            "9999-12-31T23:59:59-01:00",  # after datetime.max once in UTC
            "0999-06-01T00:00:00Z",  # a year strftime writes without padding
            "1969-12-31T23:59:59Z",
            "2026-11-28T12:05:01Z",
            "2026-11-28T12:00:00+24:00",
            "2026-11-28 12:00:00",
            "2026-11-28T12:00:00",
            "T",
            "",
        ]
    )
    | st.text(max_size=40)
    | timestamps().map(lambda text: text[: len(text) // 2])
    | st.datetimes(  # beyond the tolerated clock skew
        min_value=(NOW + MAX_FUTURE_SKEW + timedelta(seconds=1)).replace(tzinfo=None),
        max_value=datetime(2200, 1, 1),
    ).map(lambda moment: moment.strftime("%Y-%m-%dT%H:%M:%SZ"))
)
huge_strings = st.integers(1_000, 3 * MAX_MESSAGE_BYTES).map(lambda size: "é" * size)

Mutation = Callable[[st.DrawFn, dict[str, Any]], None]


def wrong_type(draw: st.DrawFn, payload: dict[str, Any]) -> None:
    payload[draw(st.sampled_from(TEXT_FIELDS + NUMBER_FIELDS))] = draw(junk)


def bad_number(draw: st.DrawFn, payload: dict[str, Any]) -> None:
    payload[draw(st.sampled_from(NUMBER_FIELDS))] = draw(bad_numbers)


def out_of_range(draw: st.DrawFn, payload: dict[str, Any]) -> None:
    name, (low, high) = draw(st.sampled_from(sorted({**BOUNDS, **OPTIONAL_BOUNDS}.items())))
    payload[name] = draw(st.floats(max_value=low, exclude_max=True) | st.floats(min_value=high))


def missing_field(draw: st.DrawFn, payload: dict[str, Any]) -> None:
    if payload:
        del payload[draw(st.sampled_from(sorted(payload)))]


def blank_text(draw: st.DrawFn, payload: dict[str, Any]) -> None:
    payload[draw(st.sampled_from(TEXT_FIELDS))] = draw(st.sampled_from(["", " ", "\t\n", None]))


def extra_fields(draw: st.DrawFn, payload: dict[str, Any]) -> None:
    payload.update(draw(st.dictionaries(st.text(max_size=12), junk, min_size=1, max_size=5)))


def huge_string(draw: st.DrawFn, payload: dict[str, Any]) -> None:
    payload[draw(st.sampled_from(TEXT_FIELDS))] = draw(huge_strings)


def bad_timestamp(draw: st.DrawFn, payload: dict[str, Any]) -> None:
    payload["timestamp"] = draw(bad_timestamps)


def bad_origin(draw: st.DrawFn, payload: dict[str, Any]) -> None:
    payload["data_origin"] = draw(st.sampled_from(["API", "sim", "", "apis"]) | st.text())


MUTATIONS: list[Mutation] = [
    wrong_type,
    bad_number,
    out_of_range,
    missing_field,
    blank_text,
    extra_fields,
    huge_string,
    bad_timestamp,
    bad_origin,
]


@st.composite
def mutated_payloads(draw: st.DrawFn) -> dict[str, Any]:
    payload = dict(draw(valid_payloads))
    for mutation in draw(st.lists(st.sampled_from(MUTATIONS), min_size=1, max_size=3)):
        mutation(draw, payload)
    return payload


payloads: st.SearchStrategy[Any] = (
    valid_payloads
    | mutated_payloads()
    | junk  # not an object at all, or an object of junk
    | st.lists(valid_payloads, min_size=1, max_size=2)
)

# -- encodings --------------------------------------------------------------------------------


def to_json(payload: Any) -> bytes:
    """JSON as a lax producer writes it: NaN/Infinity tokens and big integers included."""
    return json.dumps(payload, allow_nan=True, ensure_ascii=False).encode()


@st.composite
def corrupted(draw: st.DrawFn) -> bytes:
    data = bytearray(to_json(draw(valid_payloads | mutated_payloads())))
    kind = draw(st.sampled_from(["truncate", "non_utf8", "overwrite", "bom", "trailing"]))
    if kind == "truncate":
        return bytes(data[: draw(st.integers(0, max(0, len(data) - 1)))])
    if kind == "bom":
        return b"\xef\xbb\xbf" + bytes(data)
    if kind == "trailing":
        return bytes(data) + draw(st.sampled_from([b" ", b"\n", b",", b"}", b"\x00"]))
    position = draw(st.integers(0, max(0, len(data) - 1)))
    if kind == "non_utf8":
        invalid = draw(st.sampled_from([b"\xff", b"\xc3", b"\xed\xa0\x80", b"\x80\x80"]))
        return bytes(data[:position]) + invalid + bytes(data[position:])
    patch = draw(st.binary(min_size=1, max_size=4))
    data[position : position + len(patch)] = patch
    return bytes(data)


messages: st.SearchStrategy[bytes | None] = (
    payloads.map(to_json)
    | valid_payloads.map(orjson.dumps)
    | corrupted()
    | st.binary(max_size=300)
    | st.sampled_from([None, b"", b"null", b"{}", b"[]", b'"x"', b"1e400", b"NaN"])
)

# -- the property -----------------------------------------------------------------------------


def outcome(run: Callable[[], RawReading]) -> RawReading | InvalidReading:
    """What `run` returns, or the InvalidReading it raises; any other exception escapes."""
    try:
        return run()
    except InvalidReading as refused:
        return refused


def check_outcome(run: Callable[[], RawReading]) -> None:
    """`run` returns a sound reading or raises InvalidReading with a known reason; nothing else."""
    result = outcome(run)
    if isinstance(result, InvalidReading):
        assert result.reason in KNOWN_REASONS, result.reason
        assert result.detail
        event(result.reason)  # pytest --hypothesis-show-statistics shows the mix
        return
    event("accepted")
    assert_sound(result)


def assert_sound(reading: RawReading) -> None:
    assert isinstance(reading, RawReading)
    assert reading.data_origin in {"api", "simulated"}
    assert reading.timestamp.endswith("Z")
    observed = parse_rfc3339(reading.timestamp)
    assert observed - NOW <= MAX_FUTURE_SKEW
    for name, (low, high) in BOUNDS.items():
        value = getattr(reading, name)
        assert isinstance(value, float)
        assert low <= value <= high
    for name, (low, high) in OPTIONAL_BOUNDS.items():
        value = getattr(reading, name)
        assert value is None or (isinstance(value, float) and low <= value <= high)

    again = decode_raw(encode_record(reading), NOW)
    assert again == reading
    assert again.asdict() == reading.asdict()

    current = sample_of(reading)
    enriched = enrich_sample(reading, current, [])
    assert isinstance(enriched, EnrichedReading)
    assert orjson.loads(encode_record(enriched))["timestamp"] == reading.timestamp
    earlier = current._replace(epoch=observed.timestamp() - 600)
    assert isinstance(
        enrich_sample(reading, current, [earlier, Sample(earlier.epoch - 600, 0.0, 0.0)]),
        EnrichedReading,
    )


@hypothesis_settings(FUZZ, max_examples=2_000)
@given(data=messages)
@example(data=None)
@example(data=b"\xff\xfe\x00")
def test_decode_raw_accepts_a_sound_reading_or_refuses_with_a_known_reason(data):
    check_outcome(lambda: decode_raw(data, NOW))


@hypothesis_settings(FUZZ, max_examples=1_000)
@given(payload=payloads)
@example(payload={"temperature": 10**400})
def test_validate_raw_accepts_a_sound_reading_or_refuses_with_a_known_reason(payload):
    check_outcome(lambda: validate_raw(payload, NOW))


GOOD = {
    "city": "Paris",
    "country": "FR",
    "station_id": "SIM-PAR",
    "timestamp": "2026-11-28T11:00:00Z",
    "temperature": 10.0,
    "humidity": 70.0,
    "wind_speed": 12.0,
    "precipitation": 0.0,
    "data_origin": "simulated",
}


@pytest.mark.parametrize(
    "timestamp",
    [
        "0001-01-01T00:00:00+01:00",  # OverflowError escaped validate_raw
        "9999-12-31T23:59:59-01:00",  # OverflowError escaped validate_raw
        "0999-06-01T00:00:00Z",  # accepted, then normalised to "999-06-01T00:00:00Z"
        "1969-12-31T23:59:59Z",  # before the epoch: no InfluxDB / forecast sample for it
    ],
)
def test_regression_timestamps_out_of_range_are_refused(timestamp):
    with pytest.raises(InvalidReading) as refused:
        decode_raw(orjson.dumps({**GOOD, "timestamp": timestamp}), NOW)
    assert refused.value.reason == "bad_timestamp"


def test_regression_an_integer_too_large_for_a_float_is_out_of_range():
    # json.loads (not orjson) can produce it; float() raised OverflowError.
    with pytest.raises(InvalidReading) as refused:
        validate_raw({**GOOD, "temperature": 10**400}, NOW)
    assert refused.value.reason == "out_of_range"


def test_the_oldest_accepted_timestamp_round_trips():
    reading = decode_raw(orjson.dumps({**GOOD, "timestamp": "1970-01-01T00:00:00Z"}), NOW)
    assert decode_raw(encode_record(reading), NOW) == reading


def test_regression_a_reading_whose_encoding_exceeds_the_limit_is_too_large():
    # validate_raw accepted it, then decode_raw refused what encode_record made of it.
    with pytest.raises(InvalidReading) as refused:
        validate_raw({**GOOD, "conditions": "é" * 8200}, NOW)
    assert refused.value.reason == "too_large"


def test_regression_a_message_that_fits_but_grows_when_normalised_is_too_large():
    compact = {**GOOD, "temperature": 1, "humidity": 1, "timestamp": "2026-11-28T11:00Z"}
    padding = MAX_MESSAGE_BYTES - len(orjson.dumps({**compact, "conditions": ""}))
    data = orjson.dumps({**compact, "conditions": "x" * padding})
    assert len(data) == MAX_MESSAGE_BYTES
    with pytest.raises(InvalidReading) as refused:
        decode_raw(data, NOW)
    assert refused.value.reason == "too_large"
