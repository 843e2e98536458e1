"""The Faust app, its topics and its tables: the one place that names them."""

import os
from collections.abc import Awaitable, Callable

import faust
from aiokafka.structs import RecordMetadata

from models import LastSeen, RawReading, StoredSamples
from models.codec import encode_key, encode_record
from weather_app.broker.client_logs import hold_repeated_client_logs
from weather_app.faust_internals import transactions, transport
from weather_app.faust_internals.producer import known_partitions, record_sender
from weather_app.rules.admission import CityAdmission
from weather_app.rules.partitioning import home_partition, kafka_partitioner
from weather_app.settings import FAUST_STREAM_OPTIONS, Settings

# Raises ConfigError naming the variable; `faust -A weather_app` turns it into one line.
settings = Settings.from_env(os.environ)

app = faust.App(
    settings.stream.app_id,
    broker=settings.kafka.broker_url,
    store=f"{settings.stream.store}://",
    autodiscover=["agents", "weather_app.cli.commands", "weather_app.web.views"],
    origin="weather_app",
    topic_partitions=settings.stream.partitions,
    **FAUST_STREAM_OPTIONS,
    processing_guarantee=settings.stream.processing_guarantee,
    broker_commit_interval=settings.stream.commit_interval_seconds,
    broker_session_timeout=settings.kafka.session_timeout_seconds,
    broker_heartbeat_interval=settings.kafka.session_timeout_seconds / 10,
    web_host=settings.web.host,
    web_bind=settings.web.bind or settings.web.host,
    web_tables_enabled=True,
    web_port=settings.web.port,
    datadir=settings.stream.datadir,
    Worker="weather_app.worker:WeatherWorker",
    table_standby_replicas=settings.stream.standby_replicas,
    producer_request_timeout=settings.stream.producer_timeout_seconds,
    producer_partitioner=kafka_partitioner,
    # Tables that ignore changelog records of a key on another partition than its own.
    Table="weather_app.faust_internals.tables:Table",
)
# Faust's aiokafka transport with its rebalance races fixed, and with exactly_once the fixes that
# make Faust's transactions commit (weather_app.faust_internals).
exactly_once = settings.stream.processing_guarantee == "exactly_once"
Transport = transactions.Transport if exactly_once else transport.Transport
app.transport = Transport(app.conf.broker_consumer, app)
# A lost broker makes aiokafka log thousands of lines a second: one a message every 10 s.
hold_repeated_client_logs()


# Our topics carry bytes that our codec writes and reads (models.codec): plain JSON values
# without Faust metadata, for Telegraf and other consumers, and the city name as a JSON string for
# the key. Tables serialize their str keys as JSON too, and a key must serialize the same on the
# topic and in the table for `table_route` to find the owning worker. Taking bytes also means a
# message with a foreign key or value cannot crash the agent while decoding.
def _bytes_topic(name: str) -> faust.TopicT:
    return app.topic(name, key_type=bytes, value_type=bytes, partitions=settings.stream.partitions)


raw_topic = _bytes_topic(settings.stream.raw_topic)
enriched_topic = _bytes_topic(settings.stream.enriched_topic)
# Raw messages that could not be enriched, with the reason and the original bytes.
dlq_topic = _bytes_topic(settings.stream.dlq_topic)
alerts_topic = _bytes_topic(settings.stream.alerts_topic)

admission = CityAdmission(
    (city.name for city in settings.stream.cities),
    settings.stream.accept_unknown_cities,
    settings.stream.max_cities,
)

# Each city's newest observation, and the recent samples the forecast reads; their changelog
# values are written and read by models.codec, as plain JSON.
last_seen = app.Table(
    "last_seen", key_type=str, value_type=LastSeen, partitions=settings.stream.partitions
)
history = app.Table(
    "history", key_type=str, value_type=StoredSamples, partitions=settings.stream.partitions
)


async def raw_sender() -> Callable[[RawReading], Awaitable[Awaitable[RecordMetadata]]]:
    """What a round of raw readings is published with: a city's reading goes to its home
    partition, straight to the producer Faust's `raw_topic.send` would use, without Faust's
    per-message future, callbacks and sensor (a round's worth cost ~25 µs a reading: 2.5 s of
    the worker's loop a minute at 100,000 cities). What it returns settles on the delivery."""
    producer = await record_sender(app)
    topic = raw_topic.get_topic_name()
    partitions = settings.stream.partitions
    # Until the producer's metadata holds the topic its partitioner picks the same partition.
    to_home = known_partitions(app, topic) == partitions

    async def send(reading: RawReading) -> Awaitable[RecordMetadata]:
        key = encode_key(reading.city)
        partition = home_partition(key, partitions) if to_home else None
        return await producer.send(topic, key, encode_record(reading), partition, None, None)

    return send
