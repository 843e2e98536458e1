"""The worker class `faust -A weather_app worker` runs: Faust's, plus broker checks up front."""

import gc
import sys
import threading
from typing import NoReturn

import faust
from aiokafka.errors import KafkaError

from weather_app.app import app, settings
from weather_app.broker.changelogs import remove_stray_entries
from weather_app.broker.topics import check_partitions, declare_topics, wait_for_broker
from weather_app.errors import BrokerUnavailable, exit_with
from weather_app.faust_internals.leader import leader_topic_name


def changelog_topics() -> list[str]:
    return [table.changelog_topic.get_topic_name() for table in app.tables.values()]


async def prepare_broker() -> list[str]:
    """Wait for the broker, declare the app's topics and clean the changelogs, or raise
    BrokerUnavailable saying why.

    Returns the names of the topics created.
    """
    wait_for_broker(settings.kafka.broker, settings.kafka.connect_wait_seconds)
    changelogs = changelog_topics()
    try:
        created = await declare_topics(settings, changelogs, leader_topic_name(app))
        await check_partitions(settings)
        removed = await remove_stray_entries(
            settings.kafka.bootstrap_servers, changelogs, settings.stream.partitions
        )
    except TimeoutError as error:
        raise BrokerUnavailable(f"Kafka at {settings.kafka.broker} is too slow: {error}") from None
    except KafkaError as error:
        raise BrokerUnavailable(f"Kafka at {settings.kafka.broker} refused: {error}") from None
    if removed:  # before Faust sets up logging: a line of our own
        print(
            f"weather-speed-layer: removed {removed} stray table entries "
            "(keys on another changelog partition than their own)",
            file=sys.stderr,
        )
    return created


def stop_worker(reason: str) -> NoReturn:
    """Exit at once, non-zero, with one line saying `reason`: for a batch that could not be
    completed.

    Nothing more is committed: a graceful stop would first wait for the batch's unacknowledged
    readings (forever), and under exactly_once commit what the other transactions hold. The
    batch's offsets were never committed, so the worker that takes its partitions (after the
    session timeout) reads it again; an open transaction is aborted when its producer is next
    started.
    """
    exit_with(f"worker stopped: {reason}; start it again", immediately=True)


def give_up_stopping_after(seconds: float, broker: str) -> threading.Timer:
    """Exit 1 at once, saying why, unless the process has ended `seconds` from now.

    A worker cut off from the broker never finishes a stop in good order: Faust's stop commits
    before it returns and aiokafka retries a commit for as long as the coordinator is unreachable.
    Exiting costs what a crash costs (the next worker reads what was not committed again), which
    the crash tests show loses nothing. The limit covers the whole exit, mode's loop shutdown and
    the web server's wait for a request still open included. A thread, so that a stop blocked in
    Python code or in a call that releases the GIL is cut short too.
    """
    deadline = threading.Timer(
        seconds,
        exit_with,
        [
            f"worker stopped: a stop in good order took more than {seconds:g}s "
            f"(WEATHER_STOP_TIMEOUT; is Kafka at {broker} reachable?); the readings it had not "
            "committed are read again by the next worker"
        ],
        {"immediately": True},
    )
    deadline.daemon = True
    deadline.start()
    return deadline


class WeatherWorker(faust.Worker):
    _stop_deadline: threading.Timer | None = None

    async def stop(self) -> None:
        if self._stop_deadline is None:
            self._stop_deadline = give_up_stopping_after(
                settings.stream.stop_timeout_seconds, settings.kafka.broker
            )
        await super().stop()

    def execute_from_commandline(self) -> NoReturn:
        try:
            self.loop.run_until_complete(prepare_broker())
        except BrokerUnavailable as error:
            exit_with(str(error))
        super().execute_from_commandline()

    async def on_startup_finished(self) -> None:
        await super().on_startup_finished()
        freeze_startup_objects()


def freeze_startup_objects() -> None:
    """Keep the objects made while starting out of the garbage collector's full collections.

    Python's full collections walk every tracked object; the ~100,000 that Faust, aiokafka and the
    modules leave behind at startup made each one stall the event loop for 40-90 ms, the largest
    stalls in the latency benchmark. They live as long as the worker, so there is nothing to find
    among them (the documented use of `gc.freeze`).
    """
    gc.collect()
    gc.freeze()
