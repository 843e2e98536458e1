"""The app's topics: wait for the broker, create them where missing, check their partitions."""

import asyncio
import socket
import time
from collections.abc import Mapping, Sequence
from typing import NamedTuple

from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient, NewTopic

from weather_app.errors import BrokerUnavailable
from weather_app.settings import Settings, broker_addresses

TOPIC_ALREADY_EXISTS = 36
CHANGELOG_SEGMENT_MS = 3_600_000


def wait_for_broker(addresses: str, wait_seconds: float) -> None:
    """Return once one bootstrap address accepts a TCP connection, else raise BrokerUnavailable."""
    targets = []
    for address in broker_addresses(addresses):
        host, _, port_text = address.rpartition(":")
        targets.append((host, int(port_text)))
    deadline = time.monotonic() + wait_seconds
    while True:
        for host, port in targets:
            try:
                with socket.create_connection((host, port), timeout=2.0):
                    return
            except OSError:
                pass
        if time.monotonic() >= deadline:
            raise BrokerUnavailable(
                f"cannot reach the Kafka broker at {addresses} (waited {wait_seconds:.0f}s): "
                "start one with `make kafka-up` or point KAFKA_BROKER at a running broker"
            )
        time.sleep(1.0)


class Replication(NamedTuple):
    factor: int
    min_insync_replicas: int


def replication_for(brokers: int) -> Replication:
    """How many copies of each partition the app's topics keep on a cluster of `brokers`.

    Three where there are three brokers or more, of which two must hold a record before the
    broker acknowledges it (producers send with acks=all): a broker may die without losing an
    acknowledged record and without stopping writes. Fewer brokers cannot hold three copies, and
    requiring two of two would stop every write while one of them is down.
    """
    factor = min(3, brokers)
    return Replication(factor, 2 if factor == 3 else 1)


def app_topics(
    settings: Settings, changelogs: Sequence[str], leader_topic: str, brokers: int = 1
) -> list[NewTopic]:
    """Every topic the app reads or writes, with its partition count and configuration: the
    settings' topics, the tables' `changelogs` and Faust's `leader_topic`.

    `brokers`: how many the cluster has, which sets the replication (`replication_for`).
    """
    replication, min_insync_replicas = replication_for(brokers)
    replicated = {"min.insync.replicas": str(min_insync_replicas)}
    topics = [
        NewTopic(name, settings.stream.partitions, replication, topic_configs=replicated)
        for name in (
            settings.stream.raw_topic,
            settings.stream.enriched_topic,
            settings.stream.dlq_topic,
            settings.stream.alerts_topic,
        )
    ]
    for changelog in changelogs:
        topics.append(
            NewTopic(
                changelog,
                settings.stream.partitions,
                replication,
                # A worker restarting or taking over a partition replays its changelog: hourly
                # segments let the broker compact it down to ~one record per city within the
                # hour, where the default week-long segment keeps every write for days.
                topic_configs={
                    **replicated,
                    "cleanup.policy": "compact",
                    "segment.ms": str(CHANGELOG_SEGMENT_MS),
                },
            )
        )
    # Faust's leader election topic: the worker assigned its one partition runs the on_leader
    # timers. Faust creates it as the worker starts; when the first rebalance does not see it yet,
    # no worker runs the ingest timer for minutes.
    topics.append(NewTopic(leader_topic, 1, replication, topic_configs=replicated))
    return topics


async def declare_topics(
    settings: Settings, changelogs: Sequence[str], leader_topic: str
) -> list[str]:
    """Create the app's topics, table changelogs and leader topic included, where missing.

    Done before the consumer subscribes: Faust would create them too, but a topic created after
    the first rebalance is only seen at the next metadata refresh, minutes later, and until then
    the agent crashes over a changelog "with 0 partitions" or never gets the source topic.
    Their replication follows the number of brokers the cluster has now; Faust, finding every
    topic there, never creates one with its own `topic_replication_factor`. Returns the names of
    the topics it created.
    """
    admin = AIOKafkaAdminClient(bootstrap_servers=settings.kafka.bootstrap_servers)
    await admin.start()
    try:
        brokers = len((await admin.describe_cluster())["brokers"])
        response = await admin.create_topics(
            app_topics(settings, changelogs, leader_topic, brokers)
        )
    finally:
        await admin.close()
    created = []
    for name, code, *detail in response.topic_errors:
        if code == 0:
            created.append(name)
        elif code != TOPIC_ALREADY_EXISTS:
            raise BrokerUnavailable(f"cannot create topic {name}: error {code} {detail}")
    return created


async def check_partitions(settings: Settings, wait_seconds: float = 10.0) -> None:
    """A city's home partition is computed with WEATHER_PARTITIONS: the raw topic must have as
    many, or every reading would be taken for one on the wrong partition.

    A topic created a moment ago can still show no partitions while its metadata spreads.
    """
    deadline = time.monotonic() + wait_seconds
    admin = AIOKafkaAdminClient(bootstrap_servers=settings.kafka.bootstrap_servers)
    await admin.start()
    try:
        while True:
            [description] = await admin.describe_topics([settings.stream.raw_topic])
            found = len(description["partitions"])
            if found or time.monotonic() >= deadline:
                break
            await asyncio.sleep(0.2)
    finally:
        await admin.close()
    if found != settings.stream.partitions:
        raise BrokerUnavailable(
            f"topic {settings.stream.raw_topic} has {found} partitions but WEATHER_PARTITIONS is "
            f"{settings.stream.partitions}: set WEATHER_PARTITIONS={found}"
        )


class TopicSize(NamedTuple):
    name: str
    partitions: int
    # Offsets the topic keeps (end minus start, summed over its partitions): its records, plus
    # the commit markers of transactions under exactly_once.
    messages: int


def topic_sizes(
    starts: Mapping[TopicPartition, int], ends: Mapping[TopicPartition, int]
) -> list[TopicSize]:
    """Each topic's partitions and kept messages, by name, from its partitions' offsets."""
    partitions: dict[str, int] = {}
    messages: dict[str, int] = {}
    for partition, end in ends.items():
        partitions[partition.topic] = partitions.get(partition.topic, 0) + 1
        messages[partition.topic] = messages.get(partition.topic, 0) + end - starts[partition]
    return [TopicSize(name, partitions[name], messages[name]) for name in sorted(partitions)]


async def list_topics(bootstrap_servers: str) -> list[TopicSize]:
    """Every topic on the cluster with its partitions and kept messages (no consumer group)."""
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap_servers)
    await admin.start()
    try:
        descriptions = await admin.describe_topics(await admin.list_topics())
    finally:
        await admin.close()
    partitions = [
        TopicPartition(description["topic"], partition["partition"])
        for description in descriptions
        for partition in description["partitions"]
    ]
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap_servers, group_id=None)
    await consumer.start()
    try:
        starts = await consumer.beginning_offsets(partitions)
        ends = await consumer.end_offsets(partitions)
    finally:
        await consumer.stop()
    return topic_sizes(starts, ends)
