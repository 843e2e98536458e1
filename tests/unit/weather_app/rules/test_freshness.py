from datetime import UTC, datetime, timedelta

from weather_app.rules.freshness import (
    CityFreshness,
    TransitionTracker,
    assess,
    change_lines,
    max_age_seconds,
)

NOW = datetime(2026, 11, 28, 12, tzinfo=UTC)


def test_stale_after_two_intervals():
    assert max_age_seconds(60) == 120
    assert max_age_seconds(60, observation_spacing_seconds=900) == 1020


def test_each_configured_city_gets_a_verdict():
    verdicts = assess(
        ["Paris", "Rome", "Oslo"],
        last_seen={"Paris": NOW - timedelta(seconds=30), "Rome": NOW - timedelta(seconds=121)},
        recent_points={"Paris": 2},
        now=NOW,
        max_age=120,
    )
    paris, rome, oslo = verdicts
    assert (paris.fresh, paris.age_seconds, paris.recent_points) == (True, 30.0, 2)
    assert (rome.fresh, rome.age_seconds, rome.recent_points) == (False, 121.0, 0)
    assert (oslo.fresh, oslo.last_seen, oslo.age_seconds) == (False, None, None)


def test_a_point_slightly_ahead_of_the_clock_counts_as_age_zero():
    [verdict] = assess(["Paris"], {"Paris": NOW + timedelta(seconds=2)}, {}, NOW, 120)
    assert verdict.fresh
    assert verdict.age_seconds == 0.0


def verdict(city: str, fresh: bool):
    [result] = assess(
        [city], {city: NOW - timedelta(seconds=10 if fresh else 500)}, {}, NOW, max_age=120
    )
    return result


def test_each_transition_is_reported_once():
    tracker = TransitionTracker()
    assert tracker.changes([verdict("Paris", fresh=True)]) == []
    assert [v.city for v in tracker.changes([verdict("Paris", fresh=False)])] == ["Paris"]
    assert tracker.changes([verdict("Paris", fresh=False)]) == []
    back = tracker.changes([verdict("Paris", fresh=True)])
    assert [(v.city, v.fresh) for v in back] == [("Paris", True)]
    assert tracker.changes([verdict("Paris", fresh=True)]) == []


def test_a_city_first_seen_stale_is_reported():
    assert len(TransitionTracker().changes([verdict("Rome", fresh=False)])) == 1


def test_forgetting_cities_no_longer_owned():
    tracker = TransitionTracker()
    tracker.changes([verdict("Paris", fresh=False), verdict("Rome", fresh=False)])
    assert tracker.forget_all_but(["Rome"]) == ["Paris"]
    # Paris comes back to this worker stale: it is reported again (its state was forgotten).
    assert len(tracker.changes([verdict("Paris", fresh=False)])) == 1


def change(city: str, age: float, fresh: bool) -> CityFreshness:
    return CityFreshness(city, NOW - timedelta(seconds=age), age, 0, fresh)


def test_a_few_changes_get_a_line_each_stale_ones_as_warnings():
    lines = change_lines([change("Paris", 130, False), change("Rome", 5, True)], max_age=120)
    assert lines == [
        (True, "Paris is stale: last reading 130s ago, more than 120s"),
        (False, "Rome is fresh again (last reading 5s ago)"),
    ]


def test_beyond_the_limit_one_line_counts_the_other_changes():
    changes = [change(f"S{n}", 200, False) for n in range(5)] + [change("Rome", 5, True)]
    lines = change_lines(changes, max_age=120, limit=2)
    assert [text for _, text in lines[:2]] == [
        "S0 is stale: last reading 200s ago, more than 120s",
        "S1 is stale: last reading 200s ago, more than 120s",
    ]
    assert lines[2:] == [
        (
            True,
            "and 4 more cities changed (3 stale, 1 fresh again): see the weather_alerts topic or "
            "weather_city_stale in /metrics",
        )
    ]
    assert len(change_lines([change(f"S{n}", 200, False) for n in range(100_000)], 120)) == 11
