"""Every process a test starts reads its weather from the simulation or a loopback server: with
no source pinned, `auto` without a key would ask the public Open-Meteo."""

import os
from urllib.parse import urlsplit

from tests.integration.support import AppEnv
from weather_app.settings import Settings


def test_the_test_session_pins_the_simulation_and_a_loopback_open_meteo():
    settings = Settings.from_env(os.environ)
    assert settings.weather_source == "simulation"
    assert urlsplit(settings.open_meteo.url).hostname == "127.0.0.1"


def test_integration_workers_use_the_simulation_unless_a_test_names_an_api(tmp_path):
    assert AppEnv("127.0.0.1:9092", tmp_path).variables()["WEATHER_SOURCE"] == "simulation"
    named = AppEnv("127.0.0.1:9092", tmp_path, extra={"WEATHER_SOURCE": "visual-crossing"})
    assert named.variables()["WEATHER_SOURCE"] == "visual-crossing"
