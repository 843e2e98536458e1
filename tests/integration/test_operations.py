"""How users operate the app: several workers, the web view, failover, replay, freshness alerts."""

import asyncio
import shutil
import signal
import subprocess
import time
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import quote

import orjson
from aiokafka import AIOKafkaProducer

from tests.harness.kafka import read_to_end, read_topic
from tests.harness.paths import REPO
from tests.integration.support import AppEnv, Worker, run_command, wait_until
from weather_app.rules.timestamps import format_rfc3339
from weather_app.sources.cities import DEFAULT_CITIES

CITIES = [city.name for city in DEFAULT_CITIES]
ARTIFACTS = REPO / "test-artifacts"


def city_documents(worker: Worker) -> dict[str, dict[str, Any]]:
    status, body = worker.get("/weather/cities/")
    if status != 200:
        return {}
    return {document["city"]: document for document in body["cities"]}


def received_from_raw(worker: Worker, raw_topic: str) -> float:
    status, body = worker.get("/metrics")
    if status != 200:
        return 0.0
    prefix = f'weather_messages_received_per_topic_total{{topic="{raw_topic}"}} '
    return sum(float(line[len(prefix) :]) for line in body.splitlines() if line.startswith(prefix))


def test_two_workers_split_the_cities_and_route_table_requests(app_env: AppEnv):
    app_env.extra.update(WEATHER_INTERVAL="2", KAFKA_SESSION_TIMEOUT="6")
    first, second = Worker(app_env, "first"), Worker(app_env, "second")
    workers = [first, second]
    try:
        # Both workers consume part of the raw topic, and together they see every city.
        wait_until(
            lambda: (
                all(received_from_raw(w, app_env.raw_topic) > 0 for w in workers)
                and all(
                    document.get("count", 0) >= 2 for document in city_documents(first).values()
                )
                and len(city_documents(first)) == len(CITIES)
            ),
            timeout=120,
            what="both workers consuming and every city counted twice",
        )
        # Two rounds while both run (a city's count of 2 can also be one round processed twice
        # across the rebalance at the start).
        read_topic(
            app_env.broker,
            app_env.raw_topic,
            until=lambda records: len({orjson.loads(r.value)["timestamp"] for r in records}) >= 2,
            timeout=60,
        )
        # Every city answers on both workers, from the worker that owns it, once the group has
        # settled (the first round comes at once, often while the second worker still joins).
        owners: dict[str, str] = {}

        def routed(city: str) -> bool:
            owners.pop(city, None)
            answers = [w.get(f"/weather/cities/{quote(city)}/") for w in workers]
            if [status for status, _ in answers] != [200, 200]:
                return False
            assert {body["city"] for _, body in answers} == {city}
            owner = {body["worker"] for _, body in answers}
            if len(owner) == 1:
                owners[city] = owner.pop()
            return city in owners

        wait_until(
            lambda: all([routed(city) for city in CITIES]),
            timeout=60,
            what="every city answered on both workers by its owner",
        )
        assert set(owners.values()) == {first.url, second.url}
        # Faust's own table endpoint is on too.
        status, _ = first.get(f"/table/last_seen/{quote(CITIES[0])}/")
        assert status == 200
    finally:
        stopping_ms = time.time() * 1000
        for worker in workers:
            worker.stop()

    # While both ran, the timer ran on one worker only: one reading per city per round, never
    # two. (Once the first stops, the second becomes the leader and may run a round within the
    # same second as the first's last one, with the same timestamps: not counted.)
    raw = read_to_end(app_env.broker, app_env.raw_topic)
    both_running = [record for record in raw if record.timestamp < stopping_ms]
    rounds = Counter(orjson.loads(record.value)["timestamp"] for record in both_running)
    per_city_round = Counter(
        (orjson.loads(record.value)["city"], orjson.loads(record.value)["timestamp"])
        for record in both_running
    )
    assert max(per_city_round.values()) == 1
    assert len(rounds) >= 2
    *whole_rounds, _ = sorted(rounds)  # the last may have been cut by the stop
    assert {rounds[moment] for moment in whole_rounds} == {len(CITIES)}


def test_a_killed_worker_hands_its_cities_to_the_survivor(app_env: AppEnv, capsys):
    app_env.extra.update(WEATHER_INTERVAL="1", KAFKA_SESSION_TIMEOUT="6")
    survivor, victim = Worker(app_env, "survivor"), Worker(app_env, "victim")
    try:
        before = wait_until(
            lambda: (
                (docs := city_documents(survivor))
                and len(docs) == len(CITIES)
                and {d.get("worker") for d in docs.values()} == {survivor.url, victim.url}
                and all(d.get("count", 0) >= 3 for d in docs.values())
                and docs
            ),
            timeout=120,
            what="both workers owning cities",
        )
        moved = {city for city, d in before.items() if d["worker"] == victim.url}
        victim.process.send_signal(signal.SIGKILL)
        killed_at = time.monotonic()
        killed_at_utc = datetime.now(UTC)

        def taken_over():
            docs = city_documents(survivor)
            return (
                len(docs) == len(CITIES)
                and all(d.get("worker") == survivor.url for d in docs.values())
                and all(
                    d.get("timestamp", "") > format_rfc3339(killed_at_utc) for d in docs.values()
                )
                and docs
            )

        after = wait_until(taken_over, timeout=90, what="the survivor taking every city")
        takeover_seconds = time.monotonic() - killed_at
        with capsys.disabled():
            print(
                f"\n  failover: survivor serves all {len(CITIES)} cities "
                f"{takeover_seconds:.1f}s after SIGKILL (session timeout 6s)"
            )
        # The moved cities kept their history (recovered from the changelog): counts go on.
        for city in moved:
            assert after[city]["count"] > before[city]["count"], city
        assert survivor.process.poll() is None
    finally:
        victim.stop()
        survivor.stop()


def raw_records_with_times(app_env: AppEnv):
    return read_to_end(app_env.broker, app_env.raw_topic)


def test_replay_republishes_exactly_the_window_enriched_as_before(app_env: AppEnv):
    app_env.extra["WEATHER_INTERVAL"] = "1"
    worker = Worker(app_env)
    try:
        wait_until(
            lambda: len(raw_records_with_times(app_env)) >= 8 * len(CITIES),
            timeout=120,
            what="eight rounds of raw readings",
        )
    finally:
        assert worker.stop() == 0
    raw = raw_records_with_times(app_env)
    # The last round may have been published but not enriched before the worker stopped; the
    # window below ends well before it.
    first_pass = read_topic(
        app_env.broker, app_env.enriched_topic, until=lambda r: len(r) >= len(raw), timeout=10
    )
    enriched_before = {
        (value["city"], value["timestamp"]): record.value
        for record in first_pass
        if (value := orjson.loads(record.value))
    }
    # A window in the middle of the run, in whole seconds (RFC3339), both ends inclusive.
    times = sorted(record.timestamp for record in raw)
    window_from = times[len(times) // 3] // 1000 * 1000
    window_to = times[2 * len(times) // 3] // 1000 * 1000
    in_window = [r for r in raw if window_from <= r.timestamp <= window_to]
    assert 0 < len(in_window) < len(raw)
    window_readings = {
        (v["city"], v["timestamp"]) for v in map(orjson.loads, (r.value for r in in_window))
    }
    assert window_readings <= enriched_before.keys()

    result = run_command(
        app_env, "replay", "--from", as_rfc3339(window_from), "--to", as_rfc3339(window_to)
    )
    assert result.returncode == 0, result.stderr
    assert f"replayed {len(in_window)} readings" in result.stdout, result.stdout
    everything = read_topic(
        app_env.broker,
        app_env.enriched_topic,
        until=lambda r: len(r) >= len(first_pass) + len(in_window),
        timeout=30,
    )
    replayed = [
        record for record in everything if record.offset >= offsets_after(first_pass, record)
    ]
    assert len(replayed) == len(in_window)
    for record in replayed:
        value = orjson.loads(record.value)
        assert record.value == enriched_before[(value["city"], value["timestamp"])]


def as_rfc3339(millis: int) -> str:
    return format_rfc3339(datetime.fromtimestamp(millis / 1000, UTC))


def offsets_after(first_pass, record) -> int:
    """The first offset in `record`'s partition that the first pass did not write."""
    return 1 + max((r.offset for r in first_pass if r.partition == record.partition), default=-1)


def test_a_city_that_stops_reporting_raises_one_stale_and_one_fresh_alert(app_env: AppEnv):
    # Stale after 2 x 2 s of silence; a slower interval than the other tests leaves London
    # room to stay fresh on a loaded 2-core machine.
    # Paris is not configured (the timer would keep it fresh): accepted as an unknown city.
    app_env.extra.update(
        WEATHER_INTERVAL="2", WEATHER_CITIES="London", WEATHER_ACCEPT_UNKNOWN_CITIES="1"
    )
    worker = Worker(app_env)

    async def report(moment: datetime) -> None:
        producer = AIOKafkaProducer(bootstrap_servers=app_env.broker)
        await producer.start()
        try:
            reading = {
                "city": "Paris",
                "country": "FR",
                "station_id": "SIM-PAR",
                "timestamp": format_rfc3339(moment),
                "temperature": 8.0,
                "humidity": 70.0,
                "wind_speed": 10.0,
                "precipitation": 0.0,
                "data_origin": "simulated",
            }
            await producer.send_and_wait(
                app_env.raw_topic, key=orjson.dumps("Paris"), value=orjson.dumps(reading)
            )
        finally:
            await producer.stop()

    def alerts():
        records = read_to_end(app_env.broker, app_env.alerts_topic)
        return [orjson.loads(record.value) for record in records]

    try:
        wait_until(lambda: city_documents(worker).get("London", {}).get("count"), 90, "London")
        for _ in range(3):
            asyncio.run(report(datetime.now(UTC)))
            time.sleep(0.5)
        stale = wait_until(
            lambda: [a for a in alerts() if a["city"] == "Paris"], 30, "Paris turning stale"
        )
        time.sleep(6)  # several monitor ticks with Paris still silent: no repeated alert
        assert [a["state"] for a in alerts() if a["city"] == "Paris"] == ["stale"]
        asyncio.run(report(datetime.now(UTC)))
        paris = wait_until(
            lambda: len(found := [a for a in alerts() if a["city"] == "Paris"]) >= 2 and found,
            30,
            "Paris turning fresh",
        )
        # (Silent again afterwards, Paris turns stale once more: a third event may follow.)
        assert [a["state"] for a in paris[:2]] == ["stale", "fresh"], paris
        assert stale[0]["threshold_seconds"] == 4.0
        assert [a for a in alerts() if a["city"] == "London"] == []
        assert "Paris is stale" in worker.log()
    finally:
        worker.stop()


def test_the_live_page_shows_every_city_with_a_chart(app_env: AppEnv, tmp_path: Path):
    assert shutil.which("chromium"), "no chromium on PATH: `make tools` installs Debian's"
    app_env.extra["WEATHER_INTERVAL"] = "1"
    worker = Worker(app_env)
    try:
        wait_until(
            lambda: (
                all(d.get("count", 0) >= 3 for d in city_documents(worker).values())
                and len(city_documents(worker)) == len(CITIES)
            ),
            timeout=120,
            what="every city with three readings",
        )
        ARTIFACTS.mkdir(exist_ok=True)
        screenshot = ARTIFACTS / "weather-page.png"
        chrome = [
            "chromium",
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            f"--user-data-dir={tmp_path / 'chrome'}",
            "--virtual-time-budget=5000",
            "--window-size=1200,1000",
        ]
        page = f"{worker.url}/weather/"
        dom = subprocess.run(
            [*chrome, "--dump-dom", page], capture_output=True, text=True, timeout=60, check=True
        ).stdout
        subprocess.run(
            [*chrome, f"--screenshot={screenshot}", page],
            capture_output=True,
            timeout=60,
            check=True,
        )
    finally:
        worker.stop()
    for city in CITIES:
        assert f'data-city="{city}"' in dom, city
    assert dom.count('<svg class="chart"') == len(CITIES)
    assert dom.count("<polyline") == len(CITIES)
    assert screenshot.stat().st_size > 10_000
