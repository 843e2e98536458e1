"""Records that travel on the speed layer's topics."""

from models.readings import (
    ENRICHED_FIELDS,
    DeadLetter,
    EnrichedReading,
    FreshnessAlert,
    Observation,
    RawReading,
)

__all__ = [
    "ENRICHED_FIELDS",
    "DeadLetter",
    "EnrichedReading",
    "FreshnessAlert",
    "Observation",
    "RawReading",
]
