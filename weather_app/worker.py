"""The worker class `faust -A weather_app worker` runs: Faust's, plus broker checks up front."""

import socket
import sys
import time
from typing import NoReturn

import faust
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import KafkaError

from weather_app.app import settings
from weather_app.settings import Settings

TOPIC_ALREADY_EXISTS = 36


class BrokerUnavailable(ConnectionError):
    pass


def wait_for_broker(addresses: str, wait_seconds: float) -> None:
    """Return once one bootstrap address accepts a TCP connection, else raise BrokerUnavailable."""
    targets = []
    for address in addresses.removeprefix("kafka://").split(";"):
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


async def declare_topics(settings: Settings, replication_factor: int) -> None:
    """Create the raw and enriched topics with our partition count if they do not exist.

    Done before the consumer subscribes: a topic created after the first rebalance would only
    be picked up at the next metadata refresh, minutes later.
    """
    admin = AIOKafkaAdminClient(
        bootstrap_servers=settings.kafka_broker.removeprefix("kafka://").replace(";", ",")
    )
    await admin.start()
    try:
        response = await admin.create_topics(
            [
                NewTopic(name, settings.partitions, replication_factor)
                for name in (settings.raw_topic, settings.enriched_topic)
            ]
        )
    finally:
        await admin.close()
    for name, code, *detail in response.topic_errors:
        if code not in (0, TOPIC_ALREADY_EXISTS):
            raise BrokerUnavailable(f"cannot create topic {name}: error {code} {detail}")


async def prepare_broker(settings: Settings, replication_factor: int) -> None:
    """Wait for the broker and declare our topics, or raise BrokerUnavailable saying why."""
    wait_for_broker(settings.kafka_broker, settings.broker_wait_seconds)
    try:
        await declare_topics(settings, replication_factor)
    except KafkaError as error:
        raise BrokerUnavailable(f"Kafka at {settings.kafka_broker} refused: {error}") from None


def exit_unusable_broker(error: BrokerUnavailable) -> NoReturn:
    print(f"weather-speed-layer: {error}", file=sys.stderr)
    raise SystemExit(1)


class WeatherWorker(faust.Worker):
    def execute_from_commandline(self) -> NoReturn:
        try:
            self.loop.run_until_complete(
                prepare_broker(settings, self.app.conf.topic_replication_factor)
            )
        except BrokerUnavailable as error:
            exit_unusable_broker(error)
        super().execute_from_commandline()
