"""Freshness monitor: every worker watches the cities whose partitions it owns.

A city whose newest observation is older than 2 x the interval turns stale: a warning in the log,
one event on the alerts topic, the stale flag in the web view and in `/metrics`. Its next reading
turns it fresh again, with one more event.
"""

import logging
from datetime import UTC, datetime

from agents.enrich import TABLE_WRITES
from models import FreshnessAlert
from models.codec import encode_key, encode_record
from weather_app.app import admission, alerts_topic, app, last_seen, settings
from weather_app.metrics import city_gauges, freshness_alerts
from weather_app.rules.freshness import (
    CityFreshness,
    TransitionTracker,
    assess,
    change_lines,
)
from weather_app.rules.timestamps import format_rfc3339, parse_rfc3339
from weather_app.sources.slices import in_slices
from weather_app.web.ownership import owns

logger = logging.getLogger(__name__)
tracker = TransitionTracker()
MAX_AGE = settings.stale_after_seconds


@app.timer(interval=max(1.0, settings.fetch_interval_seconds / 2))
async def watch_freshness() -> None:
    now = datetime.now(UTC)
    # A city no longer configured is no longer watched, and its series leave /metrics. The
    # entries the enrich agent holds until the next commit are the newest (only of cities it
    # owns): the table alone is up to a commit interval behind.
    held = TABLE_WRITES.keys(last_seen)
    seen: dict[str, datetime] = {}
    async for cities in in_slices(list({*last_seen.keys(), *held})):
        for city in cities:
            if admission.tracks(city) and (city in held or owns(last_seen, city)):
                entry = TABLE_WRITES.get(last_seen, city)
                if entry is not None:  # None: its partition was taken away between two slices
                    seen[city] = parse_rfc3339(entry.timestamp)
    verdicts = []
    async for cities in in_slices(list(seen)):
        for verdict in assess(cities, seen, {}, now, MAX_AGE):
            city_gauges.set(verdict.city, verdict.age_seconds or 0.0, not verdict.fresh)
            verdicts.append(verdict)
    for city in tracker.forget_all_but(seen):
        city_gauges.remove(city)
    changes = tracker.changes(verdicts)
    for is_warning, line in change_lines(changes, MAX_AGE):
        logger.log(logging.WARNING if is_warning else logging.INFO, "%s", line)
    for change in changes:
        await publish_alert(change, now)


async def publish_alert(change: CityFreshness, now: datetime) -> None:
    state = "fresh" if change.fresh else "stale"
    assert change.last_seen is not None
    assert change.age_seconds is not None
    alert = FreshnessAlert(
        city=change.city,
        state=state,
        last_seen=format_rfc3339(change.last_seen),
        age_seconds=round(change.age_seconds, 1),
        threshold_seconds=MAX_AGE,
        detected_at=format_rfc3339(now),
    )
    freshness_alerts.labels(state=state).inc()
    await alerts_topic.send(key=encode_key(change.city), value=encode_record(alert))
