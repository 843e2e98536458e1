"""The Visual Crossing adapter against a fake server on 127.0.0.1."""

import asyncio
import json
import logging
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from aiohttp import web

from weather_app.cities import City
from weather_app.settings import Settings
from weather_app.sources.fetcher import WeatherFetcher

API_KEY = "test-key-3f9c1d"
PARIS = City("Paris", "FR", 48.8566, 2.3522, "PAR")
TIMELINE = json.loads((Path(__file__).parent / "fixtures" / "timeline_thunder.json").read_text())
NOW = datetime(2026, 11, 28, 12, tzinfo=UTC)


class FakeVisualCrossing:
    def __init__(self) -> None:
        self.mode = "ok"
        self.requests: list[web.Request] = []

    async def handle(self, request: web.Request) -> web.StreamResponse:
        self.requests.append(request)
        if self.mode == "ok":
            return web.json_response(TIMELINE)
        if self.mode == "401":
            return web.Response(status=401, text=f"No account found with API key '{API_KEY}'")
        if self.mode == "500":
            return web.Response(status=500, text="Internal error")
        if self.mode == "not-json":
            return web.Response(status=200, text="<html>maintenance</html>")
        if self.mode == "slow":
            await asyncio.sleep(5)
        return web.json_response({"days": []})


@pytest.fixture
async def fake_api() -> AsyncIterator[tuple[FakeVisualCrossing, str]]:
    fake = FakeVisualCrossing()
    application = web.Application()
    application.router.add_get("/timeline/{location}", fake.handle)
    runner = web.AppRunner(application, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    yield fake, f"http://127.0.0.1:{port}/timeline"
    await runner.cleanup()


def fetcher_for(base_url: str, api_key: str | None = API_KEY) -> WeatherFetcher:
    settings = Settings(
        cities=(PARIS,),
        visual_crossing_api_key=api_key,
        visual_crossing_base_url=base_url,
        api_timeout_seconds=0.5,
        simulation_seed=1,
    )
    return WeatherFetcher(settings)


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


@pytest.mark.parametrize("mode", ["401", "500", "not-json", "slow", "missing-fields"])
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
    assert API_KEY not in caplog.text


async def test_unreachable_api_falls_back_to_simulation(caplog):
    fetcher = fetcher_for("http://127.0.0.1:9/timeline")
    async with fetcher:
        [reading] = await fetcher.fetch_all(NOW)
    assert reading.data_origin == "simulated"
    assert "connection error" in caplog.text


async def test_without_a_key_no_request_is_made(fake_api):
    fake, base_url = fake_api
    fetcher = fetcher_for(base_url, api_key=None)
    async with fetcher:
        [reading] = await fetcher.fetch_all(NOW)
    assert reading.data_origin == "simulated"
    assert fake.requests == []
