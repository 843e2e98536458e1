"""Fetched messages handed to their streams' queues without a task or a future per message.

Faust 0.15.3's Fetcher (`Consumer._drain_messages`) awaits, for each message,
`wait_first(callback(message), suspend_flow.wait())`: four futures, then the conductor's handler
takes a lock, waits for the flow and the producer buffer, and awaits the decoding, although
none of these waits in the common case. `deliver_now` does the same work without awaiting when
nothing would have to wait: the flow is active, the producer buffer is not over its limit, no
rebalance is updating the conductor's routing, every receiving queue has room and the message
decodes. Otherwise it returns False and the Fetcher takes Faust's own path, which waits, or
reports a decode error to the channel.
"""

from collections.abc import Callable
from typing import Any, cast

from faust import Schema
from faust.exceptions import KeyDecodeError, ValueDecodeError
from faust.transport.conductor import Conductor
from faust.types import TP, AppT, EventT, Message, SchemaT, TopicT
from mode.utils.queues import ThrowableQueue


class Delivery:
    """Delivers a consumer's messages to the queues of the channels subscribed to them."""

    def __init__(self, app: AppT) -> None:
        self._app = app
        self._conductor = cast(Conductor, app.topics)
        self._pressure_callbacks: dict[TP, tuple[Callable[[], None], Callable[[], None]]] = {}
        self._raw_bytes: dict[SchemaT[Any, Any], bool] = {}  # per schema: `_takes_raw_bytes`

    def deliver_now(self, tp: TP, message: Message) -> bool:
        """Put `message` on its channels' queues if that needs no waiting; False if it does."""
        conductor = self._conductor
        app = self._app
        if (
            conductor._tp_to_callback_lock.locked()
            or not app.flow_control.is_active()
            or app.producer.buffer.size > app.producer.buffer.max_messages
        ):
            return False
        channels = conductor._tp_index.get(tp)
        if not channels:
            return False
        queues: list[ThrowableQueue[EventT[Any]]] = [channel.queue for channel in channels]
        if any(queue.full() for queue in queues):
            return False
        events: list[EventT[Any]] = []
        by_types: dict[tuple[Any, Any], EventT[Any]] = {}
        for channel in channels:
            # As the conductor: channels of the same key and value types share one event.
            types = (channel.key_type, channel.value_type)
            event = by_types.get(types)
            if event is None:
                decoded = self._decoded(channel, message)
                if decoded is None:
                    return False
                event = by_types[types] = decoded
            events.append(event)
        on_pressure_high, on_pressure_drop = self._pressure_callbacks_of(tp)
        message.incref(len(queues))
        for queue, event in zip(queues, events, strict=True):
            queue.put_nowait_enhanced(
                event, on_pressure_high=on_pressure_high, on_pressure_drop=on_pressure_drop
            )
        return True

    def _decoded(self, channel: TopicT, message: Message) -> EventT[Any] | None:
        app = self._app
        schema = channel.schema
        raw_bytes = self._raw_bytes.get(schema)
        if raw_bytes is None:
            raw_bytes = self._raw_bytes[schema] = self._takes_raw_bytes(schema)
        if raw_bytes:
            # What the schema would return through four layers of codec calls: the bytes as is.
            return app.create_event(message.key, message.value, message.headers, message)
        try:
            key = schema.loads_key(app, message, loads=app.serializers.loads_key)
            if message.value is None and schema.allow_empty:
                value = None
            else:
                value = schema.loads_value(app, message, loads=app.serializers.loads_value)
        except (KeyDecodeError, ValueDecodeError):
            return None  # Faust's own path reports it to the channel
        return app.create_event(key, value, message.headers, message)

    def _takes_raw_bytes(self, schema: SchemaT[Any, Any]) -> bool:
        """Faust's own schema decoding bytes keys and values with the `raw` codec, which
        returns the bytes it is given (None stays None)."""
        serializers = self._app.serializers
        return (
            type(schema) is Schema
            and schema.key_type is bytes
            and schema.value_type is bytes
            and (schema.key_serializer or serializers.key_serializer) == "raw"
            and (schema.value_serializer or serializers.value_serializer) == "raw"
        )

    def _pressure_callbacks_of(self, tp: TP) -> tuple[Callable[[], None], Callable[[], None]]:
        # The queues remember the drop callback by identity: one pair per partition, as Faust's.
        callbacks = self._pressure_callbacks.get(tp)
        if callbacks is None:
            tp = TP(tp.topic, tp.partition)  # the Fetcher's is aiokafka's; Faust asserts its own
            consumer = self._app.consumer
            on_topic_buffer_full = self._app.sensors.on_topic_buffer_full

            def on_pressure_high() -> None:
                on_topic_buffer_full(tp)
                consumer.on_buffer_full(tp)

            def on_pressure_drop() -> None:
                consumer.on_buffer_drop(tp)

            callbacks = self._pressure_callbacks[tp] = (on_pressure_high, on_pressure_drop)
        return callbacks
