import pytest

from models import Sample
from weather_app.rules.forecast import (
    MAX_TEMPERATURE_TREND_PER_HOUR,
    forecast_next_hour,
    record_sample,
    samples_before,
)


def test_without_history_the_forecast_is_persistence():
    assert forecast_next_hour([], Sample(0, 12.5, 0.4)) == (12.5, 0.4)


def test_a_warming_trend_is_extrapolated_one_hour():
    earlier = [Sample(0, 10.0, 0.0), Sample(600, 10.2, 0.0), Sample(1200, 10.4, 0.0)]
    temperature, _ = forecast_next_hour(earlier, Sample(1800, 10.6, 0.0))
    # 0.2 °C every 10 minutes is 1.2 °C an hour.
    assert temperature == pytest.approx(11.8)


def test_a_cooling_trend_is_extrapolated_one_hour():
    earlier = [Sample(0, 10.0, 0.0), Sample(1800, 9.5, 0.0)]
    temperature, _ = forecast_next_hour(earlier, Sample(3600, 9.0, 0.0))
    assert temperature == pytest.approx(8.0)


def test_steep_short_term_trends_are_bounded_to_a_physical_rate():
    earlier = [Sample(0, 10.0, 0.0)]
    temperature, _ = forecast_next_hour(earlier, Sample(1, 10.1, 0.0))
    assert temperature == pytest.approx(10.1 + MAX_TEMPERATURE_TREND_PER_HOUR)


def test_precipitation_is_smoothed_towards_recent_rates():
    earlier = [Sample(0, 10.0, 0.0), Sample(60, 10.0, 0.0)]
    _, precipitation = forecast_next_hour(earlier, Sample(120, 10.0, 4.0))
    assert 0 < precipitation < 4.0
    _, drying = forecast_next_hour(
        [Sample(0, 10.0, 4.0), Sample(60, 10.0, 4.0)], Sample(120, 10, 0)
    )
    assert 0 < drying < 4.0


def test_record_sample_keeps_time_order_one_sample_per_timestamp_and_the_newest():
    history: list[Sample] = []
    for epoch in (30, 10, 20, 20, 40):
        history = record_sample(history, Sample(epoch, float(epoch), 0.0), size=3)
    assert [sample.epoch for sample in history] == [20, 30, 40]


def test_samples_before_excludes_the_reading_itself_and_later_ones():
    history = [Sample(10, 1, 0), Sample(20, 2, 0), Sample(30, 3, 0)]
    assert samples_before(history, 20) == [Sample(10, 1, 0)]


def test_the_history_grows_to_its_full_size_one_reading_at_a_time():
    history: list[Sample] = []
    for epoch in range(20):
        history = record_sample(history, Sample(float(epoch), 10.0, 0.0), 12)
        assert len(history) == min(epoch + 1, 12)
    assert [sample.epoch for sample in history] == [float(epoch) for epoch in range(8, 20)]
