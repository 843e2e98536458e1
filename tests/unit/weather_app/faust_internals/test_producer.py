"""What `fail_unwritten` relies on in aiokafka, pinned: an idempotent producer retries an expired
batch for ever, so only failing its batches lets the accumulator flush (and `stop()` go on)."""

import asyncio
from types import SimpleNamespace

import pytest
from aiokafka import AIOKafkaProducer, TopicPartition
from aiokafka.errors import KafkaConnectionError, KafkaTimeoutError
from aiokafka.producer.sender import SendProduceReqHandler

from weather_app.faust_internals.producer import fail_unwritten

EXPIRED = SimpleNamespace(expired=lambda: True)


async def test_an_idempotent_producer_retries_an_expired_batch_and_a_plain_one_does_not():
    idempotent = AIOKafkaProducer(bootstrap_servers="127.0.0.1:9", enable_idempotence=True)
    plain = AIOKafkaProducer(bootstrap_servers="127.0.0.1:9")
    lost = KafkaConnectionError()
    try:
        assert SendProduceReqHandler(idempotent._sender, {})._can_retry(lost, EXPIRED)
        assert not SendProduceReqHandler(plain._sender, {})._can_retry(lost, EXPIRED)
    finally:
        await idempotent.stop()
        await plain.stop()


async def test_failing_the_unwritten_records_ends_the_flush_that_stop_waits_for():
    producer = AIOKafkaProducer(bootstrap_servers="127.0.0.1:9", enable_idempotence=True)
    accumulator = producer._message_accumulator
    try:
        sent = await accumulator.add_message(TopicPartition("weather", 0), b"Paris", b"{}", 1)
        flush = asyncio.ensure_future(accumulator.flush())
        await asyncio.sleep(0.05)
        assert not flush.done()
        fail_unwritten(producer, KafkaTimeoutError("gone"))
        await asyncio.wait_for(flush, 1)
        with pytest.raises(KafkaTimeoutError):
            await sent
    finally:
        await producer.stop()


async def test_a_batch_queued_again_for_a_retry_fails_without_an_error_logged():
    producer = AIOKafkaProducer(bootstrap_servers="127.0.0.1:9", enable_idempotence=True)
    accumulator = producer._message_accumulator
    loop = asyncio.get_running_loop()
    errors: list[dict[str, object]] = []
    loop.set_exception_handler(lambda _, context: errors.append(context))
    try:
        tp = TopicPartition("weather", 0)
        sent = await accumulator.add_message(tp, b"Paris", b"{}", 1)
        producer._txn_manager.set_pid_and_epoch(1, 0)
        accumulator.reenqueue(accumulator._pop_batch(tp))  # sent once, not answered
        fail_unwritten(producer, KafkaTimeoutError("gone"))
        with pytest.raises(KafkaTimeoutError):
            await sent
        await asyncio.sleep(0)
        assert errors == []
    finally:
        loop.set_exception_handler(None)
        await producer.stop()
