"""scripts/kafka.sh refuses a bad setting with one line, before touching Java or the network."""

import os
import subprocess

from tests.integration.support import REPO


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
