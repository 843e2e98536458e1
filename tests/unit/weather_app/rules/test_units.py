import pytest

from models import RawReading
from weather_app.rules.units import (
    V2_UNITS,
    Humidity,
    Precipitation,
    SourceUnits,
    Speed,
    Temperature,
    celsius,
    km_per_hour,
    mm_per_hour,
    percent,
    to_v2_units,
)

US_STATION = SourceUnits(
    Temperature.FAHRENHEIT, Humidity.FRACTION, Speed.MILES_PER_HOUR, Precipitation.INCHES_PER_HOUR
)


def reading(**overrides) -> RawReading:
    fields = {
        "city": "Chicago",
        "country": "US",
        "station_id": "API-CHI",
        "timestamp": "2026-11-30T12:00:00Z",
        "temperature": 50.0,
        "humidity": 0.75,
        "wind_speed": 25.0,
        "precipitation": 0.3,
        "data_origin": "api",
        "wind_dir": 270.0,
        "conditions": "Rain",
        "icon": "rain",
        "forecast_temp": 41.0,
        "forecast_precip": 0.1,
        "source_station_id": "KMDW",
        **overrides,
    }
    return RawReading(**fields)


@pytest.mark.parametrize(
    ("value", "unit", "expected"),
    [
        (21.5, Temperature.CELSIUS, 21.5),
        (32.0, Temperature.FAHRENHEIT, 0.0),
        (212.0, Temperature.FAHRENHEIT, 100.0),
        (-40.0, Temperature.FAHRENHEIT, -40.0),
        (273.15, Temperature.KELVIN, 0.0),
    ],
)
def test_temperatures_become_celsius(value, unit, expected):
    assert celsius(value, unit) == pytest.approx(expected)


@pytest.mark.parametrize(
    ("value", "unit", "expected"),
    [
        (12.0, Speed.KM_PER_HOUR, 12.0),
        (10.0, Speed.M_PER_SECOND, 36.0),
        (10.0, Speed.MILES_PER_HOUR, 16.09344),
        (10.0, Speed.KNOTS, 18.52),
    ],
)
def test_speeds_become_km_per_hour(value, unit, expected):
    assert km_per_hour(value, unit) == pytest.approx(expected)


def test_precipitation_becomes_mm_per_hour_and_humidity_percent():
    assert mm_per_hour(1.0, Precipitation.INCHES_PER_HOUR) == pytest.approx(25.4)
    assert mm_per_hour(2.5, Precipitation.MM_PER_HOUR) == 2.5
    assert percent(0.75, Humidity.FRACTION) == pytest.approx(75.0)
    assert percent(75.0, Humidity.PERCENT) == 75.0


def test_an_amount_over_a_quarter_hour_becomes_mm_per_hour():
    assert mm_per_hour(0.5, Precipitation.MM_PER_QUARTER_HOUR) == 2.0


def test_a_forecast_reported_per_hour_is_not_converted_like_a_quarter_hour_observation():
    units = SourceUnits(
        Temperature.CELSIUS,
        Humidity.PERCENT,
        Speed.KM_PER_HOUR,
        Precipitation.MM_PER_QUARTER_HOUR,
        forecast_precipitation=Precipitation.MM_PER_HOUR,
    )
    converted = to_v2_units(reading(precipitation=0.5, forecast_precip=1.5), units)
    assert (converted.precipitation, converted.forecast_precip) == (2.0, 1.5)


def test_a_reading_in_a_source_s_units_comes_out_in_v2_units_and_nothing_else_changes():
    converted = to_v2_units(reading(), US_STATION)
    assert converted.temperature == pytest.approx(10.0)
    assert converted.humidity == pytest.approx(75.0)
    assert converted.wind_speed == pytest.approx(40.2336)
    assert converted.precipitation == pytest.approx(7.62)
    assert converted.forecast_temp == pytest.approx(5.0)
    assert converted.forecast_precip == pytest.approx(2.54)
    measured = {
        "temperature",
        "humidity",
        "wind_speed",
        "precipitation",
        "forecast_temp",
        "forecast_precip",
    }
    unchanged = {name: value for name, value in reading().asdict().items() if name not in measured}
    assert {name: converted.asdict()[name] for name in unchanged} == unchanged


def test_a_source_without_its_own_forecast_keeps_none():
    converted = to_v2_units(reading(forecast_temp=None, forecast_precip=None), US_STATION)
    assert (converted.forecast_temp, converted.forecast_precip) == (None, None)


def test_a_reading_already_in_v2_units_is_returned_as_it_is():
    original = reading()
    assert to_v2_units(original, V2_UNITS) is original
