"""Records that travel on the speed layer's topics."""

from models.readings import (
    ENRICHED_FIELDS,
    DeadLetter,
    EnrichedReading,
    FreshnessAlert,
    Observation,
    RawReading,
    Record,
)
from models.tables import LastSeen, Sample, StoredSamples

__all__ = [
    "ENRICHED_FIELDS",
    "DeadLetter",
    "EnrichedReading",
    "FreshnessAlert",
    "LastSeen",
    "Observation",
    "RawReading",
    "Record",
    "Sample",
    "StoredSamples",
]
