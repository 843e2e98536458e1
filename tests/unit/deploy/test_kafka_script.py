"""scripts/kafka.sh refuses a bad setting with one line, before touching Java or the network."""

import os
import subprocess

import pytest

from tests.harness.paths import REPO


def kafka_sh(action: str, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(REPO / "scripts" / "kafka.sh"), action],
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )


def test_a_bad_rebalance_delay_names_the_variable_to_fix():
    run = kafka_sh("status", KAFKA_PORT="39501", KAFKA_GROUP_INITIAL_REBALANCE_DELAY_MS="3s")
    assert run.returncode == 1
    assert run.stderr.strip().splitlines() == [
        "kafka: KAFKA_GROUP_INITIAL_REBALANCE_DELAY_MS must be milliseconds (0 or more), got '3s'"
    ]


def test_the_broker_config_takes_the_rebalance_delay():
    template = (REPO / "kafka" / "server.properties.in").read_text()
    assert "group.initial.rebalance.delay.ms=@REBALANCE_DELAY_MS@" in template


@pytest.mark.parametrize(
    ("action", "env", "line"),
    [
        (
            "status",
            {"KAFKA_NODES": "2"},
            "KAFKA_NODES must be 1 (one broker) or 3 (a three-broker cluster), got '2'",
        ),
        (
            "up",
            {"KAFKA_NODES": "3", "KAFKA_CONTROLLER_PORT": "39999"},
            "KAFKA_CONTROLLER_PORT is for one node; a cluster's controllers use KAFKA_PORT + 1,"
            " + 3, + 5",
        ),
    ],
)
def test_one_broker_or_a_cluster_of_three_whose_ports_follow_the_first(action, env, line):
    run = kafka_sh(action, KAFKA_PORT="39501", **env)
    assert run.returncode == 1
    assert run.stderr.strip().splitlines() == [f"kafka: {line}"]
