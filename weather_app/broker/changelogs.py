"""Remove table entries found on another changelog partition than their key's home partition.

Recovery ignores them (weather_app.faust_internals.tables); at start-up each worker deletes them
with tombstones, so that they do not linger in the changelogs.
"""

import asyncio
import time
from collections.abc import Sequence

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition

from weather_app.rules.partitioning import on_home_partition


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
