from datetime import UTC, datetime, timedelta
from itertools import pairwise
from statistics import mean

import pytest

from weather_app.rules.enrichment import is_storm
from weather_app.rules.timestamps import parse_rfc3339
from weather_app.rules.validation import validate_raw
from weather_app.sources.cities import DEFAULT_CITIES, City
from weather_app.sources.simulation import simulate_reading

START = datetime(2026, 1, 1, tzinfo=UTC)
LONDON = next(city for city in DEFAULT_CITIES if city.name == "London")
SYDNEY = next(city for city in DEFAULT_CITIES if city.name == "Sydney")


def hourly(city: City, days: int, seed: int = 1):
    return [
        simulate_reading(city, START + timedelta(hours=hour), seed) for hour in range(24 * days)
    ]


def test_same_seed_same_reading_and_another_seed_another_reading():
    moment = datetime(2026, 11, 28, 12, 0, 7, 999, tzinfo=UTC)
    assert simulate_reading(LONDON, moment, 42) == simulate_reading(LONDON, moment, 42)
    assert simulate_reading(LONDON, moment, 42) != simulate_reading(LONDON, moment, 43)


def test_reading_is_stamped_with_the_observation_time_and_city():
    moment = datetime(2026, 11, 28, 12, 0, 7, 999, tzinfo=UTC)
    reading = simulate_reading(LONDON, moment, 1)
    assert reading.timestamp == "2026-11-28T12:00:07Z"
    assert (reading.city, reading.country, reading.station_id) == ("London", "GB", "SIM-LON")
    assert reading.data_origin == "simulated"


@pytest.mark.parametrize("city", DEFAULT_CITIES, ids=lambda city: city.name)
def test_every_reading_passes_validation_with_plausible_values(city):
    for reading in hourly(city, days=20):
        validate_raw(reading.asdict(), now=parse_rfc3339(reading.timestamp))
        assert -40 <= reading.temperature <= 50
        assert 5 <= reading.humidity <= 100
        assert 0 <= reading.wind_speed <= 150


def test_afternoons_are_warmer_than_nights_in_local_solar_time():
    readings = hourly(LONDON, days=30)
    afternoon = mean(r.temperature for r in readings if parse_rfc3339(r.timestamp).hour == 15)
    night = mean(r.temperature for r in readings if parse_rfc3339(r.timestamp).hour == 4)
    assert afternoon - night > 4


def test_seasons_are_opposite_in_the_southern_hemisphere():
    january = datetime(2026, 1, 15, 12, tzinfo=UTC)
    july = datetime(2026, 7, 15, 12, tzinfo=UTC)
    london_gain = (
        simulate_reading(LONDON, july, 1).temperature
        - simulate_reading(LONDON, january, 1).temperature
    )
    sydney_gain = (
        simulate_reading(SYDNEY, july, 1).temperature
        - simulate_reading(SYDNEY, january, 1).temperature
    )
    assert london_gain > 5
    assert sydney_gain < -5


def test_humidity_falls_as_temperature_rises_when_dry():
    dry = [r for r in hourly(LONDON, days=30) if r.precipitation == 0]
    t = [r.temperature for r in dry]
    h = [r.humidity for r in dry]
    mean_t, mean_h = mean(t), mean(h)
    covariance = sum((a - mean_t) * (b - mean_h) for a, b in zip(t, h, strict=True))
    assert covariance < 0


def test_rain_comes_in_episodes_not_flickers():
    readings = [
        simulate_reading(LONDON, START + timedelta(minutes=10 * step), 3)
        for step in range(6 * 24 * 30)
    ]
    raining = [r.precipitation > 0 for r in readings]
    changes = sum(1 for a, b in pairwise(raining) if a != b)
    episodes = max(1, changes // 2)
    assert 0.05 < sum(raining) / len(raining) < 0.5
    # On average an episode lasts well over an hour (six 10-minute readings).
    assert sum(raining) / episodes > 6


def test_storm_episodes_happen_and_look_like_storms():
    storms = [
        r for city in DEFAULT_CITIES for r in hourly(city, days=10) if "Thunder" in r.conditions
    ]
    assert storms
    for reading in storms:
        assert reading.precipitation >= 10
        assert reading.wind_speed >= 50
        assert is_storm(reading)


def test_gusts_make_the_wind_change_minute_to_minute():
    speeds = {
        simulate_reading(LONDON, START + timedelta(minutes=minute), 5).wind_speed
        for minute in range(10)
    }
    assert len(speeds) > 5
