"""What `stop_consumer` works around in aiokafka, pinned with its own Fetcher: a fetch that failed
and sleeps its retry back-off, cancelled by `Fetcher.close`, makes `consumer.stop()` raise that
cancellation before the connections are closed."""

import asyncio
from collections.abc import AsyncIterator
from types import SimpleNamespace
from typing import Any

import pytest
from aiokafka import AIOKafkaConsumer
from aiokafka.consumer.fetcher import Fetcher
from aiokafka.errors import NodeNotReadyError

from weather_app.faust_internals.consumer import stop_consumer

A_FETCH_OF_PARTITION_0 = SimpleNamespace(topics=[("raw", [(0, 0, 1_048_576)])])


class FailingConsumer(SimpleNamespace):
    consumer: AIOKafkaConsumer
    fetches: "list[asyncio.Task[Any]]"
    closed_client: asyncio.Event


@pytest.fixture
async def failing() -> AsyncIterator[FailingConsumer]:
    """A consumer whose two fetches found their nodes refusing connections and sleep their
    back-off: `Fetcher.close` raises at the first it awaits and never reaches the second."""
    consumer = AIOKafkaConsumer(bootstrap_servers="127.0.0.1:9", retry_backoff_ms=60_000)
    client = consumer._client
    closed_client = asyncio.Event()

    async def node_refuses(node_id: int, request: Any) -> None:
        raise NodeNotReadyError(node_id)

    async def close() -> None:
        closed_client.set()

    client.send = node_refuses
    client.close = close
    fetcher = Fetcher(client, consumer._subscription, retry_backoff_ms=60_000)
    consumer._fetcher = fetcher
    await asyncio.sleep(0)  # its loop clears the fetches it holds, then waits for an assignment
    fetches = [
        asyncio.ensure_future(fetcher._proc_fetch_request(None, node, A_FETCH_OF_PARTITION_0))
        for node in (1, 2)
    ]
    fetcher._pending_tasks.update(fetches)
    await asyncio.sleep(0)  # each fails and sleeps its back-off
    yield FailingConsumer(consumer=consumer, fetches=fetches, closed_client=closed_client)
    for fetch in fetches:
        fetch.cancel()
    consumer._closed = True


async def test_aiokafka_raises_the_cancelled_fetch_s_cancellation_from_stop(
    failing: FailingConsumer,
) -> None:
    # If this fails, aiokafka no longer lets the fetch's cancellation out: stop_consumer's
    # `except` is not needed any more.
    with pytest.raises(asyncio.CancelledError):
        await failing.consumer.stop()
    assert [fetch.cancelled() for fetch in failing.fetches].count(True) == 1
    assert not failing.closed_client.is_set()


async def test_stop_consumer_takes_the_fetch_s_cancellation_and_closes_the_connections(
    failing: FailingConsumer,
) -> None:
    await stop_consumer(failing.consumer)
    assert all(fetch.cancelled() for fetch in failing.fetches)
    assert failing.closed_client.is_set()


async def test_stop_consumer_lets_its_caller_s_own_cancellation_through(
    failing: FailingConsumer,
) -> None:
    stopping = asyncio.ensure_future(stop_consumer(failing.consumer))
    # In Fetcher.close, awaiting its fetch loop: aiokafka swallows this cancellation there, and
    # the first fetch's comes out of stop() while the caller has been asked to stop.
    await asyncio.sleep(0)
    stopping.cancel()
    with pytest.raises(asyncio.CancelledError):
        await stopping
    assert not failing.closed_client.is_set()
