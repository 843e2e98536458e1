import json
import subprocess
import sys
from pathlib import Path

import pytest
from faust.utils.urls import urllist

from weather_app.errors import ConfigError
from weather_app.settings import SECONDS, Settings, Variable, declarations
from weather_app.sources.cities import DEFAULT_CITIES


def test_defaults_without_environment():
    settings = Settings.from_env({})
    assert settings.kafka.broker == "127.0.0.1:9092"
    assert settings.kafka.broker_url == "kafka://127.0.0.1:9092"
    assert settings.stream.raw_topic == "weather_raw"
    assert settings.stream.enriched_topic == "weather_data_v2"
    assert settings.stream.interval_seconds == 60.0
    assert settings.stream.partitions == 6
    assert settings.web.host == "127.0.0.1"
    assert settings.stream.cities == DEFAULT_CITIES
    assert settings.weather_source == "open-meteo"
    assert settings.open_meteo.url == "https://api.open-meteo.com/v1/forecast"


def test_default_city_set_spans_countries_with_coordinates():
    assert len(DEFAULT_CITIES) >= 8
    assert len({city.country for city in DEFAULT_CITIES}) >= 5
    assert len({city.name for city in DEFAULT_CITIES}) == len(DEFAULT_CITIES)


def test_values_are_read_from_the_environment():
    settings = Settings.from_env(
        {
            "KAFKA_BROKER": "127.0.0.1:19092",
            "WEATHER_INTERVAL": "2.5",
            "WEATHER_PARTITIONS": "3",
            "WEATHER_CITIES": "paris, Tokyo",
            "WEATHER_SEED": "7",
            "VISUAL_CROSSING_API_KEY": "k",
            # 2 cities every 2.5 s: 69,120 queries a day, within this budget.
            "VISUAL_CROSSING_DAILY_BUDGET": "100000",
        }
    )
    assert settings.kafka.broker_url == "kafka://127.0.0.1:19092"
    assert settings.kafka.bootstrap_servers == "127.0.0.1:19092"
    assert settings.fetch_interval_seconds == 2.5
    assert settings.stream.partitions == 3
    assert [city.name for city in settings.stream.cities] == ["Paris", "Tokyo"]
    assert settings.stream.simulation_seed == 7
    assert settings.uses_api


@pytest.mark.parametrize(
    "brokers",
    [
        "127.0.0.1:9092,127.0.0.1:9094",
        "127.0.0.1:9092;127.0.0.1:9094",
        "kafka://127.0.0.1:9092,kafka://127.0.0.1:9094",
    ],
)
def test_several_brokers_are_bootstrap_servers_for_kafka_clients_and_faust(brokers):
    settings = Settings.from_env({"KAFKA_BROKER": brokers})
    assert settings.kafka.bootstrap_servers == "127.0.0.1:9092,127.0.0.1:9094"
    assert [str(url) for url in urllist(settings.kafka.broker_url)] == [
        "kafka://127.0.0.1:9092",
        "kafka://127.0.0.1:9094",
    ]


def test_the_api_key_and_the_influxdb_token_never_appear_in_the_settings_text():
    settings = Settings.from_env(
        {"VISUAL_CROSSING_API_KEY": "secret-key", "INFLUXDB_TOKEN": "secret-token"}
    )
    assert (settings.api.key, settings.influxdb.token) == ("secret-key", "secret-token")
    for text in (repr(settings), str(settings), repr(settings.api), repr(settings.influxdb)):
        assert "secret-key" not in text
        assert "secret-token" not in text


def test_a_secret_s_bad_value_is_not_in_its_error_line():
    with pytest.raises(ConfigError) as error:
        Variable("SOME_SECRET", SECONDS, "a secret", secret=True).read("hunter2")
    assert str(error.value) == "SOME_SECRET is invalid: expected seconds > 0"


def test_only_the_given_mapping_is_read(monkeypatch):
    monkeypatch.setenv("WEATHER_PARTITIONS", "9")
    monkeypatch.setenv("WEATHER_INTERVAL", "soon")
    assert Settings.from_env({}) == Settings()


def test_values_are_stripped_and_an_empty_value_means_the_default():
    settings = Settings.from_env({"WEATHER_PARTITIONS": " 3 ", "WEATHER_INTERVAL": "  "})
    assert settings.stream.partitions == 3
    assert settings.stream.interval_seconds == 60.0


@pytest.mark.parametrize(
    ("name", "value", "line"),
    [
        ("WEATHER_PARTITIONS", "x", "WEATHER_PARTITIONS='x' is invalid: expected 1..1000"),
        (
            "KAFKA_SESSION_TIMEOUT",
            "5",
            "KAFKA_SESSION_TIMEOUT='5' is invalid: "
            "expected seconds in 6..300 (the broker's allowed range)",
        ),
        (
            "WEATHER_BATCH_SECONDS",
            "11",
            "WEATHER_BATCH_SECONDS='11' is invalid: expected seconds in 0..10",
        ),
        (
            "VISUAL_CROSSING_DAILY_BUDGET",
            "0",
            "VISUAL_CROSSING_DAILY_BUDGET='0' is invalid: expected records a day, 1..1000000000",
        ),
        (
            "WEATHER_PROCESSING_GUARANTEE",
            "twice",
            "WEATHER_PROCESSING_GUARANTEE='twice' is invalid: "
            "expected at_least_once or exactly_once",
        ),
        ("WEATHER_RAW_TOPIC", "a b", "WEATHER_RAW_TOPIC='a b' is invalid: expected a topic name"),
        (
            "CASSANDRA_HOSTS",
            "127.0.0.1",
            "CASSANDRA_HOSTS='127.0.0.1' is invalid: expected host:port[,host:port...]",
        ),
    ],
)
def test_a_bad_value_is_one_line_with_what_is_expected(name, value, line):
    with pytest.raises(ConfigError) as error:
        Settings.from_env({name: value})
    assert str(error.value) == line


@pytest.mark.parametrize("declared", list(declarations()), ids=lambda d: d.variable.name)
def test_each_default_written_as_in_env_example_reads_back_as_the_default(declared):
    settings = Settings.from_env({declared.variable.name: declared.default_text})
    group = getattr(settings, declared.group_name)
    assert getattr(group, declared.field_name) == declared.default


def test_the_analytics_settings_default_to_the_cache_and_a_local_cassandra():
    analytics = Settings.from_env({}).analytics
    assert analytics.lake_path == Path.home() / ".cache" / "weather-speed-layer" / "lake"
    assert analytics.cassandra_contact_points == ["127.0.0.1:9042"]


def test_cassandra_hosts_is_a_list_of_contact_points():
    settings = Settings.from_env({"CASSANDRA_HOSTS": "10.0.0.1:9042, 10.0.0.2:19042"})
    assert settings.analytics.cassandra_contact_points == ["10.0.0.1:9042", "10.0.0.2:19042"]


@pytest.mark.parametrize(
    "hosts", ["cassandra", "127.0.0.1:", ":9042", "127.0.0.1:90x2", "127.0.0.1:70000", "a:1,b"]
)
def test_cassandra_hosts_refuses_an_entry_that_is_not_host_and_port(hosts):
    with pytest.raises(ConfigError) as refused:
        Settings.from_env({"CASSANDRA_HOSTS": hosts})
    assert str(refused.value) == (
        f"CASSANDRA_HOSTS={hosts!r} is invalid: expected host:port[,host:port...]"
    )


def test_every_variable_is_declared_once():
    names = [declared.variable.name for declared in declarations()]
    assert len(names) == len(set(names))


def test_importing_the_settings_reads_no_environment_and_no_faust():
    result = subprocess.run(
        [sys.executable, "-c", "import sys, weather_app.settings; print('faust' in sys.modules)"],
        env={"WEATHER_PARTITIONS": "x", "PATH": ""},
        capture_output=True,
        text=True,
        check=False,
    )
    assert (result.returncode, result.stdout, result.stderr) == (0, "False\n", "")


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("WEATHER_INTERVAL", "abc"),
        ("WEATHER_INTERVAL", "0"),
        ("WEATHER_INTERVAL", "-5"),
        ("WEATHER_PARTITIONS", "0"),
        ("KAFKA_BROKER", "localhost"),
        ("KAFKA_BROKER", "127.0.0.1:99999"),
        ("KAFKA_BROKER", "127.0.0.1:9092,"),
        ("KAFKA_BROKER", "127.0.0.1:9092, 127.0.0.1:9094"),
        ("WEATHER_WEB_PORT", "http"),
        ("VISUAL_CROSSING_BASE_URL", "ftp://x"),
        ("WEATHER_CITIES", "Atlantis"),
        ("WEATHER_SEED", "1.5"),
        ("VISUAL_CROSSING_DAILY_BUDGET", "0"),
        ("VISUAL_CROSSING_DAILY_BUDGET", "lots"),
        ("VISUAL_CROSSING_COOLDOWN", "0"),
        ("VISUAL_CROSSING_AUTH_COOLDOWN", "-1"),
        ("VISUAL_CROSSING_RETRIES", "9"),
        ("WEATHER_SOURCE", "open_meteo"),
        ("OPEN_METEO_URL", "api.open-meteo.com"),
        ("OPEN_METEO_DAILY_BUDGET", "0"),
        ("OPEN_METEO_RETRIES", "6"),
        ("OPEN_METEO_COOLDOWN", "0"),
        ("WEATHER_STANDBY_REPLICAS", "-1"),
        ("WEATHER_STANDBY_REPLICAS", "one"),
        ("WEATHER_ACCEPT_UNKNOWN_CITIES", "yes"),
        ("WEATHER_MAX_CITIES", "0"),
        ("WEATHER_PRODUCER_TIMEOUT", "0.5"),
    ],
)
def test_bad_values_name_the_variable_to_fix(name, value):
    with pytest.raises(ConfigError, match=name):
        Settings.from_env({name: value})


def test_cities_file_defines_custom_cities(tmp_path):
    path = tmp_path / "cities.json"
    path.write_text(
        json.dumps(
            [
                {"name": "Oslo", "country": "NO", "latitude": 59.91, "longitude": 10.75},
                {
                    "name": "Lima",
                    "country": "PE",
                    "latitude": -12.05,
                    "longitude": -77.04,
                    "code": "LIM",
                },
            ]
        )
    )
    cities = Settings.from_env({"WEATHER_CITIES_FILE": str(path)}).stream.cities
    assert [(c.name, c.station_id) for c in cities] == [("Oslo", "SIM-OSL"), ("Lima", "SIM-LIM")]


@pytest.mark.parametrize(
    "content",
    [
        "not json",
        "[]",
        '[{"name": "X"}]',
        '[{"name": "X", "country": "Y", "latitude": 100, "longitude": 0}]',
        '[{"name": "X", "country": "Y", "latitude": "north", "longitude": 0}]',
    ],
)
def test_bad_cities_file_is_a_config_error(tmp_path, content):
    path = tmp_path / "cities.json"
    path.write_text(content)
    with pytest.raises(ConfigError, match="WEATHER_CITIES_FILE"):
        Settings.from_env({"WEATHER_CITIES_FILE": str(path)})


def test_missing_cities_file_is_a_config_error(tmp_path):
    with pytest.raises(ConfigError, match="cannot read"):
        Settings.from_env({"WEATHER_CITIES_FILE": str(tmp_path / "absent.json")})


def test_reliability_defaults():
    settings = Settings.from_env({})
    assert settings.api.daily_budget == 1000
    assert settings.api.cooldown_seconds == 900.0
    assert settings.api.auth_cooldown_seconds == 3600.0
    assert settings.api.retries == 2


def test_reliability_values_are_read_from_the_environment():
    settings = Settings.from_env(
        {
            "VISUAL_CROSSING_DAILY_BUDGET": "5000",
            "VISUAL_CROSSING_COOLDOWN": "60",
            "VISUAL_CROSSING_AUTH_COOLDOWN": "7200",
            "VISUAL_CROSSING_RETRIES": "0",
        }
    )
    assert settings.api.daily_budget == 5000
    assert settings.api.cooldown_seconds == 60.0
    assert settings.api.auth_cooldown_seconds == 7200.0
    assert settings.api.retries == 0


def test_the_timer_interval_is_raised_to_fit_the_daily_budget_with_the_api():
    # 10 cities every 60 s would be 14,400 queries a day; 1,000 allow one round every 864 s.
    settings = Settings.from_env({"VISUAL_CROSSING_API_KEY": "k", "WEATHER_INTERVAL": "60"})
    assert settings.stream.interval_seconds == 60.0
    assert settings.fetch_interval_seconds == 864.0


def test_an_interval_within_the_budget_is_kept():
    settings = Settings.from_env(
        {"VISUAL_CROSSING_API_KEY": "k", "WEATHER_INTERVAL": "900", "WEATHER_CITIES": "Paris"}
    )
    assert settings.fetch_interval_seconds == 900.0


def test_the_simulation_s_interval_is_never_raised():
    settings = Settings.from_env({"WEATHER_SOURCE": "simulation", "WEATHER_INTERVAL": "1"})
    assert settings.fetch_interval_seconds == 1.0
    assert settings.stream.interval_seconds == 1.0


def test_open_meteo_s_interval_is_raised_to_fit_its_calls_a_day():
    # Each city is one call: 10 cities every 60 s would be 14,400 calls, over 10,000.
    assert Settings.from_env({"WEATHER_INTERVAL": "60"}).fetch_interval_seconds == 87.0
    settings = Settings.from_env({"WEATHER_INTERVAL": "60", "OPEN_METEO_DAILY_BUDGET": "20000"})
    assert settings.fetch_interval_seconds == 60.0


@pytest.mark.parametrize(
    ("env", "source"),
    [
        ({}, "open-meteo"),
        ({"VISUAL_CROSSING_API_KEY": "k"}, "visual-crossing"),
        ({"WEATHER_SOURCE": "open-meteo", "VISUAL_CROSSING_API_KEY": "k"}, "open-meteo"),
        ({"WEATHER_SOURCE": "simulation", "VISUAL_CROSSING_API_KEY": "k"}, "simulation"),
        ({"WEATHER_SOURCE": "visual-crossing", "VISUAL_CROSSING_API_KEY": "k"}, "visual-crossing"),
        ({"WEATHER_SOURCE": "none", "VISUAL_CROSSING_API_KEY": "k"}, "none"),
    ],
)
def test_auto_is_visual_crossing_with_a_key_else_open_meteo(env, source):
    settings = Settings.from_env(env)
    assert settings.weather_source == source
    assert settings.uses_api == (source in ("visual-crossing", "open-meteo"))


def test_a_worker_that_fetches_nothing_keeps_the_interval_as_set():
    settings = Settings.from_env({"WEATHER_SOURCE": "none", "WEATHER_INTERVAL": "10"})
    assert settings.fetch_interval_seconds == 10.0


def test_visual_crossing_without_a_key_stops_with_one_line():
    with pytest.raises(ConfigError) as refused:
        Settings.from_env({"WEATHER_SOURCE": "visual-crossing"})
    assert str(refused.value) == (
        "WEATHER_SOURCE='visual-crossing' needs VISUAL_CROSSING_API_KEY (or "
        "WEATHER_SOURCE=auto: Open-Meteo without a key)"
    )


def test_standby_table_copies_are_off_unless_asked_for():
    assert Settings.from_env({}).stream.standby_replicas == 0
    assert Settings.from_env({"WEATHER_STANDBY_REPLICAS": "1"}).stream.standby_replicas == 1


def test_the_commit_interval_is_faust_s_unless_set():
    assert Settings.from_env({}).stream.commit_interval_seconds == 2.8
    assert Settings.from_env({"WEATHER_COMMIT_INTERVAL": "1"}).stream.commit_interval_seconds == 1
    with pytest.raises(ConfigError, match="WEATHER_COMMIT_INTERVAL='0' is invalid"):
        Settings.from_env({"WEATHER_COMMIT_INTERVAL": "0"})


def test_unknown_cities_are_refused_and_bounded_unless_accepted():
    assert Settings.from_env({}).stream.accept_unknown_cities is False
    assert Settings.from_env({}).stream.max_cities == 1000
    accepting = Settings.from_env(
        {"WEATHER_ACCEPT_UNKNOWN_CITIES": "1", "WEATHER_MAX_CITIES": "50"}
    )
    assert (accepting.stream.accept_unknown_cities, accepting.stream.max_cities) == (True, 50)


def test_the_producer_delivery_timeout_is_faust_s_unless_set():
    assert Settings.from_env({}).stream.producer_timeout_seconds == 1200.0
    assert (
        Settings.from_env({"WEATHER_PRODUCER_TIMEOUT": "5"}).stream.producer_timeout_seconds == 5.0
    )


def test_the_table_store_is_memory_unless_rocksdb_is_asked_for():
    assert Settings.from_env({}).stream.store == "memory"
    assert Settings.from_env({"WEATHER_STORE": "rocksdb"}).stream.store == "rocksdb"
    with pytest.raises(ConfigError, match="WEATHER_STORE='disk' is invalid"):
        Settings.from_env({"WEATHER_STORE": "disk"})


def test_rocksdb_tables_are_refused_under_exactly_once():
    environ = {"WEATHER_STORE": "rocksdb", "WEATHER_PROCESSING_GUARANTEE": "exactly_once"}
    with pytest.raises(ConfigError, match="aborted transactions"):
        Settings.from_env(environ)


def test_a_city_turns_stale_after_two_intervals_plus_the_spacing_of_open_meteo_s_observations():
    simulated = Settings.from_env({"WEATHER_SOURCE": "simulation", "WEATHER_INTERVAL": "10"})
    assert simulated.stale_after_seconds == 20
    open_meteo = Settings.from_env({"WEATHER_SOURCE": "open-meteo", "WEATHER_INTERVAL": "10"})
    assert open_meteo.fetch_interval_seconds == 87  # 10 cities within 10,000 calls a day
    assert open_meteo.stale_after_seconds == 2 * 87 + 900
    # Fetched every 87 s, the newest observation is stamped up to 15 minutes back: not stale.
    assert open_meteo.stale_after_seconds > 15 * 60 + 87


@pytest.mark.parametrize(
    ("raw", "shown"),
    [
        (
            "ftp://customer-api.example/v1/forecast?apikey=s3cret",
            "'ftp://customer-api.example/v1/forecast?***'",
        ),
        ("htps://user:s3cret@example:8080/v1#s3cret", "'htps://***@example:8080/v1?***'"),
        ("example/v1?apikey=s3cret", "'example/v1?***'"),
    ],
)
def test_a_refused_url_is_named_without_what_could_be_a_key(raw, shown):
    with pytest.raises(ConfigError) as refused:
        Settings.from_env({"OPEN_METEO_URL": raw})
    assert str(refused.value) == f"OPEN_METEO_URL={shown} is invalid: expected an http(s) URL"
    assert "s3cret" not in str(refused.value)
