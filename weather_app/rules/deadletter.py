"""Build the dead letter of a raw message that could not be enriched."""

import base64
import hashlib
from datetime import datetime

from models import DeadLetter
from weather_app.rules.timestamps import format_rfc3339, from_epoch

# Bytes of the original key and value a letter keeps. A raw message may be as large as the
# broker's message.max.bytes (1 MiB by default), and its base64 is a third larger still: kept
# whole, its letter would exceed what the producer and the broker take, and be lost.
KEPT_BYTES = 8 * 1024
DETAIL_CHARACTERS = 500


def _kept(data: bytes | None) -> str | None:
    return None if data is None else base64.b64encode(data[:KEPT_BYTES]).decode("ascii")


def _size(data: bytes | None) -> int | None:
    return None if data is None else len(data)


def dead_letter(
    reason: str,
    detail: str,
    *,
    topic: str,
    partition: int,
    offset: int,
    timestamp_ms: int,
    key: bytes | None,
    value: bytes | None,
    now: datetime,
) -> DeadLetter:
    return DeadLetter(
        reason=reason,
        detail=detail[:DETAIL_CHARACTERS],
        source_topic=topic,
        source_partition=partition,
        source_offset=offset,
        source_timestamp=format_rfc3339(from_epoch(timestamp_ms / 1000)),
        failed_at=format_rfc3339(now),
        original_key_base64=_kept(key),
        original_value_base64=_kept(value),
        original_key_bytes=_size(key),
        original_value_bytes=_size(value),
        original_value_sha256=None if value is None else hashlib.sha256(value).hexdigest(),
        truncated=any(data is not None and len(data) > KEPT_BYTES for data in (key, value)),
    )
