"""The Open-Meteo source against a fake Open-Meteo on 127.0.0.1 (this suite never reaches the
internet), built from the documented response shape: one request for every city, answered by a
list of locations in the same order (one object for one location)."""

import json
import logging
import socket
import time
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web

from models import RawReading
from tests.unit.weather_app.sources.loopback import cut_short, serving
from tests.unit.weather_app.sources.test_fetcher import NOW, PARIS, RAND, TOKYO, FakeTime
from weather_app.rules.enrichment import is_storm
from weather_app.settings import OpenMeteoSettings, Settings, StreamSettings
from weather_app.sources.cities import City
from weather_app.sources.fetcher import WeatherFetcher

LOCATION = json.loads((Path(__file__).parent / "fixtures" / "open_meteo_location.json").read_text())
BERLIN = City("Berlin", "DE", 52.52, 13.405, "BER")
RATE_LIMITED = json.dumps(
    {"error": True, "reason": "Daily API request limit exceeded. Please try again tomorrow."}
)


def location(index: int, weather_code: int = 63) -> dict[str, Any]:
    """The fixture's location, its temperature marking its place in the answer."""
    current = {**LOCATION["current"], "temperature_2m": 10.0 + index, "weather_code": weather_code}
    return {**LOCATION, "current": current}


class FakeOpenMeteo:
    """Answers each request by the next entry of `script`, then by `mode`."""

    def __init__(self) -> None:
        self.mode = "ok"
        self.script: list[str] = []
        self.weather_codes: dict[int, int] = {}  # location index -> WMO code
        self.requests: list[web.Request] = []

    async def handle(self, request: web.Request) -> web.StreamResponse:
        self.requests.append(request)
        mode = self.script.pop(0) if self.script else self.mode
        asked = len(request.query["latitude"].split(","))
        locations = [location(i, self.weather_codes.get(i, 63)) for i in range(asked)]
        if mode == "ok":
            return web.json_response(locations if asked > 1 else locations[0])
        if mode == "short":
            return web.json_response(locations[:-1])
        if mode == "second-without-current":
            return web.json_response([locations[0], {**locations[1], "current": None}])
        if mode == "400":
            return web.json_response(
                {"error": True, "reason": "Latitude must be in range of -90 to 90°."}, status=400
            )
        if mode == "401":
            return web.json_response({"error": True, "reason": "Unauthorized"}, status=401)
        if mode == "429":
            return web.Response(status=429, text=RATE_LIMITED, content_type="application/json")
        if mode == "503":
            return web.Response(status=503, text="Service Unavailable")
        assert mode == "cut-short", mode
        return await cut_short(request, json.dumps(locations).encode()[:300])


@pytest.fixture
async def fake_open_meteo() -> AsyncIterator[tuple[FakeOpenMeteo, str]]:
    fake = FakeOpenMeteo()
    async with serving("/v1/forecast", fake.handle) as server:
        yield fake, f"{server}/v1/forecast"


def open_meteo_fetcher(
    url: str,
    cities: tuple[City, ...] = (PARIS, TOKYO),
    time: FakeTime | None = None,
    **open_meteo: Any,
) -> WeatherFetcher:
    """A fetcher of `cities` from Open-Meteo at `url`; `open_meteo`: other OpenMeteoSettings."""
    settings = Settings(
        stream=StreamSettings(
            cities=cities, interval_seconds=60.0, simulation_seed=1, source="open-meteo"
        ),
        # The largest budget: the quota guard never raises the interval here.
        open_meteo=OpenMeteoSettings(
            url=url, timeout_seconds=0.5, daily_budget=1_000_000_000, **open_meteo
        ),
    )
    time = time or FakeTime()
    return WeatherFetcher(settings, clock=time.clock, sleep=time.sleep, rand=lambda: RAND)


def origins(readings: list[RawReading]) -> list[str]:
    return [reading.data_origin for reading in readings]


async def test_one_request_for_every_city_answered_in_order(fake_open_meteo):
    fake, url = fake_open_meteo
    fetcher = open_meteo_fetcher(url, cities=(PARIS, TOKYO, BERLIN))
    async with fetcher:
        readings = await fetcher.fetch_all(NOW)
    assert len(fake.requests) == 1
    assert fake.requests[0].query["latitude"] == "48.8566,35.6762,52.5200"
    assert [reading.city for reading in readings] == ["Paris", "Tokyo", "Berlin"]
    assert [reading.temperature for reading in readings] == [10.0, 11.0, 12.0]
    assert [reading.station_id for reading in readings] == ["API-PAR", "API-TYO", "API-BER"]
    assert origins(readings) == ["api"] * 3


async def test_one_city_is_answered_by_one_object(fake_open_meteo):
    _, url = fake_open_meteo
    fetcher = open_meteo_fetcher(url, cities=(PARIS,))
    async with fetcher:
        [reading] = await fetcher.fetch_all(NOW)
    assert (reading.city, reading.data_origin, reading.temperature) == ("Paris", "api", 10.0)


@pytest.mark.parametrize("code", [95, 96, 99])
async def test_a_thunderstorm_code_reaches_the_enrichment_as_a_storm(fake_open_meteo, code):
    fake, url = fake_open_meteo
    fake.weather_codes[1] = code
    fetcher = open_meteo_fetcher(url)
    async with fetcher:
        paris, tokyo = await fetcher.fetch_all(NOW)
    assert (is_storm(paris), is_storm(tokyo)) == (False, True)
    assert tokyo.icon == "thunder-rain"


async def test_cities_missing_from_a_short_answer_are_simulated_and_named(fake_open_meteo, caplog):
    fake, url = fake_open_meteo
    fake.mode = "short"
    fetcher = open_meteo_fetcher(url, cities=(PARIS, TOKYO, BERLIN))
    async with fetcher:
        readings = await fetcher.fetch_all(NOW)
    assert origins(readings) == ["api", "api", "simulated"]
    assert [reading.city for reading in readings] == ["Paris", "Tokyo", "Berlin"]
    assert "Open-Meteo answered 2 of 3 locations; simulated this round: Berlin" in caplog.text


async def test_an_unusable_location_is_simulated_alone(fake_open_meteo, caplog):
    fake, url = fake_open_meteo
    fake.mode = "second-without-current"
    fetcher = open_meteo_fetcher(url)
    async with fetcher:
        readings = await fetcher.fetch_all(NOW)
    assert origins(readings) == ["api", "simulated"]
    assert len(fake.requests) == 1  # not retried
    assert "Open-Meteo failed for Tokyo (unexpected response: location has no current" in (
        caplog.text
    )


@pytest.mark.parametrize("refusal", ["400", "401"])
async def test_a_refused_request_is_not_retried_and_every_city_is_simulated(
    fake_open_meteo, refusal, caplog
):
    fake, url = fake_open_meteo
    fake.mode = refusal
    time = FakeTime()
    fetcher = open_meteo_fetcher(url, time=time)
    async with fetcher:
        readings = await fetcher.fetch_all(NOW)
    assert origins(readings) == ["simulated", "simulated"]
    assert (len(fake.requests), time.sleeps) == (1, [])
    assert f"Open-Meteo failed for 2 cities (HTTP {refusal}" in caplog.text
    assert "VISUAL_CROSSING_API_KEY" not in caplog.text  # Open-Meteo has no key to check


@pytest.mark.parametrize("fault", ["503", "cut-short"])
async def test_a_5xx_or_a_cut_off_body_is_retried_after_a_jittered_backoff(
    fake_open_meteo, fault, caplog
):
    fake, url = fake_open_meteo
    fake.script = [fault, fault]
    time = FakeTime()
    fetcher = open_meteo_fetcher(url, time=time)
    async with fetcher:
        readings = await fetcher.fetch_all(NOW)
    assert origins(readings) == ["api", "api"]
    assert len(fake.requests) == 3
    assert time.sleeps == [0.3125, 0.625]
    assert "Open-Meteo failed for 2 cities" in caplog.text


async def test_retries_are_bounded_then_every_city_is_simulated(fake_open_meteo, caplog):
    fake, url = fake_open_meteo
    fake.mode = "503"
    caplog.set_level(logging.INFO)
    fetcher = open_meteo_fetcher(url, retries=1)
    async with fetcher:
        failed = await fetcher.fetch_all(NOW)
        fake.mode = "ok"
        recovered = await fetcher.fetch_all(NOW + timedelta(minutes=1))
    assert origins(failed) == ["simulated", "simulated"]
    assert origins(recovered) == ["api", "api"]
    assert len(fake.requests) == 3
    assert "HTTP 503: Service Unavailable); using simulated data this round" in caplog.text
    assert caplog.text.count("Open-Meteo is answering again") == 1


async def test_429_stops_every_call_for_the_cool_down_then_calls_again(fake_open_meteo, caplog):
    fake, url = fake_open_meteo
    fake.script = ["429"]
    time = FakeTime()
    fetcher = open_meteo_fetcher(url, time=time, cooldown_seconds=600)
    async with fetcher:
        first = await fetcher.fetch_all(NOW)
        during = await fetcher.fetch_all(NOW + timedelta(seconds=599))
        assert len(fake.requests) == 1
        after = await fetcher.fetch_all(NOW + timedelta(seconds=600))
    assert origins(first + during) == ["simulated"] * 4
    assert origins(after) == ["api", "api"]
    assert time.sleeps == []  # a cool-down is never retried within the round
    assert caplog.text.count("no API calls for 600s") == 1
    assert "HTTP 429: " in caplog.text
    assert "Daily API request limit exceeded" in caplog.text


def closed_loopback_port() -> int:
    """A port nothing listens on: bound and released, so a connection is refused at once."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


async def test_offline_one_line_then_no_attempt_until_the_cool_down_ends(caplog):
    """`make run` without internet: one line, simulated readings, and the rounds of the
    cool-down neither connect nor wait (no DNS or connect time added to each interval)."""
    url = f"http://127.0.0.1:{closed_loopback_port()}/v1/forecast"
    time_ = FakeTime()
    caplog.set_level(logging.DEBUG, logger="weather_app.sources.fetcher")
    fetcher = open_meteo_fetcher(url, time=time_, cooldown_seconds=900)
    async with fetcher:
        first = await fetcher.fetch_all(NOW)
        offline = [line for line in caplog.messages if "Open-Meteo is unreachable" in line]
        started = time.monotonic()
        during = [await fetcher.fetch_all(NOW + timedelta(seconds=s)) for s in (60, 120, 899)]
        rounds_took = time.monotonic() - started
        attempts_during = sum("cool-down: simulating" in line for line in caplog.messages)
        again = await fetcher.fetch_all(NOW + timedelta(seconds=900))
    assert origins(first) == ["simulated", "simulated"]
    assert all(origins(readings) == ["simulated", "simulated"] for readings in [*during, again])
    assert offline == [
        "Open-Meteo is unreachable (connection error: ClientConnectorError): every city is "
        "simulated, next try in 900s (WEATHER_SOURCE=simulation skips the API)"
    ]
    assert time_.sleeps == []  # not retried: no connection is no transient fault
    assert attempts_during == 3  # each round of the cool-down skipped the API
    assert rounds_took < 0.5
    assert sum("Open-Meteo is unreachable" in line for line in caplog.messages) == 2


async def test_auto_without_a_key_is_open_meteo(fake_open_meteo):
    fake, url = fake_open_meteo
    settings = Settings.from_env({"OPEN_METEO_URL": url, "WEATHER_CITIES": "Paris,Tokyo"})
    assert settings.weather_source == "open-meteo"
    fetcher = WeatherFetcher(settings)
    async with fetcher:
        readings = await fetcher.fetch_all(NOW)
    assert origins(readings) == ["api", "api"]
    assert len(fake.requests) == 1


async def test_the_simulation_source_makes_no_request(fake_open_meteo):
    fake, url = fake_open_meteo
    settings = Settings.from_env({"OPEN_METEO_URL": url, "WEATHER_SOURCE": "simulation"})
    fetcher = WeatherFetcher(settings)
    async with fetcher:
        readings = await fetcher.fetch_all(NOW)
    assert set(origins(readings)) == {"simulated"}
    assert fake.requests == []


async def test_the_interval_raised_to_fit_open_meteo_s_calls_is_logged_once(
    fake_open_meteo, caplog
):
    _, url = fake_open_meteo
    settings = Settings.from_env({"OPEN_METEO_URL": url, "WEATHER_INTERVAL": "10"})
    # Each of the 10 cities is one call: every 10 s would be 86,400 calls a day.
    assert settings.fetch_interval_seconds == 87.0
    with caplog.at_level(logging.INFO):
        async with WeatherFetcher(settings):
            pass
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert warnings == [
        "[^WeatherFetcher]: WEATHER_INTERVAL=10s would query Open-Meteo 86400 times a day for "
        "10 cities, over OPEN_METEO_DAILY_BUDGET=10000: fetching every 87s instead"
    ]
