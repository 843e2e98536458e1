"""Which cities the enrich agent keeps: every name is a table entry, a changelog record and a
metric series for good, so only the configured cities, or a bounded number of others when asked.
"""

from collections.abc import Callable, Iterable

from weather_app.rules.validation import InvalidReading


class CityAdmission:
    def __init__(self, configured: Iterable[str], accept_unknown: bool, max_cities: int) -> None:
        self.configured = frozenset(configured)
        self.accept_unknown = accept_unknown
        self.max_cities = max_cities

    def tracks(self, city: str) -> bool:
        """Whether readings of `city` are enriched at all (so watched and measured)."""
        return self.accept_unknown or city in self.configured

    def check(self, city: str, held: Callable[[str], bool], cities_held: Callable[[], int]) -> None:
        """Raise `InvalidReading` unless a reading of `city` may be enriched.

        `held(city)`: whether the worker's tables already hold the city; `cities_held()`: how many
        they hold. Asked only for a city outside the configuration.
        """
        if city in self.configured:
            return
        if self.accept_unknown and held(city):
            return
        if not self.accept_unknown:
            raise InvalidReading(
                "unknown_city",
                f"{city!r} is not a configured city (WEATHER_CITIES, WEATHER_CITIES_FILE; "
                "WEATHER_ACCEPT_UNKNOWN_CITIES=1 accepts others)",
            )
        count = cities_held()
        if count >= self.max_cities:
            raise InvalidReading(
                "too_many_cities",
                f"{city!r} would be city {count + 1} > WEATHER_MAX_CITIES={self.max_cities}",
            )
