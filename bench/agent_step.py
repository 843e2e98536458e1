"""The enrich agent's step in one process, without Kafka: what the agent adds to the enrichment.

`python -m bench.agent_step [--n N]` runs `agents.enrich.enrich_batch` on the benchmark's
readings (bench.workload, in the agent's batches of WEATHER_BATCH_SIZE) with a producer that
answers every send at once, and the plain loop's enrichment (`bench.workload.Enricher`) on the
same readings, and prints microseconds a reading for each, best of five runs. Their difference is
what the agent does beyond the enrichment, without Faust's consumer or aiokafka's producer: the
outbox, the v2 headers, the admission and home-partition checks, the tables and their changelog
records.
"""

import argparse
import asyncio
import os
import time
from collections import Counter
from collections.abc import Callable
from types import SimpleNamespace
from typing import Any

import orjson

from bench.workload import Enricher, readings

RUNS = 5


class AnsweringProducer:
    """Takes every record and answers at once, as a broker with no latency would; counts them
    by topic."""

    def __init__(self) -> None:
        self.sent: Counter[str] = Counter()

    async def send(self, topic: str, *record: Any) -> "asyncio.Future[None]":
        self.sent[topic] += 1
        answer: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        answer.set_result(None)
        return answer

    async def flush(self) -> None:
        pass


def best_of(runs: int, run: Callable[[], float]) -> float:
    return min(run() for _ in range(runs))


async def agent_step_us(values: list[bytes]) -> float:
    """Microseconds a reading of `enrich_batch`, best of RUNS."""
    from faust.types import TP

    from agents import enrich
    from models.codec import encode_key
    from weather_app.app import history, last_seen, settings
    from weather_app.rules.partitioning import home_partition

    producer = AnsweringProducer()

    async def record_sender(app: object) -> AnsweringProducer:
        return producer

    enrich.record_sender = record_sender  # type: ignore[attr-defined]
    # As the worker's producer once it knows the enriched topic (its partition is never hashed).
    enrich.known_partitions = lambda app, topic: settings.stream.partitions  # type: ignore[attr-defined]
    raw, size = settings.stream.raw_topic, settings.stream.batch_size
    events = []
    for offset, value in enumerate(values):
        key = encode_key(orjson.loads(value)["city"])
        partition = home_partition(key, settings.stream.partitions)
        message = SimpleNamespace(
            topic=raw,
            partition=partition,
            tp=TP(raw, partition),
            key=key,
            offset=offset,
            timestamp=time.time(),
        )
        events.append(SimpleNamespace(message=message, value=value))
    batches = [events[start : start + size] for start in range(0, len(events), size)]
    timings = []
    for _ in range(RUNS):
        for table in (history, last_seen):  # each run from empty tables, as the first
            table.data.clear()
        producer.sent.clear()
        started = time.perf_counter()
        for batch in batches:
            await enrich.enrich_batch(batch)  # type: ignore[arg-type]
        timings.append((time.perf_counter() - started) / len(values) * 1e6)
        enriched = producer.sent[settings.stream.enriched_topic]
        if enriched != len(values):  # else it timed another path (dead letters, re-keying)
            raise RuntimeError(f"{enriched} of {len(values)} readings enriched: {producer.sent}")
    return min(timings)


def enrichment_us(values: list[bytes]) -> float:
    """Microseconds a reading of the plain loop's enrichment, best of RUNS."""

    def run() -> float:
        enrich = Enricher()
        started = time.perf_counter()
        for value in values:
            enrich(value)
        return (time.perf_counter() - started) / len(values) * 1e6

    return best_of(RUNS, run)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=60_000, help="readings (60000)")
    options = parser.parse_args()
    # As the benchmark's workers run: no live source, the workload's 60 cities accepted, the
    # default store and guarantee (the answering producer stands in for neither RocksDB's offsets
    # nor transactions).
    os.environ.update(
        WEATHER_SOURCE="none",
        WEATHER_ACCEPT_UNKNOWN_CITIES="1",
        WEATHER_STORE="memory",
        WEATHER_PROCESSING_GUARANTEE="at_least_once",
    )
    values = [value for _, value in readings(options.n)]
    agent = asyncio.run(agent_step_us(values))
    plain = enrichment_us(values)
    print(f"enrich_batch: {agent:.1f} µs a reading")
    print(f"the enrichment alone (the plain loop's): {plain:.1f} µs a reading")
    print(f"what the agent adds: {agent - plain:.1f} µs a reading")


if __name__ == "__main__":
    main()
