"""`CityGauges`: each city's freshness series, exported, updated, removed and exported again."""

from prometheus_client import REGISTRY

from weather_app.metrics import CityGauges


def exported(city: str) -> tuple[float | None, float | None]:
    return (
        REGISTRY.get_sample_value("weather_city_age_seconds", {"city": city}),
        REGISTRY.get_sample_value("weather_city_stale", {"city": city}),
    )


def test_a_city_s_series_are_updated_in_place_removed_and_exported_again():
    gauges = CityGauges()
    gauges.set("Gauge City", 12.5, stale=False)
    gauges.set("Gauge City", 130.0, stale=True)
    assert exported("Gauge City") == (130.0, 1.0)
    gauges.remove("Gauge City")
    assert exported("Gauge City") == (None, None)
    # Not the removed children, which /metrics no longer shows.
    gauges.set("Gauge City", 3.0, stale=False)
    assert exported("Gauge City") == (3.0, 0.0)
    gauges.remove("Gauge City")
