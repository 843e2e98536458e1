"""The bytes on our topics: plain JSON (no Faust metadata), for Telegraf and other consumers."""

from typing import Any

import orjson

from models.readings import Record


def encode_key(city: str) -> bytes:
    """The message key of a city's readings: its name as a JSON string, like Faust table keys."""
    return orjson.dumps(city)


def encode_record(record: Record) -> bytes:
    """A record as plain JSON bytes, the form every topic of ours carries."""
    return orjson.dumps(record, default=_plain)


def _plain(value: Any) -> Any:
    """A record's fields, in order: what orjson cannot write itself."""
    if isinstance(value, Record):
        return value.to_representation()
    raise TypeError(f"{type(value).__name__} is not a record")
