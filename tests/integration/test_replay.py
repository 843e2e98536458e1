"""`faust -A weather_app replay`: what it re-publishes, when it stops, how it reports failures."""

import asyncio
import signal
from collections import defaultdict
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson
import pytest
from aiokafka import AIOKafkaProducer, ConsumerRecord, TopicPartition
from aiokafka.admin import RecordsToDelete

from models.codec import encode_key
from tests.harness.kafka import admin_client, create_topics, produce, read_to_end, read_topic
from tests.harness.processes import Process, ScriptService
from tests.integration.support import (
    AppEnv,
    Worker,
    interrupt,
    run_command,
    start_command,
    wait_until,
)
from weather_app.rules.timestamps import format_rfc3339
from weather_app.sources.cities import DEFAULT_CITIES

CITIES = [city.name for city in DEFAULT_CITIES]
Key = tuple[str, str]  # (city, observation timestamp): the point a record lands on downstream


def as_rfc3339(millis: int) -> str:
    return format_rfc3339(datetime.fromtimestamp(millis / 1000, UTC))


def key_of(record: ConsumerRecord) -> Key:
    value = orjson.loads(record.value)
    return value["city"], value["timestamp"]


def by_key(records: list[ConsumerRecord]) -> dict[Key, list[ConsumerRecord]]:
    """Each point's records in the order they were written (a city keeps to one partition)."""
    grouped: dict[Key, list[ConsumerRecord]] = defaultdict(list)
    for record in sorted(records, key=lambda r: (r.partition, r.offset)):
        grouped[key_of(record)].append(record)
    return grouped


def end_offsets(records: list[ConsumerRecord]) -> dict[int, int]:
    ends: dict[int, int] = defaultdict(int)
    for record in records:
        ends[record.partition] = max(ends[record.partition], record.offset + 1)
    return ends


def reading(city: str, observed: datetime, temperature: float = 11.5) -> dict[str, Any]:
    return {
        "city": city,
        "country": "XX",
        "station_id": "TEST",
        "timestamp": format_rfc3339(observed),
        "temperature": temperature,
        "humidity": 60.0,
        "wind_speed": 10.0,
        "precipitation": 0.0,
        "data_origin": "simulated",
    }


async def publish(broker: str, topic: str, values: list[dict[str, Any]], **options: Any) -> None:
    """Send `values` keyed by city; with a `transactional_id`, in one committed transaction."""
    producer = AIOKafkaProducer(bootstrap_servers=broker, **options)
    await producer.start()
    try:
        if "transactional_id" in options:
            async with producer.transaction():
                for value in values:
                    await producer.send(
                        topic, key=encode_key(value["city"]), value=orjson.dumps(value)
                    )
        else:
            for value in values:
                await producer.send(topic, key=encode_key(value["city"]), value=orjson.dumps(value))
        await producer.flush()
    finally:
        await producer.stop()


def enriched_rounds(env: AppEnv) -> int:
    return len(read_to_end(env.broker, env.enriched_topic)) // len(CITIES)


def run_until_more_rounds(env: AppEnv, worker: Worker, rounds: int) -> None:
    target = enriched_rounds(env) + rounds
    wait_until(
        lambda: enriched_rounds(env) >= target,
        timeout=180,
        what=f"{rounds} more rounds enriched by {worker.log_path.name}",
        interval=1,
    )


@pytest.mark.parametrize("guarantee", ["at_least_once", "exactly_once"])
def test_replay_across_worker_restarts_equals_the_first_live_enrichment(
    app_env: AppEnv, guarantee: str, capsys
):
    # A short session: the third worker's group forgets the SIGKILLed second one in 6 s, not 30.
    app_env.extra.update(
        WEATHER_INTERVAL="1", WEATHER_PROCESSING_GUARANTEE=guarantee, KAFKA_SESSION_TIMEOUT="6"
    )
    # What a downstream reader sees: under exactly_once, committed records only.
    isolation = "read_committed" if guarantee == "exactly_once" else "read_uncommitted"
    # Refused live as future_timestamp (5 min 20 s ahead); by the time replay runs it is less
    # than 5 minutes ahead of the wall clock, but still as far ahead of its record time.
    future = reading(CITIES[0], datetime.now(UTC) + timedelta(minutes=5, seconds=20))
    first = Worker(app_env, "first")
    try:
        run_until_more_rounds(app_env, first, 5)
        asyncio.run(publish(app_env.broker, app_env.raw_topic, [future]))
        run_until_more_rounds(app_env, first, 9)  # the cities' histories (12) are full
    finally:
        assert first.stop(signal.SIGTERM) == 0
    second = Worker(app_env, "second")
    try:
        run_until_more_rounds(app_env, second, 5)
        second.process.send_signal(signal.SIGKILL)
        second.process.wait(30)
        written_before_kill = end_offsets(read_to_end(app_env.broker, app_env.enriched_topic))
    finally:
        second.stop()
    third = Worker(app_env, "third")
    try:
        run_until_more_rounds(app_env, third, 5)
    finally:
        assert third.stop(signal.SIGTERM) == 0
    raw = read_to_end(app_env.broker, app_env.raw_topic)
    live = read_to_end(app_env.broker, app_env.enriched_topic, isolation)
    live_by_key = by_key(live)
    dead_letters = [orjson.loads(r.value) for r in read_to_end(app_env.broker, app_env.dlq_topic)]
    assert [d["reason"] for d in dead_letters] == ["future_timestamp"]

    # From the third round to five rounds before the end: the window spans both restarts, and
    # ends before readings the last worker may have left unenriched as it stopped.
    times = sorted(record.timestamp for record in raw)
    window_from = times[3 * len(CITIES)] // 1000 * 1000
    window_to = times[-5 * len(CITIES)] // 1000 * 1000
    in_window = [r for r in raw if window_from <= r.timestamp <= window_to]
    assert any(key_of(r) == (future["city"], future["timestamp"]) for r in in_window)
    expected = {key_of(r) for r in in_window} - {(future["city"], future["timestamp"])}
    assert expected <= live_by_key.keys()

    result = run_command(
        app_env, "replay", "--from", as_rfc3339(window_from), "--to", as_rfc3339(window_to)
    )
    assert result.returncode == 0, result.stderr
    assert f"replayed {len(expected)} readings (1 invalid skipped" in result.stdout, result.stdout
    live_ends = end_offsets(live)
    everything = read_topic(
        app_env.broker,
        app_env.enriched_topic,
        until=lambda r: len(r) >= len(live) + len(expected),
        timeout=30,
        isolation=isolation,
    )
    replayed = [r for r in everything if r.offset >= live_ends[r.partition]]
    assert sorted(map(key_of, replayed)) == sorted(expected)
    for record in replayed:
        assert record.value == live_by_key[key_of(record)][0].value, key_of(record)

    # Live, a point has a second, different record only when a reading enriched before the
    # SIGKILL was enriched again after it (at-least-once), from a history that already held it.
    redone = {key: records for key, records in live_by_key.items() if len(records) > 1}
    for key, records in redone.items():
        assert len(records) == 2, key
        before, after = records
        assert before.offset < written_before_kill[before.partition] <= after.offset, key
    differing = [key for key, (before, after) in redone.items() if before.value != after.value]
    if guarantee == "exactly_once":
        assert not redone
    with capsys.disabled():
        print(
            f"\n  replay ({guarantee}): {len(replayed)} records equal their first live "
            "enrichment; live, "
            f"{len(redone)} readings were enriched again after the SIGKILL, "
            f"{len(differing)} of them differently"
        )


def test_replay_ends_at_a_tail_of_transaction_markers_and_starts_at_what_retention_kept(
    app_env: AppEnv,
):
    assert run_command(app_env, "create-topics").returncode == 0
    city = CITIES[0]
    start = datetime.now(UTC) - timedelta(hours=1)
    values = [reading(city, start + timedelta(minutes=n), 10.0 + n % 5) for n in range(20)]
    asyncio.run(
        publish(
            app_env.broker,
            app_env.raw_topic,
            values,
            transactional_id=f"{app_env.app_id}-test",
            enable_idempotence=True,
        )
    )
    [written] = {r.partition for r in read_to_end(app_env.broker, app_env.raw_topic)}
    asyncio.run(delete_before(app_env.broker, TopicPartition(app_env.raw_topic, written), 5))

    result = run_command(app_env, "replay", "--from", "0", timeout=90)
    assert result.returncode == 0, result.stderr
    assert "replayed 15 readings" in result.stdout, result.stdout


async def delete_before(broker: str, partition: TopicPartition, offset: int) -> None:
    async with admin_client(broker) as admin:
        await admin.delete_records({partition: RecordsToDelete(before_offset=offset)})


def test_replay_exits_1_saying_how_many_readings_the_broker_refused(app_env: AppEnv):
    # The enriched topic takes no record as large as an enriched reading: every send fails.
    refusing = {"max.message.bytes": "100"}
    asyncio.run(create_topics(app_env.broker, [app_env.enriched_topic], configs=refusing))
    values = [reading(city, datetime.now(UTC) - timedelta(minutes=1)) for city in CITIES]
    assert run_command(app_env, "create-topics").returncode == 0
    asyncio.run(publish(app_env.broker, app_env.raw_topic, values))

    result = run_command(app_env, "replay", "--from", "0", timeout=90)
    assert result.returncode == 1, (result.stdout, result.stderr)
    assert "Traceback" not in result.stderr
    [line] = [line for line in result.stderr.splitlines() if "weather-speed-layer" in line]
    assert f"replay incomplete: {len(CITIES)} readings failed to publish, 0 delivered" in line


def start_a_long_replay(app_env: AppEnv) -> Process:
    """A replay of enough readings that it runs about 15 s, once it has shown its progress."""
    assert run_command(app_env, "create-topics").returncode == 0
    observed = datetime.now(UTC) - timedelta(hours=1)
    values = (
        (encode_key(city), orjson.dumps(reading(city, observed + timedelta(seconds=second))))
        for second in range(20_000)
        for city in CITIES
    )
    asyncio.run(produce(app_env.broker, app_env.raw_topic, values))
    return start_command(app_env, "re-published", "replay", "--from", "0")


def test_an_interrupted_replay_exits_1_saying_so(app_env: AppEnv):
    # mode's worker takes a command cancelled by SIGINT or SIGTERM (the same path) for a
    # finished one: it exited 0, as if complete.
    exit_code, log = interrupt(start_a_long_replay(app_env))
    assert exit_code == 1, log[-3000:]
    assert "Unclosed" not in log  # its clients are stopped, however often it is cancelled
    [line] = [line for line in log.splitlines() if "replay interrupted" in line]
    assert "replaying the same window again is safe" in line


def test_replay_stops_with_one_line_when_the_broker_goes_away_mid_replay(
    app_env: AppEnv, kafka_service: ScriptService
):
    app_env.extra["KAFKA_SESSION_TIMEOUT"] = "6"
    replay = start_a_long_replay(app_env)
    try:
        kafka_service.down()
        wait_until(lambda: not replay.alive(), 120, "the replay to give up on the lost broker")
        exit_code = replay.stop()
    finally:
        replay.stop()
        kafka_service.up()
    log = replay.log()
    assert exit_code == 1, log[-3000:]
    assert "Traceback" not in log
    assert "never retrieved" not in log
    # aiokafka logs each failed connection; one line a message every 10 s gets through.
    assert 1 <= log.count("Unable connect to node") <= 3, log[-3000:]
    lines = [line for line in log.splitlines() if "replay stopped: nothing from" in line]
    assert len(lines) == 1, log[-3000:]
    [line] = lines
    assert "the broker for 6s (KAFKA_SESSION_TIMEOUT)" in line
    assert "replaying the same window again is safe" in line
