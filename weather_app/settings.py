"""Every setting of the speed layer, declared once: its variable, parser, default and meaning.

`Settings.from_env(environ)` reads them from the mapping it is given (the app: os.environ); a bad
value raises `ConfigError` with one line that says which variable to fix. The README's
Configuration tables are printed from these declarations: `python -m weather_app.settings`.
"""

import inspect
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field, fields
from pathlib import Path
from types import MappingProxyType
from typing import Any, Generic, TypeVar, get_type_hints

from weather_app.errors import ConfigError
from weather_app.rules.freshness import max_age_seconds
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
        # A fetch hands over at most this many records (Faust: no limit, ~20,000 at once from
        # a backlog, which filled the agent's queue and held every partition back together).
        "broker_max_poll_records": 1000,
    }
)


# --- Declarations --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Parser(Generic[T]):
    """Turns a variable's value (stripped, never empty) into a setting: `parse` raises ValueError
    for a value it refuses, and the error line then says `expected` and shows the value as
    `shown` writes it."""

    parse: Callable[[str], T]
    expected: str
    shown: Callable[[str], str] = repr


@dataclass(frozen=True)
class Variable(Generic[T]):
    """An environment variable as the README documents it. `shown_default` is the README's text
    for a default that is not a plain value (e.g. "unset"); a secret's value is never shown."""

    name: str
    parser: Parser[T]
    meaning: str
    shown_default: str | None = None
    secret: bool = False

    def read(self, raw: str) -> T:
        try:
            return self.parser.parse(raw)
        except ValueError:
            value = "" if self.secret else f"={self.parser.shown(raw)}"
            raise ConfigError(
                f"{self.name}{value} is invalid: expected {self.parser.expected}"
            ) from None


_VARIABLES = "variables"


def setting(*variables: Variable[T], default: T) -> T:
    """A field of a settings group, read from the first of `variables` that is set (not empty)."""
    secret = any(variable.secret for variable in variables)
    return field(default=default, repr=not secret, metadata={_VARIABLES: variables})


def _has_space(text: str) -> bool:
    return any(character.isspace() for character in text)


def _word(raw: str) -> str:
    if _has_space(raw):
        raise ValueError(raw)
    return raw


def word(expected: str) -> Parser[str]:
    """A name, address or path without spaces."""
    return Parser(_word, expected)


def _flag(raw: str) -> bool:
    if raw not in ("0", "1"):
        raise ValueError(raw)
    return raw == "1"


def _positive_float(raw: str) -> float:
    value = float(raw)
    if not value > 0 or value == float("inf"):
        raise ValueError(raw)
    return value


def one_of(*allowed: str) -> Parser[str]:
    def parse(raw: str) -> str:
        if raw not in allowed:
            raise ValueError(raw)
        return raw

    return Parser(parse, " or ".join(allowed))


def _bounded(
    convert: Callable[[str], Number], low: Number, high: Number
) -> Callable[[str], Number]:
    def parse(raw: str) -> Number:
        value = convert(raw)
        if not low <= value <= high:
            raise ValueError(raw)
        return value

    return parse


def number_text(value: float) -> str:
    """`10` for 10.0, `0.01` for 0.01: a number as the README and .env.example write it."""
    return str(int(value)) if float(value).is_integer() else str(value)


def integer_in(low: int, high: int, unit: str = "") -> Parser[int]:
    limits = f"{low}..{high}"
    return Parser(_bounded(int, low, high), f"{unit}, {limits}" if unit else limits)


def seconds_in(low: float, high: float, why: str = "") -> Parser[float]:
    expected = f"seconds in {number_text(low)}..{number_text(high)}"
    return Parser(_bounded(float, low, high), f"{expected} ({why})" if why else expected)


def broker_addresses(brokers: str) -> list[str]:
    """Each `host:port` of KAFKA_BROKER: separated by `;` or `,`, each may start with kafka://."""
    return [address.removeprefix("kafka://") for address in brokers.replace(";", ",").split(",")]


def _is_host_port(address: str) -> bool:
    host, _, port = address.rpartition(":")
    return bool(host) and not _has_space(address) and port.isdigit() and 0 < int(port) < 65536


def _brokers(raw: str) -> str:
    if not all(_is_host_port(address) for address in broker_addresses(raw)):
        raise ValueError(raw)
    return raw


def host_port_list(hosts: str) -> list[str]:
    """Each `host:port` of a comma-separated list (CASSANDRA_HOSTS)."""
    return [address.strip() for address in hosts.split(",")]


def _host_ports(raw: str) -> str:
    if not all(_is_host_port(address) for address in host_port_list(raw)):
        raise ValueError(raw)
    return raw


def _url(raw: str) -> str:
    if not raw.startswith(("http://", "https://")):
        raise ValueError(raw)
    return raw.rstrip("/")


def _url_without_credentials(raw: str) -> str:
    """A refused URL as an error line may show it: what could be a key (user info, the query, a
    fragment) masked, as a commercial endpoint takes its key in the query."""
    scheme, separator, rest = raw.partition("://")
    if not separator:
        scheme, rest = "", raw
    address = rest.split("?", 1)[0].split("#", 1)[0]
    masked = "?***" if len(address) < len(rest) else ""
    location, slash, path = address.partition("/")
    if "@" in location:
        location = "***@" + location.rpartition("@")[2]
    return repr(f"{scheme}{separator}{location}{slash}{path}{masked}")


def _cities_file(raw: str) -> tuple[City, ...]:
    return load_cities_file(Path(raw))


SECONDS = Parser(_positive_float, "seconds > 0")
INTEGER = Parser(int, "an integer")
FLAG = Parser(_flag, "0 or 1")
URL = Parser(_url, "an http(s) URL", _url_without_credentials)
BROKERS = Parser(_brokers, "host:port[,host:port...]")
HOST_PORTS = Parser(_host_ports, "host:port[,host:port...]")
TOPIC = word("a topic name")
TEXT = Parser(str, "any text")
OPTIONAL_TEXT: Parser[str | None] = Parser(str, "any text")
# Both raise ConfigError themselves, naming the variable and what is wrong in the city list.
CITY_NAMES = Parser(select_cities, "names of built-in cities")
CITIES_FILE = Parser(_cities_file, "a JSON file of cities")


# Of both weather APIs (weather_app.sources.fetcher).
REQUEST_TIMEOUT_MEANING = "seconds per API request, at most half of them to resolve and connect"
COOLDOWN_MEANING = "seconds without any API call after an HTTP 429 or when the host is unreachable"
RETRIES_MEANING = "extra tries (0..5) after a timeout, a dropped connection, 5xx or unreadable body"
# `auto` resolves to one of the others (`Settings.weather_source`); `none` fetches nothing.
VISUAL_CROSSING, OPEN_METEO, SIMULATION = "visual-crossing", "open-meteo", "simulation"
NO_SOURCE = "none"
# Open-Meteo stamps its current conditions on 15-minute marks (`current.interval`: 900).
OPEN_METEO_OBSERVATION_SPACING_SECONDS = 900.0
WEATHER_SOURCES = ("auto", VISUAL_CROSSING, OPEN_METEO, SIMULATION, NO_SOURCE)


# --- The settings --------------------------------------------------------------------------------


@dataclass(frozen=True)
class KafkaSettings:
    """Kafka (`settings.kafka`): the brokers and how long to wait for them."""

    broker: str = setting(
        Variable(
            "KAFKA_BROKER",
            BROKERS,
            "bootstrap server(s), `host:port[,host:port...]` (`,` or `;`)",
        ),
        default="127.0.0.1:9092",
    )
    connect_wait_seconds: float = setting(
        Variable(
            "KAFKA_CONNECT_WAIT",
            SECONDS,
            "seconds the worker waits for the broker at start before giving up",
        ),
        default=15.0,
    )
    # How long a silent worker keeps its partitions: after a crash the others take over then.
    session_timeout_seconds: float = setting(
        Variable(
            "KAFKA_SESSION_TIMEOUT",
            seconds_in(6.0, 300.0, "the broker's allowed range"),
            "seconds (6..300) before a silent worker's partitions go to the others",
        ),
        default=30.0,
    )

    @property
    def broker_url(self) -> str:
        return self.broker if "://" in self.broker else f"kafka://{self.broker}"

    @property
    def bootstrap_servers(self) -> str:
        """The brokers as Kafka clients take them: `host:port[,host:port]`."""
        return ",".join(broker_addresses(self.broker))


@dataclass(frozen=True)
class StreamSettings:
    """The stream (`settings.stream`): the app, its topics, cities, batches and guarantees."""

    app_id: str = setting(
        Variable(
            "WEATHER_APP_ID",
            word("a non-empty name"),
            "Faust app id: consumer group and changelog topic prefix",
        ),
        default="weather-speed-layer",
    )
    raw_topic: str = setting(
        Variable("WEATHER_RAW_TOPIC", TOPIC, "topic of raw readings"), default="weather_raw"
    )
    enriched_topic: str = setting(
        Variable("WEATHER_ENRICHED_TOPIC", TOPIC, "topic of enriched records"),
        default="weather_data_v2",
    )
    alerts_topic: str = setting(
        Variable("WEATHER_ALERTS_TOPIC", TOPIC, "topic of fresh/stale events"),
        default="weather_alerts",
    )
    dlq_topic: str = setting(
        Variable(
            "WEATHER_DLQ_TOPIC", TOPIC, "dead letters: refused raw messages with their reason"
        ),
        default="weather_data_dlq",
    )
    partitions: int = setting(
        Variable(
            "WEATHER_PARTITIONS", integer_in(1, 1000), "partitions of both topics and the tables"
        ),
        default=6,
    )
    # As set; the timer uses `Settings.fetch_interval_seconds`, raised to fit the API's budget.
    interval_seconds: float = setting(
        Variable(
            "WEATHER_INTERVAL",
            SECONDS,
            "seconds between fetches (`make run`: 10); with an API raised to fit its daily budget",
        ),
        default=60.0,
    )
    cities: tuple[City, ...] = setting(
        Variable(
            "WEATHER_CITIES_FILE",
            CITIES_FILE,
            'JSON file `[{"name", "country", "latitude", "longitude", "code"?}]`; '
            "wins over `WEATHER_CITIES`",
            shown_default="unset",
        ),
        Variable(
            "WEATHER_CITIES",
            CITY_NAMES,
            "comma-separated names from the built-in list "
            f"({', '.join(city.name for city in DEFAULT_CITIES)})",
            shown_default="all built-in",
        ),
        default=DEFAULT_CITIES,
    )
    source: str = setting(
        Variable(
            "WEATHER_SOURCE",
            one_of(*WEATHER_SOURCES),
            "where readings come from: `auto` is Visual Crossing with a key, else Open-Meteo; "
            "a city the source fails for is simulated that round; `none`: the worker only "
            "enriches what reaches the raw topic (replays, `produce`)",
        ),
        default="auto",
    )
    # Fixed by default so the simulated weather continues smoothly across restarts and when the
    # leader (which runs the timer) moves to another worker.
    simulation_seed: int = setting(
        Variable(
            "WEATHER_SEED",
            INTEGER,
            "seed of the simulation: same seed, same weather, so it continues across restarts "
            "and workers",
        ),
        default=1,
    )
    history_size: int = setting(
        Variable(
            "WEATHER_HISTORY_SIZE", integer_in(2, 1000), "readings per city kept for the forecast"
        ),
        default=12,
    )
    # Bigger batches mean fewer table writes, longer waits add latency when readings trickle in.
    batch_size: int = setting(
        Variable(
            "WEATHER_BATCH_SIZE",
            integer_in(1, 100_000),
            "raw readings the enrich agent takes at a time (tables written once per city per "
            "batch)",
        ),
        default=1000,
    )
    # A batch is what the consumer queued while the previous one was handled; waiting for more
    # made bigger batches under a light load only, at the price of latency (BENCHMARKS.md).
    batch_seconds: float = setting(
        Variable(
            "WEATHER_BATCH_SECONDS",
            seconds_in(0.0, 10.0),
            "longest wait for a batch to fill beyond what is queued (adds at most this much "
            "latency; 0: take what is queued)",
        ),
        default=0.0,
    )
    accept_unknown_cities: bool = setting(
        Variable(
            "WEATHER_ACCEPT_UNKNOWN_CITIES",
            FLAG,
            "`1` enriches readings of cities outside the configuration too (else dead-lettered "
            "as `unknown_city`)",
        ),
        default=False,
    )
    max_cities: int = setting(
        Variable(
            "WEATHER_MAX_CITIES",
            integer_in(1, 10_000_000),
            "with unknown cities accepted, the most distinct cities a worker's tables hold; "
            "readings of more are dead-lettered as `too_many_cities`",
        ),
        default=1000,
    )
    # The enrich agent sends a batch's undelivered records again (weather_app.broker.outbox).
    producer_timeout_seconds: float = setting(
        Variable(
            "WEATHER_PRODUCER_TIMEOUT",
            seconds_in(1.0, 3600.0),
            "seconds (1..3600) the producer tries to deliver a record before it reports it "
            "failed; the agent then sends it again (see Reliability)",
        ),
        default=1200.0,
    )
    stop_timeout_seconds: float = setting(
        Variable(
            "WEATHER_STOP_TIMEOUT",
            seconds_in(1.0, 3600.0),
            "seconds (1..3600) a worker asked to stop may take to stop in good order; past them "
            "it exits 1 at once, as after a crash (see Reliability)",
        ),
        default=60.0,
    )
    standby_replicas: int = setting(
        Variable(
            "WEATHER_STANDBY_REPLICAS",
            integer_in(0, 8),
            "copies of other workers' tables each worker keeps current (Faust's standby "
            "replicas): `1` makes a takeover skip the changelog replay, at the cost of each "
            "worker applying every other worker's table writes (2 workers: 1.2x one worker "
            "instead of 2.1x, BENCHMARKS.md)",
        ),
        default=0,
    )
    commit_interval_seconds: float = setting(
        Variable(
            "WEATHER_COMMIT_INTERVAL",
            seconds_in(0.1, 60.0),
            "seconds between commits (Faust's `broker_commit_interval`): each writes the tables' "
            "changelogs and commits the offsets acknowledged so far (under `exactly_once`, the "
            "transaction); the web view's tables trail the stream by up to this long",
        ),
        default=2.8,
    )
    processing_guarantee: str = setting(
        Variable(
            "WEATHER_PROCESSING_GUARANTEE",
            one_of("at_least_once", "exactly_once"),
            "or `exactly_once` (Kafka transactions; see Reliability)",
        ),
        default="at_least_once",
    )
    datadir: str = setting(
        Variable(
            "WEATHER_DATADIR",
            word("a directory"),
            "Faust data directory (`--datadir` also works)",
        ),
        default="{conf.name}-data",
    )
    store: str = setting(
        Variable(
            "WEATHER_STORE",
            one_of("memory", "rocksdb"),
            "where a worker keeps its tables: `memory` (rebuilt from the changelogs at each "
            "start) or `rocksdb` (files under the data directory: a restart reads only the "
            "changelogs' tail; at_least_once only)",
        ),
        default="memory",
    )

    def __post_init__(self) -> None:
        # Kafka Streams wipes its stores after an unclean stop under exactly-once; Faust does not:
        # RocksDB would keep the entries of a batch whose transaction aborted, and the batch read
        # again would count its readings twice.
        if self.store == "rocksdb" and self.processing_guarantee == "exactly_once":
            raise ConfigError(
                "WEATHER_STORE='rocksdb' is invalid with WEATHER_PROCESSING_GUARANTEE="
                "'exactly_once': a RocksDB table would keep entries of aborted transactions"
            )


@dataclass(frozen=True)
class ApiSettings:
    """Visual Crossing's Timeline API (`settings.api`), used when its key is set."""

    key: str | None = setting(
        Variable(
            "VISUAL_CROSSING_API_KEY",
            OPTIONAL_TEXT,
            "use the Visual Crossing Timeline API; unset: Open-Meteo (see `WEATHER_SOURCE`)",
            shown_default="unset",
            secret=True,
        ),
        default=None,
    )
    base_url: str = setting(
        Variable(
            "VISUAL_CROSSING_BASE_URL",
            URL,
            "for tests against a fake server",
            shown_default="the public Timeline endpoint",
        ),
        default=(
            "https://weather.visualcrossing.com/VisualCrossingWebServices/rest/services/timeline"
        ),
    )
    timeout_seconds: float = setting(
        Variable("VISUAL_CROSSING_TIMEOUT", SECONDS, REQUEST_TIMEOUT_MEANING), default=10.0
    )
    concurrency: int = setting(
        Variable(
            "VISUAL_CROSSING_CONCURRENCY", integer_in(1, 64), "API requests in flight at once"
        ),
        default=4,
    )
    # Quota guard (weather_app.rules.quota): see `Settings.fetch_interval_seconds`.
    daily_budget: int = setting(
        Variable(
            "VISUAL_CROSSING_DAILY_BUDGET",
            integer_in(1, 1_000_000_000, "records a day"),
            "records a day the API may use; `WEATHER_INTERVAL` is raised to fit",
        ),
        default=1000,
    )
    # Retries of one city's query within a timer round.
    retries: int = setting(
        Variable(
            "VISUAL_CROSSING_RETRIES",
            integer_in(0, 5),
            RETRIES_MEANING,
        ),
        default=2,
    )
    cooldown_seconds: float = setting(
        Variable("VISUAL_CROSSING_COOLDOWN", SECONDS, COOLDOWN_MEANING),
        default=900.0,
    )
    auth_cooldown_seconds: float = setting(
        Variable(
            "VISUAL_CROSSING_AUTH_COOLDOWN",
            SECONDS,
            "seconds without any API call after an HTTP 401",
        ),
        default=3600.0,
    )


@dataclass(frozen=True)
class OpenMeteoSettings:
    """Open-Meteo's forecast API (`settings.open_meteo`), no key: free for non-commercial use."""

    url: str = setting(
        Variable(
            "OPEN_METEO_URL",
            URL,
            "the forecast endpoint; for tests a fake server",
            shown_default="the public forecast endpoint",
        ),
        default="https://api.open-meteo.com/v1/forecast",
    )
    timeout_seconds: float = setting(
        Variable("OPEN_METEO_TIMEOUT", SECONDS, REQUEST_TIMEOUT_MEANING), default=10.0
    )
    # Open-Meteo counts each location of a request as one call.
    daily_budget: int = setting(
        Variable(
            "OPEN_METEO_DAILY_BUDGET",
            integer_in(1, 1_000_000_000, "calls a day"),
            "calls a day the API may use (one per city per round); `WEATHER_INTERVAL` is raised "
            "to fit",
        ),
        default=10_000,
    )
    retries: int = setting(
        Variable(
            "OPEN_METEO_RETRIES",
            integer_in(0, 5),
            RETRIES_MEANING,
        ),
        default=2,
    )
    cooldown_seconds: float = setting(
        Variable("OPEN_METEO_COOLDOWN", SECONDS, COOLDOWN_MEANING),
        default=900.0,
    )


@dataclass(frozen=True)
class InfluxDBSettings:
    """InfluxDB (`settings.influxdb`), where Telegraf writes and `check` reads."""

    url: str = setting(
        Variable("INFLUXDB_URL", URL, "InfluxDB for `check` and Telegraf"),
        default="http://127.0.0.1:8086",
    )
    org: str = setting(
        Variable("INFLUXDB_ORG", word("an organization name"), "its organization"),
        default="speed_org",
    )
    bucket: str = setting(
        Variable("INFLUXDB_BUCKET", word("a bucket name"), "its bucket"), default="speed_bucket"
    )
    token: str = setting(
        Variable(
            "INFLUXDB_TOKEN",
            TEXT,
            "the admin token for `scripts/influxdb.sh`; `check` uses it only if set; never logged",
            shown_default="unset (scripts: `speed-layer-dev-token`)",
            secret=True,
        ),
        default="",
    )
    read_token_file: str = setting(
        Variable(
            "INFLUXDB_READ_TOKEN_FILE",
            word("a file path"),
            "the read-only token `check` uses (written by `scripts/influxdb.sh`)",
            shown_default="`~/.cache/weather-speed-layer/run/influxdb-<port>-tokens/read.token`",
        ),
        default="",
    )
    write_token_file: str = setting(
        Variable(
            "INFLUXDB_WRITE_TOKEN_FILE",
            word("a file path"),
            "the write-only token of `scripts/telegraf.sh` (written by `scripts/influxdb.sh`)",
            shown_default="`.../influxdb-<port>-tokens/telegraf.token`",
        ),
        default="",
    )


@dataclass(frozen=True)
class WebSettings:
    """The worker's web server (`settings.web`)."""

    host: str = setting(
        Variable(
            "WEATHER_WEB_HOST",
            word("a host name or address"),
            "host name of this worker's web server, as other workers reach it",
        ),
        default="127.0.0.1",
    )
    # Empty: listen on `host`. In a container 0.0.0.0, with `host` the name other workers reach
    # this one by (table requests are routed there).
    bind: str = setting(
        Variable(
            "WEATHER_WEB_BIND",
            word("an address"),
            "address it listens on (`0.0.0.0` in a container)",
            shown_default="`WEATHER_WEB_HOST`",
        ),
        default="",
    )
    port: int = setting(
        Variable("WEATHER_WEB_PORT", integer_in(1, 65535), "its port (`--web-port` also works)"),
        default=6066,
    )


@dataclass(frozen=True)
class AnalyticsSettings:
    """The Spark analytics job (`settings.analytics`): the Parquet lake, the Cassandra history."""

    lake_dir: str = setting(
        Variable(
            "ANALYTICS_LAKE_DIR",
            word("a directory"),
            "the Parquet lake of `python -m analytics.stream`; its Spark checkpoints live in "
            "`<lake>/_spark/`, so a new lake starts from the topic's earliest offset",
        ),
        default="~/.cache/weather-speed-layer/lake",
    )
    cassandra_hosts: str = setting(
        Variable(
            "CASSANDRA_HOSTS",
            HOST_PORTS,
            "Cassandra contact points of the history table, `host:port[,host:port...]`",
        ),
        default="127.0.0.1:9042",
    )
    trigger_seconds: float = setting(
        Variable(
            "ANALYTICS_TRIGGER_INTERVAL",
            seconds_in(0.5, 3600.0),
            "seconds between the job's micro-batches: longer means fewer, bigger Parquet files",
        ),
        default=10.0,
    )

    @property
    def lake_path(self) -> Path:
        return Path(self.lake_dir).expanduser()

    @property
    def cassandra_contact_points(self) -> list[str]:
        return host_port_list(self.cassandra_hosts)


@dataclass(frozen=True)
class Settings:
    """Every setting, in groups; `Settings()` holds the defaults."""

    kafka: KafkaSettings = field(default_factory=KafkaSettings)
    stream: StreamSettings = field(default_factory=StreamSettings)
    api: ApiSettings = field(default_factory=ApiSettings)
    open_meteo: OpenMeteoSettings = field(default_factory=OpenMeteoSettings)
    influxdb: InfluxDBSettings = field(default_factory=InfluxDBSettings)
    web: WebSettings = field(default_factory=WebSettings)
    analytics: AnalyticsSettings = field(default_factory=AnalyticsSettings)

    def __post_init__(self) -> None:
        if self.stream.source == VISUAL_CROSSING and not self.api.key:
            raise ConfigError(
                f"WEATHER_SOURCE={VISUAL_CROSSING!r} needs VISUAL_CROSSING_API_KEY (or "
                "WEATHER_SOURCE=auto: Open-Meteo without a key)"
            )

    @property
    def weather_source(self) -> str:
        """`visual-crossing`, `open-meteo`, `simulation` or `none`: WEATHER_SOURCE with `auto`
        resolved."""
        if self.stream.source != "auto":
            return self.stream.source
        return VISUAL_CROSSING if self.api.key else OPEN_METEO

    @property
    def uses_api(self) -> bool:
        return self.weather_source in (VISUAL_CROSSING, OPEN_METEO)

    @property
    def daily_budget(self) -> int:
        """The source's daily budget: Visual Crossing's records or Open-Meteo's calls, each one
        city's query."""
        if self.weather_source == VISUAL_CROSSING:
            return self.api.daily_budget
        return self.open_meteo.daily_budget

    @property
    def fetch_interval_seconds(self) -> float:
        """The timer's interval: WEATHER_INTERVAL, with an API raised until a day's queries of
        every city fit its daily budget (weather_app.rules.quota)."""
        return effective_interval(
            self.stream.interval_seconds,
            len(self.stream.cities),
            self.daily_budget,
            self.uses_api,
        )

    @property
    def stale_after_seconds(self) -> float:
        """When a city turns stale: 2 x the timer's interval, plus the spacing of the source's
        observations (weather_app.rules.freshness.max_age_seconds). What the freshness monitor,
        `check`, the web view and (through each v2 record's header) Grafana use."""
        spacing = (
            OPEN_METEO_OBSERVATION_SPACING_SECONDS if self.weather_source == OPEN_METEO else 0.0
        )
        return max_age_seconds(self.fetch_interval_seconds, spacing)

    @classmethod
    def from_env(cls, environ: Mapping[str, str]) -> "Settings":
        """Every setting from `environ` alone; an unset or empty variable means its default."""
        return cls(**{name: _read_group(kind, environ) for name, kind in _groups()})


def _groups() -> Iterator[tuple[str, type[Any]]]:
    """(attribute, class) of each group of `Settings`."""
    yield from get_type_hints(Settings).items()


def _read_group(kind: type[Any], environ: Mapping[str, str]) -> Any:
    values = {}
    for member in fields(kind):
        for variable in member.metadata[_VARIABLES]:
            if raw := environ.get(variable.name, "").strip():
                values[member.name] = variable.read(raw)
                break
    return kind(**values)


# --- Documentation -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Declared:
    """One variable with where it goes: `settings.<group>.<field>`, and the field's default."""

    group_name: str
    field_name: str
    variable: Variable[Any]
    default: Any

    @property
    def default_text(self) -> str:
        """The default as .env.example writes it: empty for none or for the built-in cities."""
        if self.default is None or isinstance(self.default, tuple):
            return ""
        if isinstance(self.default, bool):
            return "1" if self.default else "0"
        if isinstance(self.default, float):
            return number_text(self.default)
        return str(self.default)

    @property
    def readme_default(self) -> str:
        return self.variable.shown_default or f"`{self.default_text}`"


def declarations() -> Iterator[Declared]:
    """Every variable, in the order of the groups and their fields."""
    for group_name, kind in _groups():
        for member in fields(kind):
            for variable in member.metadata[_VARIABLES]:
                yield Declared(group_name, member.name, variable, member.default)


def configuration_tables() -> str:
    """The README's Configuration tables, one per group, in markdown."""
    blocks = []
    for group_name, kind in _groups():
        rows = [
            f"| `{declared.variable.name}` | {declared.readme_default} | "
            f"{declared.variable.meaning} |"
            for declared in declarations()
            if declared.group_name == group_name
        ]
        header = [inspect.getdoc(kind) or group_name, "", "| variable | default | meaning |"]
        blocks.append("\n".join([*header, "| --- | --- | --- |", *rows]))
    return "\n\n".join(blocks) + "\n"


if __name__ == "__main__":
    print(configuration_tables(), end="")
