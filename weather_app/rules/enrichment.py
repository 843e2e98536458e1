"""Turn a raw reading into the enriched record of `weather_data_v2`."""

from collections.abc import Sequence

from models import EnrichedReading, RawReading, Sample
from weather_app.rules.forecast import forecast_next_hour, samples_before
from weather_app.rules.timestamps import parse_rfc3339

THUNDER_ICONS = frozenset(
    {"thunder", "thunder-rain", "thunder-showers-day", "thunder-showers-night"}
)
# Storm heuristic when the source says nothing about thunder: heavy rain (the AMS "heavy rain"
# rate, 7.6 mm/h) together with near-gale wind (Beaufort 7, 50 km/h and more).
STORM_MIN_PRECIPITATION_MM_H = 7.6
STORM_MIN_WIND_KM_H = 50.0


def is_storm(reading: RawReading) -> bool:
    if reading.icon in THUNDER_ICONS or "thunder" in reading.conditions.lower():
        return True
    return (
        reading.precipitation >= STORM_MIN_PRECIPITATION_MM_H
        and reading.wind_speed >= STORM_MIN_WIND_KM_H
    )


def sample_of(reading: RawReading) -> Sample:
    epoch = parse_rfc3339(reading.timestamp).timestamp()
    return Sample(epoch, reading.temperature, reading.precipitation)


def enrich_sample(
    reading: RawReading, current: Sample, history: Sequence[Sample]
) -> EnrichedReading:
    """`enrich` with the reading's own sample already at hand (`sample_of(reading)`)."""
    forecast_temp, forecast_precip = forecast_next_hour(
        samples_before(history, current.epoch), current
    )
    if reading.forecast_temp is not None:
        forecast_temp = reading.forecast_temp
    if reading.forecast_precip is not None:
        forecast_precip = reading.forecast_precip
    return EnrichedReading.of(
        {
            "city": reading.city,
            "country": reading.country,
            "station_id": reading.station_id,
            "timestamp": reading.timestamp,
            "temperature": float(reading.temperature),
            "humidity": float(reading.humidity),
            "wind_speed": float(reading.wind_speed),
            "precipitation": float(reading.precipitation),
            "next_hour_temp": float(forecast_temp),
            "next_hour_precip": float(forecast_precip),
            "is_rain": int(reading.precipitation > 0),
            "is_storm": int(is_storm(reading)),
            "data_origin": reading.data_origin,
        }
    )
