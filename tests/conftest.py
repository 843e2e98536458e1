"""No test reaches the internet: with no source pinned, `auto` would ask the public Open-Meteo.

Set before any test module reads the environment, and inherited by every worker, script and
benchmark a test starts; a test that wants an API sets WEATHER_SOURCE and its fake server's URL.
"""

import os

os.environ["WEATHER_SOURCE"] = "simulation"
# Should a test choose Open-Meteo without its fake: a closed loopback port, refused at once.
os.environ["OPEN_METEO_URL"] = "http://127.0.0.1:9/v1/forecast"
