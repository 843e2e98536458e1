"""Build the dead letter of a raw message that could not be enriched."""

import base64
from datetime import datetime

from models import DeadLetter
from weather_app.timeutil import format_rfc3339, from_epoch


def _b64(data: bytes | None) -> str | None:
    return None if data is None else base64.b64encode(data).decode("ascii")


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
        detail=detail[:500],
        source_topic=topic,
        source_partition=partition,
        source_offset=offset,
        source_timestamp=format_rfc3339(from_epoch(timestamp_ms / 1000)),
        failed_at=format_rfc3339(now),
        original_key_base64=_b64(key),
        original_value_base64=_b64(value),
    )
