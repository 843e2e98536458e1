"""The Prometheus sensor with cached label children and batch counting: the same figures."""

from typing import Any, cast

import faust
from faust.sensors.base import Sensor
from faust.sensors.prometheus import FaustMetrics, PrometheusMonitor
from faust.types import TP
from faust.types.tuples import ConsumerMessage
from prometheus_client import CollectorRegistry, Counter, generate_latest

from weather_app.faust_internals.sensors import (
    BatchPrometheusMonitor,
    CachedLabels,
    report_messages_in,
    serve_prometheus_metrics,
)

RAW = TP("raw", 3)


def messages(count: int, tp: TP = RAW) -> list[ConsumerMessage]:
    return [
        ConsumerMessage(tp.topic, tp.partition, offset, 0.0, 0, None, b"k", b"v", None)
        for offset in range(10, 10 + count)
    ]


def exposition(registry: CollectorRegistry) -> list[str]:
    return sorted(
        line
        for line in generate_latest(registry).decode().splitlines()
        if not line.startswith("#") and "_created" not in line
    )


def test_a_child_is_looked_up_once_and_again_after_faust_removes_it():
    registry = CollectorRegistry()
    cached = CachedLabels(Counter("sent", "help", ["topic"], registry=registry))
    child = cached.labels(topic="raw")
    assert cached.labels(topic="raw") is child
    cached.remove("raw")  # as Faust does for a partition's metrics at a rebalance
    cached.labels(topic="raw").inc(2)
    assert registry.get_sample_value("sent_total", {"topic": "raw"}) == 2.0


def test_a_batch_is_counted_as_faust_counts_each_of_its_messages():
    per_message_registry, batch_registry = CollectorRegistry(), CollectorRegistry()
    per_message = PrometheusMonitor(metrics=FaustMetrics.create(per_message_registry, "app"))
    batch = BatchPrometheusMonitor(metrics=FaustMetrics.create(batch_registry, "app"))
    for message in messages(5):
        per_message.on_message_in(RAW, message.offset, message)
    batch.on_messages_in(RAW, messages(5))
    assert exposition(batch_registry) == exposition(per_message_registry)
    assert batch.messages_received_total == per_message.messages_received_total == 5
    assert batch.messages_active == 5
    assert batch.messages_received_by_topic == per_message.messages_received_by_topic
    assert batch.tp_read_offsets == per_message.tp_read_offsets == {RAW: 14}


def test_the_app_serves_faust_s_metrics_through_the_batch_sensor():
    app = faust.App("app", broker="kafka://127.0.0.1:9", store="memory://")
    serve_prometheus_metrics(app, name_prefix="weather_test_sensors")
    monitor = app.monitor
    assert isinstance(monitor, BatchPrometheusMonitor)
    assert isinstance(monitor._metrics.messages_received_per_topics, CachedLabels)
    assert not isinstance(monitor._metrics.messages_received, CachedLabels)  # no labels
    assert "/metrics" in app.web.views


def test_other_sensors_still_hear_of_each_message():
    app = faust.App("app", broker="kafka://127.0.0.1:9", store="memory://")
    heard: list[tuple[TP, int]] = []

    class Recorder(Sensor):
        def on_message_in(self, tp: TP, offset: int, message: Any) -> None:
            heard.append((tp, offset))

    batches: list[int] = []

    class Batches(BatchPrometheusMonitor):
        def on_messages_in(self, tp: TP, messages: Any) -> None:
            batches.append(len(messages))

    app.sensors.add(Recorder())
    app.sensors.add(Batches(metrics=cast(Any, None)))
    report_messages_in(app, RAW, messages(3))
    assert heard == [(RAW, 10), (RAW, 11), (RAW, 12)]
    assert batches == [3]
