"""scripts/cassandra.sh refuses a bad setting with one line, before touching Java or the network."""

import os
import socket
import subprocess
from pathlib import Path

import pytest

from tests.harness.paths import REPO
from tests.harness.ports import free_port


def cassandra_sh(action: str, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(REPO / "scripts" / "cassandra.sh"), action],
        env={**os.environ, "CASSANDRA_PORT": "39542", **env},
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )


def refusal(run: subprocess.CompletedProcess[str]) -> list[str]:
    assert run.returncode == 1
    return run.stderr.strip().splitlines()


@pytest.mark.parametrize(
    ("env", "line"),
    [
        ({"CASSANDRA_PORT": "9o42"}, "CASSANDRA_PORT must be a port number, got '9o42'"),
        (
            {"CASSANDRA_STORAGE_PORT": "seven"},
            "CASSANDRA_STORAGE_PORT must be a port number, got 'seven'",
        ),
        (
            {"CASSANDRA_STORAGE_PORT": "39542"},
            "CASSANDRA_PORT and CASSANDRA_STORAGE_PORT must differ, both are 39542",
        ),
        (
            {"CASSANDRA_HEAP": "512"},
            "CASSANDRA_HEAP must be a JVM size such as 512m or 1g, got '512'",
        ),
        (
            {"CASSANDRA_START_TIMEOUT": "2m"},
            "CASSANDRA_START_TIMEOUT must be seconds (a whole number), got '2m'",
        ),
    ],
)
def test_a_bad_setting_names_the_variable_to_fix(env, line):
    assert refusal(cassandra_sh("status", **env)) == [f"cassandra: {line}"]


@pytest.mark.parametrize("variable", ["CASSANDRA_PORT", "CASSANDRA_STORAGE_PORT"])
def test_up_refuses_a_port_another_process_holds(variable):
    port = free_port()
    ports = {"CASSANDRA_PORT": str(free_port()), "CASSANDRA_STORAGE_PORT": str(free_port())}
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", port))
        holder.listen()
        run = cassandra_sh("up", **{**ports, variable: str(port)})
    assert refusal(run) == [
        f"cassandra: 127.0.0.1:{port} is already in use by another process:"
        f" set {variable} to a free port"
    ]


def test_a_java_cassandra_does_not_run_on_is_refused(tmp_path: Path):
    fake_java = tmp_path / "bin" / "java"
    fake_java.parent.mkdir()
    fake_java.write_text("#!/bin/sh\necho '    java.specification.version = 21' >&2\n")
    fake_java.chmod(0o755)
    run = cassandra_sh("install", JAVA_HOME=str(tmp_path))
    assert refusal(run) == [
        "cassandra: Cassandra 5.0.6 runs on Java 11 or 17, found Java 21: set JAVA_HOME to a JDK 17"
    ]


def test_the_config_binds_storage_and_cql_to_loopback():
    lines = (REPO / "cassandra" / "cassandra.yaml.in").read_text().splitlines()
    assert {"listen_address: 127.0.0.1", "rpc_address: 127.0.0.1"} <= set(lines)
