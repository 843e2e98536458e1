"""Kafka through scripts/kafka.sh on free loopback ports, and plain topic helpers (aiokafka)."""

import asyncio
import os
import time
from collections.abc import AsyncIterator, Callable, Iterable, Mapping
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, ConsumerRecord, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.admin.config_resource import ConfigResource, ConfigResourceType

from tests.harness.paths import cache_dir
from tests.harness.ports import free_port, free_port_run
from tests.harness.processes import ScriptService
from weather_app.faust_internals.consumer import stop_consumer

PARTITIONS = 6  # the app's partition count, for the topics created here

Records = list[ConsumerRecord[bytes, bytes]]


class KafkaBroker(ScriptService):
    """A single-node Kafka on two free loopback ports (client, controller), data in `data_dir`.

    `extra` adds variables for kafka.sh (KAFKA_GROUP_INITIAL_REBALANCE_DELAY_MS, ...).
    """

    def __init__(
        self, data_dir: Path, extra: Mapping[str, str] | None = None, quiet: bool = False
    ) -> None:
        self.port, self.controller_port = free_port(), free_port()
        env = {
            **os.environ,
            "KAFKA_PORT": str(self.port),
            "KAFKA_CONTROLLER_PORT": str(self.controller_port),
            "KAFKA_DATA_DIR": str(data_dir),
            **(extra or {}),
        }
        super().__init__("kafka.sh", env, quiet)
        self.address = f"127.0.0.1:{self.port}"


class KafkaCluster(ScriptService):
    """Three KRaft brokers (KAFKA_NODES=3) on six consecutive free loopback ports from
    `first_port`: node n serves clients on first_port + 2(n-1), its controller on the next."""

    def __init__(self, data_dir: Path, nodes: int = 3) -> None:
        self.nodes = nodes
        self.first_port = free_port_run(2 * nodes)
        env = {
            **os.environ,
            "KAFKA_NODES": str(nodes),
            "KAFKA_PORT": str(self.first_port),
            "KAFKA_DATA_DIR": str(data_dir),
        }
        super().__init__("kafka.sh", env)

    @property
    def bootstrap(self) -> str:
        return ",".join(f"127.0.0.1:{self.port(node)}" for node in range(1, self.nodes + 1))

    def port(self, node: int) -> int:
        return self.first_port + 2 * (node - 1)

    def pid(self, node: int) -> int:
        """The PID kafka.sh recorded for the node's broker."""
        return int((cache_dir() / "run" / f"kafka-{self.port(node)}.pid").read_text())


@asynccontextmanager
async def admin_client(broker: str) -> AsyncIterator[AIOKafkaAdminClient]:
    """A started admin client on `broker`, closed on the way out."""
    admin = AIOKafkaAdminClient(bootstrap_servers=broker)
    await admin.start()
    try:
        yield admin
    finally:
        await admin.close()


async def create_topics(
    broker: str,
    names: Iterable[str],
    log_append_time: bool = False,
    configs: Mapping[str, str] | None = None,
) -> None:
    """Create topics with the app's partition count and `configs`; `log_append_time`:
    broker-side timestamps.

    `message.timestamp.type=LogAppendTime` makes the broker stamp each record when it appends it,
    whatever timestamp its producer set.
    """
    settings = dict(configs or {})
    if log_append_time:
        settings["message.timestamp.type"] = "LogAppendTime"
    async with admin_client(broker) as admin:
        await admin.create_topics(
            [NewTopic(name, PARTITIONS, 1, topic_configs=settings) for name in names]
        )


def set_max_message_bytes(broker: str, topic: str, size: int) -> None:
    """Set `topic`'s `max.message.bytes`: the broker refuses a record batch larger than `size`."""

    async def alter() -> None:
        resource = ConfigResource(
            ConfigResourceType.TOPIC, topic, configs={"max.message.bytes": str(size)}
        )
        async with admin_client(broker) as admin:
            await admin.alter_configs([resource])

    asyncio.run(alter())


async def produce(
    broker: str,
    topic: str,
    records: Iterable[tuple[bytes | None, bytes]],
    window: int = 5000,
    headers: list[tuple[str, bytes]] | None = None,
    **producer: Any,
) -> int:
    """Send every (key, value), awaiting the acknowledgements every `window` records (1: each
    before the next), each with `headers`; `producer` are AIOKafkaProducer options. How many
    were sent."""
    sender = AIOKafkaProducer(bootstrap_servers=broker, **producer)
    await sender.start()
    count = 0
    try:
        pending: list[asyncio.Future[Any]] = []
        for key, value in records:
            pending.append(await sender.send(topic, value=value, key=key, headers=headers))
            count += 1
            if len(pending) >= window:
                await asyncio.gather(*pending)
                pending.clear()
        await asyncio.gather(*pending)
    finally:
        await sender.stop()
    return count


def publish(
    broker: str,
    topic: str,
    messages: Iterable[tuple[bytes | None, bytes]],
    headers: list[tuple[str, bytes]] | None = None,
) -> None:
    """Send (key, value) messages to `topic`, each acknowledged before the next; up to 2 MB."""
    asyncio.run(
        produce(broker, topic, messages, window=1, headers=headers, max_request_size=2_000_000)
    )


def read_topic(
    broker: str,
    topic: str,
    until: Callable[[Records], bool],
    timeout: float,
    isolation: str = "read_uncommitted",
) -> Records:
    """Read `topic` from the beginning until `until(records)` holds or `timeout` passes."""
    return asyncio.run(_read_topic(broker, topic, until, time.monotonic() + timeout, isolation))


async def _read_topic(
    broker: str,
    topic: str,
    until: Callable[[Records], bool],
    deadline: float,
    isolation: str,
) -> Records:
    records: Records = []
    while await _partitions(broker, topic) == 0:
        if time.monotonic() >= deadline:
            return records
        await asyncio.sleep(0.5)
    consumer = AIOKafkaConsumer(
        topic,
        bootstrap_servers=broker,
        group_id=None,
        auto_offset_reset="earliest",
        enable_auto_commit=False,
        isolation_level=isolation,
    )
    await consumer.start()
    try:
        while time.monotonic() < deadline and not until(records):
            batch = await consumer.getmany(timeout_ms=500)
            for partition_records in batch.values():
                records.extend(partition_records)
    finally:
        await stop_consumer(consumer)
    return records


async def _partitions(broker: str, topic: str) -> int:
    async with admin_client(broker) as admin:
        if topic not in await admin.list_topics():
            return 0
        [description] = await admin.describe_topics([topic])
        return len(description["partitions"])


def partition_count(broker: str, topic: str) -> int:
    return asyncio.run(_partitions(broker, topic))


async def read_all(
    broker: str,
    topic: str,
    partitions: int = PARTITIONS,
    isolation: str = "read_uncommitted",
) -> Records:
    """Every record of `topic` up to its end offsets now (partitions 0..partitions-1); with
    `isolation="read_committed"`, the committed ones up to the last stable offset."""
    assigned = [TopicPartition(topic, p) for p in range(partitions)]
    consumer = AIOKafkaConsumer(
        bootstrap_servers=broker,
        enable_auto_commit=False,
        auto_offset_reset="earliest",
        max_partition_fetch_bytes=4 << 20,
        isolation_level=isolation,
    )
    await consumer.start()
    try:
        consumer.assign(assigned)
        end = await consumer.end_offsets(assigned)
        await consumer.seek_to_beginning(*assigned)
        remaining = {tp for tp in assigned if end[tp] > 0}
        records: Records = []
        while remaining:
            batch = await consumer.getmany(*remaining, timeout_ms=1000)
            for tp, fetched in batch.items():
                records.extend(record for record in fetched if record.offset < end[tp])
            for tp in list(remaining):
                if await consumer.position(tp) >= end[tp]:
                    remaining.discard(tp)
    finally:
        await stop_consumer(consumer)
    return records


def read_to_end(
    broker: str, topic: str, isolation: str = "read_uncommitted", timeout: float = 30
) -> Records:
    """Every record `topic` holds now (none before it exists), read as `isolation` says: what a
    reader polling for a state needs, without waiting for records that may never come."""
    return asyncio.run(asyncio.wait_for(_read_to_end(broker, topic, isolation), timeout))


async def _read_to_end(broker: str, topic: str, isolation: str) -> Records:
    partitions = await _partitions(broker, topic)
    if partitions == 0:
        return []
    return await read_all(broker, topic, partitions, isolation)
