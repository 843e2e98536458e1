from types import SimpleNamespace
from typing import Any

from models.codec import encode_key
from weather_app.app import last_seen, settings
from weather_app.rules.partitioning import home_partition


def changelog_event(city: str, partition: int, count: int) -> Any:
    key = encode_key(city)
    value = {"count": count}
    return SimpleNamespace(
        key=city,
        value=value,
        message=SimpleNamespace(key=key, value=value, partition=partition),
    )


def test_recovery_ignores_a_city_s_entries_found_on_another_partition():
    last_seen.data.clear()
    home = home_partition(encode_key("Rome"), settings.stream.partitions)
    stray = (home + 1) % settings.stream.partitions
    last_seen.apply_changelog_batch(
        [changelog_event("Rome", home, 7), changelog_event("Rome", stray, 3)]
    )
    assert last_seen.data["Rome"] == {"count": 7}
    last_seen.apply_changelog_batch([changelog_event("Rome", stray, 1)])
    assert last_seen.data["Rome"] == {"count": 7}
    last_seen.data.clear()
