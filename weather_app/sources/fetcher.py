"""The weather source the ingest timer calls: Visual Crossing or Open-Meteo over aiohttp, or the
simulation (`WEATHER_SOURCE`, `Settings.weather_source`).

A `mode` service, so its HTTP session opens and closes with the worker. Visual Crossing is asked
once per city, Open-Meteo once per round for every city. Faults, per request:
- a timeout, a 5xx or a body that is not JSON (or is cut short) is retried with exponential
  backoff and jitter, a few times and only while the tries fit in the round;
- a 400 (bad location, any other 4xx), a JSON body without the needed fields, or a reading the
  enrich agent would refuse (`validate_raw`: NaN, humidity 101, ...) is not retried;
- a 429, a 401 or no connection at all (name not resolved, refused, connect timed out) starts a
  cool-down: no request at all for any city until it ends, so an offline machine waits for the
  network once per cool-down, not every round;
- whatever the fault, the city gets a simulated reading (`data_origin="simulated"`) this round
  and the next successful call makes it `api` again. So does a city missing from a short
  Open-Meteo answer.
No log line contains the API key: URLs are never logged and response bodies are redacted.
"""

import asyncio
import logging
import random
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, TypeVar

import aiohttp
import mode

from models import RawReading
from weather_app.rules.quota import interval_warning
from weather_app.rules.validation import validate_raw
from weather_app.settings import OPEN_METEO, VISUAL_CROSSING, Settings
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
from weather_app.sources.open_meteo import forecast_params, locations_of, parse_location
from weather_app.sources.simulation import simulate_reading
from weather_app.sources.slices import in_slices
from weather_app.sources.visual_crossing import (
    TIMELINE_PARAMS,
    parse_timeline,
    timeline_path,
)

__all__ = ["ApiError", "WeatherFetcher"]

logger = logging.getLogger(__name__)

T = TypeVar("T")

# Bytes of an error response read for the log line; the rest is not needed.
ERROR_BODY_BYTES = 2048
# The share of a request's timeout that name resolution and connecting may take: beyond it the
# host counts as unreachable (a cool-down), not as slow (a retry).
CONNECT_SHARE_OF_TIMEOUT = 0.5
# `_failing`'s entry for a whole Open-Meteo request (its cities' names mark their own answers).
EVERY_CITY = ""


@dataclass(frozen=True)
class SourceTerms:
    """How the fetcher treats the configured API; `secret` is redacted from every log line."""

    name: str
    timeout_seconds: float
    retries: int
    cooldown_seconds: float
    auth_cooldown_seconds: float
    budget_variable: str
    secret: str | None = None
    key_variable: str | None = None  # what to check when the API refuses the request (401/403)


def source_terms(settings: Settings) -> SourceTerms | None:
    """The terms of `settings.weather_source`, None for the simulation."""
    if settings.weather_source == VISUAL_CROSSING:
        api = settings.api
        return SourceTerms(
            "Visual Crossing",
            api.timeout_seconds,
            api.retries,
            api.cooldown_seconds,
            api.auth_cooldown_seconds,
            "VISUAL_CROSSING_DAILY_BUDGET",
            secret=api.key,
            key_variable="VISUAL_CROSSING_API_KEY",
        )
    if settings.weather_source == OPEN_METEO:
        open_meteo = settings.open_meteo
        return SourceTerms(
            "Open-Meteo",
            open_meteo.timeout_seconds,
            open_meteo.retries,
            open_meteo.cooldown_seconds,
            open_meteo.cooldown_seconds,
            "OPEN_METEO_DAILY_BUDGET",
        )
    return None


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
        self._terms = source_terms(settings)
        self._session: aiohttp.ClientSession | None = None
        self._limit = asyncio.Semaphore(settings.api.concurrency)
        self._policy = RetryPolicy(attempts=(self._terms.retries if self._terms else 0) + 1)
        self._cooldown = CoolDown()
        self._failing: set[str] = set()  # cities (or EVERY_CITY) whose last API attempt failed
        self._source_stations: dict[str, str | None] = {}  # the API's station, per city
        self._clock = clock
        self._sleep = sleep
        self._rand = rand
        super().__init__(**kwargs)  # type: ignore[arg-type]

    async def on_start(self) -> None:
        cities = len(self.settings.stream.cities)
        if self._terms is None:
            self.log.info(
                "WEATHER_SOURCE=simulation: simulating weather for %d cities (seed %d)",
                cities,
                self.settings.stream.simulation_seed,
            )
            return
        timeout = self._terms.timeout_seconds
        self._session = aiohttp.ClientSession(
            timeout=aiohttp.ClientTimeout(
                total=timeout, connect=timeout * CONNECT_SHARE_OF_TIMEOUT
            ),
            raise_for_status=False,
        )
        self.log.info(
            "Fetching current weather from %s for %d cities every %gs",
            self._terms.name,
            cities,
            self.settings.fetch_interval_seconds,
        )
        warning = interval_warning(
            self.settings.stream.interval_seconds,
            self.settings.fetch_interval_seconds,
            cities,
            self.settings.daily_budget,
            self._terms.name,
            self._terms.budget_variable,
        )
        if warning:
            self.log.warning("%s", warning)

    async def on_stop(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    @property
    def _name(self) -> str:
        return self._terms.name if self._terms else "the simulation"

    async def fetch_all(
        self, now: datetime, cities: Sequence[City] | None = None
    ) -> list[RawReading]:
        """One reading per city (default: the configured ones), in order."""
        chosen = self.settings.stream.cities if cities is None else cities
        if self._session is None:
            return await self._simulate_all(chosen, now)
        if self.settings.weather_source == OPEN_METEO:
            return await self._fetch_open_meteo(self._session, chosen, now)
        return list(await asyncio.gather(*(self.fetch(city, now) for city in chosen)))

    async def fetch(self, city: City, now: datetime) -> RawReading:
        """The city's reading from Visual Crossing, or simulated when the API is off or failed.

        `now` is the round's wall-clock time: the simulated reading's time and the clock of the
        cool-down. Retries within the round are timed with the (monotonic) `clock`.
        """
        if self._session is not None:
            session = self._session
            reading = await self._call(
                city.name, lambda: self._fetch_visual_crossing(session, city, now), now
            )
            if reading is not None:
                self._answering(city.name)
                self._log_source_station(city, reading.source_station_id)
                return reading
            self._failing.add(city.name)
        return self._simulate(city, now)

    async def _fetch_open_meteo(
        self, session: aiohttp.ClientSession, cities: Sequence[City], now: datetime
    ) -> list[RawReading]:
        """Every city's reading from one Open-Meteo request; a city it does not answer for, or
        answers with an unusable location, is simulated."""
        locations = await self._call(
            f"{len(cities)} cities", lambda: self._request_open_meteo(session, cities), now
        )
        if locations is None:
            self._failing.add(EVERY_CITY)
            return await self._simulate_all(cities, now)
        self._answering(EVERY_CITY)
        if missing := cities[len(locations) :]:
            logger.warning(
                "Open-Meteo answered %d of %d locations; simulated this round: %s",
                len(locations),
                len(cities),
                ", ".join(city.name for city in missing),
            )
        return [
            self._open_meteo_reading(city, location, now)
            for city, location in zip(cities, locations, strict=False)
        ] + await self._simulate_all(missing, now)

    def _open_meteo_reading(self, city: City, location: Any, now: datetime) -> RawReading:
        try:
            reading = validate_raw(parse_location(city, location).asdict(), now)
        except Exception as error:  # this location only; the others stand
            logger.warning(
                "Open-Meteo failed for %s (%s); using simulated data this round",
                city.name,
                describe(error, None),
            )
            self._failing.add(city.name)
            return self._simulate(city, now)
        self._answering(city.name)
        return reading

    async def _simulate_all(self, cities: Sequence[City], now: datetime) -> list[RawReading]:
        """Every city simulated, a slice at a time: no task per city (a round's tasks all ran in
        one turn of the loop, 5 s at 100,000 cities), and the loop turns between slices."""
        readings: list[RawReading] = []
        async for chosen in in_slices(cities):
            readings.extend(self._simulate(city, now) for city in chosen)
        return readings

    def _simulate(self, city: City, now: datetime) -> RawReading:
        return simulate_reading(city, now, self.settings.stream.simulation_seed)

    def _answering(self, subject: str) -> None:
        """Say once that the API answers again for `subject` (a city or EVERY_CITY)."""
        if subject in self._failing:
            self._failing.discard(subject)
            logger.info("%s is answering again%s", self._name, f" for {subject}" if subject else "")

    def _log_source_station(self, city: City, station: str | None) -> None:
        """Say which station the API reports the city from, at the first reading and whenever it
        changes (the published `station_id` stays the city's own)."""
        if city.name in self._source_stations and self._source_stations[city.name] == station:
            return
        previous = self._source_stations.get(city.name)
        self._source_stations[city.name] = station
        logger.info(
            "%s reports %s from station %s%s (published as station_id %s)",
            self._name,
            city.name,
            station or "(none named)",
            f", was {previous}" if previous else "",
            city.api_station_id,
        )

    async def _call(
        self, subject: str, request: Callable[[], Awaitable[T]], now: datetime
    ) -> T | None:
        """`request`'s answer, or None when this round must use the simulation for `subject`
        (one city, or every city of an Open-Meteo request)."""
        started = self._clock()
        delays = backoff_schedule(self._policy, self._rand)
        secret = self._terms.secret if self._terms else None
        for attempt in range(self._policy.attempts):
            try:
                async with self._limit:
                    # Checked after waiting for a slot: another city may have tripped it.
                    if self._cooldown.active(now):
                        logger.debug("%s cool-down: simulating %s", self._name, subject)
                        return None
                    return await request()
            except Exception as error:  # any fault falls back to the simulation, never up
                failure = error
            fault = classify(failure)
            description = describe(failure, secret)
            if fault in COOLS_DOWN:
                self._start_cooldown(subject, fault, description, now)
                return None
            delay = delays[attempt] if attempt < len(delays) else None
            if (
                fault not in RETRYABLE
                or delay is None
                or not retry_fits(
                    self._clock() - started,
                    delay,
                    self._terms.timeout_seconds if self._terms else 0.0,
                    self.settings.fetch_interval_seconds,
                )
            ):
                logger.warning(
                    "%s failed for %s (%s); using simulated data this round",
                    self._name,
                    subject,
                    description,
                )
                return None
            logger.warning(
                "%s failed for %s (%s); retrying in %.1fs (try %d of %d)",
                self._name,
                subject,
                description,
                delay,
                attempt + 2,
                self._policy.attempts,
            )
            await self._sleep(delay)
        return None  # pragma: no cover - the loop returns on its last attempt

    def _start_cooldown(self, subject: str, fault: Fault, description: str, now: datetime) -> None:
        assert self._terms is not None  # only a request to an API cools down
        seconds = (
            self._terms.auth_cooldown_seconds
            if fault is Fault.UNAUTHORIZED
            else self._terms.cooldown_seconds
        )
        if not self._cooldown.trip(now, seconds, fault.value):
            return
        if fault is Fault.UNREACHABLE:
            logger.warning(
                "%s is unreachable (%s): every city is simulated, next try in %gs "
                "(WEATHER_SOURCE=simulation skips the API)",
                self._name,
                description,
                seconds,
            )
            return
        key_variable = self._terms.key_variable
        hint = f"; check {key_variable}" if fault is Fault.UNAUTHORIZED and key_variable else ""
        logger.warning(
            "%s failed for %s (%s): no API calls for %gs, every city is simulated until then%s",
            self._name,
            subject,
            description,
            seconds,
            hint,
        )

    async def _fetch_visual_crossing(
        self, session: aiohttp.ClientSession, city: City, now: datetime
    ) -> RawReading:
        url = f"{self.settings.api.base_url}/{timeline_path(city)}"
        params = {**TIMELINE_PARAMS, "key": self.settings.api.key or ""}
        async with session.get(url, params=params) as response:
            await self._refuse_unless_ok(response)
            payload = await response.json(content_type=None)
        return validate_raw(parse_timeline(city, payload).asdict(), now)

    async def _request_open_meteo(
        self, session: aiohttp.ClientSession, cities: Sequence[City]
    ) -> list[Any]:
        url = self.settings.open_meteo.url
        async with session.get(url, params=forecast_params(cities)) as response:
            await self._refuse_unless_ok(response)
            payload = await response.json(content_type=None)
        return locations_of(payload, len(cities))

    async def _refuse_unless_ok(self, response: aiohttp.ClientResponse) -> None:
        """Raise `ApiError` with a redacted excerpt of the body unless the answer is a 200."""
        if response.status == 200:
            return
        # One byte past the bound tells whether the body goes on after it.
        raw = await read_at_most(response.content, ERROR_BODY_BYTES + 1)
        excerpt = body_excerpt(
            raw[:ERROR_BODY_BYTES],
            self._terms.secret if self._terms else None,
            cut=len(raw) > ERROR_BODY_BYTES,
        )
        raise ApiError(response.status, excerpt)


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
