"""Prometheus metrics of our own, served with Faust's (messages in/out per topic) on `/metrics`."""

from prometheus_client import Counter, Gauge

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
city_age_seconds = Gauge(
    "weather_city_age_seconds",
    "Seconds since the newest observation of each city this worker owns.",
    ["city"],
)
city_stale = Gauge(
    "weather_city_stale",
    "1 while a city this worker owns is stale (older than 2 x the interval), else 0.",
    ["city"],
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


class CityGauges:
    """`weather_city_age_seconds` and `weather_city_stale` of each city, their children looked up
    once a city: `labels()` checks and locks at every call, 1.2 s a monitor pass at 100,000
    cities (0.12 s through this cache)."""

    def __init__(self) -> None:
        self._children: dict[str, tuple[Gauge, Gauge]] = {}

    def set(self, city: str, age_seconds: float, stale: bool) -> None:
        children = self._children.get(city)
        if children is None:
            children = self._children[city] = (
                city_age_seconds.labels(city=city),
                city_stale.labels(city=city),
            )
        children[0].set(age_seconds)
        children[1].set(1 if stale else 0)

    def remove(self, city: str) -> None:
        """The city's series leave `/metrics`."""
        self._children.pop(city, None)
        city_age_seconds.remove(city)
        city_stale.remove(city)
