"""Parse a Visual Crossing Timeline API response into a raw reading (no I/O here)."""

from collections.abc import Mapping
from typing import Any

from models import RawReading
from weather_app.errors import WeatherError
from weather_app.rules.timestamps import format_rfc3339, from_epoch
from weather_app.sources.cities import City

TIMELINE_PARAMS = {
    "unitGroup": "metric",
    "include": "current,hours",
    "iconSet": "icons2",
    "contentType": "json",
    "elements": "datetime,datetimeEpoch,temp,humidity,windspeed,winddir,precip,preciptype,"
    "conditions,icon,stations,source",
}
# An hourly entry further ahead than this is not "the next hour".
NEXT_HOUR_HORIZON_SECONDS = 2 * 3600


class TimelineParseError(WeatherError):
    pass


def timeline_path(city: City) -> str:
    """Query by coordinates: unambiguous, and no address resolution cost."""
    return f"{city.latitude:.4f},{city.longitude:.4f}"


def parse_timeline(city: City, payload: Any) -> RawReading:
    if not isinstance(payload, Mapping):
        raise TimelineParseError("response is not a JSON object")
    current = payload.get("currentConditions")
    if not isinstance(current, Mapping):
        raise TimelineParseError("response has no currentConditions")
    epoch = _number(current, "datetimeEpoch")
    forecast_temp, forecast_precip = _next_hour(payload.get("days"), epoch)
    stations = current.get("stations")
    station_id = (
        str(stations[0])
        if isinstance(stations, list) and stations and stations[0]
        else city.station_id
    )
    wind_dir = current.get("winddir")
    return RawReading(
        city=city.name,
        country=city.country,
        station_id=station_id,
        timestamp=format_rfc3339(from_epoch(epoch)),
        temperature=_number(current, "temp"),
        humidity=_number(current, "humidity"),
        wind_speed=_number(current, "windspeed", default=0.0),
        precipitation=_number(current, "precip", default=0.0),
        data_origin="api",
        wind_dir=float(wind_dir) if isinstance(wind_dir, (int, float)) else None,
        conditions=str(current.get("conditions") or ""),
        icon=str(current.get("icon") or ""),
        forecast_temp=forecast_temp,
        forecast_precip=forecast_precip,
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
