import json

import pytest
from faust.utils.urls import urllist

from weather_app.errors import ConfigError
from weather_app.settings import Settings
from weather_app.sources.cities import DEFAULT_CITIES


def test_defaults_without_environment():
    settings = Settings.from_env({})
    assert settings.kafka_broker == "127.0.0.1:9092"
    assert settings.broker_url == "kafka://127.0.0.1:9092"
    assert settings.raw_topic == "weather_raw"
    assert settings.enriched_topic == "weather_data_v2"
    assert settings.interval_seconds == 60.0
    assert settings.partitions == 6
    assert settings.web_host == "127.0.0.1"
    assert settings.cities == DEFAULT_CITIES
    assert not settings.uses_api


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
    assert settings.broker_url == "kafka://127.0.0.1:19092"
    assert settings.bootstrap_servers == "127.0.0.1:19092"
    assert settings.interval_seconds == 2.5
    assert settings.partitions == 3
    assert [city.name for city in settings.cities] == ["Paris", "Tokyo"]
    assert settings.simulation_seed == 7
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
    assert settings.bootstrap_servers == "127.0.0.1:9092,127.0.0.1:9094"
    assert [str(url) for url in urllist(settings.broker_url)] == [
        "kafka://127.0.0.1:9092",
        "kafka://127.0.0.1:9094",
    ]


def test_the_api_key_never_appears_in_the_settings_repr():
    assert "secret-key" not in repr(Settings.from_env({"VISUAL_CROSSING_API_KEY": "secret-key"}))


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
    cities = Settings.from_env({"WEATHER_CITIES_FILE": str(path)}).cities
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
    assert settings.api_daily_budget == 1000
    assert settings.api_cooldown_seconds == 900.0
    assert settings.api_auth_cooldown_seconds == 3600.0
    assert settings.api_retries == 2


def test_reliability_values_are_read_from_the_environment():
    settings = Settings.from_env(
        {
            "VISUAL_CROSSING_DAILY_BUDGET": "5000",
            "VISUAL_CROSSING_COOLDOWN": "60",
            "VISUAL_CROSSING_AUTH_COOLDOWN": "7200",
            "VISUAL_CROSSING_RETRIES": "0",
        }
    )
    assert settings.api_daily_budget == 5000
    assert settings.api_cooldown_seconds == 60.0
    assert settings.api_auth_cooldown_seconds == 7200.0
    assert settings.api_retries == 0


def test_the_timer_interval_is_raised_to_fit_the_daily_budget_with_the_api():
    # 10 cities every 60 s would be 14,400 queries a day; 1,000 allow one round every 864 s.
    settings = Settings.from_env({"VISUAL_CROSSING_API_KEY": "k", "WEATHER_INTERVAL": "60"})
    assert settings.requested_interval_seconds == 60.0
    assert settings.interval_seconds == 864.0


def test_an_interval_within_the_budget_is_kept():
    settings = Settings.from_env(
        {"VISUAL_CROSSING_API_KEY": "k", "WEATHER_INTERVAL": "900", "WEATHER_CITIES": "Paris"}
    )
    assert settings.interval_seconds == 900.0


def test_without_a_key_the_interval_is_never_raised():
    settings = Settings.from_env({"WEATHER_INTERVAL": "1"})
    assert settings.interval_seconds == 1.0
    assert settings.requested_interval_seconds == 1.0


def test_standby_table_copies_are_off_unless_asked_for():
    assert Settings.from_env({}).standby_replicas == 0
    assert Settings.from_env({"WEATHER_STANDBY_REPLICAS": "1"}).standby_replicas == 1


def test_unknown_cities_are_refused_and_bounded_unless_accepted():
    assert Settings.from_env({}).accept_unknown_cities is False
    assert Settings.from_env({}).max_cities == 1000
    accepting = Settings.from_env(
        {"WEATHER_ACCEPT_UNKNOWN_CITIES": "1", "WEATHER_MAX_CITIES": "50"}
    )
    assert (accepting.accept_unknown_cities, accepting.max_cities) == (True, 50)


def test_the_producer_delivery_timeout_is_faust_s_unless_set():
    assert Settings.from_env({}).producer_timeout_seconds == 1200.0
    assert Settings.from_env({"WEATHER_PRODUCER_TIMEOUT": "5"}).producer_timeout_seconds == 5.0
