"""The raw reading a source publishes and the enriched reading the speed layer emits.

Both travel as plain JSON (no Faust metadata), so Telegraf and other consumers can read them.
They are frozen slotted dataclasses rather than `faust.Record`s: every raw message builds two of
them on the agent's hot path, and a Record's per-field descriptors cost more than the whole
enrichment (see BENCHMARKS.md). orjson serializes them directly, fields in declaration order.
"""

from dataclasses import dataclass, fields
from typing import Any


@dataclass(frozen=True, slots=True, kw_only=True)
class Record:
    """A record of ours: `asdict()` gives its fields in declaration order."""

    def asdict(self) -> dict[str, Any]:
        return {field.name: getattr(self, field.name) for field in fields(self)}


@dataclass(frozen=True, slots=True, kw_only=True)
class Observation(Record):
    """Where, when (RFC3339 UTC ending in `Z`, the observation time) and what was observed."""

    city: str
    country: str
    station_id: str
    timestamp: str
    temperature: float
    humidity: float
    wind_speed: float
    precipitation: float


@dataclass(frozen=True, slots=True, kw_only=True)
class RawReading(Observation):
    """One observation of the current weather in a city, as fetched or simulated.

    `forecast_temp` and `forecast_precip` carry the source's own next-hour forecast when it has one.
    """

    data_origin: str
    wind_dir: float | None = None
    conditions: str = ""
    icon: str = ""
    forecast_temp: float | None = None
    forecast_precip: float | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class EnrichedReading(Observation):
    """The record on `weather_data_v2`: exactly these thirteen fields."""

    next_hour_temp: float
    next_hour_precip: float
    is_rain: int
    is_storm: int
    data_origin: str


ENRICHED_FIELDS: dict[str, type] = {
    "city": str,
    "country": str,
    "station_id": str,
    "timestamp": str,
    "temperature": float,
    "humidity": float,
    "wind_speed": float,
    "precipitation": float,
    "next_hour_temp": float,
    "next_hour_precip": float,
    "is_rain": int,
    "is_storm": int,
    "data_origin": str,
}


@dataclass(frozen=True, slots=True, kw_only=True)
class FreshnessAlert(Record):
    """On `weather_alerts`: a city turned stale (no reading for 2 x the interval) or fresh again."""

    city: str
    state: str  # "stale" or "fresh"
    last_seen: str
    age_seconds: float
    threshold_seconds: float
    detected_at: str


@dataclass(frozen=True, slots=True, kw_only=True)
class DeadLetter(Record):
    """On the dead-letter topic: a raw message that could not be enriched, and why.

    The original key and value are kept byte for byte (base64) up to a bound, with where they came
    from; a longer one keeps its first bytes, `truncated` is true, and its full size and SHA-256
    still identify it, so that a letter always fits in a Kafka message.
    """

    reason: str
    detail: str
    source_topic: str
    source_partition: int
    source_offset: int
    source_timestamp: str
    failed_at: str
    original_key_base64: str | None
    original_value_base64: str | None
    original_key_bytes: int | None
    original_value_bytes: int | None
    original_value_sha256: str | None
    truncated: bool
