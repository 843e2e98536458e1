"""When the leader's next ingest round is due.

Faust's timer sleeps a whole interval before its first call: with Visual Crossing's free budget
(10 cities, 864 s) the first records would show 14 minutes after a start. The ingest timer ticks
instead, and this schedule says at which tick a round starts: at once on the first tick, then
every `interval` seconds on the same cadence (a round that overran starts the next one late, and
the cadence from there, rather than a burst of rounds to catch up).
"""

from dataclasses import dataclass

LONGEST_TICK_SECONDS = 1.0


def tick_seconds(interval: float) -> float:
    """How often the timer asks the schedule: a round starts at most this late."""
    return min(interval, LONGEST_TICK_SECONDS)


@dataclass
class RoundSchedule:
    interval: float
    next_due: float | None = None

    def start_if_due(self, now: float) -> bool:
        """Whether a round starts at `now` (monotonic seconds); if so, it is counted as started."""
        if self.next_due is not None and now < self.next_due:
            return False
        on_cadence = now if self.next_due is None else self.next_due + self.interval
        self.next_due = on_cadence if on_cadence > now else now + self.interval
        return True
