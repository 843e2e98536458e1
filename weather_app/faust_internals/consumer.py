"""Stopping a plain aiokafka consumer whose fetches are failing.

aiokafka 0.14's `Fetcher.close` cancels each fetch task it holds and awaits it. A fetch whose
request failed (the broker gone, its node refusing connections) sleeps its retry back-off inside
its `except KafkaError` handler, which its own `except CancelledError` does not cover. Cancelled
there, the task ends cancelled, and `consumer.stop()` raises that cancellation before it has
closed the consumer's connections. It is the fetch's cancellation, not the caller's: taken for
the caller's, it ended a replay that had lost its broker as if it had been interrupted.
"""

import asyncio

from aiokafka import AIOKafkaConsumer

from weather_app.faust_internals.cancellation import caller_cancelled


async def stop_consumer(consumer: AIOKafkaConsumer) -> None:
    """`consumer.stop()`, finished when a failing fetch's cancellation escapes it."""
    try:
        await consumer.stop()
    except asyncio.CancelledError:
        if caller_cancelled():
            raise
        fetches = consumer._fetcher._pending_tasks
        for fetch in fetches:
            fetch.cancel()
        await asyncio.gather(*fetches, return_exceptions=True)
        await consumer._client.close()
