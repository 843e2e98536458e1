import gc
import subprocess
import sys
import time
from unittest.mock import AsyncMock, patch

from tests.harness.paths import REPO
from weather_app.app import app, settings
from weather_app.broker.topics import app_topics
from weather_app.faust_internals.leader import leader_topic_name
from weather_app.worker import WeatherWorker, changelog_topics, freeze_startup_objects


def test_the_objects_made_at_startup_leave_the_full_collections():
    try:
        freeze_startup_objects()
        assert gc.get_freeze_count() > 10_000  # the modules, Faust's and aiokafka's objects
    finally:
        gc.unfreeze()


def test_the_worker_declares_both_table_changelogs_and_the_leader_topic():
    topics = app_topics(settings, changelog_topics(), leader_topic_name(app))
    names = {topic.name for topic in topics}
    assert {table.changelog_topic.get_topic_name() for table in app.tables.values()} <= names
    assert len(changelog_topics()) == 2  # last_seen, history
    assert f"{settings.stream.app_id}-__assignor-__leader" in names


def test_workers_keep_standby_table_copies_only_when_asked():
    assert settings.stream.standby_replicas == 0
    assert app.conf.table_standby_replicas == settings.stream.standby_replicas


def test_the_worker_commits_at_the_interval_set():
    assert app.conf.broker_commit_interval == settings.stream.commit_interval_seconds


def run_python(code: str, timeout: float = 30) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", code],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def test_a_stop_that_does_not_finish_in_time_ends_the_process_with_one_line():
    started = time.monotonic()
    run = run_python(
        "import asyncio, time\n"
        "import weather_app.app\nfrom weather_app.worker import give_up_stopping_after\n"
        "give_up_stopping_after(0.5, '127.0.0.1:9092')\n"
        "time.sleep(60)\n"  # the event loop blocked, as a stuck synchronous call would
    )
    assert time.monotonic() - started < 20
    assert run.returncode == 1
    assert run.stderr.splitlines()[-1] == (
        "weather-speed-layer: worker stopped: a stop in good order took more than 0.5s "
        "(WEATHER_STOP_TIMEOUT; is Kafka at 127.0.0.1:9092 reachable?); the readings it had not "
        "committed are read again by the next worker"
    )


def test_a_process_that_ends_before_the_stop_limit_ends_as_it_would_have():
    run = run_python(
        "import weather_app.app\nfrom weather_app.worker import give_up_stopping_after\n"
        "give_up_stopping_after(30, '127.0.0.1:9092')\n"
        "print('done')\n"
    )
    assert run.returncode == 0, run.stderr[-2000:]
    assert run.stdout == "done\n"


async def test_a_worker_arms_the_stop_limit_once_with_its_setting():
    worker = WeatherWorker(app)
    with (
        patch("weather_app.worker.give_up_stopping_after") as give_up,
        patch("faust.Worker.stop", AsyncMock()),
    ):
        await worker.stop()
        await worker.stop()
    give_up.assert_called_once_with(settings.stream.stop_timeout_seconds, settings.kafka.broker)
