"""Next-hour forecast from a city's recent readings, for sources without a forecast of their own."""

from collections.abc import Sequence

from models import Sample

# A temperature trend fitted over a few minutes of readings can be steep by accident (sensor
# noise, rounding); real air temperature rarely moves faster than this in an hour.
MAX_TEMPERATURE_TREND_PER_HOUR = 3.0
# Weight of the newest precipitation rate against the older ones (exponential smoothing).
PRECIPITATION_SMOOTHING = 0.5


def samples_before(history: Sequence[Sample], epoch: float) -> list[Sample]:
    """The history strictly older than `epoch`, so a replayed reading sees what it saw first."""
    return [sample for sample in history if sample.epoch < epoch]


def record_sample(history: Sequence[Sample], sample: Sample, size: int) -> list[Sample]:
    """Insert `sample` in time order (once per timestamp) and keep the newest `size` samples.

    `history` is in time order, as this function returns it.
    """
    if history and history[-1].epoch < sample.epoch:  # the usual case: the newest reading
        return [*history[max(0, len(history) - size + 1) :], sample] if size > 1 else [sample]
    kept = [existing for existing in history if existing.epoch != sample.epoch]
    kept.append(sample)
    kept.sort(key=lambda existing: existing.epoch)
    return kept[-size:]


def forecast_next_hour(earlier: Sequence[Sample], current: Sample) -> tuple[float, float]:
    """(temperature °C in one hour, precipitation mm over the next hour).

    Temperature: the current value plus the least-squares trend of the recent readings, bounded
    to a physical rate. Precipitation: exponentially smoothed recent rates, newest weighted most.
    With no earlier readings the best guess is persistence (the current values).
    """
    if not earlier:
        return round(current.temperature, 2), round(current.precipitation, 2)
    samples = [*earlier, current]
    trend_per_hour = _slope_per_second(samples) * 3600.0
    trend_per_hour = max(
        -MAX_TEMPERATURE_TREND_PER_HOUR, min(MAX_TEMPERATURE_TREND_PER_HOUR, trend_per_hour)
    )
    smoothed_rate = samples[0].precipitation
    for sample in samples[1:]:
        smoothed_rate += PRECIPITATION_SMOOTHING * (sample.precipitation - smoothed_rate)
    return round(current.temperature + trend_per_hour, 2), round(max(0.0, smoothed_rate), 2)


def _slope_per_second(samples: Sequence[Sample]) -> float:
    count = len(samples)
    time_total = temperature_total = 0.0
    for epoch, temperature, _ in samples:
        time_total += epoch
        temperature_total += temperature
    mean_time, mean_temperature = time_total / count, temperature_total / count
    spread = covariance = 0.0
    for epoch, temperature, _ in samples:
        offset = epoch - mean_time
        spread += offset * offset
        covariance += offset * (temperature - mean_temperature)
    if spread == 0:
        return 0.0
    return covariance / spread
