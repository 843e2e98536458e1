"""Whose cancellation a `CancelledError` is.

Awaiting a task that was cancelled raises its `CancelledError` in the awaiting task too, which
has not been asked to stop: aiokafka's `stop()` methods do this with their own tasks.
"""

import asyncio


def caller_cancelled() -> bool:
    """Whether the running task itself has been asked to stop."""
    task = asyncio.current_task()
    return task is not None and task.cancelling() > 0
