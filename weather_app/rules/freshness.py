"""Is every city's data recent? One rule for the `check` command and the freshness monitor."""

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime

# A city is stale when its newest reading is older than this many fetch intervals.
STALE_AFTER_INTERVALS = 2.0


@dataclass(frozen=True)
class CityFreshness:
    city: str
    last_seen: datetime | None
    age_seconds: float | None
    recent_points: int
    fresh: bool


def max_age_seconds(interval_seconds: float, observation_spacing_seconds: float = 0.0) -> float:
    """How old a city's newest observation may be before it is stale: 2 fetch intervals, plus the
    spacing of the source's observations. Open-Meteo's current conditions are stamped on
    15-minute marks, so however often it is fetched its newest observation is up to 15 minutes
    old; a source stamping each reading when it is fetched (the simulation) has none."""
    return STALE_AFTER_INTERVALS * interval_seconds + observation_spacing_seconds


def assess(
    cities: Iterable[str],
    last_seen: Mapping[str, datetime],
    recent_points: Mapping[str, int],
    now: datetime,
    max_age: float,
) -> list[CityFreshness]:
    """One verdict per configured city; a city with no reading at all is not fresh."""
    verdicts = []
    for city in cities:
        seen = last_seen.get(city)
        age = None if seen is None else max(0.0, (now - seen).total_seconds())
        verdicts.append(
            CityFreshness(
                city=city,
                last_seen=seen,
                age_seconds=age,
                recent_points=recent_points.get(city, 0),
                fresh=age is not None and age <= max_age,
            )
        )
    return verdicts


class TransitionTracker:
    """Remembers which cities were stale, to report each fresh/stale change exactly once."""

    def __init__(self) -> None:
        self._stale: dict[str, bool] = {}

    def changes(self, verdicts: Iterable[CityFreshness]) -> list[CityFreshness]:
        """The verdicts whose state changed; a city not judged before counts as fresh."""
        changed = []
        for verdict in verdicts:
            stale = not verdict.fresh
            if self._stale.get(verdict.city, False) != stale:
                changed.append(verdict)
            self._stale[verdict.city] = stale
        return changed

    def forget_all_but(self, cities: Iterable[str]) -> list[str]:
        """Drop the cities not in `cities` (no longer ours); returns the dropped ones."""
        keep = set(cities)
        dropped = [city for city in self._stale if city not in keep]
        for city in dropped:
            del self._stale[city]
        return dropped


# Per-city lines of one monitor pass; beyond them, one line says how many more changed.
LOGGED_CHANGES_PER_PASS = 10


def change_lines(
    changes: Sequence[CityFreshness], max_age: float, limit: int = LOGGED_CHANGES_PER_PASS
) -> list[tuple[bool, str]]:
    """(is_warning, text) of the log lines for one pass's changes: one a city up to `limit`, then
    one summary, so a worker that falls behind with 100,000 cities writes a few lines a pass
    instead of one per city (each change still goes to the alerts topic and /metrics)."""
    lines = [
        (
            not change.fresh,
            f"{change.city} is fresh again (last reading {change.age_seconds or 0.0:.0f}s ago)"
            if change.fresh
            else f"{change.city} is stale: last reading {change.age_seconds or 0.0:.0f}s ago, "
            f"more than {max_age:.0f}s",
        )
        for change in changes[:limit]
    ]
    rest = changes[limit:]
    if rest:
        stale = sum(not change.fresh for change in rest)
        lines.append(
            (
                stale > 0,
                f"and {len(rest)} more cities changed ({stale} stale, {len(rest) - stale} fresh "
                "again): see the weather_alerts topic or weather_city_stale in /metrics",
            )
        )
    return lines
