"""Faults on real processes: bad input, a leaking key, a broker restart, worker crashes."""

import asyncio
import signal
import threading
import time
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson
import pytest
from aiohttp import web

from tests.harness.kafka import publish, read_to_end, read_topic
from tests.harness.processes import ScriptService
from tests.integration.support import AppEnv, Worker, reading, run_command, wait_until
from weather_app.rules.timestamps import format_rfc3339
from weather_app.sources.cities import DEFAULT_CITIES

CITIES = {city.name for city in DEFAULT_CITIES}


def keyed(value: dict[str, Any]) -> tuple[bytes, bytes]:
    return orjson.dumps(value.get("city", "Bad")), orjson.dumps(value)


def observed(records) -> list[tuple[str, str]]:
    return [
        (value["city"], value["timestamp"])
        for value in (orjson.loads(record.value) for record in records)
    ]


def test_bad_messages_land_in_the_dead_letter_topic_and_good_ones_flow(app_env: AppEnv):
    app_env.extra["WEATHER_SOURCE"] = "none"  # only the messages below
    worker = Worker(app_env)
    now = datetime.now(UTC).replace(microsecond=0)
    good = [
        keyed(reading(city, now - timedelta(seconds=i)))
        for i, city in enumerate(sorted(CITIES)[:8])
    ]
    corpus: dict[str, tuple[bytes | None, bytes]] = {
        "not_json": (b'"Bad"', b"this is not json"),
        "not_finite": (b'"Bad"', orjson.dumps(reading("Bad", now)).replace(b"12.5", b"NaN")),
        "wrong_type": keyed(reading("Bad", now, temperature="warm")),
        "out_of_range": keyed(reading("Bad", now, humidity=180.0)),
        "missing_field": keyed({k: v for k, v in reading("Bad", now).items() if k != "city"}),
        "too_large": keyed(reading("Bad", now, conditions="x" * 100_000)),
        "future_timestamp": keyed(reading("Bad", now + timedelta(hours=2))),
        "not_object": (b'"Bad"', b"[1, 2, 3]"),
    }
    # NaN is not JSON: orjson refuses it when decoding, as does the validator for numbers.
    expected_reasons = {**{reason: reason for reason in corpus}, "not_finite": "not_json"}
    try:
        wait_until(lambda: run_command(app_env, "create-topics").returncode == 0, 30, "topics")
        mixed = [message for pair in zip(good, corpus.values(), strict=False) for message in pair]
        publish(app_env.broker, app_env.raw_topic, mixed)
        letters = read_topic(
            app_env.broker, app_env.dlq_topic, lambda r: len(r) >= len(corpus), timeout=60
        )
        enriched = read_topic(
            app_env.broker, app_env.enriched_topic, lambda r: len(r) >= len(good), timeout=30
        )
        assert worker.process.poll() is None, worker.log()
    finally:
        worker.stop()
    decoded = [orjson.loads(record.value) for record in letters]
    assert sorted(letter["reason"] for letter in decoded) == sorted(expected_reasons.values())
    for letter in decoded:
        assert letter["source_topic"] == app_env.raw_topic
        assert letter["detail"]
    originals = {orjson.loads(record.value)["source_offset"] for record in letters}
    assert len(originals) == len(corpus)
    assert sorted(observed(enriched)) == sorted(
        (orjson.loads(value)["city"], orjson.loads(value)["timestamp"]) for _, value in good
    )


@pytest.fixture
def refusing_api() -> Iterator[tuple[str, str]]:
    """A fake Visual Crossing on 127.0.0.1 whose 401 body repeats the key, like the real one."""
    secret = "vc-key-d9c2e7f1a6b34f0e"
    loop = asyncio.new_event_loop()
    ready = threading.Event()
    state: dict[str, Any] = {}

    async def refuse(request: web.Request) -> web.Response:
        return web.Response(
            status=401, text=f"No account found with API key '{request.query['key']}'"
        )

    async def start() -> None:
        application = web.Application()
        application.router.add_get("/timeline/{location}", refuse)
        runner = web.AppRunner(application, access_log=None)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        state["runner"], state["port"] = runner, runner.addresses[0][1]
        ready.set()

    thread = threading.Thread(target=lambda: (loop.run_until_complete(start()), loop.run_forever()))
    thread.start()
    ready.wait(10)
    try:
        yield f"http://127.0.0.1:{state['port']}/timeline", secret
    finally:
        asyncio.run_coroutine_threadsafe(state["runner"].cleanup(), loop).result(10)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(10)
        loop.close()


def test_the_api_key_never_reaches_logs_or_the_web_view(app_env: AppEnv, refusing_api):
    base_url, secret = refusing_api
    app_env.extra.update(
        WEATHER_INTERVAL="1",
        WEATHER_SOURCE="visual-crossing",
        VISUAL_CROSSING_API_KEY=secret,
        VISUAL_CROSSING_BASE_URL=base_url,
        VISUAL_CROSSING_DAILY_BUDGET="100000000",
    )
    worker = Worker(app_env)
    try:
        documents = wait_until(
            lambda: (
                (status_body := worker.get("/weather/cities/"))[0] == 200
                and all("latest" in d for d in status_body[1]["cities"])
                and status_body[1]
            ),
            90,
            "every city simulated after the API refused the key",
        )
        _, metrics = worker.get("/metrics")
        _, page = worker.get("/weather/")
    finally:
        worker.stop()
    log = worker.log()
    assert "Visual Crossing" in log
    assert "401" in log
    assert all(d["data_origin"] == "simulated" for d in documents["cities"])
    for text in (log, orjson.dumps(documents).decode(), metrics, page):
        assert secret not in text


def wait_for_enriched_rounds(app_env: AppEnv, rounds: int) -> None:
    wait_until(
        lambda: len(read_to_end(app_env.broker, app_env.enriched_topic)) >= rounds * len(CITIES),
        90,
        f"{rounds} rounds enriched before the outage",
    )


def test_the_worker_survives_a_broker_restart_without_losing_readings(
    app_env: AppEnv, kafka_service: ScriptService, capsys
):
    app_env.extra.update(WEATHER_INTERVAL="1", KAFKA_SESSION_TIMEOUT="10")
    worker = Worker(app_env)
    try:
        wait_for_enriched_rounds(app_env, 3)
        raw_before = read_to_end(app_env.broker, app_env.raw_topic)
        kafka_service.down()
        time.sleep(20)
        kafka_service.up()
        restarted = datetime.now(UTC)
        # The worker goes on by itself: new rounds after the restart, all earlier ones enriched.
        enriched = wait_until(
            lambda: (
                (records := read_to_end(app_env.broker, app_env.enriched_topic))
                and set(observed(raw_before)) <= set(observed(records))
                and any(ts > format_rfc3339(restarted) for _, ts in observed(records))
                and records
            ),
            120,
            "readings from before the outage enriched and new rounds after it",
        )
        assert worker.process.poll() is None, worker.log()[-3000:]
    finally:
        worker.stop()
    duplicates = sum(n - 1 for n in Counter(observed(enriched)).values())
    with capsys.disabled():
        print(
            f"\n  broker restart (20 s down): {len(set(observed(raw_before)))} readings from "
            f"before the outage all enriched, {duplicates} duplicate records"
        )


def kill_and_restart(app_env: AppEnv, name: str) -> tuple[list[Any], list[Any], str]:
    """Run a worker, SIGKILL it mid-stream, start another.

    Returns the raw readings published before the kill, every enriched record at the end (read
    committed) and the second worker's log.
    """
    first = Worker(app_env, f"{name}-first")
    try:
        wait_until(
            lambda: len(read_to_end(app_env.broker, app_env.raw_topic)) >= 10 * len(CITIES),
            90,
            "ten rounds before the crash",
        )
    finally:
        first.stop(signal.SIGKILL)
    raw_before_kill = read_to_end(app_env.broker, app_env.raw_topic)
    second = Worker(app_env, f"{name}-second")
    try:
        killed = datetime.now(UTC)
        wait_until(
            lambda: any(
                ts > format_rfc3339(killed)
                for _, ts in observed(read_to_end(app_env.broker, app_env.enriched_topic))
            ),
            120,
            "the restarted worker publishing new rounds",
        )
        time.sleep(3)
    finally:
        assert second.stop() == 0, second.log()[-3000:]
    enriched = read_to_end(app_env.broker, app_env.enriched_topic, "read_committed")
    return raw_before_kill, enriched, second.log()


def test_a_killed_worker_restarts_from_committed_offsets_losing_nothing(app_env, capsys):
    app_env.extra.update(WEATHER_INTERVAL="1", KAFKA_SESSION_TIMEOUT="6")
    raw, enriched, _ = kill_and_restart(app_env, "at-least-once")
    assert set(observed(raw)) <= set(observed(enriched))
    duplicates = sum(n - 1 for n in Counter(observed(enriched)).values())
    last_seen = read_to_end(app_env.broker, app_env.changelog("last_seen"))
    counts = {orjson.loads(r.key): orjson.loads(r.value)["count"] for r in last_seen}
    # Counts carried on from the changelog: never fewer than the readings of the city.
    per_city = Counter(city for city, _ in observed(raw))
    assert all(counts[city] >= per_city[city] for city in per_city)
    with capsys.disabled():
        print(f"\n  SIGKILL + restart, at-least-once: nothing lost, {duplicates} duplicates")
    # Only the tail after the last commit (every second here, AppEnv's WEATHER_COMMIT_INTERVAL;
    # a round a second) is read again: at most five rounds of the ten or more before the kill,
    # never the topic.
    assert duplicates <= 5 * len(CITIES), duplicates


def test_exactly_once_leaves_no_duplicates_after_a_crash(app_env, capsys):
    app_env.extra.update(
        WEATHER_INTERVAL="1",
        KAFKA_SESSION_TIMEOUT="6",
        WEATHER_PROCESSING_GUARANTEE="exactly_once",
    )
    raw, enriched, _ = kill_and_restart(app_env, "exactly-once")
    assert set(observed(raw)) <= set(observed(enriched))
    duplicates = sum(n - 1 for n in Counter(observed(enriched)).values())
    with capsys.disabled():
        print(f"\n  SIGKILL + restart, exactly-once (read_committed): {duplicates} duplicates")
    assert duplicates == 0


@pytest.mark.parametrize("guarantee", ["at_least_once", "exactly_once"])
def test_a_worker_asked_to_stop_while_the_broker_is_gone_exits_in_time_and_loses_nothing(
    app_env: AppEnv, kafka_service: ScriptService, guarantee: str
):
    # Faust's stop commits before it returns, and aiokafka retries a commit for as long as the
    # broker is unreachable: without WEATHER_STOP_TIMEOUT the worker never stopped.
    app_env.extra.update(
        WEATHER_INTERVAL="1",
        KAFKA_SESSION_TIMEOUT="6",
        WEATHER_STOP_TIMEOUT="5",
        WEATHER_PROCESSING_GUARANTEE=guarantee,
    )
    worker = Worker(app_env)
    try:
        wait_for_enriched_rounds(app_env, 2)
        raw_before = read_to_end(app_env.broker, app_env.raw_topic)
        kafka_service.down()
        try:
            worker.process.send_signal(signal.SIGTERM)
            wait_until(lambda: worker.process.poll() is not None, 60, "the worker to stop")
        finally:
            code = worker.stop(signal.SIGKILL)
            kafka_service.up()
    finally:
        worker.stop()
    stopped = [line for line in worker.log().splitlines() if "worker stopped:" in line]
    assert code == 1
    assert any(
        "a stop in good order took more than 5s (WEATHER_STOP_TIMEOUT" in line for line in stopped
    ), stopped
    isolation = "read_committed" if guarantee == "exactly_once" else "read_uncommitted"
    second = Worker(app_env, "second")
    try:
        enriched = wait_until(
            lambda: (
                (records := read_to_end(app_env.broker, app_env.enriched_topic, isolation))
                and set(observed(raw_before)) <= set(observed(records))
                and records
            ),
            120,
            "every reading from before the outage enriched",
        )
    finally:
        second.stop()
    if guarantee == "exactly_once":
        assert not [pair for pair, n in Counter(observed(enriched)).items() if n > 1]
