"""The project's exceptions, under one base, and the one way a process stops with a message."""

import os
import sys
from typing import NoReturn

PROGRAM = "weather-speed-layer"


class WeatherError(Exception):
    """Base of every error the speed layer raises on purpose; its message says what to fix."""


class ConfigError(WeatherError):
    """A setting's value is invalid: the message names the variable and what it expects."""


class BrokerUnavailable(WeatherError):
    """Kafka cannot be reached, refuses, or its topics do not match the settings."""


class DeliveryFailed(WeatherError):
    """Records the broker did not take, where sending them again cannot help."""


def exit_with(message: str, code: int = 1, *, immediately: bool = False) -> NoReturn:
    """Stop the process with one line on stderr: what is wrong and what to do.

    `immediately`: skip every cleanup (`os._exit`), for a worker that must not commit or wait for
    anything more once a batch could not be completed.
    """
    print(f"{PROGRAM}: {message}", file=sys.stderr)
    if immediately:
        sys.stderr.flush()
        os._exit(code)
    raise SystemExit(code)
