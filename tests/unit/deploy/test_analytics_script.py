"""scripts/analytics.sh: one line for a bad setting, before Spark starts; status and down by PID."""

import os
import subprocess
from pathlib import Path

from tests.harness.paths import REPO


def analytics_sh(action: str, tmp_path: Path, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(REPO / "scripts" / "analytics.sh"), action],
        env={
            **os.environ,
            "WSL_CACHE": str(tmp_path / "cache"),
            "ANALYTICS_LAKE_DIR": str(tmp_path / "lake"),
            **env,
        },
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_a_bad_setting_of_the_job_stops_up_with_one_line_naming_it(tmp_path):
    run = analytics_sh("up", tmp_path, CASSANDRA_HOSTS="cassandra-without-port")
    assert run.returncode == 1
    [line] = run.stderr.strip().splitlines()
    assert line.startswith("analytics: the job (PID ")
    assert (
        "analytics.stream: CASSANDRA_HOSTS='cassandra-without-port' is invalid: "
        "expected host:port[,host:port...]"
    ) in line
    assert analytics_sh("status", tmp_path).returncode == 1


def test_a_bad_start_timeout_is_refused(tmp_path):
    run = analytics_sh("up", tmp_path, ANALYTICS_START_TIMEOUT="soon")
    assert (run.returncode, run.stderr.strip()) == (
        1,
        "analytics: ANALYTICS_START_TIMEOUT must be seconds, got 'soon'",
    )


def test_down_without_a_job_says_so_and_succeeds(tmp_path):
    run = analytics_sh("down", tmp_path)
    assert run.returncode == 0
    assert run.stdout.strip() == f"==> analytics: not running (lake {tmp_path / 'lake'})"
