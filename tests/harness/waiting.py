"""Polling until something holds, with a deadline: a blocking and an asyncio form."""

import asyncio
import time
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")


def poll(condition: Callable[[], T], timeout: float, interval: float = 0.5) -> T | None:
    """Call `condition` every `interval` seconds until it returns something truthy (returned);
    None once `timeout` has passed."""
    deadline = time.monotonic() + timeout
    while True:
        result = condition()
        if result:
            return result
        if time.monotonic() > deadline:
            return None
        time.sleep(interval)


def settled(read: Callable[[], T], pause: float, timeout: float) -> T | None:
    """`read()` once two reads `pause` seconds apart agree (what it reads stopped changing);
    None if it still changes after `timeout` seconds."""
    previous = read()
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        time.sleep(pause)
        current = read()
        if current == previous:
            return current
        previous = current
    return None


async def poll_until(done: Callable[[], bool], limit_s: float, interval: float = 0.2) -> bool:
    """Check `done()` every `interval` seconds for up to `limit_s`; whether it came true."""
    deadline = time.monotonic() + limit_s
    while True:
        if done():
            return True
        if time.monotonic() >= deadline:
            return False
        await asyncio.sleep(interval)
