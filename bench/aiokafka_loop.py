"""The plain loop, no Faust: aiokafka getmany -> the enrichment -> send; flush and commit per batch.

Run as `python -m bench.aiokafka_loop BROKER RAW_TOPIC OUT_TOPIC GROUP` until SIGTERM. Delivery
as the agent's: acks=all, offsets committed only after the batch's output is acknowledged.
"""

import asyncio
import signal
import sys
from typing import Any

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer

from bench.workload import Enricher


async def main(broker: str, raw_topic: str, out_topic: str, group: str) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    enrich = Enricher()
    consumer = AIOKafkaConsumer(
        raw_topic,
        bootstrap_servers=broker,
        group_id=group,
        auto_offset_reset="earliest",
        enable_auto_commit=False,
    )
    producer = AIOKafkaProducer(bootstrap_servers=broker, acks="all")
    await consumer.start()
    await producer.start()
    try:
        while not stop.is_set():
            batch = await consumer.getmany(timeout_ms=200)
            if not batch:
                continue
            pending: list[asyncio.Future[Any]] = []
            for records in batch.values():
                for record in records:
                    out = enrich(record.value)
                    if out is not None:
                        key, value = out
                        pending.append(await producer.send(out_topic, value=value, key=key))
            await asyncio.gather(*pending)
            await consumer.commit()
    finally:
        await producer.stop()
        await consumer.stop()


if __name__ == "__main__":
    broker_, raw_, out_, group_ = sys.argv[1:5]
    asyncio.run(main(broker_, raw_, out_, group_))
