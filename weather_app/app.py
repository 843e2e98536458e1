"""The Faust app, its topics and its tables: the one place that names them."""

import sys

import faust

from weather_app import transactions
from weather_app.admission import CityAdmission
from weather_app.settings import FAUST_STREAM_OPTIONS, ConfigError, Settings
from weather_app.transport import Transport


def _load_settings() -> Settings:
    try:
        return Settings.from_env()
    except ConfigError as error:
        sys.exit(f"weather-speed-layer: configuration error: {error}")


settings = _load_settings()

app = faust.App(
    settings.app_id,
    broker=settings.broker_url,
    store="memory://",
    autodiscover=["agents", "weather_app.commands", "weather_app.views"],
    origin="weather_app",
    topic_partitions=settings.partitions,
    **FAUST_STREAM_OPTIONS,
    processing_guarantee=settings.processing_guarantee,
    broker_session_timeout=settings.session_timeout_seconds,
    broker_heartbeat_interval=settings.session_timeout_seconds / 10,
    web_host=settings.web_host,
    web_bind=settings.web_bind or settings.web_host,
    web_tables_enabled=True,
    web_port=settings.web_port,
    datadir=settings.datadir,
    Worker="weather_app.worker:WeatherWorker",
    table_standby_replicas=settings.standby_replicas,
    producer_request_timeout=settings.producer_timeout_seconds,
    # Tables that ignore changelog records of a key on another partition than its own.
    Table="weather_app.tables:Table",
)
# Faust's aiokafka transport, with its rebalance races fixed (weather_app/transport.py), and with
# exactly_once the fixes that make Faust's transactions commit (weather_app.transactions).
exactly_once = settings.processing_guarantee == "exactly_once"
transport = transactions.Transport if exactly_once else Transport
app.transport = transport(app.conf.broker_consumer, app)

# Both topics carry bytes that our codec writes and reads (weather_app.validation): plain JSON
# values without Faust metadata, for Telegraf and other consumers, and the city name as a JSON
# string for the key. Tables serialize their str keys as JSON too, and a key must serialize the
# same on the topic and in the table for `table_route` to find the owning worker. Taking bytes
# also means a message with a foreign key or value cannot crash the agent while decoding.
raw_topic = app.topic(
    settings.raw_topic, key_type=bytes, value_type=bytes, partitions=settings.partitions
)
enriched_topic = app.topic(
    settings.enriched_topic, key_type=bytes, value_type=bytes, partitions=settings.partitions
)
# Raw messages that could not be enriched, with the reason and the original bytes.
dlq_topic = app.topic(
    settings.dlq_topic, key_type=bytes, value_type=bytes, partitions=settings.partitions
)
alerts_topic = app.topic(
    settings.alerts_topic, key_type=bytes, value_type=bytes, partitions=settings.partitions
)

admission = CityAdmission(
    (city.name for city in settings.cities), settings.accept_unknown_cities, settings.max_cities
)

# city -> {"timestamp", "data_origin", "count", "latest"}: each city's newest observation.
last_seen = app.Table("last_seen", key_type=str, partitions=settings.partitions)
# city -> [[epoch, temperature, precipitation], ...]: the recent samples the forecast reads.
history = app.Table("history", key_type=str, partitions=settings.partitions)
