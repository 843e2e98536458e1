"""scripts/*.sh: a PID is ours only if it runs our program; `stack.sh down` asks every component.

Real processes, stopped by PID: an unrelated process whose command line mentions a service's name
must never be taken for that service (and so never be killed).
"""

import os
import shutil
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.harness.paths import REPO

SCRIPTS = REPO / "scripts"


def run_script(
    script: Path, action: str, cache: Path, **env: str
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(script), action],
        env={**os.environ, "WSL_CACHE": str(cache), **env},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def alive(process: subprocess.Popen[bytes]) -> bool:
    return process.poll() is None


@pytest.fixture
def cache(tmp_path: Path) -> Path:
    (tmp_path / "cache" / "run").mkdir(parents=True)
    return tmp_path / "cache"


@pytest.fixture
def processes() -> Iterator[list[subprocess.Popen[bytes]]]:
    started: list[subprocess.Popen[bytes]] = []
    yield started
    for process in started:
        if alive(process):
            process.kill()
        process.wait(10)


def start(processes: list[subprocess.Popen[bytes]], *argv: str) -> subprocess.Popen[bytes]:
    process = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    processes.append(process)
    return process


def write_pid(path: Path, process: subprocess.Popen[bytes]) -> None:
    path.write_text(f"{process.pid}\n")


@pytest.mark.parametrize(
    ("script", "pid_file", "program_name"),
    [
        ("influxdb.sh", "influxdb-38086.pid", "influxd"),
        ("telegraf.sh", "telegraf-38080.pid", "telegraf"),
    ],
)
def test_a_process_that_only_mentions_the_service_is_neither_running_nor_stopped(
    cache: Path,
    processes: list[subprocess.Popen[bytes]],
    script: str,
    pid_file: str,
    program_name: str,
):
    log = cache / "run" / pid_file.replace(".pid", ".log")
    log.write_text("")
    follower = start(processes, "tail", "-f", str(log))  # e.g. someone watching the service's log
    assert program_name in str(log)
    write_pid(cache / "run" / pid_file, follower)
    env = {"INFLUXDB_PORT": "38086", "TELEGRAF_HEALTH_PORT": "38080"}

    status = run_script(SCRIPTS / script, "status", cache, **env)
    down = run_script(SCRIPTS / script, "down", cache, **env)

    assert status.returncode == 1
    assert "not running" in status.stdout
    assert down.returncode == 0, down.stderr
    assert "not running" in down.stdout
    assert alive(follower)


def test_the_service_program_itself_is_recognised_and_stopped(
    cache: Path, processes: list[subprocess.Popen[bytes]]
):
    program = cache / "bin" / "influxd"
    program.parent.mkdir()
    shutil.copy(shutil.which("sleep") or "/bin/sleep", program)
    influxd = start(processes, str(program), "300")
    write_pid(cache / "run" / "influxdb-38086.pid", influxd)

    status = run_script(SCRIPTS / "influxdb.sh", "status", cache, INFLUXDB_PORT="38086")
    down = run_script(SCRIPTS / "influxdb.sh", "down", cache, INFLUXDB_PORT="38086")

    assert f"influxd running (PID {influxd.pid})" in status.stdout
    assert down.returncode == 0, down.stderr
    assert influxd.wait(5) == -signal.SIGTERM


def fake_checkout(root: Path, failing_stop: bool) -> Path:
    """A copy of scripts/stack.sh with a fake venv (faust: a Python script that sleeps) and fake
    component scripts that record `down` in calls.log; returns the scripts directory.
    With failing_stop, lib.sh's terminate_pid reports that the process survived."""
    scripts = root / "scripts"
    scripts.mkdir(parents=True)
    shutil.copy(SCRIPTS / "stack.sh", scripts)
    lib = (SCRIPTS / "lib.sh").read_text()
    if failing_stop:
        lib += (
            '\nterminate_pid() { echo "$3 (PID $1) is still alive after SIGKILL" >&2; return 1; }\n'
        )
    (scripts / "lib.sh").write_text(lib)
    for name, code in (("kafka.sh", 0), ("influxdb.sh", 1), ("telegraf.sh", 0)):
        fake = scripts / name
        fake.write_text(
            f'#!/usr/bin/env bash\necho "{name} $1" >>"{root}/calls.log"\nexit {code}\n'
        )
        fake.chmod(0o755)
    venv = root / ".venv" / "bin"
    venv.mkdir(parents=True)
    (venv / "python").symlink_to(sys.executable)
    faust = venv / "faust"
    faust.write_text(f"#!{venv / 'python'}\nimport time\ntime.sleep(300)\n")
    faust.chmod(0o755)
    return scripts


def test_down_asks_every_component_even_when_one_fails(
    tmp_path: Path, cache: Path, processes: list[subprocess.Popen[bytes]]
):
    scripts = fake_checkout(tmp_path / "checkout", failing_stop=True)
    worker = start(processes, str(scripts.parent / ".venv" / "bin" / "faust"), "-A", "weather_app")
    write_pid(cache / "run" / "worker-36066.pid", worker)

    down = run_script(scripts / "stack.sh", "down", cache, WEATHER_WEB_PORT="36066")

    calls = (scripts.parent / "calls.log").read_text().splitlines()
    assert calls == ["telegraf.sh down", "influxdb.sh down", "kafka.sh down"]
    assert down.returncode == 1
    assert (
        down.stderr.strip().splitlines()[-1]
        == "stack.sh: did not stop: worker influxdb (see above)"
    )


def test_down_stops_the_worker_it_started_but_not_a_process_that_mentions_faust(
    tmp_path: Path, cache: Path, processes: list[subprocess.Popen[bytes]]
):
    scripts = fake_checkout(tmp_path / "checkout", failing_stop=False)
    faust = scripts.parent / ".venv" / "bin" / "faust"
    worker = start(processes, str(faust), "-A", "weather_app", "worker")
    editor = start(processes, "tail", "-f", str(faust))
    pid_file = cache / "run" / "worker-36066.pid"

    write_pid(pid_file, editor)
    ignored = run_script(scripts / "stack.sh", "down", cache, WEATHER_WEB_PORT="36066")
    write_pid(pid_file, worker)
    stopped = run_script(scripts / "stack.sh", "down", cache, WEATHER_WEB_PORT="36066")

    assert "stopping Faust worker" not in ignored.stdout
    assert alive(editor)
    assert f"stopping Faust worker (PID {worker.pid})" in stopped.stdout
    assert worker.wait(5) == -signal.SIGTERM
