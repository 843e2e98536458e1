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

