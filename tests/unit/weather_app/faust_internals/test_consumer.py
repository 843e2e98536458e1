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
    fetch: "asyncio.Task[Any]"
    closed_client: asyncio.Event


@pytest.fixture
async def failing() -> AsyncIterator[FailingConsumer]:
    """A consumer whose one fetch found its node refusing connections and sleeps its back-off."""
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
    fetch = asyncio.ensure_future(fetcher._proc_fetch_request(None, 1, A_FETCH_OF_PARTITION_0))
    fetcher._pending_tasks.add(fetch)
    await asyncio.sleep(0)  # it fails and sleeps its back-off
    yield FailingConsumer(consumer=consumer, fetch=fetch, closed_client=closed_client)
    fetch.cancel()
    consumer._closed = True


async def test_aiokafka_raises_the_cancelled_fetch_s_cancellation_from_stop(
    failing: FailingConsumer,
) -> None:
    # If this fails, aiokafka no longer lets the fetch's cancellation out: stop_consumer's
    # `except` is not needed any more.
    with pytest.raises(asyncio.CancelledError):
        await failing.consumer.stop()
    assert failing.fetch.cancelled()
    assert not failing.closed_client.is_set()


async def test_stop_consumer_takes_the_fetch_s_cancellation_and_closes_the_connections(
    failing: FailingConsumer,
) -> None:
    await stop_consumer(failing.consumer)
    assert failing.fetch.cancelled()
    assert failing.closed_client.is_set()


async def test_stop_consumer_lets_its_caller_s_own_cancellation_through(
    failing: FailingConsumer,
) -> None:
    stopping = asyncio.ensure_future(stop_consumer(failing.consumer))
    await asyncio.sleep(0)  # in Fetcher.close, awaiting the fetch
    stopping.cancel()
    with pytest.raises(asyncio.CancelledError):
        await stopping
    assert not failing.closed_client.is_set()
