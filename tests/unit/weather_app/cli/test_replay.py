from datetime import UTC, datetime

import pytest

from weather_app.cli.replay import Bound


def test_a_number_is_an_offset_and_a_timestamp_a_time():
    assert Bound.parse("42") == Bound(offset=42)
    bound = Bound.parse("2026-11-28T02:00:00Z")
    assert bound.time == datetime(2026, 11, 28, 2, tzinfo=UTC)
    assert bound.millis() == 1795831200000


@pytest.mark.parametrize("text", ["yesterday", "-3", "2026-11-28"])
def test_anything_else_is_refused(text):
    with pytest.raises(ValueError, match="neither an RFC3339 time nor an offset"):
        Bound.parse(text)
