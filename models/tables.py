"""The values of the app's tables, as Faust records: what each city's entries hold.

Their changelog bytes are the plain JSON older workers wrote (models.codec), so a worker recovers
a changelog whichever version wrote it.
"""

from collections.abc import Sequence
from typing import Any, NamedTuple

from models.codec import PLAIN_JSON
from models.readings import EnrichedReading, Record


class Sample(NamedTuple):
    """What the forecast keeps of one reading: epoch seconds, °C, mm/h."""

    epoch: float
    temperature: float
    precipitation: float


# Faust takes a codec object as a serializer (its stubs say only a codec name).
class LastSeen(Record, serializer=PLAIN_JSON):  # type: ignore[arg-type]
    """`last_seen[city]`: its newest observation, and how many readings it has had."""

    timestamp: str
    data_origin: str
    count: int
    latest: EnrichedReading


class StoredSamples(Record, serializer=PLAIN_JSON):  # type: ignore[arg-type]
    """`history[city]`: its recent samples in time order, a JSON array of `[epoch, temperature,
    precipitation]` arrays on the changelog."""

    samples: list[Sample]

    def to_representation(self) -> list[list[float]]:  # type: ignore[override]
        return [list(sample) for sample in self.samples]

    @classmethod
    def from_data(  # type: ignore[override]  # a JSON array, not an object
        cls, data: Sequence[Sequence[float]], **options: Any
    ) -> "StoredSamples":
        """The entry a changelog value holds (what Faust calls on recovery)."""
        return cls(samples=[Sample(*sample) for sample in data])
