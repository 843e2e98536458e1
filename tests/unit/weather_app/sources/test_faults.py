import json

import aiohttp
import pytest
from aiohttp.client_reqrep import ConnectionKey

from weather_app.rules.validation import InvalidReading
from weather_app.sources.faults import (
    ApiError,
    Fault,
    body_excerpt,
    classify,
    classify_status,
    describe,
    redact,
)
from weather_app.sources.open_meteo import OpenMeteoParseError
from weather_app.sources.visual_crossing import TimelineParseError

KEY = "ABCD1234SECRET"
CONNECTION_KEY = ConnectionKey("api.open-meteo.com", 443, True, True, None, None, None)


@pytest.mark.parametrize(
    ("status", "fault"),
    [
        (400, Fault.BAD_REQUEST),
        (404, Fault.BAD_REQUEST),
        (401, Fault.UNAUTHORIZED),
        (429, Fault.RATE_LIMITED),
        (500, Fault.TRANSIENT),
        (503, Fault.TRANSIENT),
    ],
)
def test_http_statuses(status, fault):
    assert classify_status(status) is fault
    assert classify(ApiError(status)) is fault


@pytest.mark.parametrize(
    ("error", "fault"),
    [
        (TimeoutError(), Fault.TRANSIENT),
        (aiohttp.ServerDisconnectedError(), Fault.TRANSIENT),
        (aiohttp.ClientPayloadError("cut"), Fault.TRANSIENT),
        (json.JSONDecodeError("x", "<html>", 0), Fault.TRANSIENT),
        (UnicodeDecodeError("utf-8", b"\xff", 0, 1, "bad"), Fault.TRANSIENT),
        (TimelineParseError("no currentConditions"), Fault.BAD_RESPONSE),
        (OpenMeteoParseError("location has no current conditions"), Fault.BAD_RESPONSE),
        (
            aiohttp.ClientConnectorDNSError(CONNECTION_KEY, OSError(-3, "no name")),
            Fault.UNREACHABLE,
        ),
        (aiohttp.ClientConnectorError(CONNECTION_KEY, OSError(111, "refused")), Fault.UNREACHABLE),
        (aiohttp.ConnectionTimeoutError("connect"), Fault.UNREACHABLE),
        (InvalidReading("not_finite", "temperature is not finite"), Fault.BAD_RESPONSE),
        (RuntimeError("?"), Fault.UNEXPECTED),
    ],
)
def test_exceptions(error, fault):
    assert classify(error) is fault


def test_no_connection_is_described_as_such_and_a_connect_timeout_apart_from_a_slow_answer():
    refused = aiohttp.ClientConnectorError(CONNECTION_KEY, OSError(111, "refused"))
    assert describe(refused, None) == "connection error: ClientConnectorError"
    assert describe(aiohttp.ConnectionTimeoutError("connect"), None) == "connection timed out"
    assert describe(TimeoutError(), None) == "timed out"


def test_redact_hides_every_occurrence_whatever_the_case():
    text = f"key '{KEY}' url ?key={KEY.lower()}&x=1"
    assert redact(text, KEY) == "key '***' url ?key=***&x=1"
    assert redact(text, None) == text
    assert redact(text, "") == text


def test_body_excerpt_is_one_short_redacted_line_even_when_the_key_straddles_the_cut():
    raw = (" " + "x" * 150 + "\n" + KEY + " tail " * 100).encode() + b"\xff"
    excerpt = body_excerpt(raw, KEY)
    assert KEY[:4] not in excerpt
    assert "\n" not in excerpt
    assert len(excerpt) <= 163
    assert excerpt.endswith("...")


@pytest.mark.parametrize("kept", range(1, len(KEY)))
def test_a_body_cut_inside_the_key_loses_the_key_start_too(kept):
    raw = f"key {KEY} refused; key {KEY[:kept]}".encode()
    assert body_excerpt(raw, KEY, cut=True) == "key *** refused; key ***"


def test_a_whole_body_keeps_its_end():
    assert body_excerpt(f"key {KEY[:4]}".encode(), KEY) == f"key {KEY[:4]}"
    assert body_excerpt(b"key 'x'", KEY, cut=True) == "key 'x'"


def test_body_excerpt_of_non_utf8_bytes_does_not_raise():
    assert body_excerpt(b"\xff\xfe bad", KEY) == "\ufffd\ufffd bad"


def test_describe_never_carries_the_key():
    assert describe(ApiError(401, f"No account with API key '{KEY}'"), KEY) == (
        "HTTP 401: No account with API key '***'"
    )
    assert describe(TimelineParseError(f"bad {KEY}"), KEY) == "unexpected response: bad ***"
    assert describe(TimeoutError(), KEY) == "timed out"
    assert describe(aiohttp.ClientPayloadError("x"), KEY) == "response body cut short"
    assert describe(RuntimeError(KEY), KEY) == "unexpected error: RuntimeError"
