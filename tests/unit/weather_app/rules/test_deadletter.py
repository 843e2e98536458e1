import base64
import hashlib
from datetime import UTC, datetime

import orjson

from models.codec import encode_record
from weather_app.rules.deadletter import KEPT_BYTES, dead_letter

NOW = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)


def letter_of(key: bytes | None, value: bytes | None) -> dict[str, object]:
    letter = dead_letter(
        "too_large",
        "detail",
        topic="weather_raw",
        partition=3,
        offset=42,
        timestamp_ms=1_764_500_000_000,
        key=key,
        value=value,
        now=NOW,
    )
    return dict(orjson.loads(encode_record(letter)))


def test_a_small_message_is_kept_whole():
    letter = letter_of(b'"Paris"', b"{broken")
    assert base64.b64decode(str(letter["original_value_base64"])) == b"{broken"
    assert base64.b64decode(str(letter["original_key_base64"])) == b'"Paris"'
    assert letter["original_value_bytes"] == 7
    assert letter["original_key_bytes"] == 7
    assert letter["original_value_sha256"] == hashlib.sha256(b"{broken").hexdigest()
    assert letter["truncated"] is False


def test_a_message_at_the_brokers_maximum_keeps_a_bounded_prefix_its_size_and_hash():
    value = bytes(range(256)) * (1_048_576 // 256)  # 1 MiB, Kafka's default message.max.bytes
    letter = letter_of(b'"Paris"', value)
    assert base64.b64decode(str(letter["original_value_base64"])) == value[:KEPT_BYTES]
    assert letter["original_value_bytes"] == len(value)
    assert letter["original_value_sha256"] == hashlib.sha256(value).hexdigest()
    assert letter["truncated"] is True
    assert (
        len(
            encode_record(
                dead_letter(
                    "too_large",
                    "x" * 10_000,
                    topic="t" * 249,
                    partition=0,
                    offset=0,
                    timestamp_ms=0,
                    key=value,
                    value=value,
                    now=NOW,
                )
            )
        )
        < 4 * KEPT_BYTES
    )


def test_a_message_without_key_or_value_says_so():
    letter = letter_of(None, None)
    assert letter["original_key_base64"] is None
    assert letter["original_value_bytes"] is None
    assert letter["original_value_sha256"] is None
    assert letter["truncated"] is False
