"""The app's tables: each key's entries live on its home partition, and only there.

A city's readings are enriched on the raw partition its key hashes to, and its table entries go
to the same partition of the changelogs (weather_app.partitioning). Readings published under
another key (a producer sending none) were once enriched wherever they landed, leaving copies of
the city's entries on other changelog partitions: nothing overwrites them, and restoring them
could replace the city's real entry with a stale one. Recovery therefore ignores a changelog
record found on another partition than its key's, and at start-up a worker deletes such records
from the changelogs with tombstones.
"""

import asyncio
import time
from collections.abc import Iterable, Sequence
from typing import Any

import faust
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from faust.types import EventT

from weather_app.partitioning import home_partition


def on_home_partition(key: bytes | None, partition: int, partitions: int) -> bool:
    return key is None or home_partition(key, partitions) == partition


class Table(faust.Table):  # type: ignore[type-arg]  # faust.Table is generic only in stubs
    def apply_changelog_batch(self, batch: Iterable[EventT[Any]]) -> None:
        partitions = self.partitions or self.app.conf.topic_partitions
        super().apply_changelog_batch(
            [
                event
                for event in batch
                if on_home_partition(event.message.key, event.message.partition, partitions)
            ]
        )


async def stray_entries(
    consumer: AIOKafkaConsumer, topic: str, partitions: int, deadline: float
) -> list[tuple[int, bytes]]:
    """(partition, key) of every live entry of `topic` on another partition than its key's."""
    assigned = [TopicPartition(topic, partition) for partition in range(partitions)]
    consumer.assign(assigned)
    await consumer.seek_to_beginning(*assigned)
    ends = await consumer.end_offsets(assigned)
    live: dict[tuple[int, bytes], bool] = {}
    remaining = {tp for tp in assigned if ends[tp] > 0}
    while remaining and time.monotonic() < deadline:
        batches = await consumer.getmany(*remaining, timeout_ms=500)
        for tp, records in batches.items():
            for record in records:
                key = record.key
                if key is not None and not on_home_partition(key, tp.partition, partitions):
                    live[(tp.partition, key)] = record.value is not None
        # The position, not the last record: transaction markers hold the last offsets.
        for tp in list(remaining):
            if await consumer.position(tp) >= ends[tp]:
                remaining.discard(tp)
    if remaining:
        raise TimeoutError(f"{topic} not read to its end in time")
    return [entry for entry, is_live in live.items() if is_live]


async def remove_stray_entries(
    bootstrap_servers: str,
    changelogs: Sequence[str],
    partitions: int,
    timeout_seconds: float = 60.0,
) -> int:
    """Tombstone every changelog entry that is not on its key's home partition; how many."""
    deadline = time.monotonic() + timeout_seconds
    consumer = AIOKafkaConsumer(
        bootstrap_servers=bootstrap_servers,
        group_id=None,
        enable_auto_commit=False,
        isolation_level="read_committed",
    )
    producer = AIOKafkaProducer(
        bootstrap_servers=bootstrap_servers, acks="all", enable_idempotence=True
    )
    await consumer.start()
    await producer.start()
    removed = 0
    try:
        for topic in changelogs:
            strays = await stray_entries(consumer, topic, partitions, deadline)
            results = [
                await producer.send(topic, key=key, value=None, partition=partition)
                for partition, key in strays
            ]
            await asyncio.gather(*results)  # raises if a tombstone was not delivered
            removed += len(strays)
    finally:
        await producer.stop()
        await consumer.stop()
    return removed
