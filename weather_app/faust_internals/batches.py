"""An agent's events a batch at a time, without Faust's per-event stream machinery.

`Stream.take_events` (faust-streaming 0.15.3) moves each event through the stream iterator on
its own: one event-loop turn (`await sleep(0)`), the stream's sensors and a buffer processor per
event, and a timer task per batch. `take_batches` takes the events the consumer has already
queued for the stream's channel in one step, and does per event only what Faust's iterator does
that offsets depend on: it skips events of an earlier consumer generation or taken while the
flow is stopped (a rebalance seeks their partitions back to the committed offsets), and tracks
the rest as unacknowledged, so that the consumer commits past none of them before they are
acknowledged (`ack_when_handled`) and waits for them when it stops; the sensors hear of them a
partition's batch at a time (weather_app.faust_internals.sensors). `acknowledge` acks a batch's
events in one step.
"""

import asyncio
from collections.abc import AsyncIterator, Sequence
from typing import Any, cast

from faust import Stream, StreamT
from faust.types import TP, EventT, Message
from faust.types.tuples import ConsumerMessage, ack_lock
from mode.utils.futures import maybe_async, notify
from mode.utils.queues import ThrowableQueue

from weather_app.faust_internals.sensors import report_messages_in


async def take_batches(
    stream: StreamT[Any], max_events: int, within: float
) -> AsyncIterator[list[EventT[Any]]]:
    """Batches of at most `max_events` of `stream`'s events, each acknowledged by the caller.

    A batch holds what is queued once its first event arrives; when that is fewer than
    `max_events`, it waits up to `within` seconds for more.
    """
    app = stream.app
    channel = aiter(stream.channel)  # as Faust's stream: subscribes the topic
    queue = cast(ThrowableQueue[EventT[Any]], cast(Any, channel).queue)
    unacked = app.consumer.unacked
    flow_control = app.flow_control
    acking_topics = app.topics.acking_topics
    processors = cast(Stream[Any], stream)._processors
    while not stream.should_stop:
        try:
            events = await _next_events(queue, max_events, within)
        except StopAsyncIteration:  # Faust throws it into the queue when the stream stops
            return
        generation = app.consumer_generation_id
        current = (
            [event for event in events if event.message.generation_id == generation]
            if flow_control.is_active()
            else []
        )
        arrived: dict[TP, list[Message]] = {}
        for event in current:
            message = event.message
            if message.topic in acking_topics and not message.tracked:
                message.tracked = True
                unacked.add(message)
                arrived.setdefault(message.tp, []).append(message)
            for processor in processors:  # none in the worker; Faust's test wrapper adds one
                await maybe_async(processor(event.value))
        for tp, messages in arrived.items():
            report_messages_in(app, tp, messages)
        if current:
            yield current


async def _next_events(
    queue: ThrowableQueue[EventT[Any]], max_events: int, within: float
) -> list[EventT[Any]]:
    events = [await queue.get()]
    _take_queued(queue, events, max_events)
    if within and len(events) < max_events:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + within
        while len(events) < max_events and (remaining := deadline - loop.time()) > 0:
            try:
                events.append(await asyncio.wait_for(queue.get(), remaining))
            except TimeoutError:
                break
            _take_queued(queue, events, max_events)
    return events


def _take_queued(
    queue: ThrowableQueue[EventT[Any]], events: list[EventT[Any]], max_events: int
) -> None:
    while len(events) < max_events and not queue.empty():
        events.append(queue.get_nowait())


def acknowledge(events: Sequence[EventT[Any]]) -> None:
    """`event.ack()` for each of `events`, as one step.

    Per event, Faust's `Event.ack` -> `Message.ack` -> `ConsumerMessage.on_final_ack` ->
    `Consumer.ack` takes the reentrant `ack_lock` three times and wakes the consumer's ack waiter;
    here the lock is taken and the waiter woken once a batch, and each `ConsumerMessage` gets the
    same bookkeeping: its reference dropped, and on the last one marked acked and its offset
    recorded as safe to commit (unless its topic is not acked or the offset is below the committed
    one). The transport's messages are `ConsumerMessage`s and it does not override `Consumer.ack`
    (both pinned in the unit tests); any other message is acked by Faust as before.
    """
    if not events:
        return
    consumer = cast(Any, events[0].app.consumer)
    acks_enabled_for = consumer.app.topics.acks_enabled_for
    committed_offsets = consumer._committed_offset
    acked_indexes = consumer._acked_index
    acked_offsets = consumer._acked
    unacked = consumer._unacked_messages
    with ack_lock:
        for event in events:
            message = event.message
            if type(message) is not ConsumerMessage:  # e.g. an agent's test context
                message.ack(consumer)
                continue
            if message.acked:
                continue
            message.refcount = max(message.refcount - 1, 0)
            if message.refcount:
                continue
            message.acked = True
            tp, offset = message.tp, message.offset
            if not acks_enabled_for(message.topic):
                continue
            committed = committed_offsets[tp]
            if committed is None or offset >= committed:
                acked_index = acked_indexes[tp]
                if offset not in acked_index:
                    unacked.discard(message)
                    acked_index.add(offset)
                    acked_offsets[tp].append(offset)
                    consumer._n_acked += 1
        notify(consumer._waiting_for_ack)
