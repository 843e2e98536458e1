"""Parse a Visual Crossing Timeline API response into a raw reading (no I/O here)."""

from collections.abc import Mapping
from typing import Any

from models import RawReading
from weather_app.rules.units import (
    Humidity,
    Precipitation,
    SourceUnits,
    Speed,
    Temperature,
)
from weather_app.sources.api_readings import NEXT_HOUR_HORIZON_SECONDS, api_reading
from weather_app.sources.cities import City
from weather_app.sources.faults import ResponseParseError

# The units of each `unitGroup` (Visual Crossing's "Unit groups and measurement units"); hourly
# precipitation is the amount over the hour, so mm is mm/h.
UNIT_GROUPS = {
    "us": SourceUnits(
        Temperature.FAHRENHEIT,
        Humidity.PERCENT,
        Speed.MILES_PER_HOUR,
        Precipitation.INCHES_PER_HOUR,
    ),
    "uk": SourceUnits(
        Temperature.CELSIUS, Humidity.PERCENT, Speed.MILES_PER_HOUR, Precipitation.MM_PER_HOUR
    ),
    "metric": SourceUnits(
        Temperature.CELSIUS, Humidity.PERCENT, Speed.KM_PER_HOUR, Precipitation.MM_PER_HOUR
    ),
    "base": SourceUnits(
        Temperature.KELVIN, Humidity.PERCENT, Speed.M_PER_SECOND, Precipitation.MM_PER_HOUR
    ),
}
UNIT_GROUP = "metric"
TIMELINE_PARAMS = {
    "unitGroup": UNIT_GROUP,
    "include": "current,hours",
    "iconSet": "icons2",
    "contentType": "json",
    "elements": "datetime,datetimeEpoch,temp,humidity,windspeed,winddir,precip,preciptype,"
    "conditions,icon,stations,source",
}


class TimelineParseError(ResponseParseError):
    pass


def timeline_path(city: City) -> str:
    """Query by coordinates: unambiguous, and no address resolution cost."""
    return f"{city.latitude:.4f},{city.longitude:.4f}"


def parse_timeline(city: City, payload: Any, unit_group: str = UNIT_GROUP) -> RawReading:
    """The reading in v2's units, from an answer in the units of `unit_group`."""
    if not isinstance(payload, Mapping):
        raise TimelineParseError("response is not a JSON object")
    current = payload.get("currentConditions")
    if not isinstance(current, Mapping):
        raise TimelineParseError("response has no currentConditions")
    epoch = _number(current, "datetimeEpoch")
    forecast_temp, forecast_precip = _next_hour(payload.get("days"), epoch)
    stations = current.get("stations")
    source_station_id = (
        str(stations[0]) if isinstance(stations, list) and stations and stations[0] else None
    )
    wind_dir = current.get("winddir")
    return api_reading(
        city,
        epoch,
        UNIT_GROUPS[unit_group],
        temperature=_number(current, "temp"),
        humidity=_number(current, "humidity"),
        wind_speed=_number(current, "windspeed", default=0.0),
        precipitation=_number(current, "precip", default=0.0),
        wind_dir=float(wind_dir) if isinstance(wind_dir, (int, float)) else None,
        conditions=str(current.get("conditions") or ""),
        icon=str(current.get("icon") or ""),
        forecast_temp=forecast_temp,
        forecast_precip=forecast_precip,
        source_station_id=source_station_id,
    )


def _number(entry: Mapping[str, Any], name: str, default: float | None = None) -> float:
    value = entry.get(name)
    if value is None and default is not None:
        return default
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise TimelineParseError(f"currentConditions.{name} is missing or not a number")
    return float(value)


def _next_hour(days: Any, epoch: float) -> tuple[float | None, float | None]:
    """Temperature and precipitation of the first hourly entry after the observation."""
    if not isinstance(days, list):
        return None, None
    for day in days:
        hours = day.get("hours") if isinstance(day, Mapping) else None
        for hour in hours if isinstance(hours, list) else ():
            if not isinstance(hour, Mapping):
                continue
            hour_epoch = hour.get("datetimeEpoch")
            if not isinstance(hour_epoch, (int, float)) or hour_epoch <= epoch:
                continue
            if hour_epoch - epoch > NEXT_HOUR_HORIZON_SECONDS:
                return None, None
            temp, precip = hour.get("temp"), hour.get("precip")
            return (
                float(temp) if isinstance(temp, (int, float)) else None,
                float(precip or 0.0)
                if isinstance(precip, (int, float)) or precip is None
                else None,
            )
    return None, None
