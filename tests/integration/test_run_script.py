"""`make run` (scripts/run.sh) under Ctrl-C: whatever moment it comes, nothing is left running.

run.sh runs in its own session and process group, as a terminal runs `make run`, and Ctrl-C is
SIGINT to that whole group. Afterwards no process of the session may be alive.
"""

import os
import signal
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.harness.paths import REPO, cache_dir
from tests.harness.ports import free_port
from tests.integration.support import wait_until


def session_processes(session: int) -> list[int]:
    """Live processes in `session`: everything run.sh started, nohup'd Kafka included (an exited
    process whose parent has not reaped it yet, a zombie, does not count)."""
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rpartition(")")[2].split()
        except OSError:
            continue
        state, process_session = fields[0], int(fields[3])
        if process_session == session and state != "Z":
            found.append(int(stat.parent.name))
    return found


def interruptible() -> None:
    """Give run.sh Ctrl-C's default disposition: a test session started in the background by a
    shell without job control ignores SIGINT, the children inherit that, and a shell cannot trap a
    signal ignored when it started (run.sh would then never see the interrupt)."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


@dataclass
class Run:
    process: subprocess.Popen[bytes]
    output: Path
    cache: Path
    web_port: int

    def said(self, text: str) -> bool:
        return text in self.output.read_text()

    def interrupt(self) -> None:
        os.killpg(self.process.pid, signal.SIGINT)

    def wait_for(self, text: str, timeout: float) -> None:
        wait_until(lambda: self.said(text), timeout, f"{text!r} in {self.output}", interval=0.05)


@pytest.fixture
def make_run(tmp_path: Path) -> Iterator[Run]:
    real_cache = cache_dir()
    cache = tmp_path / "cache"
    cache.mkdir()
    for jars in real_cache.glob("kafka-*"):  # the broker's classpath, fetched once
        (cache / jars.name).symlink_to(jars)
    web_port = free_port()
    env = {
        **os.environ,
        "WSL_CACHE": str(cache),
        "KAFKA_PORT": str(free_port()),
        "KAFKA_CONTROLLER_PORT": str(free_port()),
        "KAFKA_DATA_DIR": str(tmp_path / "kafka"),
        "WEATHER_WEB_PORT": str(web_port),
        "WEATHER_INTERVAL": "2",
        # `make run` as on a machine without internet: the default source, its host refusing.
        "WEATHER_SOURCE": "auto",
        "OPEN_METEO_URL": f"http://127.0.0.1:{free_port()}/v1/forecast",
        "OPEN_METEO_DAILY_BUDGET": "1000000000",
    }
    output = tmp_path / "run.out"
    with output.open("w") as out:
        process = subprocess.Popen(
            [str(REPO / "scripts" / "run.sh")],
            env=env,
            cwd=REPO,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            preexec_fn=interruptible,
        )
    try:
        yield Run(process, output, cache, web_port)
    finally:
        for pid in session_processes(process.pid):
            os.kill(pid, signal.SIGKILL)
        if process.poll() is None:
            process.kill()
            process.wait(10)


def test_an_interrupt_while_kafka_starts_stops_kafka(make_run: Run):
    make_run.wait_for("==> kafka: starting node", timeout=120)
    assert session_processes(make_run.process.pid)

    make_run.interrupt()
    make_run.process.wait(timeout=120)

    assert session_processes(make_run.process.pid) == [], make_run.output.read_text()


def test_a_second_interrupt_during_the_teardown_leaves_no_process_running(make_run: Run):
    worker_log = make_run.cache / "run" / f"worker-{make_run.web_port}.log"
    wait_until(
        lambda: worker_log.exists() and "Worker]: Ready" in worker_log.read_text(),
        timeout=240,
        what="the worker to be ready",
    )
    kafka_pid = int(next((make_run.cache / "run").glob("kafka-*.pid")).read_text())
    assert kafka_pid in session_processes(make_run.process.pid)

    make_run.interrupt()
    make_run.wait_for("==> run: stopping", timeout=30)
    make_run.interrupt()
    make_run.process.wait(timeout=120)

    assert session_processes(make_run.process.pid) == [], make_run.output.read_text()
    assert make_run.said("==> kafka: stopped")


def test_a_first_start_on_a_fresh_broker_shows_records_without_an_error(make_run: Run):
    """Topics created a moment before have no leader yet; a newcomer reads ERROR as broken.
    Without internet (Open-Meteo refused), it says so in one line and goes on simulated."""
    make_run.wait_for("[simulated]", timeout=240)

    shown = make_run.output.read_text()
    worker_log = (make_run.cache / "run" / f"worker-{make_run.web_port}.log").read_text()
    assert "ERROR" not in shown, shown
    assert "[ERROR]" not in worker_log, worker_log
    # Offline: one line says so, and the next rounds (2 s apart) go on simulated without another.
    wait_until(
        lambda: make_run.output.read_text().count("[simulated]") >= 30,
        60,
        "three rounds of simulated readings",
    )
    worker_log = (make_run.cache / "run" / f"worker-{make_run.web_port}.log").read_text()
    assert worker_log.count("Open-Meteo is unreachable") == 1, worker_log
    assert make_run.output.read_text().count("Open-Meteo is unreachable") == 1  # on the terminal
