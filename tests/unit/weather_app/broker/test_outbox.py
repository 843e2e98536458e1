import asyncio
from typing import Any

import pytest
from aiokafka.errors import KafkaTimeoutError, MessageSizeTooLargeError

from weather_app.broker.outbox import MAX_PAUSE_SECONDS, Outbox, OutgoingRecord
from weather_app.errors import DeliveryFailed


class Broker:
    """A producer whose records fail `failures` times each before the broker takes them."""

    def __init__(self, failures: int, send_raises: bool = False) -> None:
        self.failures = failures
        self.send_raises = send_raises
        self.tries: dict[bytes | None, int] = {}
        self.taken: list[bytes] = []

    async def send(self, topic, key, value, partition, timestamp, headers) -> Any:
        tries = self.tries[value] = self.tries.get(value, 0) + 1
        if tries <= self.failures and self.send_raises:
            raise KafkaTimeoutError()
        result = asyncio.get_running_loop().create_future()
        if tries <= self.failures:
            result.set_exception(MessageSizeTooLargeError())
        else:
            self.taken.append(value or b"")
            result.set_result(None)
        return result

    async def flush(self) -> None:
        pass


def records(n: int) -> list[OutgoingRecord]:
    return [OutgoingRecord("weather_data_v2", b"k", str(i).encode()) for i in range(n)]


@pytest.mark.parametrize("send_raises", [False, True])
async def test_failed_records_are_sent_again_until_the_broker_takes_them(send_raises, caplog):
    broker = Broker(failures=7, send_raises=send_raises)
    pauses: list[float] = []

    async def pause(seconds: float) -> None:
        pauses.append(seconds)

    outbox = Outbox(broker, retry=True, sleep=pause)
    for record in records(3):
        await outbox.send(record)
    await outbox.deliver()
    assert sorted(broker.taken) == [b"0", b"1", b"2"]
    assert pauses == [0.5, 1.0, 2.0, 4.0, 8.0, 16.0, MAX_PAUSE_SECONDS]
    assert caplog.text.count("3 of 3 records not delivered") == 7


async def test_records_delivered_the_first_time_are_not_sent_again():
    broker = Broker(failures=0)
    outbox = Outbox(broker, retry=True)
    for record in records(5):
        await outbox.send(record)
    await outbox.deliver()
    await outbox.deliver()  # nothing is left to send again
    assert all(tries == 1 for tries in broker.tries.values())


async def test_without_retries_a_failed_record_raises():
    outbox = Outbox(Broker(failures=1), retry=False)
    for record in records(2):
        await outbox.send(record)
    with pytest.raises(DeliveryFailed, match="2 of 2 records not delivered"):
        await outbox.deliver()


class Numbering(Broker):
    """A broker that answers each record it takes with its number, as Kafka with an offset."""

    async def send(self, topic, key, value, partition, timestamp, headers) -> Any:
        result = await super().send(topic, key, value, partition, timestamp, headers)
        if not result.exception():
            result = asyncio.get_running_loop().create_future()
            result.set_result(len(self.taken) - 1)
        return result


async def test_deliver_hands_back_each_record_s_result_in_the_order_sent():
    broker = Numbering(failures=0)
    outbox = Outbox(broker, retry=True)
    sent = [await outbox.send(record) for record in records(3)]
    assert sent == [0, 1, 2]
    assert await outbox.deliver() == [0, 1, 2]


async def test_a_record_sent_again_hands_back_the_result_of_its_last_send():
    broker = Numbering(failures=0)
    outbox = Outbox(broker, retry=True, sleep=lambda _: asyncio.sleep(0))
    await outbox.send(OutgoingRecord("weather_data_v2", b"k", b"taken"))
    broker.failures = 1  # the next record fails once
    await outbox.send(OutgoingRecord("weather_data_v2", b"k", b"retried"))
    delivered = await outbox.deliver()
    assert [broker.taken[number] for number in delivered] == [b"taken", b"retried"]


class GoneAfterRefusing(Broker):
    """Refuses each record once, then is gone: the flush of the records sent again never ends."""

    def __init__(self) -> None:
        super().__init__(failures=1)
        self.flushes = 0

    async def flush(self) -> None:
        self.flushes += 1
        if self.flushes > 1:
            await asyncio.Event().wait()


async def test_a_worker_stopping_while_a_failed_batch_waits_for_the_broker_gives_it_up(
    monkeypatch,
):
    monkeypatch.setattr("weather_app.broker.outbox.STOP_CHECK_SECONDS", 0.01)
    stopping = False

    async def no_pause(seconds: float) -> None:
        pass

    outbox = Outbox(GoneAfterRefusing(), retry=True, stopping=lambda: stopping, sleep=no_pause)
    for record in records(3):
        await outbox.send(record)
    delivering = asyncio.ensure_future(outbox.deliver())
    await asyncio.sleep(0.05)
    assert not delivering.done()  # waits for the broker as long as the worker runs
    stopping = True
    with pytest.raises(DeliveryFailed, match="3 records sent; the worker is stopping"):
        await asyncio.wait_for(delivering, 1)


class SlowBroker(Broker):
    async def flush(self) -> None:
        await asyncio.sleep(0.1)


async def test_a_worker_stopping_in_good_order_finishes_the_batch_in_hand(monkeypatch):
    monkeypatch.setattr("weather_app.broker.outbox.STOP_CHECK_SECONDS", 0.01)
    outbox = Outbox(SlowBroker(failures=0), retry=True, stopping=lambda: True)
    for record in records(2):
        await outbox.send(record)
    assert await outbox.deliver() == [None, None]


async def test_a_worker_stopping_during_a_pause_between_sends_gives_up_the_batch(monkeypatch):
    monkeypatch.setattr("weather_app.broker.outbox.STOP_CHECK_SECONDS", 0.01)
    stopping = False

    async def long_pause(seconds: float) -> None:
        await asyncio.sleep(3600)

    outbox = Outbox(Broker(failures=100), retry=True, stopping=lambda: stopping, sleep=long_pause)
    for record in records(2):
        await outbox.send(record)
    delivering = asyncio.ensure_future(outbox.deliver())
    await asyncio.sleep(0.05)
    assert not delivering.done()
    stopping = True
    with pytest.raises(
        DeliveryFailed, match=r"2 of 2 records not delivered .*the worker is stopping"
    ):
        await asyncio.wait_for(delivering, 1)
