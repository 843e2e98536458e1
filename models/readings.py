"""The raw reading a source publishes and the enriched reading the speed layer emits.

Both travel as plain JSON (no Faust metadata), so Telegraf and other consumers can read them.
"""

import faust


class Observation(faust.Record, abstract=True, include_metadata=False, serializer="json"):
    """Where, when (RFC3339 UTC ending in `Z`, the observation time) and what was observed."""

    city: str
    country: str
    station_id: str
    timestamp: str
    temperature: float
    humidity: float
    wind_speed: float
    precipitation: float


class RawReading(Observation, include_metadata=False, serializer="json"):
    """One observation of the current weather in a city, as fetched or simulated.

    `forecast_temp` and `forecast_precip` carry the source's own next-hour forecast when it has one.
    """

    data_origin: str
    wind_dir: float | None = None
    conditions: str = ""
    icon: str = ""
    forecast_temp: float | None = None
    forecast_precip: float | None = None


class EnrichedReading(Observation, include_metadata=False, serializer="json"):
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


class FreshnessAlert(faust.Record, include_metadata=False, serializer="json"):
    """On `weather_alerts`: a city turned stale (no reading for 2 x the interval) or fresh again."""

    city: str
    state: str  # "stale" or "fresh"
    last_seen: str
    age_seconds: float
    threshold_seconds: float
    detected_at: str


class DeadLetter(faust.Record, include_metadata=False, serializer="json"):
    """On the dead-letter topic: a raw message that could not be enriched, and why.

    The original key and value are kept byte for byte (base64), with where they came from.
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
