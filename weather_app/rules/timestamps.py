"""RFC3339 at the edges, timezone-aware UTC inside."""

import re
from datetime import UTC, datetime

# What `format_rfc3339` writes; parsed without normalising (it is already UTC, second precision).
_CANONICAL = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z", re.ASCII)


def format_rfc3339(moment: datetime) -> str:
    """Format an aware datetime as RFC3339 UTC, second precision: `2026-11-28T01:47:05Z`."""
    if moment.tzinfo is None:
        raise ValueError("naive datetime: pass a timezone-aware one")
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_rfc3339(text: str) -> datetime:
    """Parse an RFC3339 timestamp with `Z` or a numeric offset into an aware UTC datetime."""
    if is_canonical_rfc3339(text):
        return datetime.fromisoformat(text)
    if not text or ("T" not in text and "t" not in text):
        raise ValueError(f"not an RFC3339 timestamp: {text!r}")
    moment = datetime.fromisoformat(text.replace("z", "Z").replace("Z", "+00:00"))
    if moment.tzinfo is None:
        raise ValueError(f"RFC3339 timestamp without offset: {text!r}")
    return moment.astimezone(UTC)


def from_epoch(seconds: float) -> datetime:
    return datetime.fromtimestamp(seconds, tz=UTC)


def is_canonical_rfc3339(text: str) -> bool:
    """Whether `text` has the form `format_rfc3339` writes: `2026-11-28T01:47:05Z`."""
    return _CANONICAL.fullmatch(text) is not None
