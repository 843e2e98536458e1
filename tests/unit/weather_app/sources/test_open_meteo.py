import json
from pathlib import Path

import pytest

from weather_app.rules.enrichment import is_storm
from weather_app.sources.cities import City
from weather_app.sources.open_meteo import (
    CURRENT,
    HOURLY,
    OpenMeteoParseError,
    forecast_params,
    locations_of,
    parse_location,
    weather_of,
)

PARIS = City("Paris", "FR", 48.8566, 2.3522, "PAR")
TOKYO = City("Tokyo", "JP", 35.6762, 139.6503, "TYO")
FIXTURE = Path(__file__).parent / "fixtures" / "open_meteo_location.json"


@pytest.fixture
def location():
    return json.loads(FIXTURE.read_text())


def with_current(location, **current):
    return {**location, "current": {**location["current"], **current}}


def test_one_request_asks_for_every_city_in_order_in_v2_units():
    params = forecast_params((PARIS, TOKYO))
    assert params["latitude"] == "48.8566,35.6762"
    assert params["longitude"] == "2.3522,139.6503"
    assert params["current"] == ",".join(CURRENT)
    assert params["hourly"] == "temperature_2m,precipitation"
    assert (params["temperature_unit"], params["wind_speed_unit"]) == ("celsius", "kmh")
    assert params["precipitation_unit"] == "mm"
    assert params["timeformat"] == "unixtime"
    # Open-Meteo counts a request of more than 10 variables as more than one call.
    assert len(CURRENT) + len(HOURLY) <= 10


def test_current_conditions_become_an_api_reading_with_the_city_s_own_station(location):
    reading = parse_location(PARIS, location)
    assert (reading.city, reading.country, reading.data_origin) == ("Paris", "FR", "api")
    assert reading.station_id == "API-PAR"
    assert reading.source_station_id is None
    assert reading.timestamp == "2025-11-28T13:15:00Z"
    assert (reading.temperature, reading.humidity) == (9.4, 81.0)
    assert (reading.wind_speed, reading.wind_dir) == (14.3, 230.0)
    assert (reading.conditions, reading.icon) == ("Rain", "rain")


def test_fifteen_minute_precipitation_becomes_a_rate_per_hour(location):
    # 0.8 mm over the quarter hour is 3.2 mm/h; the hourly forecast is already per hour.
    reading = parse_location(PARIS, location)
    assert reading.precipitation == 3.2
    assert reading.forecast_precip == 4.6


def test_an_hourly_current_interval_is_already_per_hour(location):
    reading = parse_location(PARIS, with_current(location, interval=3600))
    assert reading.precipitation == 0.8


def test_the_next_hour_is_the_first_hourly_entry_after_the_observation(location):
    reading = parse_location(PARIS, location)
    assert (reading.forecast_temp, reading.forecast_precip) == (9.1, 4.6)


def test_no_hourly_entry_within_two_hours_leaves_the_forecast_to_the_history(location):
    location["hourly"]["time"] = [1764334800, 1764345600, 1764349200]
    reading = parse_location(PARIS, location)
    assert (reading.forecast_temp, reading.forecast_precip) == (None, None)


@pytest.mark.parametrize("code", [95, 96, 99])
def test_wmo_thunderstorm_codes_are_a_storm(location, code):
    reading = parse_location(PARIS, with_current(location, weather_code=code))
    assert reading.icon == "thunder-rain"
    assert "Thunderstorm" in reading.conditions
    assert is_storm(reading)


@pytest.mark.parametrize("code", [0, 3, 45, 65, 75, 82, 86, 12])
def test_other_wmo_codes_are_not_a_storm(location, code):
    # Heavy rain alone (65, 82) is no storm: is_storm also needs near-gale wind.
    assert not is_storm(parse_location(PARIS, with_current(location, weather_code=code)))


def test_day_and_night_icons_and_an_unknown_code():
    assert weather_of(0, is_day=True) == ("Clear", "clear-day")
    assert weather_of(2, is_day=False) == ("Partially cloudy", "partly-cloudy-night")
    assert weather_of(12, is_day=True) == ("WMO weather code 12", "")


def test_one_location_answers_one_object_several_a_list(location):
    assert locations_of(location, 1) == [location]
    assert locations_of([location, location], 2) == [location, location]
    assert locations_of([location], 3) == [location]
    with pytest.raises(OpenMeteoParseError, match="not a list of 2 locations"):
        locations_of(location, 2)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"current": None}, "no current conditions"),
        ({"error": True, "reason": "Latitude must be in range"}, "location refused: Latitude"),
    ],
)
def test_a_location_without_current_conditions_is_refused(location, change, message):
    with pytest.raises(OpenMeteoParseError, match=message):
        parse_location(PARIS, {**location, **change})


@pytest.mark.parametrize(
    "field", ["time", "interval", "temperature_2m", "relative_humidity_2m", "weather_code"]
)
def test_a_missing_current_value_is_refused(location, field):
    del location["current"][field]
    with pytest.raises(OpenMeteoParseError, match=field):
        parse_location(PARIS, location)


def test_an_unexpected_interval_is_refused_rather_than_misconverted(location):
    with pytest.raises(OpenMeteoParseError, match="interval=600s"):
        parse_location(PARIS, with_current(location, interval=600))
