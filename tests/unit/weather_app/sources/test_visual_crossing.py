import json
from pathlib import Path

import pytest

from weather_app.sources.cities import City
from weather_app.sources.visual_crossing import (
    TIMELINE_PARAMS,
    UNIT_GROUP,
    UNIT_GROUPS,
    TimelineParseError,
    parse_timeline,
    timeline_path,
)

PARIS = City("Paris", "FR", 48.8566, 2.3522, "PAR")
FIXTURE = Path(__file__).parent / "fixtures" / "timeline_thunder.json"


@pytest.fixture
def payload():
    return json.loads(FIXTURE.read_text())


def test_query_asks_for_metric_current_and_hours_with_thunder_icons():
    assert TIMELINE_PARAMS["unitGroup"] == "metric"
    assert TIMELINE_PARAMS["include"] == "current,hours"
    assert TIMELINE_PARAMS["iconSet"] == "icons2"
    assert timeline_path(PARIS) == "48.8566,2.3522"


def test_current_conditions_become_an_api_reading_at_the_observation_time(payload):
    reading = parse_timeline(PARIS, payload)
    assert reading.city == "Paris"
    assert reading.country == "FR"
    assert reading.data_origin == "api"
    # datetimeEpoch 1764336000 is 14:20 in Paris, 13:20 UTC; the local "datetime" is ignored.
    assert reading.timestamp == "2025-11-28T13:20:00Z"
    assert reading.temperature == 9.6
    assert reading.humidity == 84.5
    assert reading.wind_speed == 34.6
    assert reading.wind_dir == 225.0
    assert reading.precipitation == 3.2
    assert reading.station_id == "API-PAR"
    assert reading.source_station_id == "07149099999"
    assert reading.icon == "thunder-showers-day"
    assert "Thunderstorm" in reading.conditions


def test_next_hour_forecast_is_the_first_hourly_entry_after_the_observation(payload):
    reading = parse_timeline(PARIS, payload)
    assert reading.forecast_temp == 9.1
    assert reading.forecast_precip == 4.6


def test_missing_hours_leave_the_forecast_to_the_history(payload):
    del payload["days"]
    reading = parse_timeline(PARIS, payload)
    assert reading.forecast_temp is None
    assert reading.forecast_precip is None


def test_hourly_entries_too_far_ahead_are_not_the_next_hour(payload):
    for hour in payload["days"][0]["hours"]:
        hour["datetimeEpoch"] += 6 * 3600
    assert parse_timeline(PARIS, payload).forecast_temp is None


def test_optional_fields_missing_fall_back_sensibly(payload):
    current = payload["currentConditions"]
    for name in ("windspeed", "winddir", "precip", "stations", "conditions", "icon"):
        del current[name]
    reading = parse_timeline(PARIS, payload)
    assert reading.wind_speed == 0.0
    assert reading.wind_dir is None
    assert reading.precipitation == 0.0
    assert reading.station_id == "API-PAR"
    assert reading.source_station_id is None
    assert reading.conditions == ""


@pytest.mark.parametrize("field", ["temp", "humidity", "datetimeEpoch"])
def test_missing_required_values_are_a_parse_error(payload, field):
    del payload["currentConditions"][field]
    with pytest.raises(TimelineParseError, match=field):
        parse_timeline(PARIS, payload)


@pytest.mark.parametrize("body", [None, [], "text", {"days": []}, {"currentConditions": "x"}])
def test_bodies_without_current_conditions_are_a_parse_error(body):
    with pytest.raises(TimelineParseError):
        parse_timeline(PARIS, body)


def test_the_station_id_stays_the_city_s_whichever_station_the_api_reports(payload):
    first = parse_timeline(PARIS, payload)
    payload["currentConditions"]["stations"] = ["LFPO"]
    second = parse_timeline(PARIS, payload)
    assert (first.source_station_id, second.source_station_id) == ("07149099999", "LFPO")
    assert first.station_id == second.station_id == "API-PAR"


def test_the_unit_group_asked_for_is_the_one_the_answer_is_read_in():
    assert TIMELINE_PARAMS["unitGroup"] == UNIT_GROUP
    assert set(UNIT_GROUPS) == {"us", "uk", "metric", "base"}


def test_an_answer_in_us_units_becomes_a_reading_in_v2_units(payload):
    """°F, mph and inches: the same weather as the metric fixture, in US units."""
    current = payload["currentConditions"]
    current.update(temp=50.0, windspeed=20.0, precip=0.5)
    payload["days"][0]["hours"][1].update(temp=32.0, precip=0.1)
    reading = parse_timeline(PARIS, payload, unit_group="us")
    assert reading.temperature == pytest.approx(10.0)
    assert reading.wind_speed == pytest.approx(32.18688)
    assert reading.precipitation == pytest.approx(12.7)
    assert reading.forecast_temp == pytest.approx(0.0)
    assert reading.forecast_precip == pytest.approx(2.54)
    assert (reading.humidity, reading.wind_dir) == (84.5, 225.0)


def test_an_answer_in_base_units_becomes_a_reading_in_v2_units(payload):
    """Kelvin and m/s."""
    payload["currentConditions"].update(temp=283.15, windspeed=10.0)
    reading = parse_timeline(PARIS, payload, unit_group="base")
    assert reading.temperature == pytest.approx(10.0)
    assert reading.wind_speed == pytest.approx(36.0)
    assert reading.precipitation == 3.2
