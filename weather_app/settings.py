"""Every setting of the speed layer, read from the environment in one place.

A bad value raises `ConfigError` with one line that says which variable to fix.
"""

import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from types import MappingProxyType
from typing import Any, TypeVar

from weather_app.errors import ConfigError
from weather_app.rules.quota import effective_interval
from weather_app.sources.cities import (
    DEFAULT_CITIES,
    City,
    load_cities_file,
    select_cities,
)

T = TypeVar("T")
Number = TypeVar("Number", int, float)


# Faust options of the enrich path that no environment variable changes; the benchmark's Faust
# ceiling (bench/faust_ceiling.py) takes them too, so that it measures the same path.
FAUST_STREAM_OPTIONS: Mapping[str, Any] = MappingProxyType(
    {
        "key_serializer": "raw",
        "value_serializer": "raw",
        "producer_acks": -1,
        # aiokafka holds one open batch per partition and makes a send wait for a round trip when
        # it is full: at the default 16 KiB that is every ~50 readings per partition. 256 KiB
        # holds a whole agent batch (WEATHER_BATCH_SIZE readings of ~300 bytes) and stays under
        # the broker's 1 MiB message.max.bytes.
        "producer_max_batch_size": 256 * 1024,
        # Faust's repaired Cython fast paths (opt-in since 0.14): the stream takes events already
        # queued without a task per event. The enrich agent's throughput depends on it
        # (BENCHMARKS.md).
        "cython_optimizations": True,
    }
)


@dataclass(frozen=True)
class Settings:
    kafka_broker: str = "127.0.0.1:9092"
    broker_wait_seconds: float = 15.0
    # How long a silent worker keeps its partitions: after a crash the others take over then.
    session_timeout_seconds: float = 30.0
    # "at_least_once" (Faust's default) or "exactly_once" (Kafka transactions: no duplicate
    # enriched records after a crash, for consumers reading with isolation read_committed).
    processing_guarantee: str = "at_least_once"
    app_id: str = "weather-speed-layer"
    raw_topic: str = "weather_raw"
    enriched_topic: str = "weather_data_v2"
    alerts_topic: str = "weather_alerts"
    dlq_topic: str = "weather_data_dlq"
    partitions: int = 6
    interval_seconds: float = 60.0
    cities: tuple[City, ...] = DEFAULT_CITIES
    # Fixed by default so the simulated weather continues smoothly across restarts and when the
    # leader (which runs the timer) moves to another worker.
    simulation_seed: int = 1
    visual_crossing_api_key: str | None = field(default=None, repr=False)
    visual_crossing_base_url: str = (
        "https://weather.visualcrossing.com/VisualCrossingWebServices/rest/services/timeline"
    )
    api_timeout_seconds: float = 10.0
    api_concurrency: int = 4
    # Quota guard (weather_app.rules.quota): with the API on, `interval_seconds` is raised until
    # cities x calls a day fit this many records; `requested_interval_seconds` is WEATHER_INTERVAL.
    api_daily_budget: int = 1000
    requested_interval_seconds: float | None = None
    # No API call at all for this long after a 429 (rate limited) / a 401 (key refused).
    api_cooldown_seconds: float = 900.0
    api_auth_cooldown_seconds: float = 3600.0
    # Retries of one city's query within a timer round (timeouts, connection errors, 5xx).
    api_retries: int = 2
    history_size: int = 12
    # The enrich agent handles up to batch_size raw readings at a time, waiting at most
    # batch_seconds for a batch to fill: bigger batches mean fewer table writes, longer waits
    # add latency when readings trickle in.
    batch_size: int = 1000
    batch_seconds: float = 0.01
    # Copies of the other workers' tables each worker keeps up to date (Faust's standby replicas):
    # a takeover then needs no changelog replay, but every worker applies every other worker's
    # table writes one record at a time, which cost 2 workers half their throughput (BENCHMARKS.md).
    standby_replicas: int = 0
    # Readings for cities outside `cities` are dead-lettered (unknown_city) unless accepted; then at
    # most `max_cities` distinct cities are kept in a worker's tables (beyond: too_many_cities).
    accept_unknown_cities: bool = False
    max_cities: int = 1000
    # How long the producer keeps trying to deliver a record before it reports the record failed;
    # the enrich agent then sends the batch's undelivered records again (weather_app.broker.outbox).
    producer_timeout_seconds: float = 1200.0
    influxdb_url: str = "http://127.0.0.1:8086"
    influxdb_org: str = "speed_org"
    influxdb_bucket: str = "speed_bucket"
    influxdb_token: str = field(default="", repr=False)
    web_host: str = "127.0.0.1"
    # Address the web server listens on; empty means web_host. In a container: 0.0.0.0, with
    # web_host the name other workers reach this one by (table requests are routed there).
    web_bind: str = ""
    web_port: int = 6066
    datadir: str = "{conf.name}-data"

    @property
    def broker_url(self) -> str:
        return self.kafka_broker if "://" in self.kafka_broker else f"kafka://{self.kafka_broker}"

    @property
    def bootstrap_servers(self) -> str:
        """The brokers as Kafka clients take them: `host:port[,host:port]`."""
        return ",".join(broker_addresses(self.kafka_broker))

    @property
    def uses_api(self) -> bool:
        return bool(self.visual_crossing_api_key)

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> "Settings":
        env = os.environ if environ is None else environ
        defaults = cls()

        def read(name: str, parse: Callable[[str], T], default: T, expected: str) -> T:
            raw = env.get(name, "").strip()
            if not raw:
                return default
            try:
                return parse(raw)
            except ValueError:
                raise ConfigError(f"{name}={raw!r} is invalid: expected {expected}") from None

        settings = cls(
            kafka_broker=read(
                "KAFKA_BROKER", _broker, defaults.kafka_broker, "host:port[,host:port...]"
            ),
            broker_wait_seconds=read(
                "KAFKA_CONNECT_WAIT", _positive_float, defaults.broker_wait_seconds, "seconds > 0"
            ),
            session_timeout_seconds=read(
                "KAFKA_SESSION_TIMEOUT",
                _bounded_float(6.0, 300.0),
                defaults.session_timeout_seconds,
                "seconds in 6..300 (the broker's allowed range)",
            ),
            processing_guarantee=read(
                "WEATHER_PROCESSING_GUARANTEE",
                _choice("at_least_once", "exactly_once"),
                defaults.processing_guarantee,
                "at_least_once or exactly_once",
            ),
            app_id=read("WEATHER_APP_ID", _name, defaults.app_id, "a non-empty name"),
            raw_topic=read("WEATHER_RAW_TOPIC", _name, defaults.raw_topic, "a topic name"),
            enriched_topic=read(
                "WEATHER_ENRICHED_TOPIC", _name, defaults.enriched_topic, "a topic name"
            ),
            dlq_topic=read("WEATHER_DLQ_TOPIC", _name, defaults.dlq_topic, "a topic name"),
            alerts_topic=read("WEATHER_ALERTS_TOPIC", _name, defaults.alerts_topic, "a topic name"),
            partitions=read(
                "WEATHER_PARTITIONS", _bounded_int(1, 1000), defaults.partitions, "1..1000"
            ),
            interval_seconds=read(
                "WEATHER_INTERVAL", _positive_float, defaults.interval_seconds, "seconds > 0"
            ),
            cities=_cities(env),
            simulation_seed=read("WEATHER_SEED", _int, defaults.simulation_seed, "an integer"),
            visual_crossing_api_key=env.get("VISUAL_CROSSING_API_KEY", "").strip() or None,
            visual_crossing_base_url=read(
                "VISUAL_CROSSING_BASE_URL",
                _url,
                defaults.visual_crossing_base_url,
                "an http(s) URL",
            ),
            api_timeout_seconds=read(
                "VISUAL_CROSSING_TIMEOUT",
                _positive_float,
                defaults.api_timeout_seconds,
                "seconds > 0",
            ),
            api_concurrency=read(
                "VISUAL_CROSSING_CONCURRENCY",
                _bounded_int(1, 64),
                defaults.api_concurrency,
                "1..64",
            ),
            history_size=read(
                "WEATHER_HISTORY_SIZE", _bounded_int(2, 1000), defaults.history_size, "2..1000"
            ),
            batch_size=read(
                "WEATHER_BATCH_SIZE", _bounded_int(1, 100_000), defaults.batch_size, "1..100000"
            ),
            batch_seconds=read(
                "WEATHER_BATCH_SECONDS",
                _bounded_float(0.001, 10.0),
                defaults.batch_seconds,
                "seconds in 0.001..10",
            ),
            standby_replicas=read(
                "WEATHER_STANDBY_REPLICAS",
                _bounded_int(0, 8),
                defaults.standby_replicas,
                "0..8",
            ),
            accept_unknown_cities=read(
                "WEATHER_ACCEPT_UNKNOWN_CITIES",
                _flag,
                defaults.accept_unknown_cities,
                "0 or 1",
            ),
            max_cities=read(
                "WEATHER_MAX_CITIES",
                _bounded_int(1, 10_000_000),
                defaults.max_cities,
                "1..10000000",
            ),
            producer_timeout_seconds=read(
                "WEATHER_PRODUCER_TIMEOUT",
                _bounded_float(1.0, 3600.0),
                defaults.producer_timeout_seconds,
                "seconds in 1..3600",
            ),
            influxdb_url=read("INFLUXDB_URL", _url, defaults.influxdb_url, "an http(s) URL"),
            influxdb_org=read("INFLUXDB_ORG", _name, defaults.influxdb_org, "an organization name"),
            influxdb_bucket=read(
                "INFLUXDB_BUCKET", _name, defaults.influxdb_bucket, "a bucket name"
            ),
            influxdb_token=env.get("INFLUXDB_TOKEN", "").strip(),
            web_host=read("WEATHER_WEB_HOST", _name, defaults.web_host, "a host name or address"),
            web_bind=read("WEATHER_WEB_BIND", _name, defaults.web_bind, "an address"),
            web_port=read(
                "WEATHER_WEB_PORT", _bounded_int(1, 65535), defaults.web_port, "1..65535"
            ),
            datadir=read("WEATHER_DATADIR", _name, defaults.datadir, "a directory"),
            api_daily_budget=read(
                "VISUAL_CROSSING_DAILY_BUDGET",
                _bounded_int(1, 1_000_000_000),
                defaults.api_daily_budget,
                "records a day, 1..1000000000",
            ),
            api_cooldown_seconds=read(
                "VISUAL_CROSSING_COOLDOWN",
                _positive_float,
                defaults.api_cooldown_seconds,
                "seconds > 0",
            ),
            api_auth_cooldown_seconds=read(
                "VISUAL_CROSSING_AUTH_COOLDOWN",
                _positive_float,
                defaults.api_auth_cooldown_seconds,
                "seconds > 0",
            ),
            api_retries=read(
                "VISUAL_CROSSING_RETRIES", _bounded_int(0, 5), defaults.api_retries, "0..5"
            ),
        )
        return replace(
            settings,
            requested_interval_seconds=settings.interval_seconds,
            interval_seconds=effective_interval(
                settings.interval_seconds,
                len(settings.cities),
                settings.api_daily_budget,
                settings.uses_api,
            ),
        )


def _cities(env: Mapping[str, str]) -> tuple[City, ...]:
    if path := env.get("WEATHER_CITIES_FILE", "").strip():
        return load_cities_file(Path(path))
    if names := env.get("WEATHER_CITIES", "").strip():
        return select_cities(names)
    return DEFAULT_CITIES


def _has_space(text: str) -> bool:
    return any(character.isspace() for character in text)


def _name(raw: str) -> str:
    if _has_space(raw):
        raise ValueError(raw)
    return raw


def _flag(raw: str) -> bool:
    if raw not in ("0", "1"):
        raise ValueError(raw)
    return raw == "1"


def _int(raw: str) -> int:
    return int(raw)


def _positive_float(raw: str) -> float:
    value = float(raw)
    if not value > 0 or value == float("inf"):
        raise ValueError(raw)
    return value


def _choice(*allowed: str) -> Callable[[str], str]:
    def parse(raw: str) -> str:
        if raw not in allowed:
            raise ValueError(raw)
        return raw

    return parse


def _bounded(
    convert: Callable[[str], Number], low: Number, high: Number
) -> Callable[[str], Number]:
    def parse(raw: str) -> Number:
        value = convert(raw)
        if not low <= value <= high:
            raise ValueError(raw)
        return value

    return parse


def _bounded_float(low: float, high: float) -> Callable[[str], float]:
    return _bounded(float, low, high)


def _bounded_int(low: int, high: int) -> Callable[[str], int]:
    return _bounded(int, low, high)


def broker_addresses(brokers: str) -> list[str]:
    """Each `host:port` of KAFKA_BROKER: separated by `;` or `,`, each may start with kafka://."""
    return [address.removeprefix("kafka://") for address in brokers.replace(";", ",").split(",")]


def _broker(raw: str) -> str:
    for address in broker_addresses(raw):
        host, _, port = address.rpartition(":")
        if not host or _has_space(address) or not port.isdigit() or not 0 < int(port) < 65536:
            raise ValueError(raw)
    return raw


def _url(raw: str) -> str:
    if not raw.startswith(("http://", "https://")):
        raise ValueError(raw)
    return raw.rstrip("/")
