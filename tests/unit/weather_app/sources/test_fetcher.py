"""The Visual Crossing adapter against a fake server on 127.0.0.1."""

import asyncio
import contextlib
import itertools
import json
import logging
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web

from tests.unit.loop_turns import counting_loop_turns
from tests.unit.weather_app.sources.loopback import cut_short, serving
from weather_app.settings import ApiSettings, Settings, StreamSettings
from weather_app.sources.backoff import RetryPolicy, backoff_schedule
from weather_app.sources.cities import City
from weather_app.sources.fetcher import ERROR_BODY_BYTES, WeatherFetcher
from weather_app.sources.simulation import simulate_reading
from weather_app.sources.slices import SLICE

API_KEY = "test-key-3f9c1d"
PARIS = City("Paris", "FR", 48.8566, 2.3522, "PAR")
TOKYO = City("Tokyo", "JP", 35.6762, 139.6503, "TYO")
TIMELINE = json.loads((Path(__file__).parent / "fixtures" / "timeline_thunder.json").read_text())
NOW = datetime(2026, 11, 28, 12, tzinfo=UTC)
RAND = 0.25  # the injected jitter draw
TRANSIENT_MODES = ["500", "503", "not-json", "truncated-json", "cut-short", "non-utf8", "slow"]
# Answers that parse but break the agent's validation rules: current conditions overridden.
OUT_OF_RULES: dict[str, tuple[dict[str, object], str]] = {
    "nan-temperature": ({"temp": float("nan")}, "not_finite: temperature is not finite"),
    "humidity-101": ({"humidity": 101}, "out_of_range: humidity=101.0 outside 0.0..100.0"),
    "negative-precipitation": (
        {"precip": -0.5},
        "out_of_range: precipitation=-0.5 outside 0.0..500.0",
    ),
}


def timeline_with(**current: object) -> dict[str, object]:
    return {**TIMELINE, "currentConditions": {**TIMELINE["currentConditions"], **current}}


class FakeVisualCrossing:
    """Answers each request by the next entry of `script`, then by `mode` (per location in
    `by_location` when set)."""

    def __init__(self) -> None:
        self.mode = "ok"
        self.script: list[str] = []
        self.by_location: dict[str, str] = {}
        self.requests: list[web.Request] = []
        self.released = asyncio.Event()  # ends "slow" answers, so teardown does not wait

    async def handle(self, request: web.Request) -> web.StreamResponse:
        self.requests.append(request)
        location = request.match_info["location"]
        mode = self.script.pop(0) if self.script else self.by_location.get(location, self.mode)
        if mode == "ok":
            return web.json_response(TIMELINE)
        if mode == "another-station":
            return web.json_response(timeline_with(stations=["LFPO"]))
        if mode in OUT_OF_RULES:
            # json.dumps writes NaN as the bare NaN that Python's json.loads accepts.
            return web.json_response(timeline_with(**OUT_OF_RULES[mode][0]))
        if mode == "400":
            return web.Response(
                status=400, text="Bad API Request:Invalid location parameter value."
            )
        if mode == "401":
            return web.Response(status=401, text=f"No account found with API key '{API_KEY}'")
        if mode == "401-chunked":
            return await self.refuse_in_pieces(request)
        if mode == "401-key-at-the-bound":
            # Spaces collapse in the log line, so the key's first bytes inside the bound would
            # open the excerpt.
            padding = " " * (ERROR_BODY_BYTES - 5)
            return web.Response(status=401, text=f"{padding}{API_KEY} is not a valid key")
        if mode == "429":
            return web.Response(status=429, text=f"Maximum daily cost exceeded for key {API_KEY}")
        if mode in {"500", "503"}:
            return web.Response(status=int(mode), text="Internal error")
        if mode == "not-json":
            return web.Response(status=200, text="<html>maintenance</html>")
        if mode == "truncated-json":
            return web.Response(status=200, text=json.dumps(TIMELINE)[:200])
        if mode == "non-utf8":
            return web.Response(status=200, body=b'{"currentConditions": "\xff\xfe"}')
        if mode == "cut-short":
            return await cut_short(request, json.dumps(TIMELINE).encode()[:200])
        if mode == "slow":
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.released.wait(), 5)
        return web.json_response({"days": []})

    async def refuse_in_pieces(self, request: web.Request) -> web.StreamResponse:
        """A chunked 401 that repeats the key, cut inside the key, each piece on its own."""
        response = web.StreamResponse(status=401)
        response.enable_chunked_encoding()
        await response.prepare(request)
        text = f"No account found with API key '{API_KEY}'"
        key_at = text.index(API_KEY)
        cuts = [0, key_at + 6, key_at + 11, len(text)]
        for start, end in itertools.pairwise(cuts):
            await response.write(text[start:end].encode())
            await asyncio.sleep(0.05)
        await response.write_eof()
        return response


@pytest.fixture
async def fake_api() -> AsyncIterator[tuple[FakeVisualCrossing, str]]:
    fake = FakeVisualCrossing()
    async with serving("/timeline/{location}", fake.handle) as server:
        yield fake, f"{server}/timeline"
        fake.released.set()


class FakeTime:
    """A monotonic clock that only moves when the fetcher sleeps (or a test says so)."""

    def __init__(self) -> None:
        self.now = 0.0
        self.sleeps: list[float] = []

    def clock(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


def fragments(secret: str, shortest: int = 4) -> set[str]:
    return {
        secret[start:end]
        for start in range(len(secret))
        for end in range(start + shortest, len(secret) + 1)
    }


def fetcher_for(
    base_url: str,
    api_key: str = API_KEY,
    time: FakeTime | None = None,
    cities: tuple[City, ...] = (PARIS,),
    interval_seconds: float = 60.0,
    **api: Any,
) -> WeatherFetcher:
    """A fetcher of `cities` from the fake API at `base_url`; `api`: other ApiSettings fields."""
    settings = Settings(
        stream=StreamSettings(cities=cities, interval_seconds=interval_seconds, simulation_seed=1),
        # The largest budget: the quota guard never raises `interval_seconds` here.
        api=ApiSettings(
            key=api_key, base_url=base_url, timeout_seconds=0.5, daily_budget=1_000_000_000, **api
        ),
    )
    time = time or FakeTime()
    return WeatherFetcher(
        settings,
        clock=time.clock,
        sleep=time.sleep,
        rand=lambda: RAND,
    )


def locations(fake: FakeVisualCrossing) -> list[str]:
    return [request.match_info["location"] for request in fake.requests]


async def test_a_simulated_round_of_many_cities_lets_the_event_loop_turn_between_slices():
    cities = tuple(
        City(f"Station {n:04d}", "XX", -60 + n % 120, -170 + n % 340, f"S{n:04d}")
        for n in range(8 * SLICE)
    )
    fetcher = WeatherFetcher(Settings(stream=StreamSettings(cities=cities, simulation_seed=1)))
    async with counting_loop_turns() as turns:
        readings = await fetcher.fetch_all(NOW)
    assert readings == [simulate_reading(city, NOW, seed=1) for city in cities]
    # A task per city ran every city's simulation in one turn of the loop.
    assert turns.count >= 7


async def test_a_round_can_be_fetched_for_some_of_the_cities_only(fake_api):
    fake, base_url = fake_api
    fetcher = fetcher_for(base_url, cities=(PARIS, TOKYO))
    async with fetcher:
        readings = await fetcher.fetch_all(NOW, (TOKYO,))
    assert [reading.city for reading in readings] == ["Tokyo"]
    assert locations(fake) == ["35.6762,139.6503"]


async def test_api_reading_with_the_documented_query(fake_api):
    fake, base_url = fake_api
    fetcher = fetcher_for(base_url)
    async with fetcher:
        [reading] = await fetcher.fetch_all(NOW)
    assert reading.data_origin == "api"
    assert reading.timestamp == "2025-11-28T13:20:00Z"
    query = fake.requests[0].query
    assert fake.requests[0].match_info["location"] == "48.8566,2.3522"
    assert query["unitGroup"] == "metric"
    assert query["include"] == "current,hours"
    assert query["iconSet"] == "icons2"
    assert query["key"] == API_KEY


@pytest.mark.parametrize(
    "mode",
    [
        "401",
        "401-chunked",
        "401-key-at-the-bound",
        "429",
        "400",
        *TRANSIENT_MODES,
        "missing-fields",
        *OUT_OF_RULES,
    ],
)
async def test_any_failure_falls_back_to_simulation_without_leaking_the_key(fake_api, mode, caplog):
    fake, base_url = fake_api
    fake.mode = mode
    fetcher = fetcher_for(base_url)
    with caplog.at_level(logging.DEBUG):
        async with fetcher:
            [reading] = await fetcher.fetch_all(NOW)
    assert reading.data_origin == "simulated"
    assert reading.city == "Paris"
    assert "Visual Crossing failed for Paris" in caplog.text
    leaked = {fragment for fragment in fragments(API_KEY) if fragment in caplog.text}
    assert leaked == set()


async def test_unreachable_api_falls_back_to_simulation(caplog):
    fetcher = fetcher_for("http://127.0.0.1:9/timeline")
    async with fetcher:
        [reading] = await fetcher.fetch_all(NOW)
    assert reading.data_origin == "simulated"
    assert "connection error" in caplog.text


# Retries with backoff and jitter


@pytest.mark.parametrize("mode", TRANSIENT_MODES)
async def test_a_transient_fault_is_retried_after_a_jittered_backoff(fake_api, mode):
    fake, base_url = fake_api
    fake.script = [mode, mode]
    time = FakeTime()
    fetcher = fetcher_for(base_url, time=time)
    async with fetcher:
        [reading] = await fetcher.fetch_all(NOW)
    assert reading.data_origin == "api"
    assert len(fake.requests) == 3
    assert time.sleeps == backoff_schedule(RetryPolicy(attempts=3), lambda: RAND)
    assert time.sleeps == [0.3125, 0.625]


async def test_retries_are_bounded_by_the_configured_number(fake_api, caplog):
    fake, base_url = fake_api
    fake.mode = "503"
    time = FakeTime()
    fetcher = fetcher_for(base_url, time=time, retries=1)
    async with fetcher:
        [reading] = await fetcher.fetch_all(NOW)
    assert reading.data_origin == "simulated"
    assert len(fake.requests) == 2
    assert time.sleeps == [0.3125]
    assert "retrying in 0.3s (try 2 of 2)" in caplog.text
    assert "HTTP 503: Internal error); using simulated data" in caplog.text


async def test_no_retry_that_would_not_end_within_the_round(fake_api):
    fake, base_url = fake_api
    fake.mode = "500"
    time = FakeTime()
    # A 1 s round with tries of up to 0.5 s: the first wait (0.3125 s) and a try still fit,
    # the second (0.625 s after 0.3125 s spent) would not, so the third try is never made.
    fetcher = fetcher_for(base_url, time=time, interval_seconds=1.0)
    async with fetcher:
        [reading] = await fetcher.fetch_all(NOW)
    assert reading.data_origin == "simulated"
    assert len(fake.requests) == 2
    assert time.sleeps == [0.3125]


@pytest.mark.parametrize("mode", ["400", "missing-fields"])
async def test_a_bad_location_or_an_incomplete_answer_is_not_retried(fake_api, mode, caplog):
    fake, base_url = fake_api
    fake.mode = mode
    time = FakeTime()
    fetcher = fetcher_for(base_url, time=time)
    async with fetcher:
        [reading] = await fetcher.fetch_all(NOW)
    assert reading.data_origin == "simulated"
    assert len(fake.requests) == 1
    assert time.sleeps == []


@pytest.mark.parametrize("mode", OUT_OF_RULES)
async def test_a_reading_the_agent_would_refuse_is_replaced_by_a_simulated_one(
    fake_api, mode, caplog
):
    fake, base_url = fake_api
    fake.by_location["48.8566,2.3522"] = mode
    time = FakeTime()
    fetcher = fetcher_for(base_url, time=time, cities=(PARIS, TOKYO))
    async with fetcher:
        paris, tokyo = await fetcher.fetch_all(NOW)
    assert (paris.data_origin, tokyo.data_origin) == ("simulated", "api")
    assert len(fake.requests) == 2  # not retried
    assert time.sleeps == []
    reason = OUT_OF_RULES[mode][1]
    assert f"Visual Crossing failed for Paris (invalid reading: {reason})" in caplog.text


async def test_a_bad_location_only_affects_its_city(fake_api, caplog):
    fake, base_url = fake_api
    fake.by_location["48.8566,2.3522"] = "400"
    fetcher = fetcher_for(base_url, cities=(PARIS, TOKYO))
    async with fetcher:
        paris, tokyo = await fetcher.fetch_all(NOW)
    assert (paris.data_origin, tokyo.data_origin) == ("simulated", "api")
    assert sorted(locations(fake)) == ["35.6762,139.6503", "48.8566,2.3522"]
    assert "HTTP 400: Bad API Request:Invalid location parameter value." in caplog.text


# Cool-downs


async def test_429_stops_every_call_for_the_cool_down_then_calls_again(fake_api, caplog):
    fake, base_url = fake_api
    fake.script = ["429"]
    # One request at a time, so Tokyo waits while Paris gets the 429.
    fetcher = fetcher_for(base_url, cities=(PARIS, TOKYO), concurrency=1, cooldown_seconds=900)
    async with fetcher:
        first = await fetcher.fetch_all(NOW)
        during = await fetcher.fetch_all(NOW + timedelta(seconds=899))
        assert len(fake.requests) == 1
        after = await fetcher.fetch_all(NOW + timedelta(seconds=900))
    assert [r.data_origin for r in first + during] == ["simulated"] * 4
    assert [r.data_origin for r in after] == ["api", "api"]
    assert len(fake.requests) == 3
    assert caplog.text.count("no API calls for 900s") == 1
    assert API_KEY not in caplog.text


async def test_the_429_cool_down_is_configurable(fake_api):
    fake, base_url = fake_api
    fake.script = ["429"]
    fetcher = fetcher_for(base_url, cooldown_seconds=60)
    async with fetcher:
        await fetcher.fetch_all(NOW)
        [reading] = await fetcher.fetch_all(NOW + timedelta(seconds=60))
    assert reading.data_origin == "api"
    assert len(fake.requests) == 2


async def test_401_stops_calls_for_the_longer_auth_cool_down_and_redacts_the_key(fake_api, caplog):
    fake, base_url = fake_api
    fake.script = ["401"]
    fetcher = fetcher_for(base_url, cooldown_seconds=900, auth_cooldown_seconds=3600)
    with caplog.at_level(logging.DEBUG):
        async with fetcher:
            await fetcher.fetch_all(NOW)
            [during] = await fetcher.fetch_all(NOW + timedelta(seconds=3599))
            assert len(fake.requests) == 1
            [after] = await fetcher.fetch_all(NOW + timedelta(seconds=3600))
    assert during.data_origin == "simulated"
    assert after.data_origin == "api"
    assert "HTTP 401: No account found with API key '***'" in caplog.text
    assert "check VISUAL_CROSSING_API_KEY" in caplog.text
    assert API_KEY not in caplog.text


async def test_the_chunked_401_is_read_whole_and_redacted(fake_api, caplog):
    fake, base_url = fake_api
    fake.mode = "401-chunked"
    fetcher = fetcher_for(base_url)
    async with fetcher:
        await fetcher.fetch_all(NOW)
    assert "HTTP 401: No account found with API key '***'" in caplog.text


async def test_a_cool_down_is_not_retried_within_the_round(fake_api):
    fake, base_url = fake_api
    fake.mode = "429"
    time = FakeTime()
    fetcher = fetcher_for(base_url, time=time)
    async with fetcher:
        await fetcher.fetch_all(NOW)
    assert len(fake.requests) == 1
    assert time.sleeps == []


# Recovery and robustness


async def test_the_next_successful_call_returns_the_city_to_api(fake_api, caplog):
    fake, base_url = fake_api
    fake.script = ["500"]
    fetcher = fetcher_for(base_url, retries=0)
    caplog.set_level(logging.INFO)
    async with fetcher:
        [faulty] = await fetcher.fetch_all(NOW)
        [recovered] = await fetcher.fetch_all(NOW + timedelta(minutes=15))
    assert (faulty.data_origin, recovered.data_origin) == ("simulated", "api")
    assert "Visual Crossing is answering again for Paris" in caplog.text


async def test_the_api_s_station_is_on_the_reading_and_in_the_log_never_the_station_id(
    fake_api, caplog
):
    fake, base_url = fake_api
    fake.script = ["ok", "ok", "another-station"]
    fetcher = fetcher_for(base_url)
    caplog.set_level(logging.INFO)
    async with fetcher:
        readings = [(await fetcher.fetch_all(NOW + timedelta(minutes=n)))[0] for n in range(3)]
    assert [reading.station_id for reading in readings] == ["API-PAR"] * 3
    assert [reading.source_station_id for reading in readings] == [
        "07149099999",
        "07149099999",
        "LFPO",
    ]
    station_lines = [
        record.getMessage() for record in caplog.records if "from station" in record.getMessage()
    ]
    assert station_lines == [
        "Visual Crossing reports Paris from station 07149099999 (published as station_id API-PAR)",
        "Visual Crossing reports Paris from station LFPO, was 07149099999 "
        "(published as station_id API-PAR)",
    ]


async def test_an_unexpected_error_falls_back_without_leaking_the_key(
    fake_api, monkeypatch, caplog
):
    fake, base_url = fake_api

    def explode(city: City, payload: object) -> None:
        raise RuntimeError(f"boom {API_KEY}")

    monkeypatch.setattr("weather_app.sources.fetcher.parse_timeline", explode)
    fetcher = fetcher_for(base_url)
    async with fetcher:
        [reading] = await fetcher.fetch_all(NOW)
    assert reading.data_origin == "simulated"
    assert len(fake.requests) == 1
    assert "unexpected error: RuntimeError" in caplog.text
    assert API_KEY not in caplog.text


# Quota guard


async def test_a_raised_interval_is_logged_once_at_start(fake_api, caplog):
    _, base_url = fake_api
    settings = Settings.from_env(
        {"VISUAL_CROSSING_API_KEY": API_KEY, "VISUAL_CROSSING_BASE_URL": base_url}
    )
    assert settings.fetch_interval_seconds == 864.0
    with caplog.at_level(logging.INFO):
        async with WeatherFetcher(settings):
            pass
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1
    assert "WEATHER_INTERVAL=60s" in warnings[0]
    assert "every 864s" in warnings[0]
    assert API_KEY not in caplog.text


@pytest.mark.parametrize(
    "env",
    [
        {"VISUAL_CROSSING_API_KEY": API_KEY, "WEATHER_INTERVAL": "864"},
        {"WEATHER_SOURCE": "simulation", "WEATHER_INTERVAL": "1"},
    ],
)
async def test_no_quota_warning_when_the_interval_fits_or_without_an_api(fake_api, env, caplog):
    _, base_url = fake_api
    settings = Settings.from_env({**env, "VISUAL_CROSSING_BASE_URL": base_url})
    with caplog.at_level(logging.INFO):
        async with WeatherFetcher(settings):
            pass
    assert not [r for r in caplog.records if r.levelno >= logging.WARNING]
