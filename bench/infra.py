"""The bench's own broker, its topics, and processes that are stopped by their PID."""

import asyncio
import os
import signal
import socket
import subprocess
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient, NewTopic

REPO = Path(__file__).resolve().parents[1]
PARTITIONS = 6


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class Broker:
    """A single-node Kafka from scripts/kafka.sh on free loopback ports, with a temp data dir."""

    def __init__(self, data_dir: Path) -> None:
        self.port, self.controller_port = free_port(), free_port()
        self.env = {
            **os.environ,
            "KAFKA_PORT": str(self.port),
            "KAFKA_CONTROLLER_PORT": str(self.controller_port),
            "KAFKA_DATA_DIR": str(data_dir),
            # Kafka's default, not the tests' 0: the 2 workers, started together, form one
            # group generation instead of rebalancing while the first one already drains.
            "KAFKA_GROUP_INITIAL_REBALANCE_DELAY_MS": "3000",
        }
        self.address = f"127.0.0.1:{self.port}"

    def _script(self, action: str, timeout: float) -> None:
        subprocess.run(
            [str(REPO / "scripts" / "kafka.sh"), action],
            env=self.env,
            check=True,
            timeout=timeout,
            stdout=subprocess.DEVNULL,
        )

    def up(self) -> None:
        self._script("up", 300)

    def down(self) -> None:
        """Stop the broker: kafka.sh stops the PID it recorded at `up`."""
        self._script("down", 120)


class Process:
    """A child process with its output in a log file, stopped by its PID."""

    def __init__(self, args: list[str], log_path: Path, env: dict[str, str], cwd: Path) -> None:
        self.log_path = log_path
        self._log: IO[bytes] = log_path.open("wb")
        self.started = time.time()
        self.popen = subprocess.Popen(
            args, env=env, cwd=cwd, stdout=self._log, stderr=subprocess.STDOUT
        )
        self.pid = self.popen.pid

    def alive(self) -> bool:
        return self.popen.poll() is None

    def peak_rss_mb(self) -> float | None:
        """VmHWM (peak resident set) of the process, in MiB, while it is alive."""
        try:
            status = Path(f"/proc/{self.pid}/status").read_text()
        except OSError:
            return None
        for line in status.splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
        return None

    def stop(self, timeout: float = 30) -> int:
        if self.popen.poll() is None:
            self.popen.send_signal(signal.SIGTERM)
            try:
                self.popen.wait(timeout)
            except subprocess.TimeoutExpired:
                self.popen.kill()
                self.popen.wait(10)
        self._log.close()
        return self.popen.returncode

    def tail(self, lines: int = 20) -> str:
        text = self.log_path.read_text(errors="replace").splitlines()
        return "\n".join(text[-lines:])


async def create_topics(broker: str, names: Iterable[str], log_append_time: bool = False) -> None:
    """Create topics with the app's partition count; output topics get broker-side timestamps.

    `message.timestamp.type=LogAppendTime` makes the broker stamp each record when it appends it,
    so every contender's output is timed the same way, whatever timestamp its producer sets
    (Quix Streams copies the input record's timestamp by default).
    """
    configs = {"message.timestamp.type": "LogAppendTime"} if log_append_time else {}
    admin = AIOKafkaAdminClient(bootstrap_servers=broker)
    await admin.start()
    try:
        await admin.create_topics(
            [NewTopic(name, PARTITIONS, 1, topic_configs=configs) for name in names]
        )
    finally:
        await admin.close()


async def produce(broker: str, topic: str, records: Iterable[tuple[bytes, bytes]]) -> int:
    """Produce every (key, value) with acks=all, as fast as the producer takes them."""
    producer = AIOKafkaProducer(bootstrap_servers=broker, acks="all", linger_ms=5)
    await producer.start()
    count = 0
    try:
        pending: list[asyncio.Future[Any]] = []
        for key, value in records:
            pending.append(await producer.send(topic, value=value, key=key))
            count += 1
            if len(pending) >= 5000:
                await asyncio.gather(*pending)
                pending.clear()
        await asyncio.gather(*pending)
    finally:
        await producer.stop()
    return count


class TopicWatch:
    """End offsets of a topic (a cheap count of its records) and a full read of it."""

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
        self, expected: int, limit_s: float, alive: Any = None, interval: float = 0.5
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


async def read_all(broker: str, topic: str) -> Output:
    """Every record of `topic` (up to its end offsets now): counts and broker timestamps."""
    partitions = [TopicPartition(topic, p) for p in range(PARTITIONS)]
    consumer = AIOKafkaConsumer(
        bootstrap_servers=broker,
        enable_auto_commit=False,
        auto_offset_reset="earliest",
        max_partition_fetch_bytes=4 << 20,
    )
    await consumer.start()
    try:
        consumer.assign(partitions)
        end = await consumer.end_offsets(partitions)
        for tp in partitions:
            consumer.seek(tp, 0)  # our topics are never truncated: offset 0 is the first record
        remaining = {tp for tp in partitions if end[tp] > 0}
        values: list[bytes] = []
        first: int | None = None
        last: int | None = None
        while remaining:
            batch = await consumer.getmany(*remaining, timeout_ms=1000)
            for tp, records in batch.items():
                for record in records:
                    if record.offset >= end[tp]:
                        continue
                    values.append(record.value)
                    stamp = record.timestamp
                    first = stamp if first is None else min(first, stamp)
                    last = stamp if last is None else max(last, stamp)
            for tp in list(remaining):
                if await consumer.position(tp) >= end[tp]:
                    remaining.discard(tp)
    finally:
        await consumer.stop()
    return Output(len(values), len(set(values)), first, last, values)


async def poll_until(done: Callable[[], bool], limit_s: float, interval: float = 0.2) -> bool:
    """Check `done()` every `interval` seconds for up to `limit_s`; whether it came true."""
    deadline = time.monotonic() + limit_s
    while True:
        if done():
            return True
        if time.monotonic() >= deadline:
            return False
        await asyncio.sleep(interval)
