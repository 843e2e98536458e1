from weather_app.rules.schedule import RoundSchedule, tick_seconds


def starts(schedule: RoundSchedule, ticks: list[float]) -> list[float]:
    return [now for now in ticks if schedule.start_if_due(now)]


def test_the_first_round_starts_on_the_first_tick_not_one_interval_later() -> None:
    ticks = [1000.0, 1001.0, 1863.0, 1864.0]
    assert starts(RoundSchedule(interval=864.0), ticks) == [1000.0, 1864.0]


def test_rounds_keep_their_cadence_when_a_tick_comes_late() -> None:
    ticks = [0.0, 10.4, 20.9, 30.2, 40.0]
    assert starts(RoundSchedule(interval=10.0), ticks) == ticks


def test_a_round_that_overran_starts_the_next_late_once_without_a_burst() -> None:
    schedule = RoundSchedule(interval=10.0)
    assert starts(schedule, [0.0, 35.0, 36.0, 44.9, 45.0]) == [0.0, 35.0, 45.0]


def test_the_tick_is_a_second_or_the_interval_when_shorter() -> None:
    assert tick_seconds(864.0) == 1.0
    assert tick_seconds(0.25) == 0.25
