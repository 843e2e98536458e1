"""`Record.of`: the record `cls(**fields)` makes, without Faust's per-field descriptor calls, for
each record the enrich agent makes per reading or per city."""

from typing import Any, cast

import pytest
from faust.models.fields import FieldDescriptor

from models import EnrichedReading, LastSeen, RawReading, Record, Sample, StoredSamples
from models.codec import encode_record

OBSERVATION: dict[str, Any] = {
    "city": "Paris",
    "country": "FR",
    "station_id": "SIM-PAR",
    "timestamp": "2026-12-03T10:00:00Z",
    "temperature": 1.5,
    "humidity": 80.0,
    "wind_speed": 12.0,
    "precipitation": 0.4,
}
RAW: dict[str, Any] = {
    **OBSERVATION,
    "data_origin": "api",
    "wind_dir": 270.0,
    "conditions": "Rain",
    "icon": "rain",
    "forecast_temp": 1.0,
    "forecast_precip": 0.2,
    "source_station_id": "LFPO",
}
ENRICHED: dict[str, Any] = {
    **OBSERVATION,
    "next_hour_temp": 1.0,
    "next_hour_precip": 0.2,
    "is_rain": 1,
    "is_storm": 0,
    "data_origin": "api",
}
LAST_SEEN: dict[str, Any] = {
    "timestamp": "2026-12-03T10:00:00Z",
    "data_origin": "api",
    "count": 3,
    "latest": EnrichedReading(**ENRICHED),
}
STORED_SAMPLES: dict[str, Any] = {"samples": [Sample(1.0, 2.5, 0.0), Sample(61.0, 2.4, 0.1)]}
CASES = [
    (RawReading, RAW),
    (EnrichedReading, ENRICHED),
    (LastSeen, LAST_SEEN),
    (StoredSamples, STORED_SAMPLES),
]


@pytest.mark.parametrize(("record", "fields"), CASES)
def test_faust_s_descriptors_only_store_the_values_of_our_records(
    record: type[Record], fields: dict[str, Any]
):
    # What `of` relies on to skip them: Faust's descriptor `__set__` runs `prepare_value`
    # (which coerces only with `coerce`) and a tag, then stores the value in `__dict__`.
    options = record._options
    assert (options.coerce, options.validation) == (False, False)
    assert not hasattr(record, "__post_init__")
    descriptors = [cast(FieldDescriptor[Any], d) for d in options.descriptors.values()]
    assert all(descriptor.tag is None for descriptor in descriptors)
    assert set(fields) == options.fieldset  # the cases hold every field


@pytest.mark.parametrize(("record", "fields"), CASES)
def test_of_makes_the_record_the_constructor_makes(record: type[Record], fields: dict[str, Any]):
    made, built = record.of(dict(fields)), record(**fields)
    assert type(made) is record
    assert made == built
    assert vars(made) == vars(built)
    assert encode_record(made) == encode_record(built)


@pytest.mark.parametrize(("record", "fields"), CASES)
def test_of_calls_no_field_descriptor_when_every_field_is_given(
    record: type[Record], fields: dict[str, Any], monkeypatch: pytest.MonkeyPatch
):
    calls = []
    original = FieldDescriptor.__set__

    def counting(self: FieldDescriptor[Any], instance: Any, value: Any) -> None:
        calls.append(self.field)
        original(self, instance, value)

    monkeypatch.setattr(FieldDescriptor, "__set__", counting)
    record(**fields)
    assert sorted(calls) == sorted(fields)  # the constructor: one call per field
    calls.clear()
    record.of(dict(fields))
    assert calls == []


def test_of_fills_in_the_defaults_of_fields_not_given():
    required = {
        name: value for name, value in RAW.items() if name not in RawReading._options.defaults
    }
    assert RawReading.of(required) == RawReading(**required)
    assert RawReading.of(required).wind_dir is None


def test_of_refuses_a_field_the_record_does_not_have():
    with pytest.raises(TypeError, match="unexpected argument"):
        EnrichedReading.of({**ENRICHED, "wind_dir": 90.0})
