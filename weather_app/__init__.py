"""weather-speed-layer: the real-time half of a Lambda architecture for live weather data."""

from weather_app.app import app

__all__ = ["app"]
