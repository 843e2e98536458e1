"""Fetched messages handed to their streams' queues without a task or a future per message.

Faust 0.15.3's Fetcher (`Consumer._drain_messages`) awaits, for each message,
`wait_first(callback(message), suspend_flow.wait())`: four futures, then the conductor's handler
takes a lock, waits for the flow and the producer buffer, and awaits the decoding, although
none of these waits in the common case. A `Route` does the same work without awaiting when
nothing would have to wait: `Delivery.route` checks once for a partition's run of fetched
messages that the flow is active, the producer buffer is not over its limit, no rebalance is
updating the conductor's routing and some channel is subscribed (the Fetcher asks again after
anything it awaits); `Route.put` then puts each message on its queues when every one has room and
the message decodes. Otherwise the Fetcher takes Faust's own path, which waits, or reports a
decode error to the channel.
"""

from collections.abc import Callable
from typing import Any, cast

from faust import Schema
from faust.exceptions import KeyDecodeError, ValueDecodeError
from faust.transport.conductor import Conductor
from faust.types import TP, AppT, EventT, Message, SchemaT, TopicT
from mode.utils.queues import ThrowableQueue


class Route:
    """A partition's subscribed queues, for as long as nothing the Fetcher awaits changes them."""

    def __init__(
        self,
        app: AppT,
        channels: list[TopicT],
        raw_bytes: Callable[[SchemaT[Any, Any]], bool],
        callbacks: tuple[Callable[[], None], Callable[[], None]],
    ) -> None:
        self._app = app
        self._queues: list[ThrowableQueue[EventT[Any]]] = [channel.queue for channel in channels]
        # As the conductor: channels of the same key and value types share one event. Per
        # type: a channel to decode with and whether its schema takes the bytes as they are.
        self._decoders: list[tuple[TopicT, bool]] = []
        self._event_of_channel: list[int] = []
        types: dict[tuple[Any, Any], int] = {}
        for channel in channels:
            key = (channel.key_type, channel.value_type)
            if key not in types:
                types[key] = len(self._decoders)
                self._decoders.append((channel, raw_bytes(channel.schema)))
            self._event_of_channel.append(types[key])
        self._on_pressure_high, self._on_pressure_drop = callbacks

    def put(self, message: Message) -> bool:
        """Put `message` on every queue if each has room and it decodes; False if not."""
        queues = self._queues
        for queue in queues:
            if queue.full():
                return False
        events = []
        for channel, raw_bytes in self._decoders:
            event = self._decoded(channel, raw_bytes, message)
            if event is None:
                return False
            events.append(event)
        message.incref(len(queues))
        on_pressure_high, on_pressure_drop = self._on_pressure_high, self._on_pressure_drop
        for queue, index in zip(queues, self._event_of_channel, strict=True):
            queue.put_nowait_enhanced(
                events[index], on_pressure_high=on_pressure_high, on_pressure_drop=on_pressure_drop
            )
        return True

    def _decoded(self, channel: TopicT, raw_bytes: bool, message: Message) -> EventT[Any] | None:
        app = self._app
        if raw_bytes:
            # What the schema would return through four layers of codec calls: the bytes as is.
            return app.create_event(message.key, message.value, message.headers, message)
        schema = channel.schema
        try:
            key = schema.loads_key(app, message, loads=app.serializers.loads_key)
            if message.value is None and schema.allow_empty:
                value = None
            else:
                value = schema.loads_value(app, message, loads=app.serializers.loads_value)
        except (KeyDecodeError, ValueDecodeError):
            return None  # Faust's own path reports it to the channel
        return app.create_event(key, value, message.headers, message)


class Delivery:
    """Delivers a consumer's messages to the queues of the channels subscribed to them."""

    def __init__(self, app: AppT) -> None:
        self._app = app
        self._conductor = cast(Conductor, app.topics)
        self._pressure_callbacks: dict[TP, tuple[Callable[[], None], Callable[[], None]]] = {}
        self._raw_bytes: dict[SchemaT[Any, Any], bool] = {}  # per schema: `_takes_raw_bytes`

    def route(self, tp: TP) -> Route | None:
        """Where `tp`'s messages go while nothing has to wait; None if something would."""
        conductor = self._conductor
        app = self._app
        if (
            conductor._tp_to_callback_lock.locked()
            or not app.flow_control.is_active()
            or app.producer.buffer.size > app.producer.buffer.max_messages
        ):
            return None
        channels = conductor._tp_index.get(tp)
        if not channels:
            return None
        return Route(app, list(channels), self._takes_raw_bytes, self._pressure_callbacks_of(tp))

    def _takes_raw_bytes(self, schema: SchemaT[Any, Any]) -> bool:
        """Faust's own schema decoding bytes keys and values with the `raw` codec, which
        returns the bytes it is given (None stays None)."""
        raw_bytes = self._raw_bytes.get(schema)
        if raw_bytes is None:
            serializers = self._app.serializers
            raw_bytes = self._raw_bytes[schema] = (
                type(schema) is Schema
                and schema.key_type is bytes
                and schema.value_type is bytes
                and (schema.key_serializer or serializers.key_serializer) == "raw"
                and (schema.value_serializer or serializers.value_serializer) == "raw"
            )
        return raw_bytes

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
