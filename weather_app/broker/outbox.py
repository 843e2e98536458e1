"""Every record a batch produces is delivered before the batch's readings are acknowledged.

The enrich agent sends a batch's enriched records, dead letters, re-keyed readings and table
changelog records through an `Outbox`, then waits for `deliver()`. A record the producer reports
failed (the broker refused it, or it stayed undelivered past WEATHER_PRODUCER_TIMEOUT) is sent
again after a pause that doubles up to `MAX_PAUSE_SECONDS`, for as long as it takes, with a
warning each time: nothing is acknowledged, so no offset is committed past it. Under exactly-once
a failed send dooms the Kafka transaction it belongs to, so `deliver()` raises `DeliveryFailed`
instead and the worker stops (the transaction aborts, the batch is read again).
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


class Outbox:
    def __init__(
        self,
        producer: Producer,
        *,
        retry: bool,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self._producer = producer
        self._retry = retry
        self._sleep = sleep
        self._sent: list[tuple[OutgoingRecord, Awaitable[Any] | BaseException]] = []

    async def send(self, record: OutgoingRecord) -> None:
        try:
            result: Awaitable[Any] | BaseException = await self._producer.send(
                record.topic, record.key, record.value, record.partition, None, None
            )
        except Exception as error:  # e.g. no metadata for the topic within the timeout
            result = error
        self._sent.append((record, result))

    async def deliver(self) -> None:
        """Return once the broker has acknowledged every record sent, else raise."""
        pause = FIRST_PAUSE_SECONDS
        while True:
            failed = await self._undelivered()
            if not failed:
                self._sent.clear()
                return
            error = failed[0][1]
            summary = f"{len(failed)} of {len(self._sent)} records not delivered ({error!r})"
            if not self._retry:
                raise DeliveryFailed(summary) from error
            delivery_retries.inc(len(failed))
            logger.warning(
                "%s; sending them again in %.1fs (their readings stay unacknowledged until then)",
                summary,
                pause,
            )
            await self._sleep(pause)
            pause = min(pause * 2, MAX_PAUSE_SECONDS)
            self._sent.clear()
            for record, _ in failed:
                await self.send(record)

    async def _undelivered(self) -> list[tuple[OutgoingRecord, BaseException]]:
        with contextlib.suppress(Exception):  # each record's own result says what failed
            await self._producer.flush()
        failed = []
        for record, result in self._sent:
            if isinstance(result, BaseException):
                failed.append((record, result))
                continue
            try:
                await result
            except Exception as error:
                failed.append((record, error))
        return failed
