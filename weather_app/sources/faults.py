"""What a failed weather API call means, and how to describe it without leaking the API key."""

import asyncio
import enum
import re

import aiohttp

from weather_app.errors import WeatherError
from weather_app.rules.validation import InvalidReading

REDACTED = "***"
# How much of an error response body goes into the log line (after redaction).
BODY_EXCERPT_CHARS = 160


class Fault(enum.Enum):
    TRANSIENT = "transient"  # timeout, connection error, 5xx, a body that is not JSON or cut short
    BAD_REQUEST = "bad_request"  # 400 (bad location) and other 4xx: this city only, no retry
    BAD_RESPONSE = "bad_response"  # JSON without the fields we need, or out of rules: no retry
    RATE_LIMITED = "rate_limited"  # 429: every city cools down
    UNAUTHORIZED = "unauthorized"  # 401: every city cools down, longer
    # No connection at all (name not resolved, refused, connect timed out): the machine is
    # offline or the host is down, so every city cools down instead of waiting in every round.
    UNREACHABLE = "unreachable"
    UNEXPECTED = "unexpected"  # anything else: no retry


RETRYABLE = frozenset({Fault.TRANSIENT})
COOLS_DOWN = frozenset({Fault.RATE_LIMITED, Fault.UNAUTHORIZED, Fault.UNREACHABLE})


class ResponseParseError(WeatherError):
    """A JSON answer without the fields a source's reading needs."""


class ApiError(WeatherError):
    """A non-200 answer; `body` is an excerpt of the response, already redacted."""

    def __init__(self, status: int, body: str = "") -> None:
        super().__init__(f"HTTP {status}: {body}" if body else f"HTTP {status}")
        self.status = status
        self.body = body


def classify_status(status: int) -> Fault:
    if status == 429:
        return Fault.RATE_LIMITED
    if status == 401:
        return Fault.UNAUTHORIZED
    if status >= 500:
        return Fault.TRANSIENT
    return Fault.BAD_REQUEST


def classify(error: BaseException) -> Fault:
    if isinstance(error, ApiError):
        return classify_status(error.status)
    if isinstance(error, aiohttp.ClientResponseError):
        return classify_status(error.status)
    if isinstance(error, aiohttp.ClientConnectorError | aiohttp.ConnectionTimeoutError):
        return Fault.UNREACHABLE
    if isinstance(error, TimeoutError | aiohttp.ClientError):
        # Connection errors and bodies cut short (ClientPayloadError) both land here.
        return Fault.TRANSIENT
    if isinstance(error, ResponseParseError | InvalidReading):
        return Fault.BAD_RESPONSE
    if isinstance(error, ValueError):
        # Not JSON (a maintenance page, a truncated document) or not decodable text.
        return Fault.TRANSIENT
    return Fault.UNEXPECTED


def redact(text: str, secret: str | None) -> str:
    """`text` with every occurrence of `secret` (case-insensitive) replaced by `***`."""
    if not secret:
        return text
    return re.sub(re.escape(secret), REDACTED, text, flags=re.IGNORECASE)


def body_excerpt(raw: bytes, secret: str | None, cut: bool = False) -> str:
    """The start of an error response body as one short log-safe line, the key redacted.

    Redaction happens on the whole decoded body before it is cut, so a key that straddles the
    cut cannot leak half of itself. `cut`: `raw` is only the start of the body, so it may end
    inside a copy of the key, whose start is redacted too.
    """
    text = " ".join(raw.decode("utf-8", errors="replace").split())
    text = redact(text, secret)
    if cut and secret:
        text = _redact_secret_start_at_end(text, secret)
    if len(text) > BODY_EXCERPT_CHARS:
        text = text[:BODY_EXCERPT_CHARS] + "..."
    return text


def _redact_secret_start_at_end(text: str, secret: str) -> str:
    lowered, secret_lowered = text.lower(), secret.lower()
    for length in range(min(len(secret) - 1, len(text)), 0, -1):
        if lowered.endswith(secret_lowered[:length]):
            return text[:-length] + REDACTED
    return text


def describe(error: BaseException, secret: str | None) -> str:
    """A description safe to log: no URL (it carries the key), the key redacted everywhere."""
    if isinstance(error, ApiError):
        text = str(error)
    elif isinstance(error, aiohttp.ConnectionTimeoutError):
        text = "connection timed out"
    elif isinstance(error, asyncio.TimeoutError):
        text = "timed out"
    elif isinstance(error, aiohttp.ClientPayloadError):
        text = "response body cut short"
    elif isinstance(error, aiohttp.ClientConnectionError):
        text = f"connection error: {type(error).__name__}"
    elif isinstance(error, aiohttp.ClientResponseError):
        text = f"HTTP {error.status}"
    elif isinstance(error, ResponseParseError):
        text = f"unexpected response: {error}"
    elif isinstance(error, InvalidReading):
        text = f"invalid reading: {error}"
    elif isinstance(error, ValueError):
        text = f"bad response: {type(error).__name__}"
    else:
        text = f"unexpected error: {type(error).__name__}"
    return redact(text, secret)
