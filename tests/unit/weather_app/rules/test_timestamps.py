from datetime import UTC, datetime, timedelta, timezone

import pytest

from weather_app.rules.timestamps import format_rfc3339, from_epoch, parse_rfc3339


def test_format_is_utc_with_z_and_second_precision():
    paris = timezone(timedelta(hours=1))
    moment = datetime(2026, 11, 28, 3, 4, 5, 678000, tzinfo=paris)
    assert format_rfc3339(moment) == "2026-11-28T02:04:05Z"


def test_format_refuses_naive_datetimes():
    with pytest.raises(ValueError, match="naive"):
        format_rfc3339(datetime(2026, 11, 28))


@pytest.mark.parametrize(
    "text",
    ["2026-11-28T02:04:05Z", "2026-11-28T03:04:05+01:00", "2026-11-28t02:04:05z"],
)
def test_parse_accepts_z_and_offsets(text):
    assert parse_rfc3339(text) == datetime(2026, 11, 28, 2, 4, 5, tzinfo=UTC)


@pytest.mark.parametrize("text", ["", "2026-11-28", "2026-11-28T02:04:05", "yesterday"])
def test_parse_refuses_non_rfc3339(text):
    with pytest.raises(ValueError, match=r"RFC3339|Invalid isoformat"):
        parse_rfc3339(text)


def test_round_trip_through_epoch():
    moment = from_epoch(1764336000)
    assert format_rfc3339(moment) == "2025-11-28T13:20:00Z"
    assert parse_rfc3339(format_rfc3339(moment)) == moment
