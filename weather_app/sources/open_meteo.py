"""Parse an Open-Meteo forecast API answer into raw readings (no I/O here).

One request asks for every city: `latitude` and `longitude` are comma-separated lists and the
answer is a list of locations in the same order (one object when one location is asked). A WMO
weather code becomes the `conditions` text and the Visual Crossing `icon` the pipeline already
reads, so 95, 96 and 99 (thunderstorms) arrive as `thunder-rain` and count as a storm
(weather_app.rules.enrichment.is_storm).
"""

from collections.abc import Mapping, Sequence
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

CURRENT = (
    "temperature_2m",
    "relative_humidity_2m",
    "wind_speed_10m",
    "wind_direction_10m",
    "precipitation",
    "weather_code",
    "is_day",
)
HOURLY = ("temperature_2m", "precipitation")
# Asked for explicitly rather than relied on as defaults, so that UNITS stays true.
UNIT_PARAMS = {"temperature_unit": "celsius", "wind_speed_unit": "kmh", "precipitation_unit": "mm"}
# Current conditions come from 15-minute data: their precipitation is the amount over the
# preceding `current.interval` seconds; an hourly entry's is the amount over its hour.
UNITS_BY_INTERVAL = {
    interval: SourceUnits(
        Temperature.CELSIUS,
        Humidity.PERCENT,
        Speed.KM_PER_HOUR,
        precipitation,
        forecast_precipitation=Precipitation.MM_PER_HOUR,
    )
    for interval, precipitation in (
        (900, Precipitation.MM_PER_QUARTER_HOUR),
        (3600, Precipitation.MM_PER_HOUR),
    )
}
STORM_CODES = frozenset({95, 96, 99})
# WMO code table 4677 as Open-Meteo documents it: (conditions, icon), `{part}` is day or night.
WMO_WEATHER: dict[int, tuple[str, str]] = {
    0: ("Clear", "clear-{part}"),
    1: ("Mainly clear", "clear-{part}"),
    2: ("Partially cloudy", "partly-cloudy-{part}"),
    3: ("Overcast", "cloudy"),
    45: ("Fog", "fog"),
    48: ("Depositing rime fog", "fog"),
    51: ("Light drizzle", "rain"),
    53: ("Drizzle", "rain"),
    55: ("Dense drizzle", "rain"),
    56: ("Freezing drizzle", "rain"),
    57: ("Dense freezing drizzle", "rain"),
    61: ("Light rain", "rain"),
    63: ("Rain", "rain"),
    65: ("Heavy rain", "rain"),
    66: ("Freezing rain", "rain"),
    67: ("Heavy freezing rain", "rain"),
    71: ("Light snow", "snow"),
    73: ("Snow", "snow"),
    75: ("Heavy snow", "snow"),
    77: ("Snow grains", "snow"),
    80: ("Light rain showers", "showers-{part}"),
    81: ("Rain showers", "showers-{part}"),
    82: ("Violent rain showers", "showers-{part}"),
    85: ("Snow showers", "snow-showers-{part}"),
    86: ("Heavy snow showers", "snow-showers-{part}"),
    95: ("Thunderstorm", "thunder-rain"),
    96: ("Thunderstorm with hail", "thunder-rain"),
    99: ("Thunderstorm with heavy hail", "thunder-rain"),
}


class OpenMeteoParseError(ResponseParseError):
    pass


def forecast_params(cities: Sequence[City]) -> dict[str, str]:
    """The query of one request for every city, in order."""
    return {
        "latitude": ",".join(f"{city.latitude:.4f}" for city in cities),
        "longitude": ",".join(f"{city.longitude:.4f}" for city in cities),
        "current": ",".join(CURRENT),
        "hourly": ",".join(HOURLY),
        # Today and tomorrow: the next hour exists at any time of the (UTC) day.
        "forecast_days": "2",
        "timeformat": "unixtime",
        **UNIT_PARAMS,
    }


def locations_of(payload: Any, asked: int) -> list[Any]:
    """The answer's locations in the order asked; fewer than asked when the list is short."""
    if isinstance(payload, Mapping) and asked == 1:
        return [payload]
    if not isinstance(payload, list):
        raise OpenMeteoParseError(f"response is not a list of {asked} locations")
    return payload[:asked]


def weather_of(code: int, is_day: bool) -> tuple[str, str]:
    """(conditions, icon) of a WMO weather code; an unknown code says only its number."""
    conditions, icon = WMO_WEATHER.get(code, (f"WMO weather code {code}", ""))
    return conditions, icon.format(part="day" if is_day else "night")


def parse_location(city: City, location: Any) -> RawReading:
    """The city's reading in v2's units from its location object of the answer."""
    if not isinstance(location, Mapping):
        raise OpenMeteoParseError("location is not a JSON object")
    if location.get("error"):
        raise OpenMeteoParseError(f"location refused: {location.get('reason', '')}")
    current = location.get("current")
    if not isinstance(current, Mapping):
        raise OpenMeteoParseError("location has no current conditions")
    interval = _number(current, "interval")
    units = UNITS_BY_INTERVAL.get(int(interval))
    if units is None:
        raise OpenMeteoParseError(f"current.interval={interval:g}s is not 900 or 3600")
    epoch = _number(current, "time")
    code = int(_number(current, "weather_code"))
    conditions, icon = weather_of(code, bool(current.get("is_day", 1)))
    forecast_temp, forecast_precip = _next_hour(location.get("hourly"), epoch)
    return api_reading(
        city,
        epoch,
        units,
        temperature=_number(current, "temperature_2m"),
        humidity=_number(current, "relative_humidity_2m"),
        wind_speed=_number(current, "wind_speed_10m"),
        precipitation=_number(current, "precipitation"),
        wind_dir=_optional_number(current.get("wind_direction_10m")),
        conditions=conditions,
        icon=icon,
        forecast_temp=forecast_temp,
        forecast_precip=forecast_precip,
    )


def _number(entry: Mapping[str, Any], name: str) -> float:
    value = _optional_number(entry.get(name))
    if value is None:
        raise OpenMeteoParseError(f"current.{name} is missing or not a number")
    return value


def _optional_number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    return float(value)


def _next_hour(hourly: Any, epoch: float) -> tuple[float | None, float | None]:
    """Temperature and precipitation of the first hourly entry after the observation."""
    if not isinstance(hourly, Mapping):
        return None, None
    series = [hourly.get(name) for name in ("time", *HOURLY)]
    if not all(isinstance(values, list) for values in series):
        return None, None
    for hour_epoch, temperature, amount in zip(*series, strict=False):
        if not isinstance(hour_epoch, (int, float)) or hour_epoch <= epoch:
            continue
        if hour_epoch - epoch > NEXT_HOUR_HORIZON_SECONDS:
            break
        return _optional_number(temperature), _optional_number(amount)
    return None, None
