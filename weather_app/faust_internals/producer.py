"""Giving up on the records an aiokafka producer has not written yet.

aiokafka 0.14's idempotent producer never expires a batch: `SendProduceReqHandler._can_retry`
retries an expired one whenever a transaction manager exists, which idempotence creates. Its
`stop()` first waits for the accumulator to flush, so with the broker gone for good it waits for
ever. Failing the batches still held lets `stop()` go on to cancel the sender and close.
"""

from aiokafka import AIOKafkaProducer


def fail_unwritten(producer: AIOKafkaProducer, error: Exception) -> None:
    """Fail every record `producer` holds that the broker has not acknowledged, with `error`."""
    accumulator = producer._message_accumulator
    # A batch sent once and queued again for a retry has left `_pending_batches`, yet the callback
    # its first send added removes it from there when it completes: without putting it back,
    # failing it logs a KeyError (`MessageAccumulator.fail_all` does not expect retries).
    for batches in accumulator._batches.values():
        accumulator._pending_batches.update(batch for batch in batches if batch.retry_count)
    accumulator.fail_all(error)
