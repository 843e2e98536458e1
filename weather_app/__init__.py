"""weather-speed-layer: the real-time half of a Lambda architecture for live weather data.

Importing the package, or any of its rules, sources and adapters, builds nothing and reads no
environment. `faust -A weather_app` asks the package for `app`: only then is the Faust app built
from the environment (weather_app.app), and a configuration error stops the process with one line.
"""

import importlib
from typing import Any


def __getattr__(name: str) -> Any:
    if name != "app":
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    from weather_app.errors import ConfigError, WeatherError, exit_with

    try:
        module = importlib.import_module("weather_app.app")
    except ConfigError as error:
        exit_with(f"configuration error: {error}")
    except WeatherError as error:
        exit_with(str(error))
    # Importing the module bound its name here; Faust wants the app itself under `app`.
    globals()["app"] = module.app
    return module.app
