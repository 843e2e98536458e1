"""The app's topics: wait for the broker, create them where missing, wait for their leaders,
check their partitions."""

import asyncio
import socket
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any, NamedTuple

from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import CoordinatorNotAvailableError, KafkaTimeoutError

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
    settings: Settings,
    changelogs: Sequence[str],
    leader_topic: str,
    wait_seconds: float = 30.0,
) -> list[str]:
    """Create the app's topics, table changelogs and leader topic included, where missing, and
    return once the broker serves them (`wait_until_served`).

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
        topics = app_topics(settings, changelogs, leader_topic, brokers)
        response = await admin.create_topics(topics)
        created = []
        for name, code, *detail in response.topic_errors:
            if code == 0:
                created.append(name)
            elif code != TOPIC_ALREADY_EXISTS:
                raise BrokerUnavailable(f"cannot create topic {name}: error {code} {detail}")
        await wait_until_served(admin, settings, [topic.name for topic in topics], wait_seconds)
    finally:
        await admin.close()
    return created


async def wait_until_served(
    admin: AIOKafkaAdminClient, settings: Settings, topics: list[str], wait_seconds: float
) -> None:
    """Return once the broker serves what a first start asks for at once: a leader for every
    partition of `topics`, answering for its offsets, and a coordinator for the app's group.

    On a fresh broker these come a moment after the topics (the group coordinator only once the
    group's first request has created `__consumer_offsets`). A client asking before then logs
    `[ERROR] Failed fetch offsets ... NotLeaderForPartitionError` or `Group Coordinator Request
    failed` and retries: expected and harmless, but it reads as broken on a first start.
    """
    deadline = time.monotonic() + wait_seconds
    while True:
        described = await admin.describe_topics(topics)
        if not (waiting := leaderless_partitions(described, topics)):
            break
        await _retry_until(
            deadline, wait_seconds, f"{len(waiting)} partitions {_named(waiting)} without a leader"
        )
    while True:
        try:
            await admin.find_coordinator(settings.stream.app_id)
            break
        except CoordinatorNotAvailableError:
            await _retry_until(
                deadline, wait_seconds, f"group {settings.stream.app_id} without a coordinator"
            )
    partitions = partitions_of(described)
    consumer = AIOKafkaConsumer(
        bootstrap_servers=settings.kafka.bootstrap_servers,
        group_id=None,
        request_timeout_ms=max(1, int((deadline - time.monotonic()) * 1000)),
    )
    await consumer.start()
    try:
        await consumer.end_offsets(partitions)  # retries quietly while a leader is not ready
    except KafkaTimeoutError:
        raise BrokerUnavailable(
            f"the partitions of {len(topics)} topics do not answer for their offsets after "
            f"{wait_seconds:g}s; check the broker's log"
        ) from None
    finally:
        await consumer.stop()


async def _retry_until(deadline: float, wait_seconds: float, still: str) -> None:
    if time.monotonic() >= deadline:
        raise BrokerUnavailable(f"{still} after {wait_seconds:g}s; check the broker's log")
    await asyncio.sleep(0.1)


def _named(names: list[str]) -> str:
    return f"({', '.join(names[:3])}{', ...' if len(names) > 3 else ''})"


def partitions_of(
    descriptions: list[dict[str, Any]],
    where: Callable[[dict[str, Any]], bool] = lambda partition: True,
) -> list[TopicPartition]:
    """Every partition of the topics in a metadata answer (`describe_topics`), or those whose
    description is `where`."""
    return [
        TopicPartition(description["topic"], partition["partition"])
        for description in descriptions
        for partition in description["partitions"]
        if where(partition)
    ]


def leaderless_partitions(descriptions: list[dict[str, Any]], topics: list[str]) -> list[str]:
    """`topic[partition]` for each partition without a leader in a metadata answer, and `topic`
    for each topic the answer does not show (yet) or shows without partitions."""
    described = {
        description["topic"]: description
        for description in descriptions
        if description["error_code"] == 0 and description["partitions"]
    }
    waiting = [topic for topic in topics if topic not in described]
    for topic in topics:
        waiting += [
            f"{topic}[{partition['partition']}]"
            for partition in described.get(topic, {"partitions": []})["partitions"]
            if not _led(partition)
        ]
    return waiting


def _led(partition: dict[str, Any]) -> bool:
    """Whether a partition of a metadata answer has a leader (which answers for its offsets)."""
    return bool(partition["error_code"] == 0 and partition["leader"] >= 0)


async def check_partitions(settings: Settings) -> None:
    """A city's home partition is computed with WEATHER_PARTITIONS: the raw topic must have as
    many, or every reading would be taken for one on the wrong partition."""
    admin = AIOKafkaAdminClient(bootstrap_servers=settings.kafka.bootstrap_servers)
    await admin.start()
    try:
        [description] = await admin.describe_topics([settings.stream.raw_topic])
    finally:
        await admin.close()
    found = len(description["partitions"])
    if found != settings.stream.partitions:
        raise BrokerUnavailable(
            f"topic {settings.stream.raw_topic} has {found} partitions but WEATHER_PARTITIONS is "
            f"{settings.stream.partitions}: set WEATHER_PARTITIONS={found}"
        )


class TopicSize(NamedTuple):
    name: str
    partitions: int
    # Offsets the topic keeps (end minus start, summed over its partitions with a leader): its
    # records, plus the commit markers of transactions under exactly_once.
    messages: int
    # `topic[partition]` of each partition without a leader: nothing answers for its offsets.
    leaderless: tuple[str, ...] = ()


def topic_sizes(
    starts: Mapping[TopicPartition, int],
    ends: Mapping[TopicPartition, int],
    leaderless: Sequence[TopicPartition] = (),
) -> list[TopicSize]:
    """Each topic's partitions and kept messages, by name, from its partitions' offsets (none
    for those `leaderless`)."""
    partitions: dict[str, int] = {}
    messages: dict[str, int] = {}
    unled: dict[str, list[str]] = {}
    for partition, end in ends.items():
        partitions[partition.topic] = partitions.get(partition.topic, 0) + 1
        messages[partition.topic] = messages.get(partition.topic, 0) + end - starts[partition]
    for partition in leaderless:
        partitions[partition.topic] = partitions.get(partition.topic, 0) + 1
        messages.setdefault(partition.topic, 0)
        unled.setdefault(partition.topic, []).append(f"{partition.topic}[{partition.partition}]")
    return [
        TopicSize(name, partitions[name], messages[name], tuple(unled.get(name, ())))
        for name in sorted(partitions)
    ]


async def list_topics(bootstrap_servers: str, timeout_seconds: float = 40.0) -> list[TopicSize]:
    """Every topic on the cluster with its partitions and kept messages (no consumer group).

    Partitions without a leader are named, not asked for their offsets (aiokafka would retry
    until its timeout); BrokerUnavailable if the others do not answer within `timeout_seconds`.
    """
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap_servers)
    await admin.start()
    try:
        descriptions = await admin.describe_topics(await admin.list_topics())
    finally:
        await admin.close()
    led = partitions_of(descriptions, _led)
    leaderless = partitions_of(descriptions, lambda partition: not _led(partition))
    consumer = AIOKafkaConsumer(
        bootstrap_servers=bootstrap_servers,
        group_id=None,
        request_timeout_ms=int(timeout_seconds * 1000),
    )
    await consumer.start()
    try:
        # Assigned (and paused: nothing is fetched), every topic is in the consumer's metadata
        # at once. Unassigned, aiokafka's offset request learns of one more topic per retry
        # (100 ms backoff each): 400 topics took past its 40 s timeout.
        consumer.assign(led)
        consumer.pause(*led)
        starts = await consumer.beginning_offsets(led)
        ends = await consumer.end_offsets(led)
    except KafkaTimeoutError:
        raise BrokerUnavailable(
            f"the brokers did not answer for the offsets of {len(led)} partitions within "
            f"{timeout_seconds:g}s; check their logs"
        ) from None
    finally:
        await consumer.stop()
    return topic_sizes(starts, ends, leaderless)
