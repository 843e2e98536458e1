"""Forced weather, to validate the pipeline end to end ("force a precipitation"): `produce
--scenario rain|storm|dry` publishes simulated readings made into rain, a thunderstorm or dry
weather, which the enrichment rules (`weather_app/rules/enrichment.py`) classify as such.
"""

from collections.abc import Iterable
from datetime import datetime

from models import RawReading
from weather_app.sources.cities import City
from weather_app.sources.simulation import simulate_reading

# Moderate rain: wet, below the storm heuristic's heavy-rain rate (7.6 mm/h), no thunder.
RAIN_MM_H = 2.5
# A thunderstorm by every rule: a thunder icon and text, heavy rain and near-gale wind.
STORM_MM_H = 20.0
STORM_MIN_WIND_KM_H = 65.0
WET_MIN_HUMIDITY = 85.0

SCENARIOS = ("rain", "storm", "dry")


def force_scenario(reading: RawReading, scenario: str) -> RawReading:
    """The reading with the scenario's precipitation, sky and (for a storm) wind."""
    if scenario == "rain":
        forced = {
            "precipitation": RAIN_MM_H,
            "humidity": max(reading.humidity, WET_MIN_HUMIDITY),
            "conditions": "Rain",
            "icon": "rain",
        }
    elif scenario == "storm":
        forced = {
            "precipitation": STORM_MM_H,
            "humidity": max(reading.humidity, WET_MIN_HUMIDITY),
            "wind_speed": max(reading.wind_speed, STORM_MIN_WIND_KM_H),
            "conditions": "Thunderstorm, Rain",
            "icon": "thunder-rain",
        }
    elif scenario == "dry":
        forced = {"precipitation": 0.0, "conditions": "Overcast", "icon": "cloudy"}
    else:
        raise ValueError(f"unknown scenario {scenario!r}; known: {', '.join(SCENARIOS)}")
    return RawReading(**{**reading.asdict(), **forced})


def forced_readings(
    cities: Iterable[City], at: datetime, seed: int, scenario: str
) -> list[RawReading]:
    """Each city's simulated reading at `at`, forced into the scenario."""
    return [force_scenario(simulate_reading(city, at, seed), scenario) for city in cities]
