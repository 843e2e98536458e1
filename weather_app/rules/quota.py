"""Quota guard: call the weather API no more often than a daily record budget allows.

A Visual Crossing forecast query (current conditions plus the hourly forecast, no dates) costs one
record per city; Open-Meteo counts each location of its one request a round as one call (up to
10 variables and two weeks). Either way a timer round costs `cities` and a day
`cities * 86400 / interval`.
Pure functions of numbers: the settings use them to raise the interval, the fetcher to warn.
"""

SECONDS_PER_DAY = 86_400
RECORDS_PER_CITY_QUERY = 1


def calls_per_day(cities: int, interval_seconds: float) -> float:
    """Records a day when every city is queried once per interval."""
    return cities * RECORDS_PER_CITY_QUERY * SECONDS_PER_DAY / interval_seconds


def fits_budget(cities: int, interval_seconds: float, daily_budget: int) -> bool:
    return cities * RECORDS_PER_CITY_QUERY * SECONDS_PER_DAY <= daily_budget * interval_seconds


def min_interval_seconds(cities: int, daily_budget: int) -> int:
    """The smallest whole number of seconds at which `cities` fit `daily_budget` (integer ceil)."""
    return -(-cities * RECORDS_PER_CITY_QUERY * SECONDS_PER_DAY // daily_budget)


def effective_interval(
    requested_seconds: float, cities: int, daily_budget: int, uses_api: bool
) -> float:
    """The timer interval to use: the requested one, raised until the API calls fit the budget.

    Without the API (simulation only) there is no budget, so the requested interval stands.
    """
    if not uses_api or cities <= 0 or fits_budget(cities, requested_seconds, daily_budget):
        return requested_seconds
    return float(min_interval_seconds(cities, daily_budget))


def interval_warning(
    requested_seconds: float,
    effective_seconds: float,
    cities: int,
    daily_budget: int,
    source: str,
    budget_variable: str,
) -> str | None:
    """The one start-up line that says the interval was raised, or None when it was not."""
    if effective_seconds <= requested_seconds:
        return None
    return (
        f"WEATHER_INTERVAL={requested_seconds:g}s would query {source} "
        f"{calls_per_day(cities, requested_seconds):.0f} times a day for {cities} cities, over "
        f"{budget_variable}={daily_budget}: fetching every {effective_seconds:g}s instead"
    )
