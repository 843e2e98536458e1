"""Every record a batch produces is delivered before the batch's readings are acknowledged.

The enrich agent sends a batch's enriched records, dead letters, re-keyed readings and table
changelog records through an `Outbox`, then waits for `deliver()`, which hands back where the
broker put each record (a persistent table store keeps its changelog offset). A record the
producer reports failed (the broker refused it, or it stayed undelivered past
WEATHER_PRODUCER_TIMEOUT) is sent again after a pause that doubles up to `MAX_PAUSE_SECONDS`,
for as long as it takes, with a warning each time: nothing is acknowledged, so no offset is
committed past it. Under exactly-once a failed send dooms the Kafka transaction it belongs to,
so `deliver()` raises `DeliveryFailed` instead and the worker stops (the transaction aborts,
the batch is read again).

A worker asked to stop gives up a batch that already failed once: sent again for as long as it
takes, it would keep the worker from stopping, since Faust's stop waits for every fetched reading
to be acknowledged. Once `stopping()` is true, `deliver()` raises `DeliveryFailed` within
`STOP_CHECK_SECONDS` of its pause or of a later flush (a send itself may wait up to the
producer's request timeout); the readings stay unacknowledged and are read again. A batch's
first flush is never given up: a worker stopping in good order finishes the batch in hand.
"""

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, Protocol

from weather_app.errors import DeliveryFailed
from weather_app.metrics import delivery_retries

logger = logging.getLogger(__name__)

FIRST_PAUSE_SECONDS = 0.5
MAX_PAUSE_SECONDS = 30.0
STOP_CHECK_SECONDS = 1.0


class Producer(Protocol):
    async def send(
        self,
        topic: str,
        key: bytes | None,
        value: bytes | None,
        partition: int | None,
        timestamp: float | None,
        headers: Any,
    ) -> Awaitable[Any]: ...

    async def flush(self) -> None: ...


@dataclass(frozen=True, slots=True)
class OutgoingRecord:
    topic: str
    key: bytes | None
    value: bytes | None
    partition: int | None = None  # None: the producer's partitioner picks it from the key
    headers: list[tuple[str, bytes]] | None = None


class Outbox:
    def __init__(
        self,
        producer: Producer,
        *,
        retry: bool,
        stopping: Callable[[], bool] = lambda: False,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self._producer = producer
        self._retry = retry
        self._stopping = stopping
        self._sleep = sleep
        self._sent: list[tuple[OutgoingRecord, Awaitable[Any] | BaseException]] = []

    async def send(self, record: OutgoingRecord) -> int:
        """Send `record`; its index in what `deliver()` returns."""
        self._sent.append((record, await self._send(record)))
        return len(self._sent) - 1

    async def _send(self, record: OutgoingRecord) -> Awaitable[Any] | BaseException:
        try:
            result: Awaitable[Any] = await self._producer.send(
                record.topic, record.key, record.value, record.partition, None, record.headers
            )
        except Exception as error:  # e.g. no metadata for the topic within the timeout
            return error
        return result

    async def deliver(self) -> list[Any]:
        """Once the broker has acknowledged every record sent, the producer's result of each
        (aiokafka's RecordMetadata), in the order they were sent; else raise."""
        pause = FIRST_PAUSE_SECONDS
        failed_before = False
        while True:
            delivered, failed = await self._results(give_up_when_stopping=failed_before)
            if not failed:
                self._sent.clear()
                return delivered
            error = failed[0][2]
            summary = f"{len(failed)} of {len(self._sent)} records not delivered ({error!r})"
            if not self._retry:
                raise DeliveryFailed(summary) from error
            delivery_retries.inc(len(failed))
            logger.warning(
                "%s; sending them again in %.1fs (their readings stay unacknowledged until then)",
                summary,
                pause,
            )
            failed_before = True
            await self._unless_stopping(self._sleep(pause), summary)
            pause = min(pause * 2, MAX_PAUSE_SECONDS)
            for index, record, _ in failed:
                self._sent[index] = (record, await self._send(record))

    async def _results(
        self, give_up_when_stopping: bool
    ) -> tuple[list[Any], list[tuple[int, OutgoingRecord, BaseException]]]:
        """Each record's delivery result (None if it failed), and (index, record, error) of each
        record that failed."""
        if give_up_when_stopping:
            await self._unless_stopping(self._flush(), f"{len(self._sent)} records sent")
        else:
            await self._flush()
        delivered: list[Any] = []
        failed = []
        for index, (record, result) in enumerate(self._sent):
            if isinstance(result, BaseException):
                failed.append((index, record, result))
                delivered.append(None)
                continue
            try:
                delivered.append(await result)
            except Exception as error:
                failed.append((index, record, error))
                delivered.append(None)
        return delivered, failed

    async def _flush(self) -> None:
        with contextlib.suppress(Exception):  # each record's own result says what failed
            await self._producer.flush()

    async def _unless_stopping(self, waiting: Awaitable[Any], summary: str) -> None:
        """Await `waiting`; raise DeliveryFailed instead once the worker is stopping."""
        task = asyncio.ensure_future(waiting)
        try:
            while not (await asyncio.wait({task}, timeout=STOP_CHECK_SECONDS))[0]:
                if self._stopping():
                    raise DeliveryFailed(
                        f"{summary}; the worker is stopping before the broker took them "
                        "(their readings stay unacknowledged and are read again)"
                    )
            task.result()
        finally:
            task.cancel()
