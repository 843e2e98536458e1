"""Faust's Prometheus sensor, made cheap enough for the per-message path.

Faust's `PrometheusMonitor` counts every message it is told of with four metric updates, each
label lookup checking names and values and taking a lock. Here the children of each labelled
metric are looked up once (`CachedLabels`), and a batch of one partition's messages is counted
with one update per metric (`BatchPrometheusMonitor.on_messages_in`): the same counts as
`on_message_in` per message, which `take_batches` no longer calls.
"""

from collections.abc import Sequence
from typing import Any, cast

from faust.sensors.prometheus import PrometheusMonitor, setup_prometheus_sensors
from faust.types import TP, AppT, Message
from prometheus_client.metrics import MetricWrapperBase


class CachedLabels:
    """A labelled metric whose `labels(**values)` returns each child from a cache.

    Faust removes the children of partitions at each rebalance (`remove`): that empties the
    cache, so that no removed child is updated in place of the metric's new one.
    """

    def __init__(self, metric: MetricWrapperBase) -> None:
        self.metric = metric
        self._children: dict[tuple[str, ...], MetricWrapperBase] = {}

    def labels(self, **values: Any) -> Any:
        # Each of Faust's call sites passes the same names in the same order.
        key = tuple(map(str, values.values()))
        child = self._children.get(key)
        if child is None:
            child = self._children[key] = self.metric.labels(**values)
        return child

    def remove(self, *values: Any) -> None:
        self._children.clear()
        self.metric.remove(*values)

    def clear(self) -> None:
        self._children.clear()
        self.metric.clear()

    def __getattr__(self, name: str) -> Any:  # collect() and the rest: the metric's own
        return getattr(self.metric, name)


class BatchPrometheusMonitor(PrometheusMonitor):
    def on_messages_in(self, tp: TP, messages: Sequence[Message]) -> None:
        """What `on_message_in` does for each of `messages`, all of `tp`, in offset order."""
        count, last = len(messages), messages[-1].offset
        now = self.time()
        for message in messages:
            message.time_in = now
        self.messages_received_total += count
        self.messages_active += count
        self.messages_received_by_topic[tp.topic] += count
        self.tp_read_offsets[tp] = last
        metrics = self._metrics
        metrics.messages_received.inc(count)
        metrics.active_messages.inc(count)
        metrics.messages_received_per_topics.labels(topic=tp.topic).inc(count)
        metrics.messages_received_per_topics_partition.labels(
            topic=tp.topic, partition=tp.partition
        ).set(last)


def serve_prometheus_metrics(app: AppT, name_prefix: str) -> None:
    """Faust's `setup_prometheus_sensors` (its metrics and `/metrics`), with the cheaper sensor."""
    setup_prometheus_sensors(app, name_prefix=name_prefix)
    metrics = cast(PrometheusMonitor, app.monitor)._metrics
    cached: dict[str, Any] = {
        name: CachedLabels(metric)
        for name, metric in metrics._asdict().items()
        if metric._labelnames
    }
    app.monitor = BatchPrometheusMonitor(metrics=metrics._replace(**cached))


def report_messages_in(app: AppT, tp: TP, messages: Sequence[Message]) -> None:
    """Tell the app's sensors of `messages` (all of `tp`): once for the batch where a sensor
    can count a batch, else once per message as Faust does."""
    for sensor in cast(Any, app.sensors)._sensors:
        if isinstance(sensor, BatchPrometheusMonitor):
            sensor.on_messages_in(tp, messages)
        else:
            for message in messages:
                sensor.on_message_in(tp, message.offset, message)
