"""One step of the enrich agent, shared by the agent, `replay` and the benchmarks."""

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass

from models import EnrichedReading, LastSeen, RawReading, Sample, StoredSamples
from weather_app.rules.enrichment import enrich_sample, sample_of
from weather_app.rules.forecast import record_sample


def process_reading(
    reading: RawReading, samples: Sequence[Sample], history_size: int
) -> tuple[EnrichedReading, list[Sample]]:
    """The enriched record and the city's samples updated with this reading."""
    current = sample_of(reading)
    enriched = enrich_sample(reading, current, samples)
    return enriched, record_sample(samples, current, history_size)


def samples_from_table(stored: StoredSamples | None) -> list[Sample]:
    return list(stored.samples) if stored else []


def next_last_seen(seen: LastSeen | None, enriched: EnrichedReading, readings: int = 1) -> LastSeen:
    """The city's `last_seen` entry after `readings` more readings, `enriched` the newest of them.

    The newest observation wins (a late reading never moves it back), counts add up.
    """
    latest = seen.latest if seen and seen.timestamp > enriched.timestamp else enriched
    return LastSeen.of(
        {
            "timestamp": latest.timestamp,
            "data_origin": latest.data_origin,
            "count": (seen.count if seen else 0) + readings,
            "latest": latest,
        }
    )


@dataclass
class CityUpdate:
    """One city's table entries after a batch, and the partition their changelog belongs to."""

    partition: int
    samples: StoredSamples
    last_seen: LastSeen


@dataclass
class _CityBatch:
    partition: int
    samples: list[Sample]
    stored_last_seen: LastSeen | None
    newest: EnrichedReading | None = None
    readings: int = 0


class BatchProcessor:
    """Processes a batch of readings with each city's tables read once and written once.

    Reading each reading's history from the table and writing both tables back per reading costs
    two changelog records per reading; per batch it is two per city. The records come out exactly
    as `process_reading` and `next_last_seen` applied one reading at a time would make them.
    """

    def __init__(
        self,
        history_size: int,
        stored_history: Callable[[str], StoredSamples | None],
        stored_last_seen: Callable[[str], LastSeen | None],
    ) -> None:
        self.history_size = history_size
        self._stored_history = stored_history
        self._stored_last_seen = stored_last_seen
        self._cities: dict[str, _CityBatch] = {}

    def process(self, reading: RawReading, partition: int) -> EnrichedReading:
        """Enrich `reading`, which came from `partition` of the raw topic."""
        city = self._cities.get(reading.city)
        if city is None:
            city = _CityBatch(
                partition,
                samples_from_table(self._stored_history(reading.city)),
                self._stored_last_seen(reading.city),
            )
            self._cities[reading.city] = city
        enriched, samples = process_reading(reading, city.samples, self.history_size)
        city.samples = samples
        city.partition = partition
        city.readings += 1
        if city.newest is None or enriched.timestamp >= city.newest.timestamp:
            city.newest = enriched
        return enriched

    def holds(self, city: str) -> bool:
        """Whether this batch has processed a reading of `city` already."""
        return city in self._cities

    @property
    def new_cities(self) -> int:
        """Cities this batch added that the tables did not hold before."""
        return sum(1 for city in self._cities.values() if city.stored_last_seen is None)

    def updates(self) -> Iterator[tuple[str, CityUpdate]]:
        """Each city processed in this batch with its new table entries."""
        for name, city in self._cities.items():
            if city.newest is not None:
                seen = next_last_seen(city.stored_last_seen, city.newest, city.readings)
                samples = StoredSamples.of({"samples": city.samples})
                yield name, CityUpdate(city.partition, samples, seen)
