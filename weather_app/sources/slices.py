"""Long passes over every city, taken a slice at a time so that the event loop keeps turning.

A round at 100,000 cities simulates, publishes and watches 100,000 readings in the worker that
also enriches them: done in one go, each pass held the loop for seconds (mode logged timers
waking up 7.7 s late), and with it the consumer's hand-off, the agent's batches and their
deliveries. Between two slices the loop polls its sockets and runs whatever is ready.
"""

import asyncio
from collections.abc import AsyncIterator, Sequence
from typing import TypeVar

T = TypeVar("T")

# About 10 ms of simulation (~45 µs a city), a few ms of sends or gauge updates.
SLICE = 256


async def in_slices(items: Sequence[T], size: int = SLICE) -> AsyncIterator[Sequence[T]]:
    """`items`, `size` at a time, with a turn of the event loop before every slice but the
    first."""
    for start in range(0, len(items), size):
        if start:
            await asyncio.sleep(0)
        yield items[start : start + size]
