"""`CityGauges`: each city's freshness series, exported, updated, removed and exported again."""

from prometheus_client import CollectorRegistry, generate_latest

from weather_app.metrics import CityGauges


def exported(registry: CollectorRegistry, city: str) -> tuple[float | None, float | None]:
    return (
        registry.get_sample_value("weather_city_age_seconds", {"city": city}),
        registry.get_sample_value("weather_city_stale", {"city": city}),
    )


def test_a_city_s_series_are_updated_in_place_removed_and_exported_again():
    registry = CollectorRegistry()
    gauges = CityGauges(registry)
    gauges.set("Gauge City", 12.5, stale=False)
    gauges.set("Gauge City", 130.0, stale=True)
    assert exported(registry, "Gauge City") == (130.0, 1.0)
    gauges.remove("Gauge City")
    assert exported(registry, "Gauge City") == (None, None)
    gauges.set("Gauge City", 3.0, stale=False)
    assert exported(registry, "Gauge City") == (3.0, 0.0)


def test_metrics_show_both_gauges_with_their_help_even_before_any_city():
    registry = CollectorRegistry()
    gauges = CityGauges(registry)
    text = generate_latest(registry).decode()
    assert "# TYPE weather_city_age_seconds gauge" in text
    assert "# TYPE weather_city_stale gauge" in text
    gauges.set('Saint-Denis "Réunion"', 5.0, stale=False)
    text = generate_latest(registry).decode()
    assert 'weather_city_age_seconds{city="Saint-Denis \\"Réunion\\""} 5.0' in text
    assert 'weather_city_stale{city="Saint-Denis \\"Réunion\\""} 0.0' in text
