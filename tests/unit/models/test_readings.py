from typing import Any
from unittest.mock import patch

import pytest
from faust.models.fields import FieldDescriptor

from models import DeadLetter, EnrichedReading, FreshnessAlert, LastSeen, RawReading
from tests.unit.models.test_wire_bytes import raw_readings

REQUIRED: dict[str, Any] = {
    "city": "Paris",
    "country": "FR",
    "station_id": "SIM-PAR",
    "timestamp": "2026-11-30T11:00:00Z",
    "temperature": 9,
    "humidity": -0.0,
    "wind_speed": 0.1,
    "precipitation": 0.0,
    "data_origin": "api",
}


def built_by_faust(cls: Any, **values: Any) -> Any:
    record = cls.__new__(cls)
    cls._model_init(record, **values)
    return record


@pytest.mark.parametrize(
    "values",
    [
        REQUIRED,
        {**REQUIRED, "wind_dir": 10.0, "conditions": "Rain", "icon": "rain", "forecast_temp": 1},
        {**REQUIRED, "conditions": None, "icon": None, "forecast_precip": None},  # defaults
    ],
)
def test_a_reading_is_built_as_faust_builds_it_without_a_descriptor_call(values):
    with patch.object(FieldDescriptor, "__set__", side_effect=AssertionError("descriptor")):
        reading = RawReading(**values)
    expected = built_by_faust(RawReading, **values)
    assert reading.__dict__ == expected.__dict__
    assert reading.asdict() == expected.asdict()


def test_every_record_on_a_topic_takes_the_direct_path_and_table_values_faust_s():
    for cls in (RawReading, EnrichedReading, DeadLetter, FreshnessAlert):
        assert cls.__init__ is not cls._model_init
    assert LastSeen.__init__ is LastSeen._model_init  # `latest` is converted when read


def test_wrong_arguments_fail_as_with_faust():
    without_city = {name: value for name, value in REQUIRED.items() if name != "city"}
    with pytest.raises(TypeError, match="missing 1 required"):
        RawReading(**without_city)
    with pytest.raises(TypeError, match="unexpected argument: colour"):
        RawReading(**REQUIRED, colour="red")


def test_the_fixture_s_readings_are_unchanged_by_the_direct_path():
    for reading in raw_readings():
        assert reading.__dict__ == built_by_faust(RawReading, **reading.asdict()).__dict__
