import pytest

from weather_app.sources.cities import DEFAULT_CITIES, CityConfigError, choose_cities


def test_chosen_cities_are_the_configured_ones_named_in_any_case_once_each():
    chosen = choose_cities(DEFAULT_CITIES, ["rome", " Paris", "ROME"])
    assert [city.name for city in chosen] == ["Rome", "Paris"]


def test_a_city_that_is_not_configured_is_named_with_the_configured_ones():
    with pytest.raises(CityConfigError) as refused:
        choose_cities(DEFAULT_CITIES[:2], ["Paris", "Atlantis"])
    assert str(refused.value) == (
        "unknown city 'Atlantis'; the configured cities are: London, Paris"
    )
