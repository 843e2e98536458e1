"""The weather source the ingest timer calls: Visual Crossing over aiohttp, or the simulation.

A `mode` service, so its HTTP session opens and closes with the worker. Any failure for a city
falls back to the simulation for that city (`data_origin="simulated"`) with a warning that never
contains the API key.
"""

import asyncio
import logging
from datetime import datetime

import aiohttp
import mode

from models import RawReading
from weather_app.cities import City
from weather_app.settings import Settings
from weather_app.simulation import simulate_reading
from weather_app.sources.visual_crossing import (
    TIMELINE_PARAMS,
    TimelineParseError,
    parse_timeline,
    timeline_path,
)

logger = logging.getLogger(__name__)


class WeatherFetcher(mode.Service):
    def __init__(self, settings: Settings, **kwargs: object) -> None:
        self.settings = settings
        self._session: aiohttp.ClientSession | None = None
        self._limit = asyncio.Semaphore(settings.api_concurrency)
        super().__init__(**kwargs)  # type: ignore[arg-type]

    async def on_start(self) -> None:
        if self.settings.uses_api:
            self._session = aiohttp.ClientSession(
                timeout=aiohttp.ClientTimeout(total=self.settings.api_timeout_seconds),
                raise_for_status=False,
            )
            self.log.info(
                "Fetching current weather from Visual Crossing for %d cities",
                len(self.settings.cities),
            )
        else:
            self.log.info(
                "No VISUAL_CROSSING_API_KEY: simulating weather for %d cities (seed %d)",
                len(self.settings.cities),
                self.settings.simulation_seed,
            )

    async def on_stop(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    async def fetch_all(self, now: datetime) -> list[RawReading]:
        """One reading per configured city, in the configured order."""
        return list(await asyncio.gather(*(self.fetch(city, now) for city in self.settings.cities)))

    async def fetch(self, city: City, now: datetime) -> RawReading:
        if self._session is None:
            return simulate_reading(city, now, self.settings.simulation_seed)
        try:
            async with self._limit:
                return await self._fetch_api(self._session, city)
        except (TimeoutError, aiohttp.ClientError, TimelineParseError, ValueError) as error:
            logger.warning(
                "Visual Crossing failed for %s (%s); using simulated data for this reading",
                city.name,
                _describe(error),
            )
            return simulate_reading(city, now, self.settings.simulation_seed)

    async def _fetch_api(self, session: aiohttp.ClientSession, city: City) -> RawReading:
        url = f"{self.settings.visual_crossing_base_url}/{timeline_path(city)}"
        params = {**TIMELINE_PARAMS, "key": self.settings.visual_crossing_api_key or ""}
        async with session.get(url, params=params) as response:
            if response.status != 200:
                raise ApiError(response.status)
            payload = await response.json(content_type=None)
        return parse_timeline(city, payload)


class ApiError(ValueError):
    def __init__(self, status: int) -> None:
        super().__init__(f"HTTP {status}")
        self.status = status


def _describe(error: BaseException) -> str:
    """A description safe to log: no URL (it carries the key), no response body (401 echoes it)."""
    if isinstance(error, ApiError):
        return str(error)
    if isinstance(error, asyncio.TimeoutError):
        return "timed out"
    if isinstance(error, aiohttp.ClientConnectionError):
        return f"connection error: {type(error).__name__}"
    if isinstance(error, aiohttp.ClientResponseError):
        return f"HTTP {error.status}"
    if isinstance(error, TimelineParseError):
        return f"unexpected response: {error}"
    return f"bad response: {type(error).__name__}"
