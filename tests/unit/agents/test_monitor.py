"""The freshness monitor exports configured cities only, and lets the loop turn in a long pass."""

import inspect
from collections.abc import Iterator
from typing import Any
from unittest.mock import AsyncMock, patch

import pytest
from prometheus_client import REGISTRY

from agents.monitor import tracker, watch_freshness
from models import LastSeen, RawReading
from tests.unit.loop_turns import counting_loop_turns
from weather_app.app import last_seen
from weather_app.faust_internals.tables import TableWrites
from weather_app.metrics import city_gauges
from weather_app.rules.batch import next_last_seen
from weather_app.rules.enrichment import enrich_sample, sample_of
from weather_app.rules.freshness import assess
from weather_app.sources.slices import SLICE

# The function under Faust's timer and task wrappers: one round of the monitor.
one_round = inspect.unwrap(watch_freshness)


def entry(timestamp: str) -> LastSeen:
    reading = RawReading(
        city="Paris",
        country="FR",
        station_id="SIM-PAR",
        timestamp=timestamp,
        temperature=9.0,
        humidity=60.0,
        wind_speed=10.0,
        precipitation=0.0,
        data_origin="simulated",
    )
    return next_last_seen(None, enrich_sample(reading, sample_of(reading), []))


def exported() -> set[str]:
    [ages, _] = city_gauges.collect()
    return {sample.labels["city"] for sample in ages.samples}


@pytest.fixture
def owned() -> Iterator[None]:
    with (
        patch("agents.monitor.owns", return_value=True),
        patch("agents.monitor.publish_alert", new_callable=AsyncMock),
    ):
        yield
    last_seen.data.clear()
    for city in tracker.forget_all_but({}):
        city_gauges.remove(city)


async def test_a_city_that_left_the_configuration_is_neither_watched_nor_exported(owned):
    last_seen.data.update(Paris=entry("2026-11-30T12:00:00Z"))
    await one_round()
    assert "Paris" in exported()
    # Atlantis's entry survives in the table from a configuration that had it.
    last_seen.data.update(Atlantis=entry("2026-11-30T12:00:00Z"))
    await one_round()
    assert "Atlantis" not in exported()
    assert "Paris" in exported()


async def test_a_city_s_entry_held_until_the_next_commit_is_the_one_watched(owned):
    last_seen.data.update(Paris=entry("2026-11-30T12:00:00Z"))
    writes = TableWrites()
    writes.set(last_seen, "Paris", entry("2099-11-30T12:00:00Z"), 0)
    writes.set(last_seen, "Rome", entry("2099-11-30T12:00:00Z"), 0)
    with patch("agents.monitor.TABLE_WRITES", writes):
        await one_round()
    assert {"Paris", "Rome"} <= exported()
    # In the future: not stale.
    assert REGISTRY.get_sample_value("weather_city_age_seconds", {"city": "Paris"}) == 0.0


async def test_a_pass_over_many_cities_lets_the_event_loop_turn_between_slices(owned):
    cities = [f"Station {n:04d}" for n in range(8 * SLICE)]
    last_seen.data.update({city: entry("2026-11-30T12:00:00Z") for city in cities})
    judged_at_turn: list[tuple[int, int]] = []  # (loop turns so far, cities judged in the call)
    owned_at_turn: list[int] = []
    async with counting_loop_turns() as turns:

        def counting_owns(table: Any, city: str) -> bool:
            owned_at_turn.append(turns.count)
            return True

        def counting_assess(judged: Any, *args: Any) -> Any:
            judged = list(judged)
            judged_at_turn.append((turns.count, len(judged)))
            return assess(judged, *args)

        with (
            patch("agents.monitor.admission.tracks", return_value=True),
            patch("agents.monitor.assess", counting_assess),
            patch("agents.monitor.owns", counting_owns),
        ):
            await one_round()
    assert set(cities) <= exported()
    assert sum(count for _, count in judged_at_turn) == len(cities)
    # In one go, every city was found, judged and exported before the loop turned once.
    assert owned_at_turn[-1] >= 7
    assert max(count for _, count in judged_at_turn) <= SLICE
    assert judged_at_turn[-1][0] - judged_at_turn[0][0] >= 7
