"""Which Kafka transaction a record joins, and when offsets commit, under exactly_once."""

import weakref
from types import SimpleNamespace
from typing import Any, cast

import faust
import pytest
from faust.assignor import PartitionAssignor
from faust.streams import _current_event
from faust.types import TP
from faust.types.tuples import ConsumerMessage

from weather_app.faust_internals import transactions

RAW = TP("app-raw", 4)
CHANGELOG = "app-history-changelog"


@pytest.fixture
def app() -> faust.App:
    app = faust.App(
        "app", broker="kafka://127.0.0.1:9", processing_guarantee="exactly_once", store="memory://"
    )
    app.Table("history", key_type=str, partitions=6)
    app.transport = transactions.Transport(app.conf.broker_consumer, app)
    # As the assignor groups them: the raw topic with the changelogs of the tables it feeds.
    cast(PartitionAssignor, app.assignor)._topic_groups = {RAW.topic: 1, CHANGELOG: 1}
    return app


class Producer:
    """Records what Faust's producer is asked to send and commit, in order."""

    def __init__(self) -> None:
        self.calls: list[tuple[Any, ...]] = []
        self.buffer = SimpleNamespace(flush=self.flush_buffer)

    async def flush_buffer(self) -> None:
        self.calls.append(("flush buffer",))

    async def send(self, topic: str, *args: Any, transactional_id: str | None) -> Any:
        self.calls.append(("send", topic, transactional_id))
        return None

    async def commit_transactions(self, by_id: Any, group_id: str, **kwargs: Any) -> None:
        self.calls.append(("commit", dict(by_id)))


@pytest.fixture
def manager(app: faust.App) -> tuple[transactions.SourcePartitionTransactionManager, Any]:
    producer = Producer()
    consumer = app.consumer
    manager = consumer.transactions
    assert isinstance(manager, transactions.SourcePartitionTransactionManager)
    manager.producer = producer  # type: ignore[assignment]
    return manager, producer


class Event:
    def __init__(self, tp: TP) -> None:
        self.message = SimpleNamespace(topic=tp.topic, partition=tp.partition, tp=tp)


async def send(manager: Any, topic: str, partition: int | None = None) -> None:
    await manager.send(topic, b"k", b"v", partition, None, None)


async def test_a_record_sent_for_an_event_joins_its_input_partitions_transaction(manager):
    manager, producer = manager
    transactions.join_transaction_of(RAW)
    await send(manager, "app-enriched")
    # Faust would have picked the transaction of the enriched topic's partition.
    assert producer.calls == [("send", "app-enriched", "app-1-4")]


async def test_a_changelog_record_joins_the_transaction_of_the_partition_it_goes_to(manager):
    manager, producer = manager
    transactions.join_transaction_of(RAW)
    await send(manager, CHANGELOG, partition=2)
    assert producer.calls == [("send", CHANGELOG, "app-1-2")]


async def test_the_batchs_input_partition_is_forgotten_when_the_batch_ends(app, manager):
    manager, producer = manager
    async with transactions.ack_when_handled([consumed_event(app, RAW)]):
        transactions.join_transaction_of(RAW)
        await send(manager, "app-enriched")
    await send(manager, "app-enriched")  # e.g. a web view's record after the batch
    assert producer.calls == [("send", "app-enriched", "app-1-4"), ("send", "app-enriched", None)]


async def test_a_record_sent_while_faust_handles_an_event_joins_that_events_transaction(manager):
    manager, producer = manager
    event: Any = Event(RAW)
    token = _current_event.set(weakref.ref(event))  # what Faust sets around an agent's event
    try:
        await send(manager, "app-dlq")
    finally:
        _current_event.reset(token)
    assert producer.calls == [("send", "app-dlq", "app-1-4")]


async def test_a_record_sent_outside_any_event_goes_out_untransacted(manager):
    # The leader's timer: in a raw partition's transaction the agent would never see it.
    manager, producer = manager
    await send(manager, "app-raw")
    assert producer.calls == [("send", "app-raw", None)]


async def test_changelog_records_waiting_in_the_buffer_join_the_transaction_before_it_commits(
    manager,
):
    manager, producer = manager
    await manager.commit({RAW: 8})
    assert producer.calls == [("flush buffer",), ("commit", {"app-1-4": {RAW: 8}})]


def consumed_event(app: faust.App, tp: TP, offset: int = 0) -> Any:
    message = ConsumerMessage(tp.topic, tp.partition, offset, 0.0, 0, None, b"k", b"v", None)
    message.refcount = 1  # held by one stream
    return app.create_event(b"k", b"v", None, message)


async def test_a_handled_batch_is_acknowledged(app):
    events = [consumed_event(app, RAW, 0), consumed_event(app, RAW, 1)]
    async with transactions.ack_when_handled(events):
        assert not any(event.message.acked for event in events)
    assert all(event.message.acked for event in events)


async def test_a_batch_whose_handling_failed_is_never_acknowledged(app):
    events = [consumed_event(app, RAW, 0), consumed_event(app, RAW, 1)]
    with pytest.raises(RuntimeError):
        async with transactions.ack_when_handled(events):
            raise RuntimeError("delivery failed")
    assert not any(event.message.acked for event in events)
