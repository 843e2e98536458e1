"""Units: what a source reports in, and the one conversion into `weather_data_v2`'s units.

Every source declares its units as a `SourceUnits` (Visual Crossing per `unitGroup`, Open-Meteo
per the interval of its current conditions, the simulation natively in v2's units) and hands its
readings to `to_v2_units`, so no source converts anything itself and a new source only has to say
what it reports in. v2's units: °C, %, km/h, mm/h. Wind direction (degrees) is the same
everywhere.
"""

from dataclasses import dataclass
from enum import Enum

from models import RawReading


class Temperature(Enum):
    CELSIUS = "°C"
    FAHRENHEIT = "°F"
    KELVIN = "K"


class Humidity(Enum):
    PERCENT = "%"
    FRACTION = "0..1"


class Speed(Enum):
    KM_PER_HOUR = "km/h"
    M_PER_SECOND = "m/s"
    MILES_PER_HOUR = "mph"
    KNOTS = "kn"


class Precipitation(Enum):
    """A rate, or the amount over the reading's hour (the same number), or over its quarter."""

    MM_PER_HOUR = "mm/h"
    INCHES_PER_HOUR = "in/h"
    MM_PER_QUARTER_HOUR = "mm/15 min"


@dataclass(frozen=True)
class SourceUnits:
    temperature: Temperature
    humidity: Humidity
    wind_speed: Speed
    precipitation: Precipitation
    # The hourly forecast's precipitation, when the source reports it otherwise than the
    # observation's (Open-Meteo: mm over 15 minutes observed, mm over the hour forecast).
    forecast_precipitation: Precipitation | None = None


V2_UNITS = SourceUnits(
    Temperature.CELSIUS, Humidity.PERCENT, Speed.KM_PER_HOUR, Precipitation.MM_PER_HOUR
)

KM_PER_HOUR = {
    Speed.KM_PER_HOUR: 1.0,
    Speed.M_PER_SECOND: 3.6,
    Speed.MILES_PER_HOUR: 1.609344,
    Speed.KNOTS: 1.852,
}
MM_PER_HOUR = {
    Precipitation.MM_PER_HOUR: 1.0,
    Precipitation.INCHES_PER_HOUR: 25.4,
    Precipitation.MM_PER_QUARTER_HOUR: 4.0,
}
PERCENT = {Humidity.PERCENT: 1.0, Humidity.FRACTION: 100.0}


def celsius(value: float, unit: Temperature) -> float:
    if unit is Temperature.FAHRENHEIT:
        return (value - 32.0) * 5.0 / 9.0
    if unit is Temperature.KELVIN:
        return value - 273.15
    return value


def percent(value: float, unit: Humidity) -> float:
    return value * PERCENT[unit]


def km_per_hour(value: float, unit: Speed) -> float:
    return value * KM_PER_HOUR[unit]


def mm_per_hour(value: float, unit: Precipitation) -> float:
    return value * MM_PER_HOUR[unit]


def to_v2_units(reading: RawReading, units: SourceUnits) -> RawReading:
    """The reading with every measurement in v2's units (the same reading if already there)."""
    if units == V2_UNITS:
        return reading
    forecast_temp, forecast_precip = reading.forecast_temp, reading.forecast_precip
    return RawReading(
        **{
            **reading.asdict(),
            "temperature": celsius(reading.temperature, units.temperature),
            "humidity": percent(reading.humidity, units.humidity),
            "wind_speed": km_per_hour(reading.wind_speed, units.wind_speed),
            "precipitation": mm_per_hour(reading.precipitation, units.precipitation),
            "forecast_temp": None
            if forecast_temp is None
            else celsius(forecast_temp, units.temperature),
            "forecast_precip": None
            if forecast_precip is None
            else mm_per_hour(forecast_precip, units.forecast_precipitation or units.precipitation),
        }
    )
