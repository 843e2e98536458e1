"""Prometheus metrics of our own, served with Faust's (messages in/out per topic) on `/metrics`."""

from collections.abc import Iterator

from prometheus_client import REGISTRY, CollectorRegistry, Counter
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

invalid_messages = Counter(
    "weather_invalid_messages_total",
    "Raw messages refused by validation, by reason.",
    ["reason"],
)
published_records = Counter(
    "weather_published_records_total",
    "Records the enrich agent and the ingest timer published, by topic (they send past "
    "Faust's sensors).",
    ["topic"],
)
freshness_alerts = Counter(
    "weather_freshness_alerts_total",
    "Fresh/stale transitions published to the alerts topic.",
    ["state"],
)
delivery_retries = Counter(
    "weather_delivery_retries_total",
    "Records of the enrich agent's batches sent again after the producer reported them failed.",
)
rekeyed_readings = Counter(
    "weather_rekeyed_total",
    "Raw readings that arrived under another key or partition than their city's, re-published "
    "to the raw topic under the city's key.",
)
# The ingest timer's publishing (weather_app/sources/publishing.py).
publish_failures = Counter(
    "weather_publish_failures_total",
    "Raw readings the ingest timer could not publish (still failing after the retries that fit "
    "in the round, or failed by the producer after the round ended), by topic.",
    ["topic"],
)


class CityGauges(Collector):
    """`weather_city_age_seconds` and `weather_city_stale`: each city's latest values, exported
    at each scrape.

    A collector over one dict rather than two `Gauge`s: a gauge keeps a child a city (a lock, a
    value object, the label tuple), 1,455 bytes a city for the two against 95 here (139 and 9
    MiB at 100,000 cities, in one process); and `labels()` checks and locks at every call (1.2 s
    a monitor pass at 100,000 cities).
    """

    def __init__(self, registry: CollectorRegistry = REGISTRY) -> None:
        self._cities: dict[str, tuple[float, bool]] = {}
        registry.register(self)

    def set(self, city: str, age_seconds: float, stale: bool) -> None:
        self._cities[city] = (age_seconds, stale)

    def remove(self, city: str) -> None:
        """The city's series leave `/metrics`."""
        self._cities.pop(city, None)

    def describe(self) -> list[Metric]:
        return list(self._families())

    def collect(self) -> Iterator[Metric]:
        age, stale = self._families()
        for city, (seconds, is_stale) in list(self._cities.items()):
            age.add_metric([city], seconds)
            stale.add_metric([city], 1 if is_stale else 0)
        yield age
        yield stale

    @staticmethod
    def _families() -> tuple[GaugeMetricFamily, GaugeMetricFamily]:
        return (
            GaugeMetricFamily(
                "weather_city_age_seconds",
                "Seconds since the newest observation of each city this worker owns.",
                labels=["city"],
            ),
            GaugeMetricFamily(
                "weather_city_stale",
                "1 while a city this worker owns is stale (older than 2 x the interval), else 0.",
                labels=["city"],
            ),
        )


city_gauges = CityGauges()
