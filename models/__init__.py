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

__all__ = [
    "ENRICHED_FIELDS",
    "DeadLetter",
    "EnrichedReading",
    "FreshnessAlert",
    "Observation",
    "RawReading",
    "Record",
]
