"""docker-compose.yml as Docker Compose v2 itself loads it (`config`; no engine needed).

Every setting the workers read reaches them, a cities file is mounted, Kafka has a listener for the
host, and no secret lands on a command line: checked on Compose's own resolution of the file.
"""

import json
from typing import Any

import pytest

from tests.unit.deploy import (
    CITIES_EXAMPLE,
    ENV_EXAMPLE,
    compose_config,
    run_compose_config,
)
from weather_app.settings import declarations
from weather_app.sources.cities import load_cities_file

WORKERS = ("worker", "worker-web")
DECLARED = {declared.variable.name for declared in declarations()}
# Declared settings the workers never get: the InfluxDB credentials of `check` and the scripts
# (the workers do not talk to InfluxDB; the admin token stays with InfluxDB and influxdb-tokens),
# and the address other workers reach a worker by, which the Dockerfile's CMD sets per container.
NOT_FOR_WORKERS = {
    "INFLUXDB_TOKEN",
    "INFLUXDB_READ_TOKEN_FILE",
    "INFLUXDB_WRITE_TOKEN_FILE",
    "WEATHER_WEB_HOST",
    # The analytics job's (service `analytics`).
    "ANALYTICS_LAKE_DIR",
    "CASSANDRA_HOSTS",
    "ANALYTICS_TRIGGER_INTERVAL",
}
# Set by the compose file for the containers, whatever .env says.
SET_BY_COMPOSE = {
    "KAFKA_BROKER": "kafka:9092",
    "KAFKA_CONNECT_WAIT": "60",
    "INFLUXDB_URL": "http://influxdb:8086",
    "WEATHER_WEB_BIND": "0.0.0.0",  # noqa: S104 - inside the container
    "WEATHER_WEB_PORT": "6066",
    "WEATHER_CITIES_FILE": "/etc/weather-speed-layer/cities.json",
}
API_KEY = "vc-key-sentinel-4f1d"
ADMIN_TOKEN = "admin-token-sentinel-9c2e"


def dotenv(values: dict[str, str]) -> str:
    """.env.example with `values` appended (a later line wins in a .env file)."""
    lines = [f"{name}={value}" for name, value in values.items()]
    return ENV_EXAMPLE.read_text(encoding="utf-8") + "\n".join(lines) + "\n"


def every_setting_set() -> dict[str, str]:
    """A .env setting every declared variable: to its own name, or what the compose file needs."""
    values = {name: f"value-of-{name}" for name in DECLARED}
    values["WEATHER_CITIES_FILE"] = f"./{CITIES_EXAMPLE.name}"
    values["VISUAL_CROSSING_API_KEY"] = API_KEY
    values["INFLUXDB_TOKEN"] = ADMIN_TOKEN
    return values


def environment(config: dict[str, Any], service: str) -> dict[str, Any]:
    env: dict[str, Any] = config["services"][service].get("environment") or {}
    return env


def listeners(text: str) -> dict[str, str]:
    """`NAME://host:port,...` (Kafka's listener lists) -> {NAME: host:port}."""
    return dict(entry.split("://", 1) for entry in text.split(","))


@pytest.mark.parametrize(
    "env_file",
    [None, "", ENV_EXAMPLE.read_text(encoding="utf-8")],
    ids=["no .env", "empty .env", ".env.example as .env"],
)
def test_compose_loads_the_file_without_an_error_or_a_warning(env_file: str | None):
    result = run_compose_config(env_file, "--quiet")
    assert (result.returncode, result.stderr) == (0, "")


def test_a_warning_exits_0_and_is_caught_on_stderr():
    """Why the test above reads stderr: Compose warns of an unset variable and still exits 0."""
    result = run_compose_config("INFLUXDB_ORG=${NOT_SET_ANYWHERE}\n", "--quiet")
    assert result.returncode == 0
    assert "level=warning" in result.stderr
    assert "NOT_SET_ANYWHERE" in result.stderr


def test_every_declared_setting_reaches_both_workers():
    config = compose_config(dotenv(every_setting_set()))
    for service in WORKERS:
        env = environment(config, service)
        assert DECLARED - NOT_FOR_WORKERS - set(env) == set(), service
        assert NOT_FOR_WORKERS & set(env) == set(), service
        for name in DECLARED - NOT_FOR_WORKERS:
            expected = SET_BY_COMPOSE.get(name, every_setting_set()[name])
            assert env[name] == expected, (service, name)


def test_an_unset_setting_is_not_passed_so_the_worker_keeps_its_default():
    config = compose_config(None)
    for service in WORKERS:
        env = environment(config, service)
        assert env["WEATHER_CITIES_FILE"] == ""
        assert env["WEATHER_STORE"] is None  # listed without a value: unset in the container
        assert env["VISUAL_CROSSING_DAILY_BUDGET"] is None


def test_the_cities_file_of_env_is_mounted_read_only_where_the_workers_read_it():
    config = compose_config(dotenv({"WEATHER_CITIES_FILE": "./my-cities.json"}))
    for service in WORKERS:
        [mount] = config["services"][service]["volumes"]
        assert mount["type"] == "bind"
        assert mount["source"] == "./my-cities.json"
        assert mount["target"] == environment(config, service)["WEATHER_CITIES_FILE"]
        assert mount["read_only"] is True
        # A missing file stops `up` instead of Docker creating an empty directory there.
        assert not mount["bind"].get("create_host_path", False)


def test_without_a_cities_file_the_example_is_mounted_and_is_a_valid_cities_file():
    config = compose_config(None)
    [mount] = config["services"]["worker"]["volumes"]
    assert mount["source"] == f"./{CITIES_EXAMPLE.name}"
    assert load_cities_file(CITIES_EXAMPLE)


def test_kafka_has_a_host_listener_published_on_loopback_and_advertised_as_such():
    config = compose_config(dotenv({"KAFKA_HOST_PORT": "19092"}))
    kafka = environment(config, "kafka")
    bound, advertised = (
        listeners(kafka["KAFKA_LISTENERS"]),
        listeners(kafka["KAFKA_ADVERTISED_LISTENERS"]),
    )
    protocols = dict(
        pair.split(":") for pair in kafka["KAFKA_LISTENER_SECURITY_PROTOCOL_MAP"].split(",")
    )
    assert advertised["PLAINTEXT"] == "kafka:9092"  # the containers' listener is unchanged
    assert protocols["HOST"] == "PLAINTEXT"
    [port] = config["services"]["kafka"]["ports"]
    assert port["host_ip"] == "127.0.0.1"
    assert port["target"] == int(bound["HOST"].rpartition(":")[2])
    assert advertised["HOST"] == f"127.0.0.1:{port['published']}" == "127.0.0.1:19092"


def test_every_published_port_is_bound_to_loopback():
    config = compose_config(None)
    published = {
        name: port
        for name, service in config["services"].items()
        for port in service.get("ports", [])
    }
    assert {"kafka", "influxdb", "grafana", "worker-web"} <= set(published)
    for name, port in published.items():
        assert port["host_ip"] == "127.0.0.1", name


def test_secrets_reach_only_the_services_that_need_them_and_never_a_command_line():
    config = compose_config(dotenv(every_setting_set()))
    holders: dict[str, set[str]] = {API_KEY: set(), ADMIN_TOKEN: set()}
    for name, service in config["services"].items():
        outside_environment = {key: value for key, value in service.items() if key != "environment"}
        for secret, services in holders.items():
            assert secret not in json.dumps(outside_environment), (name, secret)
            if secret in json.dumps(environment(config, name)):
                services.add(name)
    assert holders == {API_KEY: set(WORKERS), ADMIN_TOKEN: {"influxdb", "influxdb-tokens"}}


def test_cassandra_starts_only_with_the_analytics_profile_on_loopback_with_a_named_volume():
    assert "cassandra" not in compose_config(None)["services"]
    config = compose_config(dotenv({"CASSANDRA_HOST_PORT": "19042"}), profiles=("analytics",))
    cassandra = config["services"]["cassandra"]
    assert cassandra["image"] == "cassandra:5.0.6"
    [port] = cassandra["ports"]
    assert (port["host_ip"], port["published"], port["target"]) == ("127.0.0.1", "19042", 9042)
    [volume] = cassandra["volumes"]
    assert (volume["type"], volume["source"]) == ("volume", "cassandra-data")
    assert cassandra["healthcheck"]["test"][:2] == ["CMD", "cqlsh"]


def test_the_analytics_job_runs_only_with_its_profile_on_kafka_and_cassandra_with_its_lake():
    assert "analytics" not in compose_config(None)["services"]
    config = compose_config(None, profiles=("analytics",))
    service = config["services"]["analytics"]
    env = environment(config, "analytics")
    assert (env["KAFKA_BROKER"], env["CASSANDRA_HOSTS"]) == ("kafka:9092", "cassandra:9042")
    mounts = [(volume["source"], volume["target"]) for volume in service["volumes"]]
    assert ("analytics-lake", env["ANALYTICS_LAKE_DIR"]) in mounts
    heartbeat_age = "find /var/lib/weather/lake/_spark/heartbeat -mmin -1"
    assert heartbeat_age in service["healthcheck"]["test"][-1]
