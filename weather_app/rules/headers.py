"""The Kafka headers of a `weather_data_v2` record: what Telegraf stores beside its thirteen fields.

The record's JSON keeps exactly its thirteen fields; Telegraf's kafka_consumer turns these headers
into tags and its converter processor into float fields (telegraf/telegraf.conf):
- `wind_dir`: the reading's validated wind direction in degrees, when the source gave one (a
  direction outside 0..360 never gets here: validation dead-letters the reading);
- `stale_after_seconds`: 2 x the effective fetch interval of the worker that enriched it, the
  threshold `check` and the freshness monitor use, so Grafana's age colours and alert rules follow
  the interval without being told it.
"""

from models import RawReading

WIND_DIR = "wind_dir"
STALE_AFTER_SECONDS = "stale_after_seconds"

# A list: aiokafka's record builder (Cython) takes no other sequence.
Headers = list[tuple[str, bytes]]


def header_number(value: float) -> bytes:
    """A number as Telegraf's converter parses it (Go's ParseFloat takes Python's repr)."""
    return repr(float(value)).encode()


class EnrichedHeaders:
    """The headers of each enriched record, for one stale threshold.

    On the enrich agent's hot path: the readings without a direction share one prebuilt list, which
    nothing mutates (the producer only encodes it).
    """

    __slots__ = ("_stale_after", "_without_direction")

    def __init__(self, stale_after_seconds: float) -> None:
        self._stale_after = (STALE_AFTER_SECONDS, header_number(stale_after_seconds))
        self._without_direction: Headers = [self._stale_after]

    def of(self, reading: RawReading) -> Headers:
        if reading.wind_dir is None:
            return self._without_direction
        return [self._stale_after, (WIND_DIR, header_number(reading.wind_dir))]
