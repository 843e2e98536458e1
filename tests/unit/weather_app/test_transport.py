from types import SimpleNamespace
from typing import Any

import faust
import pytest
from faust.transport.drivers import aiokafka as faust_aiokafka
from faust.types import TP

from weather_app.transport import ConsumerThread, Transport

CHANGELOG, RAW = TP("app-history-changelog", 0), TP("app-raw", 1)
FETCHED = {
    CHANGELOG: [SimpleNamespace(offset=3), SimpleNamespace(offset=4)],
    RAW: [SimpleNamespace(offset=7)],
}


class KafkaConsumer:
    def __init__(self) -> None:
        self.seeks: list[tuple[TP, int]] = []

    def seek(self, tp: TP, offset: int) -> None:
        self.seeks.append((tp, offset))


@pytest.fixture
def thread(monkeypatch: pytest.MonkeyPatch) -> ConsumerThread:
    async def fetch(*args: Any, **kwargs: Any) -> Any:
        return FETCHED

    monkeypatch.setattr(faust_aiokafka.AIOKafkaConsumerThread, "_fetch_records", fetch)
    app = faust.App("transport-test", broker="kafka://127.0.0.1:9")
    app.transport = Transport(app.conf.broker_consumer, app)
    consumer_thread = app.consumer._thread  # type: ignore[attr-defined]
    assert isinstance(consumer_thread, ConsumerThread)
    return consumer_thread


async def test_a_batch_fetched_while_the_flow_is_stopped_is_fetched_again(thread):
    # Faust would drop it, and a changelog partition has no committed offset to go back to.
    thread.consumer.flow_active = False
    kafka = KafkaConsumer()
    assert await thread._fetch_records(kafka, set(), timeout=1.0) == {}
    assert kafka.seeks == [(CHANGELOG, 3), (RAW, 7)]


async def test_a_batch_fetched_while_the_flow_runs_is_delivered(thread):
    kafka = KafkaConsumer()
    assert await thread._fetch_records(kafka, {CHANGELOG, RAW}, timeout=1.0) == FETCHED
    assert kafka.seeks == []
