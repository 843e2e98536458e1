"""What the bench measures on Kafka: a topic's record count while a contender runs, its output
records and their broker timestamps afterwards, and a process's peak memory."""

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from aiokafka import AIOKafkaConsumer, ConsumerRecord, TopicPartition

from tests.harness.kafka import PARTITIONS, read_all


def peak_rss_mb(pid: int) -> float | None:
    """VmHWM (peak resident set) of the process, in MiB, while it is alive."""
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return None
    for line in status.splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return None


class TopicWatch:
    """End offsets of a topic (a cheap count of its records), read by one consumer."""

    def __init__(self, broker: str, topic: str) -> None:
        self.broker = broker
        self.topic = topic
        self.partitions = [TopicPartition(topic, p) for p in range(PARTITIONS)]
        self.consumer = AIOKafkaConsumer(bootstrap_servers=broker, enable_auto_commit=False)

    async def __aenter__(self) -> "TopicWatch":
        await self.consumer.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.consumer.stop()

    async def count(self) -> int:
        offsets = await self.consumer.end_offsets(self.partitions)
        return int(sum(offsets.values()))

    async def wait_for(
        self,
        expected: int,
        limit_s: float,
        alive: Callable[[], bool] | None = None,
        interval: float = 0.5,
    ) -> int:
        """Poll until the topic holds `expected` records, `limit_s` passes or `alive()` is false."""
        deadline = time.monotonic() + limit_s
        count = await self.count()
        while count < expected and time.monotonic() < deadline:
            if alive is not None and not alive():
                break
            await asyncio.sleep(interval)
            count = await self.count()
        return count


@dataclass
class Output:
    records: int
    distinct: int
    first_ms: int | None
    last_ms: int | None
    values: list[bytes]

    @property
    def span_s(self) -> float:
        if self.first_ms is None or self.last_ms is None:
            return 0.0
        return (self.last_ms - self.first_ms) / 1000


def output_of(records: list[ConsumerRecord[bytes, bytes]]) -> Output:
    """Counts and the first and last broker timestamps of an output topic's records."""
    values = [record.value for record in records]
    stamps = [record.timestamp for record in records]
    first, last = (min(stamps), max(stamps)) if stamps else (None, None)
    return Output(len(values), len(set(values)), first, last, values)


async def read_output(broker: str, topic: str) -> Output:
    """Every record of `topic` (up to its end offsets now): counts and broker timestamps."""
    return output_of(await read_all(broker, topic))
