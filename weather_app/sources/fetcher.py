"""The weather source the ingest timer calls: Visual Crossing over aiohttp, or the simulation.

A `mode` service, so its HTTP session opens and closes with the worker. Faults, per city:
- a timeout, a connection error, a 5xx or a body that is not JSON (or is cut short) is retried
  with exponential backoff and jitter, a few times and only while the tries fit in the round;
- a 400 (bad location, any other 4xx), a JSON body without the needed fields, or a reading the
  enrich agent would refuse (`validate_raw`: NaN, humidity 101, ...) is not retried;
- a 429 or a 401 starts a cool-down: no request at all for any city until it ends;
- whatever the fault, the city gets a simulated reading (`data_origin="simulated"`) this round
  and the next successful call makes it `api` again.
No log line contains the API key: URLs are never logged and response bodies are redacted.
"""

import asyncio
import logging
import random
import time
from collections.abc import Awaitable, Callable, Sequence
from datetime import datetime

import aiohttp
import mode

from models import RawReading
from weather_app.rules.quota import interval_warning
from weather_app.rules.validation import validate_raw
from weather_app.settings import Settings
from weather_app.sources.backoff import (
    CoolDown,
    RetryPolicy,
    backoff_schedule,
    retry_fits,
)
from weather_app.sources.cities import City
from weather_app.sources.faults import (
    COOLS_DOWN,
    RETRYABLE,
    ApiError,
    Fault,
    body_excerpt,
    classify,
    describe,
)
from weather_app.sources.simulation import simulate_reading
from weather_app.sources.visual_crossing import (
    TIMELINE_PARAMS,
    parse_timeline,
    timeline_path,
)

__all__ = ["ApiError", "WeatherFetcher"]

logger = logging.getLogger(__name__)

# Bytes of an error response read for the log line; the rest is not needed.
ERROR_BODY_BYTES = 2048


class WeatherFetcher(mode.Service):
    def __init__(
        self,
        settings: Settings,
        *,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        rand: Callable[[], float] = random.random,
        **kwargs: object,
    ) -> None:
        self.settings = settings
        self._session: aiohttp.ClientSession | None = None
        self._limit = asyncio.Semaphore(settings.api.concurrency)
        self._policy = RetryPolicy(attempts=settings.api.retries + 1)
        self._cooldown = CoolDown()
        self._failing: set[str] = set()  # cities whose last API attempt failed
        self._source_stations: dict[str, str | None] = {}  # the API's station, per city
        self._clock = clock
        self._sleep = sleep
        self._rand = rand
        super().__init__(**kwargs)  # type: ignore[arg-type]

    async def on_start(self) -> None:
        if self.settings.uses_api:
            self._session = aiohttp.ClientSession(
                timeout=aiohttp.ClientTimeout(total=self.settings.api.timeout_seconds),
                raise_for_status=False,
            )
            self.log.info(
                "Fetching current weather from Visual Crossing for %d cities every %gs",
                len(self.settings.stream.cities),
                self.settings.fetch_interval_seconds,
            )
            warning = interval_warning(
                self.settings.stream.interval_seconds,
                self.settings.fetch_interval_seconds,
                len(self.settings.stream.cities),
                self.settings.api.daily_budget,
            )
            if warning:
                self.log.warning("%s", warning)
        else:
            self.log.info(
                "No VISUAL_CROSSING_API_KEY: simulating weather for %d cities (seed %d)",
                len(self.settings.stream.cities),
                self.settings.stream.simulation_seed,
            )

    async def on_stop(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    async def fetch_all(
        self, now: datetime, cities: Sequence[City] | None = None
    ) -> list[RawReading]:
        """One reading per city (default: the configured ones), in order."""
        chosen = self.settings.stream.cities if cities is None else cities
        return list(await asyncio.gather(*(self.fetch(city, now) for city in chosen)))

    async def fetch(self, city: City, now: datetime) -> RawReading:
        """The city's reading from the API, or simulated when the API is off or failed.

        `now` is the round's wall-clock time: the simulated reading's time and the clock of the
        cool-down. Retries within the round are timed with the (monotonic) `clock`.
        """
        if self._session is not None:
            reading = await self._fetch_with_retries(self._session, city, now)
            if reading is not None:
                if city.name in self._failing:
                    self._failing.discard(city.name)
                    logger.info("Visual Crossing is answering again for %s", city.name)
                self._log_source_station(city, reading.source_station_id)
                return reading
            self._failing.add(city.name)
        return simulate_reading(city, now, self.settings.stream.simulation_seed)

    def _log_source_station(self, city: City, station: str | None) -> None:
        """Say which station the API reports the city from, at the first reading and whenever it
        changes (the published `station_id` stays the city's own)."""
        if city.name in self._source_stations and self._source_stations[city.name] == station:
            return
        previous = self._source_stations.get(city.name)
        self._source_stations[city.name] = station
        logger.info(
            "Visual Crossing reports %s from station %s%s (published as station_id %s)",
            city.name,
            station or "(none named)",
            f", was {previous}" if previous else "",
            city.api_station_id,
        )

    async def _fetch_with_retries(
        self, session: aiohttp.ClientSession, city: City, now: datetime
    ) -> RawReading | None:
        """The API reading, or None when this round must use the simulation."""
        started = self._clock()
        delays = backoff_schedule(self._policy, self._rand)
        for attempt in range(self._policy.attempts):
            try:
                async with self._limit:
                    # Checked after waiting for a slot: another city may have tripped it.
                    if self._cooldown.active(now):
                        logger.debug("Visual Crossing cool-down: simulating %s", city.name)
                        return None
                    return await self._fetch_api(session, city, now)
            except Exception as error:  # any fault falls back to the simulation, never up
                failure = error
            fault = classify(failure)
            description = describe(failure, self.settings.api.key)
            if fault in COOLS_DOWN:
                self._start_cooldown(city, fault, description, now)
                return None
            delay = delays[attempt] if attempt < len(delays) else None
            if (
                fault not in RETRYABLE
                or delay is None
                or not retry_fits(
                    self._clock() - started,
                    delay,
                    self.settings.api.timeout_seconds,
                    self.settings.fetch_interval_seconds,
                )
            ):
                logger.warning(
                    "Visual Crossing failed for %s (%s); using simulated data for this reading",
                    city.name,
                    description,
                )
                return None
            logger.warning(
                "Visual Crossing failed for %s (%s); retrying in %.1fs (try %d of %d)",
                city.name,
                description,
                delay,
                attempt + 2,
                self._policy.attempts,
            )
            await self._sleep(delay)
        return None  # pragma: no cover - the loop returns on its last attempt

    def _start_cooldown(self, city: City, fault: Fault, description: str, now: datetime) -> None:
        seconds = (
            self.settings.api.auth_cooldown_seconds
            if fault is Fault.UNAUTHORIZED
            else self.settings.api.cooldown_seconds
        )
        if self._cooldown.trip(now, seconds, fault.value):
            hint = "; check VISUAL_CROSSING_API_KEY" if fault is Fault.UNAUTHORIZED else ""
            logger.warning(
                "Visual Crossing failed for %s (%s): no API calls for %gs, every city is "
                "simulated until then%s",
                city.name,
                description,
                seconds,
                hint,
            )

    async def _fetch_api(
        self, session: aiohttp.ClientSession, city: City, now: datetime
    ) -> RawReading:
        url = f"{self.settings.api.base_url}/{timeline_path(city)}"
        params = {**TIMELINE_PARAMS, "key": self.settings.api.key or ""}
        async with session.get(url, params=params) as response:
            if response.status != 200:
                # One byte past the bound tells whether the body goes on after it.
                raw = await read_at_most(response.content, ERROR_BODY_BYTES + 1)
                excerpt = body_excerpt(
                    raw[:ERROR_BODY_BYTES],
                    self.settings.api.key,
                    cut=len(raw) > ERROR_BODY_BYTES,
                )
                raise ApiError(response.status, excerpt)
            payload = await response.json(content_type=None)
        return validate_raw(parse_timeline(city, payload).asdict(), now)


async def read_at_most(content: aiohttp.StreamReader, limit: int) -> bytes:
    """The body up to `limit` bytes, however many pieces it arrives in (`read(n)` returns only
    what is already buffered)."""
    body = bytearray()
    while len(body) < limit:
        piece = await content.read(limit - len(body))
        if not piece:
            break
        body += piece
    return bytes(body)
