"""One step of the enrich agent, shared by the agent, `replay` and the benchmarks."""

from collections.abc import Mapping, Sequence
from typing import Any

from models import EnrichedReading, RawReading
from weather_app.enrichment import enrich, sample_of
from weather_app.forecast import Sample, record_sample


def process_reading(
    reading: RawReading, samples: Sequence[Sample], history_size: int
) -> tuple[EnrichedReading, list[Sample]]:
    """The enriched record and the city's samples updated with this reading."""
    enriched = enrich(reading, samples)
    return enriched, record_sample(samples, sample_of(reading), history_size)


def samples_from_table(stored: Sequence[Sequence[float]] | None) -> list[Sample]:
    return [Sample(*sample) for sample in stored or ()]


def next_last_seen(seen: Mapping[str, Any] | None, enriched: EnrichedReading) -> dict[str, Any]:
    """The city's `last_seen` entry after `enriched`: the newest observation wins, counts add up."""
    if seen and seen["timestamp"] > enriched.timestamp:
        latest = seen["latest"]
    else:
        latest = enriched.asdict()
    return {
        "timestamp": latest["timestamp"],
        "data_origin": latest["data_origin"],
        "count": (seen["count"] if seen else 0) + 1,
        "latest": latest,
    }
