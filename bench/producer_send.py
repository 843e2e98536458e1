"""The enrich agent's sends to aiokafka's producer in one process, without a broker.

`python -m bench.producer_send [--n N]` puts N records of an enriched reading's size, with the v2
headers, on a 6-partition topic's batches of an unstarted aiokafka producer whose metadata holds
the topic: once through aiokafka's `send`, once through `KafkaRecordSender` (the agent's sender,
weather_app.faust_internals.producer), and prints microseconds a record for each, best of five
interleaved runs. The batches are big enough to hold every record, so that nothing waits for a
sender.
"""

import argparse
import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import cast

from aiokafka import AIOKafkaProducer
from aiokafka.protocol.metadata import MetadataResponse_v0

from weather_app.faust_internals.producer import KafkaRecordSender

RUNS = 5
TOPIC, PARTITIONS = "v2", 6
VALUE = b"x" * 450  # about an encoded EnrichedReading
HEADERS = [("stale_after_seconds", b"20.0")]
BIG = 256 * 1024 * 1024


def producer_knowing_the_topic() -> AIOKafkaProducer:
    producer = AIOKafkaProducer(
        bootstrap_servers="127.0.0.1:9", max_batch_size=BIG, max_request_size=BIG
    )
    partitions = [(0, partition, 1, [1], [1]) for partition in range(PARTITIONS)]
    producer.client.cluster.update_metadata(
        MetadataResponse_v0(brokers=[(1, "127.0.0.1", 9)], topics=[(0, TOPIC, partitions)])
    )
    return producer


async def not_aiokafka_s(*args: object, **kwargs: object) -> None:
    raise RuntimeError("KafkaRecordSender sent a record through aiokafka's send")


async def us_a_record(keys: list[bytes], through_aiokafka: bool) -> float:
    producer = producer_knowing_the_topic()
    sender = KafkaRecordSender(producer)
    send: Callable[[bytes, int], Awaitable[object]]
    if through_aiokafka:

        def send(key: bytes, partition: int) -> Awaitable[object]:
            sent = producer.send(TOPIC, VALUE, key=key, partition=partition, headers=HEADERS)
            return cast(Awaitable[object], sent)

    else:
        producer.send = not_aiokafka_s  # else this would time aiokafka's send again

        def send(key: bytes, partition: int) -> Awaitable[object]:
            return sender.send(TOPIC, key, VALUE, partition, None, HEADERS)

    started = time.perf_counter()
    for index, key in enumerate(keys):
        await send(key, index % PARTITIONS)
    elapsed = time.perf_counter() - started
    producer._message_accumulator._batches.clear()  # never sent: no broker
    await producer.stop()
    return elapsed / len(keys) * 1e6


async def compare(n: int) -> tuple[float, float]:
    keys = [f'"city {index % 60}"'.encode() for index in range(n)]
    aiokafka_s, ours = [], []
    for _ in range(RUNS):
        aiokafka_s.append(await us_a_record(keys, through_aiokafka=True))
        ours.append(await us_a_record(keys, through_aiokafka=False))
    return min(aiokafka_s), min(ours)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=100_000, help="records (100000)")
    options = parser.parse_args()
    aiokafka_s, ours = asyncio.run(compare(options.n))
    print(f"aiokafka's send: {aiokafka_s:.2f} µs a record")
    print(f"KafkaRecordSender: {ours:.2f} µs a record")


if __name__ == "__main__":
    main()
