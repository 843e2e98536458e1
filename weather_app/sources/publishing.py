"""Publish a round of raw readings and account for every delivery.

All readings are sent first (a slice at a time, weather_app.sources.slices), then their
deliveries awaited together, so a round costs one round trip, not one per city. A reading whose
send or delivery failed is sent again after a jittered backoff while the retry still starts
within the round. Deliveries are awaited only until the round ends: the producer keeps retrying
those still in flight (up to its request timeout), and a callback accounts for them when they
settle, so the timer keeps its cadence through a broker outage. Every reading that ends
undelivered is counted in `weather_publish_failures_total{topic}` and named, with its error, in
one warning per round; every delivered one in `weather_published_records_total{topic}`.
"""

import asyncio
import functools
import logging
import random
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from models import RawReading
from weather_app import metrics
from weather_app.sources.backoff import RetryPolicy, backoff_schedule
from weather_app.sources.slices import in_slices

logger = logging.getLogger(__name__)

# Schedules one reading and returns what settles on its delivery (`weather_app.app.raw_sender`).
Send = Callable[[RawReading], Awaitable[Awaitable[Any]]]
PUBLISH_RETRIES = RetryPolicy(attempts=3)


@dataclass
class RoundResult:
    """What publishing a round's readings came to by the end of the round."""

    delivered: list[str] = field(default_factory=list)
    failed: dict[str, str] = field(default_factory=dict)  # city -> why, counted and logged
    in_flight: list[str] = field(default_factory=list)  # accounted when they settle


async def publish_round(
    readings: Sequence[RawReading],
    send: Send,
    *,
    topic: str,
    deadline: float,
    policy: RetryPolicy = PUBLISH_RETRIES,
    sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    rand: Callable[[], float] = random.random,
) -> RoundResult:
    """Publish `readings` with `send`, retrying failures until `deadline` (`time.monotonic`).

    Never raises for a failed send or delivery: it is retried, then counted and logged.
    """
    result = RoundResult()
    delays = backoff_schedule(policy, rand)
    pending = list(readings)
    errors: dict[str, BaseException] = {}
    in_flight: list[tuple[str, asyncio.Future[Any]]] = []
    for attempt in range(policy.attempts):
        errors = {}
        deliveries: list[tuple[str, asyncio.Future[Any]]] = []
        async for readings_slice in in_slices(pending):
            for reading in readings_slice:
                try:
                    delivery: asyncio.Future[Any] = asyncio.ensure_future(await send(reading))
                except Exception as error:  # the producer refused it
                    errors[reading.city] = error
                else:
                    deliveries.append((reading.city, delivery))
        if deliveries:
            await asyncio.wait([delivery for _, delivery in deliveries], timeout=_left(deadline))
        for city, delivery in deliveries:
            if not delivery.done():
                in_flight.append((city, delivery))
            elif (failure := _failure(delivery)) is not None:
                errors[city] = failure
            else:
                result.delivered.append(city)
        delay = delays[attempt] if attempt < len(delays) else None
        if not errors or delay is None or time.monotonic() + delay >= deadline:
            break
        logger.info("Retrying %d readings to %s in %.1fs", len(errors), topic, delay)
        await sleep(delay)
        retried = set(errors)
        pending = [reading for reading in pending if reading.city in retried]
    metrics.published_records.labels(topic=topic).inc(len(result.delivered))
    result.failed = {r.city: _describe(errors[r.city]) for r in readings if r.city in errors}
    _report(topic, result.failed, "after the retries that fit in the round")
    result.in_flight = [city for city, _ in in_flight]
    if in_flight:
        _LateDeliveries(topic, in_flight)
    return result


def _left(deadline: float) -> float:
    return max(0.0, deadline - time.monotonic())


def _failure(delivery: asyncio.Future[Any]) -> BaseException | None:
    if delivery.cancelled():
        return asyncio.CancelledError("delivery cancelled")
    return delivery.exception()


def _describe(error: BaseException) -> str:
    """The error with its type named once (Kafka's errors name it themselves)."""
    name, text = type(error).__name__, str(error)
    if not text:
        return name
    return text if name in text else f"{name}: {text}"


def _report(topic: str, failed: dict[str, str], when: str) -> None:
    """Count the undelivered readings and name them, grouped by error, in one warning."""
    if not failed:
        return
    metrics.publish_failures.labels(topic=topic).inc(len(failed))
    by_error: dict[str, list[str]] = {}
    for city, error in failed.items():
        by_error.setdefault(error, []).append(city)
    logger.warning(
        "Could not publish %d raw readings to %s %s: %s",
        len(failed),
        topic,
        when,
        "; ".join(f"{', '.join(cities)} ({error})" for error, cities in by_error.items()),
    )


class _LateDeliveries:
    """Deliveries still in flight when their round ended: reported together once all settle."""

    def __init__(self, topic: str, in_flight: list[tuple[str, asyncio.Future[Any]]]) -> None:
        self._topic = topic
        self._waiting = self._settling = len(in_flight)
        self._failed: dict[str, str] = {}
        for city, delivery in in_flight:
            delivery.add_done_callback(functools.partial(self._settled, city))

    def _settled(self, city: str, delivery: asyncio.Future[Any]) -> None:
        if (failure := _failure(delivery)) is not None:
            self._failed[city] = _describe(failure)
        self._waiting -= 1
        if self._waiting == 0:
            delivered = self._settling - len(self._failed)
            metrics.published_records.labels(topic=self._topic).inc(delivered)
            _report(self._topic, self._failed, "after the end of their round")
