"""Decode and validate raw readings: each message becomes a `RawReading` or an `InvalidReading`."""

import math
import unicodedata
from datetime import UTC, datetime, timedelta
from typing import Any

from models import RawReading
from models.codec import decode_value, encode_record
from weather_app.errors import WeatherError
from weather_app.rules.timestamps import format_rfc3339, is_canonical_rfc3339, parse_rfc3339

MAX_MESSAGE_BYTES = 16 * 1024
# How much longer a valid message's normalised encoding can be than the message itself, with a
# 2x safety factor: text values encode no longer than they arrived (orjson writes UTF-8 and the
# shortest escapes JSON allows), so only the fixed keys, the normalised timestamp (20 characters)
# and seven numbers (at most 24 characters each, 1 -> 1.0) can grow: under 512 bytes in all.
MAX_ENCODING_GROWTH = 1024
MAX_FUTURE_SKEW = timedelta(minutes=5)
# No observation before the Unix epoch: forecast samples are epoch seconds, and earlier years
# would not round-trip (strftime writes year 999 as "999").
MIN_TIMESTAMP = datetime(1970, 1, 1, tzinfo=UTC)
BOUNDS: dict[str, tuple[float, float]] = {
    "temperature": (-90.0, 60.0),
    "humidity": (0.0, 100.0),
    "wind_speed": (0.0, 400.0),
    "precipitation": (0.0, 500.0),
}
OPTIONAL_BOUNDS: dict[str, tuple[float, float]] = {
    "wind_dir": (0.0, 360.0),
    "forecast_temp": (-90.0, 60.0),
    "forecast_precip": (0.0, 500.0),
}
REQUIRED_TEXT = ("city", "country", "station_id", "timestamp", "data_origin")
OPTIONAL_TEXT = ("conditions", "icon")
DATA_ORIGINS = frozenset({"api", "simulated"})
# Every distinct city name becomes a table key, a changelog record, a metric series and a log
# field: a bound, and no characters that could forge a log line or hide in a dashboard.
MAX_CITY_CHARACTERS = 100
FORBIDDEN_IN_CITY = frozenset({"Cc", "Cf", "Cs", "Zl", "Zp"})


class InvalidReading(WeatherError):
    """Why a raw message was refused; `reason` is a short stable label for counting."""

    def __init__(self, reason: str, detail: str) -> None:
        super().__init__(f"{reason}: {detail}")
        self.reason = reason
        self.detail = detail


def decode_raw(data: bytes | None, now: datetime) -> RawReading:
    """Parse one message value from the raw topic, or raise `InvalidReading`."""
    if data is None:
        raise InvalidReading("empty", "message has no value")
    if len(data) > MAX_MESSAGE_BYTES:
        raise InvalidReading("too_large", f"{len(data)} bytes > {MAX_MESSAGE_BYTES}")
    try:
        payload = decode_value(data)
    except ValueError as error:
        raise InvalidReading("not_json", str(error)) from None
    return validate_raw(payload, now, encoded_size=len(data))


def validate_raw(payload: Any, now: datetime, encoded_size: int | None = None) -> RawReading:
    """Check a decoded payload (`encoded_size`: its size on the wire, when known)."""
    if not isinstance(payload, dict):
        raise InvalidReading("not_object", f"expected a JSON object, got {type(payload).__name__}")
    fields: dict[str, Any] = {}
    for name in REQUIRED_TEXT:
        fields[name] = _text(payload, name, required=True)
    for name in OPTIONAL_TEXT:
        fields[name] = _text(payload, name, required=False) or ""
    fields["source_station_id"] = _text(payload, "source_station_id", required=False)
    _check_city(fields["city"])
    for name, (low, high) in BOUNDS.items():
        fields[name] = _number(payload, name, low, high, required=True)
    for name, (low, high) in OPTIONAL_BOUNDS.items():
        fields[name] = _number(payload, name, low, high, required=False)
    if fields["data_origin"] not in DATA_ORIGINS:
        raise InvalidReading(
            "bad_value", f"data_origin must be api or simulated, got {fields['data_origin']!r}"
        )
    try:
        observed = parse_rfc3339(fields["timestamp"])
    except (ValueError, OverflowError):  # OverflowError: out of datetime's range once in UTC
        raise InvalidReading(
            "bad_timestamp", f"timestamp {fields['timestamp']!r} is not RFC3339"
        ) from None
    if observed < MIN_TIMESTAMP:
        raise InvalidReading("bad_timestamp", f"timestamp {fields['timestamp']!r} is before 1970")
    if observed - now > MAX_FUTURE_SKEW:
        raise InvalidReading(
            "future_timestamp", f"timestamp {fields['timestamp']} is in the future"
        )
    if not is_canonical_rfc3339(fields["timestamp"]):
        fields["timestamp"] = format_rfc3339(observed)
    reading = RawReading.of(fields)
    # Normalising can grow a message (1 -> 1.0, defaults added): a reading is valid only if its
    # own encoding fits too, so whatever is accepted can be published and decoded again.
    if encoded_size is None or encoded_size > MAX_MESSAGE_BYTES - MAX_ENCODING_GROWTH:
        size = len(encode_record(reading))
        if size > MAX_MESSAGE_BYTES:
            raise InvalidReading(
                "too_large", f"reading encodes to {size} bytes > {MAX_MESSAGE_BYTES}"
            )
    return reading


def _text(payload: dict[str, Any], name: str, required: bool) -> str | None:
    value = payload.get(name)
    if value is None:
        if required:
            raise InvalidReading("missing_field", f"{name} is missing")
        return None
    if not isinstance(value, str):
        raise InvalidReading("wrong_type", f"{name} must be a string")
    if required and not value.strip():
        raise InvalidReading("missing_field", f"{name} is empty")
    return value


def _check_city(city: str) -> None:
    if len(city) > MAX_CITY_CHARACTERS:
        raise InvalidReading(
            "bad_city", f"city name has {len(city)} characters > {MAX_CITY_CHARACTERS}"
        )
    if any(unicodedata.category(character) in FORBIDDEN_IN_CITY for character in city):
        raise InvalidReading("bad_city", f"city name {city!r} has control characters")


def _number(
    payload: dict[str, Any], name: str, low: float, high: float, required: bool
) -> float | None:
    value = payload.get(name)
    if value is None:
        if required:
            raise InvalidReading("missing_field", f"{name} is missing")
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise InvalidReading("wrong_type", f"{name} must be a number")
    try:
        number = float(value)
    except OverflowError:  # an int beyond float range (json.loads makes them; orjson does not)
        raise InvalidReading("out_of_range", f"{name} is too large") from None
    if not math.isfinite(number):
        raise InvalidReading("not_finite", f"{name} is not finite")
    if not low <= number <= high:
        raise InvalidReading("out_of_range", f"{name}={number} outside {low}..{high}")
    return number
