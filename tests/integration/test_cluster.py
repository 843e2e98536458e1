"""Three brokers: the app's topics keep three copies and the pipeline outlives a broker's death."""

import asyncio
import os
import signal
import threading
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from aiokafka import AIOKafkaConsumer, ConsumerRecord, TopicPartition
from aiokafka.admin.config_resource import ConfigResource, ConfigResourceType

from tests.harness.kafka import KafkaCluster, admin_client, read_to_end
from tests.harness.waiting import poll
from tests.integration.support import AppEnv, Worker, wait_until
from tests.integration.test_faults import CITIES, observed
from tests.integration.test_operations import city_documents
from weather_app.faust_internals.consumer import stop_consumer


async def _replication(broker: str, topics: list[str]) -> dict[str, tuple[int, str]]:
    async with admin_client(broker) as admin:
        descriptions = await admin.describe_topics(topics)
        [configs] = await admin.describe_configs(
            [
                ConfigResource(ConfigResourceType.TOPIC, topic, {"min.insync.replicas": None})
                for topic in topics
            ]
        )
    min_isr = {resource[3]: resource[4][0][1] for resource in configs.resources}
    return {
        d["topic"]: (min(len(p["replicas"]) for p in d["partitions"]), min_isr[d["topic"]])
        for d in descriptions
    }


def replication(broker: str, topics: list[str]) -> dict[str, tuple[int, str]]:
    """topic -> (fewest replicas of a partition, its min.insync.replicas)."""
    return asyncio.run(_replication(broker, topics))


async def _leaders(broker: str, topics: list[str]) -> Counter[int]:
    async with admin_client(broker) as admin:
        descriptions = await admin.describe_topics(topics)
    return Counter(p["leader"] for d in descriptions for p in d["partitions"])


def busiest_leader(broker: str, topics: list[str]) -> int:
    """The node id of the broker leading the most partitions of `topics`."""
    [(node, _)] = asyncio.run(_leaders(broker, topics)).most_common(1)
    return node


def readings(broker: str, topic: str, isolation: str = "read_uncommitted") -> Counter[Any]:
    """How many records `topic` holds of each (city, reading time)."""
    return Counter(observed(read_to_end(broker, topic, isolation)))


@contextmanager
def arrivals(broker: str, topic: str) -> Iterator[list[tuple[float, ConsumerRecord[bytes, bytes]]]]:
    """(monotonic arrival time, record) of each record committed to `topic` from now on."""
    seen: list[tuple[float, ConsumerRecord[bytes, bytes]]] = []
    started, stop = threading.Event(), threading.Event()

    async def follow() -> None:
        consumer = AIOKafkaConsumer(
            topic,
            bootstrap_servers=broker,
            group_id=None,
            auto_offset_reset="latest",
            isolation_level="read_committed",
        )
        await consumer.start()
        try:
            await consumer.seek_to_end()
            started.set()
            while not stop.is_set():
                batch = await consumer.getmany(timeout_ms=100)
                now = time.monotonic()
                seen.extend((now, record) for records in batch.values() for record in records)
        finally:
            await stop_consumer(consumer)

    follower = threading.Thread(target=asyncio.run, args=(follow(),), daemon=True)
    follower.start()
    started.wait(30)
    try:
        yield seen
    finally:
        stop.set()
        follower.join(30)


async def _end_offsets(broker: str, topic: str, isolation: str) -> dict[int, int]:
    consumer = AIOKafkaConsumer(topic, bootstrap_servers=broker, isolation_level=isolation)
    await consumer.start()  # with its metadata
    try:
        partitions = [TopicPartition(topic, p) for p in consumer.partitions_for_topic(topic) or ()]
        ends = await consumer.end_offsets(partitions)
    finally:
        await stop_consumer(consumer)
    return {tp.partition: offset for tp, offset in ends.items()}


async def _committed(broker: str, group: str) -> dict[tuple[str, int], int]:
    async with admin_client(broker) as admin:
        offsets = await admin.list_consumer_group_offsets(group)
    return {(tp.topic, tp.partition): meta.offset for tp, meta in offsets.items()}


def logs_of(workers: tuple[Worker, ...]) -> str:
    return "\n".join(f"{w.log_path.name}:\n{w.tail(80)}" for w in workers)


def where_missing_readings_are(env: AppEnv, missing: Counter[Any]) -> str:
    """Where the raw readings that were never enriched sit, against the group's committed offsets,
    and each enriched partition's last stable offset against its high watermark (an open or
    hanging transaction holds the first back)."""
    records = read_to_end(env.broker, env.raw_topic)
    places = sorted(
        (record.partition, record.offset)
        for record, reading in zip(records, observed(records), strict=True)
        if reading in missing
    )
    committed = asyncio.run(_committed(env.broker, env.app_id))
    stable = asyncio.run(_end_offsets(env.broker, env.enriched_topic, "read_committed"))
    high = asyncio.run(_end_offsets(env.broker, env.enriched_topic, "read_uncommitted"))
    held_back = (
        {p: (stable[p], high[p]) for p in sorted(high) if stable.get(p) != high[p]}
        if high
        else "(the enriched topic's partitions were not in the metadata)"
    )
    raw_committed = {p: o for (t, p), o in sorted(committed.items()) if t == env.raw_topic}
    return (
        f"missing raw (partition, offset): {places}\n"
        f"group's committed raw offsets: {raw_committed}\n"
        f"enriched partitions whose last stable offset lags the high watermark: {held_back}"
    )


def test_a_broker_killed_mid_stream_loses_and_repeats_nothing(
    kafka_cluster: KafkaCluster, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    env = AppEnv(broker=kafka_cluster.bootstrap, workdir=tmp_path)
    env.extra.update(WEATHER_INTERVAL="1", WEATHER_PROCESSING_GUARANTEE="exactly_once")
    first, second = Worker(env, "first"), Worker(env, "second")
    workers = (first, second)
    try:
        wait_until(
            lambda: (
                (docs := city_documents(first))
                and len(docs) == len(CITIES)
                and {d.get("worker") for d in docs.values()} == {first.url, second.url}
                and all(d.get("count", 0) >= 3 for d in docs.values())
            ),
            timeout=120,
            what="both workers enriching their cities",
        )
        topics = [env.raw_topic, env.enriched_topic]
        tables = [env.changelog("last_seen"), env.changelog("history")]
        assert replication(env.broker, topics + tables) == dict.fromkeys(topics + tables, (3, "2"))
        internal = replication(env.broker, ["__consumer_offsets", "__transaction_state"])
        assert [copies for copies, _ in internal.values()] == [3, 3]

        victim = busiest_leader(env.broker, topics)
        with arrivals(env.broker, env.enriched_topic) as seen:
            os.kill(kafka_cluster.pid(victim), signal.SIGKILL)
            killed_at, killed_at_ms = time.monotonic(), time.time() * 1000
            resumed_at = wait_until(
                lambda: next((at for at, r in seen if r.timestamp > killed_at_ms), None),
                timeout=60,
                what="an enriched record made after the broker died, committed",
            )
        raw = readings(env.broker, env.raw_topic)
        # Every reading published by then (some during the outage) enriched and committed. Once in
        # seven runs some were not after 60 s (cause not known): the bound is now past the
        # transaction timeout (60 s), and a failure shows what is missing and the workers' logs.
        enriched = poll(
            lambda: (
                (counts := readings(env.broker, env.enriched_topic, "read_committed"))
                and not raw - counts
                and counts
            ),
            timeout=120,
        )
        if not enriched:
            missing = raw - readings(env.broker, env.enriched_topic, "read_committed")
            exit_codes, logs = [worker.process.poll() for worker in workers], logs_of(workers)
            try:
                where = where_missing_readings_are(env, missing)
            except Exception as error:  # a broker is dead: what the logs say must not be lost
                where = f"(where they sit could not be read: {error!r})"
            pytest.fail(
                f"{missing.total()} raw readings not enriched (read_committed) after 120 s, "
                f"e.g. {sorted(missing)[:5]}; broker {victim} killed; workers' exit codes "
                f"{exit_codes}\n{where}\n{logs}"
            )
        exit_codes = [worker.process.poll() for worker in workers]
        assert exit_codes == [None, None], f"a worker stopped:\n{logs_of(workers)}"
        # Read after the enriched records, the raw topic holds the source of each of them.
        raw_after = readings(env.broker, env.raw_topic)
    finally:
        for worker in workers:
            worker.stop()
    # Every round of the timer published all its cities (the newest may still be on its way).
    newest = max(timestamp for _, timestamp in raw)
    per_round: Counter[str] = Counter()
    for (_, timestamp), n in raw.items():
        per_round[timestamp] += n
    assert all(n % len(CITIES) == 0 for ts, n in per_round.items() if ts != newest), per_round
    duplicates = sum((enriched - raw_after).values())
    with capsys.disabled():
        print(
            f"\n  broker {victim} of 3 SIGKILLed mid-stream: {raw.total()} readings all enriched, "
            f"{duplicates} duplicates (read_committed); the first record made after the kill "
            f"was committed {resumed_at - killed_at:.1f}s after it"
        )
    assert duplicates == 0
