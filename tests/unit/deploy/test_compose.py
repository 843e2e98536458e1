"""docker-compose.yml, the worker's Dockerfile and .env.example, read as files."""

import re
from typing import Any

import pytest

from tests.unit.deploy import (
    COMPOSE_FILE,
    DOCKERFILE,
    ENV_EXAMPLE,
    REPO,
    VARIABLE,
    compose,
    datasource,
    env_example,
    interpolate,
)
from weather_app.settings import StreamSettings

SERVICES = {
    "kafka",
    "influxdb",
    "influxdb-tokens",
    "worker",
    "worker-web",
    "telegraf",
    "grafana",
    "analytics",
    "cassandra",
}
# Runs once and exits 0; the others run until stopped and have a healthcheck.
ONE_SHOT = {"influxdb-tokens"}
LONG_RUNNING = SERVICES - ONE_SHOT
# A pinned tag names a release (major.minor at least), never a moving one like latest or 2.
PINNED_TAG = re.compile(r"^[a-z0-9][a-z0-9./-]*:v?\d+\.\d+(\.\d+)?([.-][A-Za-z0-9.-]+)?$")


def services() -> dict[str, dict[str, Any]]:
    result: dict[str, dict[str, Any]] = compose()["services"]
    return result


def environment(service: str) -> dict[str, str]:
    env = services()[service].get("environment", {})
    assert isinstance(env, dict), f"{service}: environment as a mapping, please"
    return {str(key): str(value) for key, value in env.items()}


def test_the_compose_file_parses_and_has_every_service():
    assert set(services()) == SERVICES


@pytest.mark.parametrize("name", sorted(SERVICES))
def test_every_service_has_an_image_or_build_with_a_pinned_tag(name: str):
    service = services()[name]
    assert "image" in service or "build" in service
    if "image" in service:
        assert PINNED_TAG.match(service["image"]), service["image"]
        assert not service["image"].endswith(":latest")


def test_the_dockerfile_base_image_is_pinned():
    bases = re.findall(r"^FROM\s+(\S+)", DOCKERFILE.read_text(), flags=re.MULTILINE)
    assert bases
    assert all(PINNED_TAG.match(base) for base in bases), bases


def test_influxdb_is_2_7_and_grafana_the_oss_image():
    assert services()["influxdb"]["image"].startswith("influxdb:2.7.")
    assert services()["grafana"]["image"].startswith("grafana/grafana-oss:")
    assert services()["kafka"]["image"].startswith("apache/kafka:4.")
    assert services()["telegraf"]["image"].startswith("telegraf:1.3")


@pytest.mark.parametrize("name", sorted(LONG_RUNNING))
def test_every_long_running_service_has_a_healthcheck(name: str):
    healthcheck = services()[name].get("healthcheck")
    assert healthcheck, f"{name} has no healthcheck"
    assert not healthcheck.get("disable", False)
    test = healthcheck["test"]
    assert test
    assert isinstance(test, str) or test[0] in ("CMD", "CMD-SHELL")
    for key in ("interval", "timeout", "retries"):
        assert key in healthcheck, f"{name}: healthcheck.{key}"


@pytest.mark.parametrize("name", sorted(SERVICES))
def test_every_dependency_waits_for_a_healthy_service_or_a_finished_step(name: str):
    depends_on = services()[name].get("depends_on", {})
    assert isinstance(depends_on, dict), f"{name}: depends_on with conditions, please"
    for dependency, how in depends_on.items():
        assert dependency in SERVICES
        if dependency in ONE_SHOT:
            assert how == {"condition": "service_completed_successfully"}, (name, dependency)
            assert services()[dependency]["restart"] == "no"
        else:
            assert how == {"condition": "service_healthy"}, (name, dependency)
            assert services()[dependency].get("healthcheck")


def test_the_start_order_is_brokers_then_workers_then_telegraf():
    for worker in ("worker", "worker-web"):
        assert {"kafka", "influxdb"} <= set(services()[worker]["depends_on"])
    # A healthy worker has created the topics; Telegraf must not be the first to ask for one.
    assert {"kafka", "influxdb", "worker-web"} <= set(services()["telegraf"]["depends_on"])
    assert "influxdb" in services()["grafana"]["depends_on"]


def test_volumes_are_named_and_declared():
    declared = set(compose().get("volumes") or {})
    used = set()
    for name, service in services().items():
        for volume in service.get("volumes", []):
            source = volume.split(":")[0] if isinstance(volume, str) else volume["source"]
            source = interpolate(source, env_example())
            if source.startswith((".", "/")):
                assert (REPO / source).exists(), f"{name} mounts missing {source}"
            else:
                used.add(source)
    assert used == declared
    assert {"kafka-data", "influxdb-data", "grafana-data"} <= declared


def test_the_worker_scales_and_one_worker_publishes_the_web_view():
    worker, web = services()["worker"], services()["worker-web"]
    # Scalable: nothing per container in the service (a fixed name or host port would clash).
    assert "container_name" not in worker
    assert "ports" not in worker
    assert "build" in worker
    assert "build" in web
    [mapping] = web["ports"]
    assert interpolate(mapping, env_example()) == "127.0.0.1:6066:6066"
    for name in ("worker", "worker-web"):
        env = environment(name)
        assert env["KAFKA_BROKER"] == "kafka:9092"
        assert env["WEATHER_WEB_BIND"] == "0.0.0.0"  # noqa: S104 - inside the container
        assert env["WEATHER_WEB_PORT"] in str(services()[name]["healthcheck"]["test"])
        assert env["INFLUXDB_URL"] == "http://influxdb:8086"


@pytest.mark.parametrize("name", ["worker", "worker-web"])
def test_docker_waits_for_the_worker_s_own_stop_limit_before_killing_it(name: str):
    grace = services()[name]["stop_grace_period"]
    assert re.fullmatch(r"\d+s", grace), grace
    assert int(grace[:-1]) > StreamSettings().stop_timeout_seconds


def test_the_dockerfile_installs_the_package_and_runs_the_worker():
    text = DOCKERFILE.read_text()
    assert re.search(r"^RUN pip install \.", text, flags=re.MULTILINE)
    assert "faust -A weather_app worker -l info" in text
    assert "EXPOSE 6066" in text
    assert re.search(r"^USER (?!root)\w+", text, flags=re.MULTILINE), "run as a non-root user"
    for copied in ("setup.cfg", "pyproject.toml", "README.md", "weather_app", "agents", "models"):
        assert copied in text
    ignore = (REPO / ".dockerignore").read_text().splitlines()
    for kept in ("!setup.cfg", "!pyproject.toml", "!README.md", "!weather_app/", "!agents/"):
        assert kept in ignore


def test_kafka_is_a_single_kraft_node_that_never_auto_creates_topics():
    env = environment("kafka")
    assert env["CLUSTER_ID"]
    assert set(env["KAFKA_PROCESS_ROLES"].split(",")) == {"broker", "controller"}
    assert "PLAINTEXT://kafka:9092" in env["KAFKA_ADVERTISED_LISTENERS"].split(",")
    assert env["KAFKA_CONTROLLER_QUORUM_VOTERS"] == "1@kafka:9093"
    assert env["KAFKA_AUTO_CREATE_TOPICS_ENABLE"] == "false"
    assert env["KAFKA_OFFSETS_TOPIC_REPLICATION_FACTOR"] == "1"


def test_influxdb_is_set_up_with_the_org_bucket_and_token_from_the_env_file():
    env = {k: interpolate(v, env_example()) for k, v in environment("influxdb").items()}
    assert env["DOCKER_INFLUXDB_INIT_MODE"] == "setup"
    assert env["DOCKER_INFLUXDB_INIT_ORG"] == "speed_org"
    assert env["DOCKER_INFLUXDB_INIT_BUCKET"] == "speed_bucket"
    assert environment("influxdb")["DOCKER_INFLUXDB_INIT_ADMIN_TOKEN"].startswith(
        "${INFLUXDB_TOKEN"
    )


def test_only_influxdb_and_the_token_step_get_the_admin_token():
    holders = {name for name in SERVICES if "${INFLUXDB_TOKEN" in str(environment(name))}
    assert holders == {"influxdb", "influxdb-tokens"}
    for name in SERVICES:
        assert "INFLUXDB_TOKEN" not in environment(name) or name in holders


def mounts(service: str) -> dict[str, str]:
    """volume or host path -> mount point (with its options) of `service`."""
    return dict(str(v).split(":", 1) for v in services()[service].get("volumes", []))


def test_telegraf_and_grafana_each_read_only_their_own_scoped_token():
    step = environment("influxdb-tokens")
    assert step["INFLUXDB_URL"] == "http://influxdb:8086"
    assert "python -m weather_app.cli.influx" in " ".join(services()["influxdb-tokens"]["command"])
    write_file, read_file = step["INFLUXDB_WRITE_TOKEN_FILE"], step["INFLUXDB_READ_TOKEN_FILE"]
    write_dir, read_dir = write_file.rpartition("/")[0], read_file.rpartition("/")[0]
    assert mounts("influxdb-tokens") == {"telegraf-token": write_dir, "grafana-token": read_dir}
    assert mounts("telegraf")["telegraf-token"] == f"{write_dir}:ro"
    assert f'INFLUXDB_WRITE_TOKEN="$$(cat {write_file})"' in " ".join(
        services()["telegraf"]["command"]
    )
    assert mounts("grafana")["grafana-token"] == f"{read_dir}:ro"
    assert datasource()["secureJsonData"]["token"] == f"$__file{{{read_file}}}"
    for name in SERVICES - {"influxdb-tokens", "telegraf"}:
        assert "telegraf-token" not in mounts(name), name
    for name in SERVICES - {"influxdb-tokens", "grafana"}:
        assert "grafana-token" not in mounts(name), name
    conf = (REPO / "telegraf" / "telegraf.conf").read_text()
    assert 'token = "${INFLUXDB_WRITE_TOKEN:-}"' in conf


def test_telegraf_runs_the_repository_config_against_the_compose_services():
    telegraf = services()["telegraf"]
    assert "./telegraf/telegraf.conf:/etc/telegraf/telegraf.conf:ro" in telegraf["volumes"]
    assert "exec telegraf --strict-env-handling --config /etc/telegraf/telegraf.conf" in " ".join(
        telegraf["command"]
    )
    env = environment("telegraf")
    assert env["KAFKA_BROKER"] == "kafka:9092"
    assert env["INFLUXDB_URL"] == "http://influxdb:8086"
    assert env["TELEGRAF_HEALTH_PORT"] in str(telegraf["healthcheck"]["test"])
    conf = (REPO / "telegraf" / "telegraf.conf").read_text()
    assert re.search(r'^\s*kafka_version = "4\.', conf, flags=re.MULTILINE)


def test_grafana_mounts_the_provisioning_and_dashboards_read_only():
    grafana = services()["grafana"]
    assert "./grafana/provisioning:/etc/grafana/provisioning:ro" in grafana["volumes"]
    assert "./grafana/dashboards:/etc/grafana/dashboards:ro" in grafana["volumes"]
    env = environment("grafana")
    assert env["GF_SECURITY_ADMIN_PASSWORD"].startswith("${GRAFANA_ADMIN_PASSWORD")
    assert env["GF_DASHBOARDS_DEFAULT_HOME_DASHBOARD_PATH"].startswith("/etc/grafana/dashboards/")
    home = env["GF_DASHBOARDS_DEFAULT_HOME_DASHBOARD_PATH"].rpartition("/")[2]
    assert (REPO / "grafana" / "dashboards" / home).is_file()


def compose_text() -> str:
    """The compose file without its comment lines."""
    lines = COMPOSE_FILE.read_text().splitlines()
    return "\n".join(line for line in lines if not line.lstrip().startswith("#"))


def test_every_variable_of_the_compose_file_is_in_env_example_and_back():
    used = {match.group(1) for match in VARIABLE.finditer(compose_text())}
    assert used == set(env_example())


def test_compose_defaults_equal_the_env_example_values():
    """Without a .env file compose behaves as with a copy of .env.example."""
    example = env_example()
    for match in VARIABLE.finditer(compose_text()):
        name, operator, default = match.group(1), match.group(2), match.group(3) or ""
        if operator == ":+":  # a value for the containers only when .env sets one
            assert example[name] == "", name
            continue
        assert operator == ":-", f"{name}: give it a default with :-"
        # An empty value in .env means the default too.
        assert example[name] in (default, ""), name


def test_host_ports_are_bound_to_loopback():
    for name, service in services().items():
        for mapping in service.get("ports", []):
            assert str(mapping).startswith("127.0.0.1:"), (name, mapping)


def test_the_real_env_file_is_ignored_by_git():
    ignored = (REPO / ".gitignore").read_text().splitlines()
    assert ".env" in ignored
    assert ENV_EXAMPLE.name == ".env.example"
