"""Giving up on the records an aiokafka producer has not written yet.

aiokafka 0.14's idempotent producer never expires a batch: `SendProduceReqHandler._can_retry`
retries an expired one whenever a transaction manager exists, which idempotence creates. Its
`stop()` first waits for the accumulator to flush, so with the broker gone for good it waits for
ever. `abandon_unwritten` stops the sender, fails what it still held, then stops the producer.
"""

import asyncio

from aiokafka import AIOKafkaProducer


async def abandon_unwritten(producer: AIOKafkaProducer, error: Exception, within: float) -> None:
    """Fail every record `producer` holds that the broker has not acknowledged, with `error`, and
    stop `producer`.

    The sender is stopped first: a send in flight puts its batches back in the queue when it
    fails (at once when the broker refuses connections; after a request timeout when it does not
    answer), and a batch failed before that would be put back failed. The sender gets `within`
    seconds for it; one still waiting then is cancelled again by `stop()`, which raises that
    cancellation. It is the sender's, not the caller's: taken for the caller's, it ended the
    replay command with exit code 0 and no word (mode's worker takes a cancellation for a stop).
    """
    sender_task = producer._sender.sender_task
    if sender_task is not None and not sender_task.done():
        sender_task.cancel()  # it waits for its sends in flight, then ends
        await asyncio.wait([sender_task], timeout=within)
    accumulator = producer._message_accumulator
    # A batch sent and queued again has left `_pending_batches`, yet the callback its first send
    # added removes it from there when it completes: without putting it back, failing it logs a
    # KeyError (`MessageAccumulator.fail_all` does not expect retries).
    queued = [batch for batches in accumulator._batches.values() for batch in batches]
    accumulator._pending_batches.update(batch for batch in queued if batch.retry_count)
    failed = list(accumulator._pending_batches) + queued
    accumulator.fail_all(error)
    accumulator._batches.clear()
    for batch in failed:  # nobody waits for a batch to drain here: no "never retrieved" logged
        if not batch._drain_waiter.cancelled():
            batch._drain_waiter.exception()
    try:
        await producer.stop()
    except asyncio.CancelledError:
        task = asyncio.current_task()
        if task is not None and task.cancelling():  # the caller is being cancelled too
            raise
        await producer.client.close()
