"""Counts the event loop's turns while a test's code runs: a task that only yields."""

import asyncio
import contextlib
from collections.abc import AsyncIterator


class LoopTurns:
    def __init__(self) -> None:
        self.count = 0

    async def _spin(self) -> None:
        while True:
            await asyncio.sleep(0)
            self.count += 1


@contextlib.asynccontextmanager
async def counting_loop_turns() -> AsyncIterator[LoopTurns]:
    turns = LoopTurns()
    spinner = asyncio.ensure_future(turns._spin())
    await asyncio.sleep(0)  # started: what follows counts from 0
    turns.count = 0
    try:
        yield turns
    finally:
        spinner.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await spinner
