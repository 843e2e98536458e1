"""aiokafka's warnings and errors, each message at most once every few seconds.

While a broker is gone aiokafka logs every failed connection and metadata update, thousands of
lines a second (`Unable connect to node with id 1: ...`, `Unable to update metadata from [1]`,
in a worker and in `replay` alike). Here the first record of each message (its logger and format
string) goes through, and then one every `window` seconds, saying how many like it were held back
in between. Debug and info records are left alone.
"""

import logging
import threading
import time
from collections.abc import Callable

WINDOW_SECONDS = 10.0


class HoldRepeats(logging.Filter):
    """Lets a warning or error through at most once every `window` seconds per message."""

    def __init__(self, window: float, clock: Callable[[], float] = time.monotonic) -> None:
        super().__init__()
        self._window = window
        self._clock = clock
        # (logger, format string) -> (when one last went through, how many held since)
        self._shown: dict[tuple[str, str], tuple[float, int]] = {}
        self._lock = threading.Lock()  # Faust's consumer thread logs through aiokafka too

    def filter(self, record: logging.LogRecord) -> bool:
        if record.levelno < logging.WARNING:
            return True
        key = (record.name, str(record.msg))
        now = self._clock()
        with self._lock:
            shown = self._shown.get(key)
            if shown is not None and now - shown[0] < self._window:
                self._shown[key] = (shown[0], shown[1] + 1)
                return False
            self._shown[key] = (now, 0)
        if shown is not None and shown[1]:
            # Appended to the format string, not formatted here: a handler formats it (and
            # reports a bad one); the text added holds no '%'.
            held = f"{shown[1]} more like it in the last {now - shown[0]:.0f}s not shown"
            record.msg = f"{record.msg} ({held})"
        return True


def hold_repeated_client_logs(window: float = WINDOW_SECONDS) -> HoldRepeats:
    """Put one `HoldRepeats` on aiokafka's loggers: a filter on a logger applies only to records
    logged on it, so each module's logger gets it (call once aiokafka is imported)."""
    repeats = HoldRepeats(window)
    names = [name for name in logging.root.manager.loggerDict if name.startswith("aiokafka.")]
    for name in ["aiokafka", *names]:
        logging.getLogger(name).addFilter(repeats)
    return repeats
