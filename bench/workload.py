"""The benchmark data and the one enrichment step every contender runs.

Readings come from `weather_app.sources.simulation.simulate_reading` for 60 cities (the ten
built-in ones and five shifted copies of each, so keys spread over the partitions), one a minute
per city, ending a minute ago: every timestamp is valid for `decode_raw` (never in the future)
and each city's readings are in time order, as a live source would send them.
"""

from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta

from models import Sample
from models.codec import encode_key, encode_record
from weather_app.rules.batch import process_reading
from weather_app.rules.validation import InvalidReading, decode_raw
from weather_app.settings import StreamSettings
from weather_app.sources.cities import DEFAULT_CITIES, City
from weather_app.sources.simulation import simulate_reading

COPIES = 6
STEP = timedelta(seconds=60)
SEED = 1


def bench_cities() -> list[City]:
    cities = list(DEFAULT_CITIES)
    for copy in range(1, COPIES):
        for base in DEFAULT_CITIES:
            cities.append(
                replace(
                    base,
                    name=f"{base.name} {copy}",
                    latitude=max(-89.0, min(89.0, base.latitude + 0.7 * copy)),
                    longitude=(base.longitude + 7.0 * copy + 180.0) % 360.0 - 180.0,
                    code=f"{base.code}{copy}",
                )
            )
    return cities


def readings(count: int, end: datetime | None = None) -> Iterator[tuple[bytes, bytes]]:
    """`count` (key, value) pairs in time order, the newest a minute before `end` (now)."""
    cities = bench_cities()
    rounds = -(-count // len(cities))
    last = (end or datetime.now(UTC)) - STEP
    start = last - STEP * (rounds - 1)
    for index in range(count):
        city = cities[index % len(cities)]
        reading = simulate_reading(city, start + STEP * (index // len(cities)), SEED)
        yield encode_key(city.name), encode_record(reading)


class Enricher:
    """decode_raw -> process_reading -> encode_record, the agent's step with history in a dict."""

    def __init__(self, history_size: int | None = None) -> None:
        self.history_size = history_size or StreamSettings().history_size
        self.history: dict[str, list[Sample]] = {}
        self.invalid = 0

    def __call__(self, value: bytes | None) -> tuple[bytes, bytes] | None:
        try:
            reading = decode_raw(value, now=datetime.now(UTC))
        except InvalidReading:
            self.invalid += 1
            return None
        city = reading.city
        enriched, self.history[city] = process_reading(
            reading, self.history.get(city, []), self.history_size
        )
        return encode_key(city), encode_record(enriched)
