from typing import Any

import pytest

from weather_app.rules.admission import CityAdmission
from weather_app.rules.validation import InvalidReading


def reason(admission: CityAdmission, city: str, held: bool, cities_held: int) -> str | None:
    try:
        admission.check(city, lambda _: held, lambda: cities_held)
    except InvalidReading as refused:
        return refused.reason
    return None


def test_configured_cities_are_always_admitted():
    admission = CityAdmission(["Paris"], accept_unknown=False, max_cities=1)
    assert reason(admission, "Paris", held=False, cities_held=5) is None


def test_an_unknown_city_is_refused_unless_accepted():
    admission = CityAdmission(["Paris"], accept_unknown=False, max_cities=1000)
    assert reason(admission, "Atlantis", held=False, cities_held=0) == "unknown_city"
    assert reason(admission, "Atlantis", held=True, cities_held=1) == "unknown_city"
    assert not admission.tracks("Atlantis")


def test_accepted_unknown_cities_stop_at_the_maximum_but_held_ones_go_on():
    admission = CityAdmission(["Paris"], accept_unknown=True, max_cities=3)
    assert reason(admission, "Atlantis", held=False, cities_held=2) is None
    assert reason(admission, "Lemuria", held=False, cities_held=3) == "too_many_cities"
    assert reason(admission, "Atlantis", held=True, cities_held=3) is None
    assert admission.tracks("Lemuria")


def test_the_refusal_names_the_setting_to_change():
    with pytest.raises(InvalidReading, match="WEATHER_ACCEPT_UNKNOWN_CITIES"):
        CityAdmission([], accept_unknown=False, max_cities=1).check("X", lambda _: False, lambda: 0)
    with pytest.raises(InvalidReading, match="WEATHER_MAX_CITIES=1"):
        CityAdmission([], accept_unknown=True, max_cities=1).check("X", lambda _: False, lambda: 1)


def test_the_tables_are_asked_nothing_about_a_configured_city():
    def not_asked(*args: object) -> Any:
        raise AssertionError("asked")

    CityAdmission(["Paris"], accept_unknown=True, max_cities=1).check("Paris", not_asked, not_asked)
