import pytest

from weather_app.sources.cities import (
    DEFAULT_CITIES,
    CityConfigError,
    choose_cities,
    load_cities_file,
    select_cities,
)


def test_chosen_cities_are_the_configured_ones_named_in_any_case_once_each():
    chosen = choose_cities(DEFAULT_CITIES, ["rome", " Paris", "ROME"])
    assert [city.name for city in chosen] == ["Rome", "Paris"]


def test_a_city_that_is_not_configured_is_named_with_the_configured_ones():
    with pytest.raises(CityConfigError) as refused:
        choose_cities(DEFAULT_CITIES[:2], ["Paris", "Atlantis"])
    assert str(refused.value) == (
        "unknown city 'Atlantis'; the configured cities are: London, Paris"
    )


def test_two_cities_of_a_file_sharing_a_code_are_refused_naming_both(tmp_path):
    path = tmp_path / "cities.json"
    path.write_text(
        '[{"name": "Paris", "country": "FR", "latitude": 48.9, "longitude": 2.4},'
        ' {"name": "Parma", "country": "IT", "latitude": 44.8, "longitude": 10.3}]'
    )
    with pytest.raises(CityConfigError) as refused:
        load_cities_file(path)
    assert str(refused.value) == (
        f"WEATHER_CITIES_FILE {path}: Paris and Parma share the code PAR (their station_id); "
        'give one a "code" of its own'
    )


def test_weather_cities_names_each_city_once_in_any_case():
    assert [city.name for city in select_cities("Paris, rome,paris,ROME")] == ["Paris", "Rome"]
