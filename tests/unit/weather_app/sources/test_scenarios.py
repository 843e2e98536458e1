from collections import Counter
from datetime import UTC, datetime, timedelta

import pytest

from weather_app.rules.enrichment import enrich_sample, sample_of
from weather_app.rules.validation import validate_raw
from weather_app.sources.cities import DEFAULT_CITIES
from weather_app.sources.scenarios import SCENARIOS, force_scenario, forced_readings
from weather_app.sources.simulation import simulate_reading

START = datetime(2026, 1, 1, tzinfo=UTC)
LATER = START + timedelta(days=61)
# (is_rain, is_storm) of the enriched record, whatever the simulated weather was.
EXPECTED_FLAGS = {"rain": (1, 0), "storm": (1, 1), "dry": (0, 0)}
# Every city every 5 hours for 60 days: every kind of simulated weather, storms included.
SIMULATED = [
    simulate_reading(city, START + timedelta(hours=hours), seed=1)
    for city in DEFAULT_CITIES
    for hours in range(0, 60 * 24, 5)
]


def flags(reading):
    enriched = enrich_sample(reading, sample_of(reading), [])
    return enriched.is_rain, enriched.is_storm


def test_the_simulated_readings_forced_here_hold_every_kind_of_weather():
    assert Counter(flags(reading) for reading in SIMULATED).keys() == {(0, 0), (1, 0), (1, 1)}


@pytest.mark.parametrize("scenario", SCENARIOS)
def test_a_forced_reading_is_valid_and_enriched_as_the_scenario_says(scenario):
    for simulated in SIMULATED:
        forced = validate_raw(force_scenario(simulated, scenario).asdict(), LATER)
        assert flags(forced) == EXPECTED_FLAGS[scenario], (scenario, simulated)
        unforced = {"precipitation", "humidity", "wind_speed", "conditions", "icon"}
        assert {name: value for name, value in forced.asdict().items() if name not in unforced} == {
            name: value for name, value in simulated.asdict().items() if name not in unforced
        }


def test_forced_readings_are_the_simulated_ones_of_the_chosen_cities():
    paris, rome = DEFAULT_CITIES[1], DEFAULT_CITIES[4]
    readings = forced_readings((paris, rome), START, 7, "storm")
    assert [reading.city for reading in readings] == ["Paris", "Rome"]
    assert all(reading.data_origin == "simulated" for reading in readings)
    assert [reading.station_id for reading in readings] == ["SIM-PAR", "SIM-ROM"]
    assert readings[0].temperature == simulate_reading(paris, START, 7).temperature


def test_an_unknown_scenario_is_refused():
    with pytest.raises(ValueError, match="unknown scenario 'hail'"):
        force_scenario(SIMULATED[0], "hail")
