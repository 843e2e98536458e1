import orjson
import pytest

from models import ENRICHED_FIELDS, EnrichedReading, RawReading, Sample
from models.codec import encode_record
from weather_app.rules.enrichment import (
    STORM_MIN_PRECIPITATION_MM_H,
    STORM_MIN_WIND_KM_H,
    enrich_sample,
    is_storm,
    sample_of,
)
from weather_app.rules.forecast import record_sample


def raw(**overrides) -> RawReading:
    fields = {
        "city": "Paris",
        "country": "FR",
        "station_id": "SIM-PAR",
        "timestamp": "2026-11-28T12:00:00Z",
        "temperature": 10.0,
        "humidity": 70.0,
        "wind_speed": 12.0,
        "precipitation": 0.0,
        "data_origin": "simulated",
        **overrides,
    }
    return RawReading(**fields)


def enrich(reading: RawReading, history: list[Sample]) -> EnrichedReading:
    return enrich_sample(reading, sample_of(reading), history)


def test_enriched_record_has_exactly_the_published_fields_and_types():
    enriched = enrich(raw(), []).asdict()
    assert set(enriched) == set(ENRICHED_FIELDS)
    for name, expected in ENRICHED_FIELDS.items():
        assert type(enriched[name]) is expected, name


def test_the_wire_form_is_plain_json_with_exactly_the_published_fields_in_order():
    assert list(orjson.loads(encode_record(enrich(raw(), [])))) == list(ENRICHED_FIELDS)


@pytest.mark.parametrize(("precipitation", "is_rain"), [(0.0, 0), (0.01, 1), (12.0, 1)])
def test_is_rain_follows_precipitation(precipitation, is_rain):
    assert enrich(raw(precipitation=precipitation), []).is_rain == is_rain


@pytest.mark.parametrize(
    "icon", ["thunder", "thunder-rain", "thunder-showers-day", "thunder-showers-night"]
)
def test_thunder_icons_mean_a_storm(icon):
    assert is_storm(raw(icon=icon))


def test_thunderstorm_conditions_text_means_a_storm():
    assert is_storm(raw(conditions="Thunderstorm, Rain, Overcast"))


def test_heuristic_needs_heavy_rain_and_strong_wind_together():
    heavy, strong = STORM_MIN_PRECIPITATION_MM_H, STORM_MIN_WIND_KM_H
    assert is_storm(raw(precipitation=heavy, wind_speed=strong))
    assert not is_storm(raw(precipitation=heavy, wind_speed=strong - 1))
    assert not is_storm(raw(precipitation=heavy - 0.1, wind_speed=strong + 30))
    assert not is_storm(raw(icon="rain", conditions="Rain"))


def test_source_forecast_wins_over_history():
    history = [Sample(0, 0.0, 0.0)]
    enriched = enrich(raw(forecast_temp=7.5, forecast_precip=1.25), history)
    assert (enriched.next_hour_temp, enriched.next_hour_precip) == (7.5, 1.25)


def test_forecast_from_history_is_not_a_copy_of_the_current_value():
    first = raw(timestamp="2026-11-28T11:40:00Z", temperature=9.0, precipitation=0.0)
    second = raw(timestamp="2026-11-28T11:50:00Z", temperature=9.5, precipitation=1.0)
    current = raw(timestamp="2026-11-28T12:00:00Z", temperature=10.0, precipitation=2.0)
    history = [sample_of(first), sample_of(second)]
    enriched = enrich(current, history)
    assert enriched.next_hour_temp == pytest.approx(13.0)
    assert enriched.next_hour_precip not in (0.0, 2.0)


def test_without_history_the_forecast_is_the_current_value():
    enriched = enrich(raw(temperature=4.0, precipitation=0.5), [])
    assert (enriched.next_hour_temp, enriched.next_hour_precip) == (4.0, 0.5)


def test_replaying_a_reading_gives_the_same_record_as_the_first_pass():
    readings = [
        raw(timestamp=f"2026-11-28T12:{minute:02d}:00Z", temperature=10 + minute / 10)
        for minute in range(0, 50, 10)
    ]
    history: list[Sample] = []
    first_pass = []
    for reading in readings:
        first_pass.append(enrich(reading, history))
        history = record_sample(history, sample_of(reading), size=12)
    # The history now holds later readings too; a replay must ignore them.
    assert [enrich(reading, history) for reading in readings] == first_pass


def test_timestamp_and_origin_are_carried_through():
    enriched = enrich(raw(data_origin="api", timestamp="2026-01-02T03:04:05Z"), [])
    assert enriched.timestamp == "2026-01-02T03:04:05Z"
    assert enriched.data_origin == "api"
