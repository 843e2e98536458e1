"""`Delivery.route`: where a partition's fetched messages go, put on their streams' queues without
awaiting."""

import asyncio
from typing import Any

import faust
import pytest
from faust.types import TP
from faust.types.tuples import ConsumerMessage

from weather_app.faust_internals import transport
from weather_app.faust_internals.delivery import Delivery

RAW = TP("raw", 0)


@pytest.fixture
def app() -> faust.App:
    app = faust.App("app", broker="kafka://127.0.0.1:9", store="memory://")
    app.transport = transport.Transport(app.conf.broker_consumer, app)
    app.flow_control.resume()
    return app


async def subscribed(app: faust.App, *channels: Any) -> list[Any]:
    """Iterators of `channels` subscribed to RAW, as agents' streams are once assigned."""
    iterators = [aiter(channel) for channel in channels]
    await app.topics.on_partitions_assigned({RAW})
    return iterators


def deliver_now(delivery: Delivery, tp: TP, message: ConsumerMessage) -> bool:
    route = delivery.route(tp)
    return route is not None and route.put(message)


def message(offset: int = 0, value: bytes | None = b'{"t": 1}') -> ConsumerMessage:
    return ConsumerMessage(RAW.topic, RAW.partition, offset, 0.0, 0, None, b"k", value, None)


async def test_each_subscribed_queue_gets_the_decoded_event_at_once(app):
    as_bytes = app.topic(RAW.topic, key_type=bytes, value_type=bytes, value_serializer="raw")
    as_json = app.topic(RAW.topic, key_type=bytes, value_serializer="json")
    raw_it, json_it = await subscribed(app, as_bytes, as_json)
    fetched = message()
    assert deliver_now(Delivery(app), RAW, fetched)
    [raw_event] = raw_it.queue._queue
    [json_event] = json_it.queue._queue
    assert raw_event.value == b'{"t": 1}'
    assert json_event.value == {"t": 1}
    assert raw_event.message is json_event.message is fetched
    assert fetched.refcount == 2  # acked once by each stream before it counts as acked


async def test_raw_bytes_skip_the_codecs_and_arrive_as_fetched(app, monkeypatch):
    raw_bytes = app.topic(RAW.topic, key_type=bytes, value_type=bytes, value_serializer="raw")
    [iterator] = await subscribed(app, raw_bytes)

    def decoded(*args: Any, **kwargs: Any) -> Any:
        raise AssertionError("the raw codec returns the bytes as is: nothing to decode")

    monkeypatch.setattr(raw_bytes.schema, "loads_key", decoded)
    monkeypatch.setattr(raw_bytes.schema, "loads_value", decoded)
    fetched, tombstone = message(), message(offset=1, value=None)
    delivery = Delivery(app)
    assert deliver_now(delivery, RAW, fetched)
    assert deliver_now(delivery, RAW, tombstone)
    first, second = iterator.queue._queue
    assert (first.key, first.value, first.message) == (b"k", b'{"t": 1}', fetched)
    assert first.key is fetched.key
    assert first.value is fetched.value
    assert (second.value, second.message) == (None, tombstone)


async def test_a_channel_with_another_codec_or_type_still_decodes_through_its_schema(app):
    as_text = app.topic(RAW.topic, key_type=bytes, value_type=str, value_serializer="raw")
    as_json = app.topic(RAW.topic, key_type=bytes, value_type=bytes, value_serializer="json")
    text_it, json_it = await subscribed(app, as_text, as_json)
    assert deliver_now(Delivery(app), RAW, message())
    assert text_it.queue._queue[0].value == '{"t": 1}'
    assert json_it.queue._queue[0].value == {"t": 1}


async def test_channels_of_the_same_types_share_one_event(app):
    first, second = await subscribed(
        app, app.topic(RAW.topic, value_type=bytes), app.topic(RAW.topic, value_type=bytes)
    )
    assert deliver_now(Delivery(app), RAW, message())
    assert first.queue._queue[0] is second.queue._queue[0]


async def test_whatever_would_wait_or_report_an_error_is_left_to_faust(app, monkeypatch):
    [iterator] = await subscribed(app, app.topic(RAW.topic, value_serializer="json"))
    delivery = Delivery(app)
    assert not deliver_now(delivery, RAW, message(value=b"{not json"))  # Faust reports it
    assert not deliver_now(delivery, TP("other", 0), message())  # nobody subscribed
    async with app.topics._tp_to_callback_lock:  # a rebalance is rerouting
        assert not deliver_now(delivery, RAW, message())
    monkeypatch.setattr(app.flow_control, "is_active", lambda: False)
    assert not deliver_now(delivery, RAW, message())
    monkeypatch.undo()
    monkeypatch.setattr(app.producer.buffer, "max_messages", -1)  # tables' buffer over its limit
    assert not deliver_now(delivery, RAW, message())
    monkeypatch.undo()
    monkeypatch.setattr(iterator.queue, "full", lambda: True)
    assert not deliver_now(delivery, RAW, message())
    assert iterator.queue.empty()


async def test_a_queue_under_pressure_holds_its_partition_back_until_it_drains(app):
    [iterator] = await subscribed(app, app.topic(RAW.topic, value_type=bytes, maxsize=10))
    consumer = app.consumer
    consumer._active_partitions = {RAW}
    route = Delivery(app).route(RAW)  # one route for the partition's run, as the Fetcher's
    assert route is not None
    for offset in range(iterator.queue.pressure_high_size + 1):
        assert route.put(message(offset))
    assert RAW not in consumer._get_active_partitions()
    while not iterator.queue.empty():
        iterator.queue.get_nowait()
    await asyncio.sleep(0)
    assert RAW in consumer._get_active_partitions()
