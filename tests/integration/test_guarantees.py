"""Switching the processing guarantee, and exactly_once workers joining and leaving.

Every step runs on a broker with history: changelogs written by earlier workers, under the other
guarantee, so that their tails hold transaction markers and recovery has something to read.
"""

import signal
import time
from collections import Counter
from datetime import UTC, datetime

import orjson

from tests.harness.kafka import read_to_end
from tests.integration.support import AppEnv, Worker, wait_until
from tests.integration.test_faults import CITIES, observed
from weather_app.rules.timestamps import format_rfc3339

# A worker that joins, or takes over a killed one's partitions after the 6 s session timeout,
# recovers the app's changelogs and processes again within this many seconds (measured: 2-12 s
# on a busy 2-core machine).
READY_SECONDS = 45
READY = "Worker ready"  # Faust's recovery logs it once the worker processes again


def set_up(app_env: AppEnv) -> None:
    app_env.extra.update(WEATHER_INTERVAL="1", KAFKA_SESSION_TIMEOUT="6")


def start(app_env: AppEnv, name: str, guarantee: str) -> Worker:
    app_env.extra["WEATHER_PROCESSING_GUARANTEE"] = guarantee
    return Worker(app_env, name)


def all_ready_and_processing(app_env: AppEnv, workers: list[Worker], readies: list[int]) -> float:
    """Wait until each worker has logged READY more often than `readies` says and every city
    has a reading enriched (read committed) after now; returns the seconds it took."""
    began = time.monotonic()
    since = format_rfc3339(datetime.now(UTC))

    def progressed() -> bool:
        for worker in workers:
            assert worker.process.poll() is None, f"{worker.log_path}:\n{worker.log()[-3000:]}"
        if any(w.log().count(READY) <= n for w, n in zip(workers, readies, strict=True)):
            return False
        records = read_to_end(app_env.broker, app_env.enriched_topic, "read_committed")
        return {city for city, ts in observed(records) if ts > since} >= CITIES

    wait_until(progressed, READY_SECONDS, f"{len(workers)} worker(s) ready and processing")
    return time.monotonic() - began


def ready_counts(workers: list[Worker]) -> list[int]:
    return [worker.log().count(READY) for worker in workers]


def check_nothing_lost(app_env: AppEnv) -> tuple[list[tuple[str, str]], list[tuple[str, str]]]:
    """Wait until every raw reading so far is enriched (read committed): (raw, enriched)."""
    raw = observed(read_to_end(app_env.broker, app_env.raw_topic))
    enriched = wait_until(
        lambda: (
            (
                found := observed(
                    read_to_end(app_env.broker, app_env.enriched_topic, "read_committed")
                )
            )
            and set(raw) <= set(found)
            and found
        ),
        60,
        "every raw reading enriched",
    )
    return raw, enriched


def carried_on_counts(app_env: AppEnv, raw: list[tuple[str, str]]) -> bool:
    """Whether each city's `last_seen` count is at least its number of raw readings: the tables
    were recovered at every start, not begun again from nothing."""
    changelog = read_to_end(app_env.broker, app_env.changelog("last_seen"), "read_committed")
    counts = {orjson.loads(r.key): orjson.loads(r.value)["count"] for r in changelog}
    return all(counts[city] >= n for city, n in Counter(city for city, _ in raw).items())


def test_switching_the_guarantee_both_ways_keeps_every_worker_ready_and_every_reading(
    app_env: AppEnv, capsys
):
    set_up(app_env)
    timings = []
    for step, guarantee in enumerate(("at_least_once", "exactly_once", "at_least_once")):
        worker = start(app_env, f"{step}-{guarantee}", guarantee)
        try:
            timings.append(all_ready_and_processing(app_env, [worker], [0]))
            time.sleep(5)  # more rounds: more history, and a tail of markers under exactly_once
        finally:
            assert worker.stop() == 0, worker.log()[-3000:]
    last = start(app_env, "3-exactly_once", "exactly_once")
    try:
        timings.append(all_ready_and_processing(app_env, [last], [0]))
        raw, enriched = check_nothing_lost(app_env)
    finally:
        assert last.stop() == 0, last.log()[-3000:]
    assert carried_on_counts(app_env, raw)
    duplicates = sum(n - 1 for n in Counter(enriched).values())
    with capsys.disabled():
        print(
            "\n  at_least_once -> exactly_once -> at_least_once -> exactly_once: ready and "
            f"processing after {', '.join(f'{t:.1f}' for t in timings)} s; "
            f"{len(set(raw))} readings, none lost, {duplicates} duplicates"
        )


def test_exactly_once_workers_join_and_leave_without_loss_or_duplicates(app_env: AppEnv, capsys):
    set_up(app_env)
    history = start(app_env, "history", "at_least_once")
    try:
        all_ready_and_processing(app_env, [history], [0])
        time.sleep(5)
    finally:
        assert history.stop() == 0, history.log()[-3000:]

    timings = {}
    first = start(app_env, "first", "exactly_once")
    workers: list[Worker] = []
    try:
        workers.append(first)
        timings["1 worker"] = all_ready_and_processing(app_env, workers, [0])
        for name in ("second", "third"):
            before = [*ready_counts(workers), 0]
            workers.append(start(app_env, name, "exactly_once"))
            timings[f"{name} joins"] = all_ready_and_processing(app_env, workers, before)
        before = ready_counts(workers)
        second = workers.pop(1)
        del before[1]
        second.stop(signal.SIGKILL)
        timings["second killed"] = all_ready_and_processing(app_env, workers, before)
        before = ready_counts(workers)
        third = workers.pop(1)
        del before[1]
        assert third.stop() == 0, third.log()[-3000:]
        timings["third leaves"] = all_ready_and_processing(app_env, workers, before)
        raw, enriched = check_nothing_lost(app_env)
    finally:
        for worker in workers:
            assert worker.stop() == 0, worker.log()[-3000:]
    duplicates = sum(n - 1 for n in Counter(enriched).values())
    with capsys.disabled():
        print(
            "\n  exactly_once, 1 -> 2 -> 3 workers -> SIGKILL -> leave: ready and processing after "
            + ", ".join(f"{step} {seconds:.1f} s" for step, seconds in timings.items())
            + f"; {len(set(raw))} readings, none lost, {duplicates} duplicates read committed"
        )
    assert duplicates == 0
    assert carried_on_counts(app_env, raw)
