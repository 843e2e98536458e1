"""`take_batches`: an agent's queued events a batch at a time, tracked as Faust's stream would."""

import asyncio
from collections.abc import AsyncIterator
from typing import Any, cast

import faust
import pytest
from aiokafka import ConsumerRecord
from faust.transport.consumer import Consumer
from faust.types import TP, EventT
from faust.types.tuples import ConsumerMessage

from weather_app.faust_internals import transport
from weather_app.faust_internals.batches import acknowledge, take_batches
from weather_app.faust_internals.sensors import BatchPrometheusMonitor

RAW = TP("raw", 0)


@pytest.fixture
def app() -> faust.App:
    app = faust.App("app", broker="kafka://127.0.0.1:9", store="memory://")
    app.transport = transport.Transport(app.conf.broker_consumer, app)
    app.flow_control.resume()  # suspended until a worker's first assignment
    return app


@pytest.fixture
def stream(app: faust.App) -> Any:
    topic = app.topic(RAW.topic, key_type=bytes, value_type=bytes)
    cast(Any, app.topics)._acking_topics.add(RAW.topic)  # as the conductor marks an agent's topic
    return topic.stream()


def event(app: faust.App, offset: int, generation: int = 0, tp: TP = RAW) -> EventT[Any]:
    message = ConsumerMessage(
        tp.topic, tp.partition, offset, 0.0, 0, None, b"k", b"v", None, generation_id=generation
    )
    return app.create_event(b"k", b"v", None, message)


async def next_batch(batches: AsyncIterator[list[EventT[Any]]]) -> list[EventT[Any]]:
    return await asyncio.wait_for(anext(batches), 1.0)


async def started(stream: Any, max_events: int, within: float) -> AsyncIterator[Any]:
    batches = take_batches(stream, max_events, within)
    waiting = asyncio.ensure_future(anext(batches))
    await asyncio.sleep(0)  # subscribed: puts now reach its queue

    async def rest() -> AsyncIterator[Any]:
        yield await asyncio.wait_for(waiting, 1.0)
        async for batch in batches:
            yield batch

    return rest()


async def test_a_batch_is_what_is_queued_up_to_the_maximum_in_order(app, stream):
    batches = await started(stream, max_events=3, within=0.0)
    events = [event(app, offset) for offset in range(5)]
    for each in events:
        await stream.channel.put(each)
    assert await next_batch(batches) == events[:3]
    assert await next_batch(batches) == events[3:]


async def test_a_batch_waits_within_its_window_for_more(app, stream):
    batches = await started(stream, max_events=10, within=0.2)
    first, second = event(app, 0), event(app, 1)
    await stream.channel.put(first)
    await asyncio.sleep(0.05)
    await stream.channel.put(second)
    assert await next_batch(batches) == [first, second]


async def test_events_of_an_earlier_generation_or_taken_while_the_flow_stops_are_skipped(
    app, stream, monkeypatch
):
    """A rebalance seeks their partitions back to the committed offsets: they come again."""
    batches = await started(stream, max_events=10, within=0.05)
    app.consumer_generation_id = 2
    stale, fresh = event(app, 0, generation=1), event(app, 1, generation=2)
    await stream.channel.put(stale)
    await stream.channel.put(fresh)
    assert await next_batch(batches) == [fresh]
    assert not stale.message.tracked
    assert stale.message not in app.consumer.unacked

    taken_while_stopped = event(app, 2, generation=2)
    await stream.channel.put(taken_while_stopped)  # queued before the flow stopped
    monkeypatch.setattr(app.flow_control, "is_active", lambda: False)
    with pytest.raises(TimeoutError):
        await next_batch(batches)
    assert not taken_while_stopped.message.tracked


async def test_taken_events_are_unacknowledged_until_acked_and_counted_once_per_partition(
    app, stream
):
    app.monitor = monitor = BatchPrometheusMonitor(metrics=cast(Any, None))
    counted: list[tuple[TP, int]] = []
    monitor.on_messages_in = lambda tp, messages: counted.append((tp, len(messages)))  # type: ignore[method-assign]
    app.sensors.add(monitor)
    batches = await started(stream, max_events=10, within=0.05)
    other = TP(RAW.topic, 1)
    events = [event(app, 0), event(app, 0, tp=other), event(app, 1)]
    for each in events:
        await stream.channel.put(each)
    batch = await next_batch(batches)
    assert batch == events
    assert {each.message for each in batch} <= app.consumer.unacked
    assert sorted(counted) == [(RAW, 2), (other, 1)]
    for each in batch:
        each.ack()
    assert all(each.message.acked for each in batch)


async def test_the_batches_end_when_the_stream_stops(app, stream):
    batches = take_batches(stream, 10, 0.0)
    waiting = asyncio.ensure_future(anext(batches))
    await asyncio.sleep(0)
    await stream.channel.throw(StopAsyncIteration())  # what Faust does when the stream stops
    with pytest.raises(StopAsyncIteration):
        await asyncio.wait_for(waiting, 1.0)


def a_batch_of_every_kind(app: faust.App, partition: int) -> list[EventT[Any]]:
    """Events on `partition` of RAW, and of a topic not acked, in each state `ack` meets."""
    consumer = cast(Any, app.consumer)
    consumer._committed_offset[TP(RAW.topic, partition)] = 1
    events = [event(app, offset, tp=TP(RAW.topic, partition)) for offset in range(6)]
    events.append(event(app, 6, tp=TP("not-acked", partition)))
    events.append(event(app, 5, tp=TP(RAW.topic, partition)))  # an offset acked already
    for each in events:
        each.message.refcount = 1
        consumer._unacked_messages.add(each.message)
    events[2].message.refcount = 2  # held by a second stream as well
    events[3].message.acked = True
    return events


def books(app: faust.App, partition: int, events: list[EventT[Any]]) -> Any:
    consumer = cast(Any, app.consumer)
    tp = TP(RAW.topic, partition)
    return (
        consumer._acked[tp],
        consumer._acked_index[tp],
        [(each.message.acked, each.message.refcount) for each in events],
        [each.message in consumer._unacked_messages for each in events],
    )


async def test_acknowledge_keeps_the_books_as_faust_acking_each_event_does(app):
    cast(Any, app.topics)._acking_topics.add(RAW.topic)
    consumer = cast(Any, app.consumer)
    by_faust, by_batch = a_batch_of_every_kind(app, 0), a_batch_of_every_kind(app, 1)
    for each in by_faust:
        each.ack()
    acked_by_faust = consumer._n_acked
    waiting = consumer._waiting_for_ack = asyncio.get_running_loop().create_future()
    acknowledge(by_batch)
    assert books(app, 1, by_batch) == books(app, 0, by_faust)
    assert consumer._n_acked == 2 * acked_by_faust == 6  # offsets 1, 4 and 5 of each
    assert waiting.done()  # a commit waiting for acks hears of them


def test_the_consumer_acks_and_makes_messages_as_acknowledge_expects(app):
    consumer = app.consumer
    assert type(consumer).ack is Consumer.ack
    record = ConsumerRecord(RAW.topic, 0, 7, 0, 0, b"k", b"v", None, 1, 1, ())
    message = cast(Any, consumer)._to_message(RAW, record)
    assert type(message) is ConsumerMessage
