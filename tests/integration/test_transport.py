"""What aiokafka's Fetcher does with an assigned partition nobody asks for, on a real broker: the
behaviour weather_app.faust_internals.transport works around by pausing the tables' changelog
partitions in aiokafka once Faust has paused them in its own bookkeeping."""

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition

from tests.harness.kafka import create_topics
from tests.integration.support import unique_name


@asynccontextmanager
async def assigned(broker: str, *tps: TopicPartition) -> AsyncIterator[AIOKafkaConsumer]:
    consumer = AIOKafkaConsumer(
        bootstrap_servers=broker, group_id=None, enable_auto_commit=False, fetch_max_wait_ms=10
    )
    await consumer.start()
    try:
        consumer.assign(list(tps))
        await consumer.seek_to_beginning(*tps)
        yield consumer
    finally:
        await consumer.stop()


async def one_record_each(broker: str, *tps: TopicPartition) -> None:
    producer = AIOKafkaProducer(bootstrap_servers=broker, acks="all")
    await producer.start()
    try:
        for tp in tps:
            await producer.send_and_wait(tp.topic, b"value", partition=tp.partition)
    finally:
        await producer.stop()


async def fetch_only(consumer: AIOKafkaConsumer, asked: TopicPartition, seconds: float) -> int:
    """Take the records of `asked` alone, as Faust's consumer thread does, for `seconds`."""
    taken = 0
    deadline = asyncio.get_running_loop().time() + seconds
    while asyncio.get_running_loop().time() < deadline:
        fetched = await consumer._fetcher.fetched_records({asked}, timeout=0.1)
        taken += sum(len(records) for records in fetched.values())
    return taken


async def test_aiokafka_keeps_the_fetched_records_of_a_partition_not_asked_for(kafka_broker):
    topic = unique_name("fetcher")
    await create_topics(kafka_broker, [topic])
    asked, other = TopicPartition(topic, 0), TopicPartition(topic, 1)
    async with assigned(kafka_broker, asked, other) as consumer:
        await one_record_each(kafka_broker, asked, other)
        assert await fetch_only(consumer, asked, 2.0) == 1
        # Fetched and never taken, for as long as the assignment lasts; while such records are
        # younger than `prefetch_backoff` the Fetcher sends no fetch to their broker at all.
        assert other in consumer._fetcher._records
        assert consumer._fetcher._prefetch_backoff == 0.1


async def test_aiokafka_does_not_fetch_a_paused_partition(kafka_broker):
    topic = unique_name("fetcher")
    await create_topics(kafka_broker, [topic])
    asked, other = TopicPartition(topic, 0), TopicPartition(topic, 1)
    async with assigned(kafka_broker, asked, other) as consumer:
        consumer.pause(other)
        await one_record_each(kafka_broker, asked, other)
        assert await fetch_only(consumer, asked, 2.0) == 1
        assert other not in consumer._fetcher._records
        consumer.resume(other)
        assert await fetch_only(consumer, other, 2.0) == 1
