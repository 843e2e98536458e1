import pytest

from weather_app.rules.quota import (
    calls_per_day,
    effective_interval,
    fits_budget,
    interval_warning,
    min_interval_seconds,
)

# The source and its budget variable, as the fetcher passes them for Visual Crossing.
VISUAL_CROSSING = ("Visual Crossing", "VISUAL_CROSSING_DAILY_BUDGET")


def test_calls_per_day_is_cities_times_rounds_a_day():
    assert calls_per_day(10, 60) == 14_400
    assert calls_per_day(1, 86_400) == 1


@pytest.mark.parametrize(
    ("cities", "budget", "expected"),
    [(10, 1000, 864), (1, 1000, 87), (3, 1000, 260), (10, 14_400, 60), (1, 1_000_000_000, 1)],
)
def test_min_interval_is_the_smallest_whole_second_that_fits(cities, budget, expected):
    assert min_interval_seconds(cities, budget) == expected
    assert fits_budget(cities, expected, budget)
    assert not fits_budget(cities, expected - 1, budget) or expected == 1


def test_a_too_short_interval_with_the_api_is_raised():
    assert effective_interval(60.0, 10, 1000, uses_api=True) == 864.0


def test_an_interval_that_fits_is_kept_even_when_fractional():
    # 3 cities every 259.5 s: 998.8 queries a day.
    assert effective_interval(259.5, 3, 1000, uses_api=True) == 259.5
    assert effective_interval(86_400.0, 10, 1000, uses_api=True) == 86_400.0


def test_exactly_on_budget_is_kept():
    assert effective_interval(864.0, 10, 1000, uses_api=True) == 864.0


def test_without_the_api_there_is_no_budget():
    assert effective_interval(1.0, 10, 1000, uses_api=False) == 1.0


def test_no_cities_no_constraint():
    assert effective_interval(1.0, 0, 1000, uses_api=True) == 1.0


def test_the_warning_is_one_line_with_both_intervals_and_the_budget():
    warning = interval_warning(60.0, 864.0, 10, 1000, *VISUAL_CROSSING)
    assert warning is not None
    assert "\n" not in warning
    assert "WEATHER_INTERVAL=60s" in warning
    assert "864s" in warning
    assert "14400 times a day" in warning
    assert "VISUAL_CROSSING_DAILY_BUDGET=1000" in warning


def test_no_warning_when_the_interval_was_not_raised():
    assert interval_warning(900.0, 900.0, 10, 1000, *VISUAL_CROSSING) is None
