"""Realistic simulated weather: a pure function of (city, time, seed).

Every quantity is built from smooth value noise keyed by the seed, the city and the time, so the
same inputs always give the same reading and consecutive readings evolve plausibly:
- temperature: a climate mean by latitude and season, a diurnal cycle peaking mid-afternoon in
  local solar time (from the longitude), and a slow drift of a few degrees;
- humidity: falls as the temperature rises above its mean, rises in rain;
- rain and storm episodes: hours-long, so rain persists instead of flickering;
- wind: a steady base with gusts that change minute to minute, much stronger in storms.
It simulates in v2's units (`UNITS`).
"""

import hashlib
import math
import struct
from datetime import UTC, datetime

from models import RawReading
from weather_app.rules.timestamps import format_rfc3339
from weather_app.rules.units import V2_UNITS, to_v2_units
from weather_app.sources.cities import City

UNITS = V2_UNITS

RAIN_EPISODE_SECONDS = 3 * 3600
WEATHER_DRIFT_SECONDS = 6 * 3600
GUST_SECONDS = 60
# Noise levels above which it rains, and a rain episode is a thunderstorm.
RAIN_THRESHOLD = 0.72
STORM_THRESHOLD = 0.85


def simulate_reading(city: City, at: datetime, seed: int) -> RawReading:
    observed = at.astimezone(UTC).replace(microsecond=0)
    t = observed.timestamp()
    noise = _Noise(seed, city.name)

    mean_temperature = _climate_mean(city.latitude, observed)
    utc_hour = observed.hour + observed.minute / 60 + observed.second / 3600
    solar_hour = (utc_hour + city.longitude / 15.0) % 24
    diurnal = 4.0 * math.cos(2 * math.pi * (solar_hour - 15.0) / 24)
    drift = 6.0 * (noise.smooth("temperature", t, WEATHER_DRIFT_SECONDS) - 0.5)

    rain_level = noise.smooth("rain", t, RAIN_EPISODE_SECONDS)
    raining = rain_level > RAIN_THRESHOLD
    storming = raining and noise.smooth("storm", t, RAIN_EPISODE_SECONDS) > STORM_THRESHOLD
    if storming:
        precipitation = 10.0 + 25.0 * noise.smooth("intensity", t, 600)
    elif raining:
        precipitation = 0.2 + 6.0 * (rain_level - RAIN_THRESHOLD) / (
            1 - RAIN_THRESHOLD
        ) * noise.smooth("intensity", t, 600)
    else:
        precipitation = 0.0

    temperature = mean_temperature + diurnal + drift - (2.0 if raining else 0.0)
    humidity = 62.0 - 2.2 * (temperature - mean_temperature) + (25.0 if raining else 0.0)
    humidity += 8.0 * (noise.smooth("humidity", t, 1800) - 0.5)

    base_wind = 8.0 + 14.0 * noise.smooth("wind", t, WEATHER_DRIFT_SECONDS)
    gust = 10.0 * noise.sharp("gust", t, GUST_SECONDS)
    wind_speed = base_wind + gust + (50.0 if storming else 0.0)
    wind_dir = 360.0 * noise.smooth("wind_dir", t, WEATHER_DRIFT_SECONDS)

    if storming:
        conditions, icon = "Thunderstorm, Rain", "thunder-rain"
    elif raining:
        conditions, icon = "Rain", "rain"
    else:
        conditions, icon = _dry_sky(noise.smooth("cloud", t, WEATHER_DRIFT_SECONDS), solar_hour)

    simulated = RawReading(
        city=city.name,
        country=city.country,
        station_id=city.station_id,
        timestamp=format_rfc3339(observed),
        temperature=round(max(-89.0, min(59.0, temperature)), 3),
        humidity=round(max(5.0, min(100.0, humidity)), 1),
        wind_speed=round(max(0.0, wind_speed), 1),
        precipitation=round(precipitation, 2),
        data_origin="simulated",
        wind_dir=round(wind_dir % 360.0, 0),
        conditions=conditions,
        icon=icon,
    )
    return to_v2_units(simulated, UNITS)


def _climate_mean(latitude: float, observed: datetime) -> float:
    """Mean air temperature by latitude, colder in the local winter."""
    annual_mean = 28.0 - 0.0062 * latitude**2
    # Day of year of the northern mid-summer peak, about 20 July.
    season = math.cos(2 * math.pi * (observed.timetuple().tm_yday - 201) / 365.25)
    seasonal_amplitude = 0.15 * abs(latitude)
    hemisphere = 1.0 if latitude >= 0 else -1.0
    return annual_mean + hemisphere * seasonal_amplitude * season


def _dry_sky(cloudiness: float, solar_hour: float) -> tuple[str, str]:
    daytime = 6.0 <= solar_hour < 18.0
    if cloudiness > 0.7:
        return "Overcast", "cloudy"
    if cloudiness > 0.4:
        return "Partially cloudy", "partly-cloudy-day" if daytime else "partly-cloudy-night"
    return "Clear", "clear-day" if daytime else "clear-night"


class _Noise:
    """Deterministic value noise in [0, 1) for one seed and city."""

    def __init__(self, seed: int, city: str) -> None:
        self._prefix = f"{seed}:{city}:".encode()

    def _value(self, channel: str, step: int) -> float:
        digest = hashlib.blake2b(
            self._prefix + f"{channel}:{step}".encode(), digest_size=8
        ).digest()
        value: int = struct.unpack(">Q", digest)[0]
        return value / 2**64

    def smooth(self, channel: str, t: float, period: float) -> float:
        """Cosine interpolation between random values at every `period` seconds."""
        position = t / period
        step = math.floor(position)
        weight = (1 - math.cos(math.pi * (position - step))) / 2
        return (1 - weight) * self._value(channel, step) + weight * self._value(channel, step + 1)

    def sharp(self, channel: str, t: float, period: float) -> float:
        """A fresh random value every `period` seconds: gusts."""
        return self._value(channel, math.floor(t / period))
