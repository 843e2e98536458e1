"""When to try the weather API again: retry backoff within a round, cool-down across rounds.

Pure rules: randomness and time come in as arguments, so every schedule is testable exactly.
"""

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta


@dataclass(frozen=True)
class RetryPolicy:
    """At most `attempts` tries of one city's query; between them exponential backoff."""

    attempts: int = 3
    base_delay_seconds: float = 0.5
    max_delay_seconds: float = 8.0


def backoff_delay(retry: int, policy: RetryPolicy, rand: float) -> float:
    """Seconds to wait before retry number `retry` (0 for the first), "equal jitter".

    The ceiling doubles each retry up to `max_delay_seconds`; the delay is uniform in
    [ceiling / 2, ceiling] for `rand` in [0, 1): never zero, and spread so that cities and
    workers that failed together do not retry together.
    """
    if retry < 0:
        raise ValueError(f"retry must be >= 0, got {retry}")
    if not 0.0 <= rand <= 1.0:
        raise ValueError(f"rand must be in [0, 1], got {rand}")
    ceiling = min(policy.max_delay_seconds, policy.base_delay_seconds * 2.0**retry)
    return ceiling / 2 * (1.0 + rand)


def backoff_schedule(policy: RetryPolicy, rand: Callable[[], float]) -> list[float]:
    """The waits between the `policy.attempts` tries: one fewer than the attempts."""
    return [backoff_delay(retry, policy, rand()) for retry in range(policy.attempts - 1)]


def retry_fits(
    elapsed_seconds: float, delay_seconds: float, timeout_seconds: float, round_seconds: float
) -> bool:
    """Whether waiting `delay_seconds` and one more try (at most `timeout_seconds`) still ends
    within the timer round, so retries never spill into the next round."""
    return elapsed_seconds + delay_seconds + timeout_seconds <= round_seconds


@dataclass
class CoolDown:
    """No API calls at all until `until`: set by a 429 (rate limited) or a 401 (key refused)."""

    until: datetime | None = None
    reason: str = ""

    def active(self, now: datetime) -> bool:
        return self.until is not None and now < self.until

    def trip(self, now: datetime, seconds: float, reason: str) -> bool:
        """Start a cool-down, or extend the running one; True when none was running."""
        started = not self.active(now)
        until = now + timedelta(seconds=seconds)
        if self.until is None or started or until > self.until:
            self.until = until
            self.reason = reason
        return started
