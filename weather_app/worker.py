"""The worker class `faust -A weather_app worker` runs: Faust's, plus broker checks up front."""

import asyncio
import gc
import os
import socket
import sys
import time
from typing import NamedTuple, NoReturn, cast

import faust
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import KafkaError
from faust.assignor.leader_assignor import LeaderAssignor

from weather_app.app import app, settings
from weather_app.settings import Settings, broker_addresses
from weather_app.tables import remove_stray_entries

TOPIC_ALREADY_EXISTS = 36
CHANGELOG_SEGMENT_MS = 3_600_000


class BrokerUnavailable(ConnectionError):
    pass


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


def app_topics(settings: Settings, brokers: int = 1) -> list[NewTopic]:
    """Every topic the app reads or writes, with its partition count and configuration.

    `brokers`: how many the cluster has, which sets the replication (`replication_for`).
    """
    replication, min_insync_replicas = replication_for(brokers)
    replicated = {"min.insync.replicas": str(min_insync_replicas)}
    topics = [
        NewTopic(name, settings.partitions, replication, topic_configs=replicated)
        for name in (
            settings.raw_topic,
            settings.enriched_topic,
            settings.dlq_topic,
            settings.alerts_topic,
        )
    ]
    for table in app.tables.values():
        changelog = table.changelog_topic
        topics.append(
            NewTopic(
                changelog.get_topic_name(),
                changelog.partitions or settings.partitions,
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
    # no worker runs the ingest timer for minutes. Its name is Faust's (a private attribute).
    leader_topic = cast(LeaderAssignor, app._leader_assignor)._leader_topic_name
    topics.append(NewTopic(leader_topic, 1, replication, topic_configs=replicated))
    return topics


async def declare_topics(settings: Settings) -> list[str]:
    """Create the app's topics, table changelogs and leader topic included, where missing.

    Done before the consumer subscribes: Faust would create them too, but a topic created after
    the first rebalance is only seen at the next metadata refresh, minutes later, and until then
    the agent crashes over a changelog "with 0 partitions" or never gets the source topic.
    Their replication follows the number of brokers the cluster has now; Faust, finding every
    topic there, never creates one with its own `topic_replication_factor`. Returns the names of
    the topics it created.
    """
    admin = AIOKafkaAdminClient(bootstrap_servers=settings.bootstrap_servers)
    await admin.start()
    try:
        brokers = len((await admin.describe_cluster())["brokers"])
        response = await admin.create_topics(app_topics(settings, brokers))
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
    admin = AIOKafkaAdminClient(bootstrap_servers=settings.bootstrap_servers)
    await admin.start()
    try:
        while True:
            [description] = await admin.describe_topics([settings.raw_topic])
            found = len(description["partitions"])
            if found or time.monotonic() >= deadline:
                break
            await asyncio.sleep(0.2)
    finally:
        await admin.close()
    if found != settings.partitions:
        raise BrokerUnavailable(
            f"topic {settings.raw_topic} has {found} partitions but WEATHER_PARTITIONS is "
            f"{settings.partitions}: set WEATHER_PARTITIONS={found}"
        )


async def prepare_broker(settings: Settings) -> list[str]:
    """Wait for the broker, declare our topics and clean the changelogs, or raise
    BrokerUnavailable saying why.

    Returns the names of the topics created.
    """
    wait_for_broker(settings.kafka_broker, settings.broker_wait_seconds)
    try:
        created = await declare_topics(settings)
        await check_partitions(settings)
        changelogs = [table.changelog_topic.get_topic_name() for table in app.tables.values()]
        removed = await remove_stray_entries(
            settings.bootstrap_servers, changelogs, settings.partitions
        )
    except TimeoutError as error:
        raise BrokerUnavailable(f"Kafka at {settings.kafka_broker} is too slow: {error}") from None
    except KafkaError as error:
        raise BrokerUnavailable(f"Kafka at {settings.kafka_broker} refused: {error}") from None
    if removed:  # before Faust sets up logging: a line of our own
        print(
            f"weather-speed-layer: removed {removed} stray table entries "
            "(keys on another changelog partition than their own)",
            file=sys.stderr,
        )
    return created


def exit_with(message: str, code: int = 1) -> NoReturn:
    """Stop the process with one line on stderr: what is wrong and what to do."""
    print(f"weather-speed-layer: {message}", file=sys.stderr)
    raise SystemExit(code)


def stop_worker(reason: str) -> NoReturn:
    """Exit at once, non-zero, with one line saying `reason`: for a batch that could not be
    completed.

    Nothing more is committed: a graceful stop would first wait for the batch's unacknowledged
    readings (forever), and under exactly_once commit what the other transactions hold. The
    batch's offsets were never committed, so the worker that takes its partitions (after the
    session timeout) reads it again; an open transaction is aborted when its producer is next
    started.
    """
    print(f"weather-speed-layer: worker stopped: {reason}; start it again", file=sys.stderr)
    sys.stderr.flush()
    os._exit(1)


class WeatherWorker(faust.Worker):
    def execute_from_commandline(self) -> NoReturn:
        try:
            self.loop.run_until_complete(prepare_broker(settings))
        except BrokerUnavailable as error:
            exit_with(str(error))
        super().execute_from_commandline()

    async def on_startup_finished(self) -> None:
        await super().on_startup_finished()
        freeze_startup_objects()


def freeze_startup_objects() -> None:
    """Keep the objects made while starting out of the garbage collector's full collections.

    Python's full collections walk every tracked object; the ~100,000 that Faust, aiokafka and the
    modules leave behind at startup made each one stall the event loop for 40-90 ms, the largest
    stalls in the latency benchmark. They live as long as the worker, so there is nothing to find
    among them (the documented use of `gc.freeze`).
    """
    gc.collect()
    gc.freeze()
