"""The web view: JSON about every city, the live HTML page, and Prometheus `/metrics`."""

import asyncio
from datetime import UTC, datetime
from importlib.resources import files
from typing import Any
from urllib.parse import quote

import aiohttp
from faust.web import Request, Response, View

from models import LastSeen, StoredSamples
from weather_app.app import app, history, last_seen, settings
from weather_app.faust_internals.sensors import serve_prometheus_metrics
from weather_app.rules.timestamps import format_rfc3339, from_epoch, parse_rfc3339
from weather_app.web.ownership import is_local, owner_url

MAX_AGE = settings.stale_after_seconds
DASHBOARD_HTML = (files("weather_app.web") / "static" / "dashboard.html").read_text(
    encoding="utf-8"
)
PEER_TIMEOUT = aiohttp.ClientTimeout(total=3)

serve_prometheus_metrics(app, name_prefix="weather")


def city_document(
    city: str,
    seen: LastSeen | None,
    stored: StoredSamples | None,
    now: datetime,
    max_age: float,
) -> dict[str, Any] | None:
    """What the web view says about one city, from its table entries; None if never seen."""
    if seen is None:
        return None
    age = max(0.0, (now - parse_rfc3339(seen.timestamp)).total_seconds())
    return {
        "city": city,
        "country": seen.latest.country,
        "timestamp": seen.timestamp,
        "age_seconds": round(age, 1),
        "data_origin": seen.data_origin,
        "count": seen.count,
        "fresh": age <= max_age,
        "stale_after_seconds": max_age,
        "latest": seen.latest.asdict(),
        "history": [
            {
                "timestamp": format_rfc3339(from_epoch(epoch)),
                "temperature": temperature,
                "precipitation": precipitation,
            }
            for epoch, temperature, precipitation in (stored.samples if stored else ())
        ],
        "worker": str(app.conf.canonical_url),
    }


def _local_document(city: str) -> dict[str, Any] | None:
    """The document of a city whose partition this worker owns, from its local tables."""
    return city_document(city, last_seen.get(city), history.get(city), datetime.now(UTC), MAX_AGE)


@app.page("/weather/")
async def dashboard(web: View, request: Request) -> Response:
    return web.html(DASHBOARD_HTML)


@app.page("/weather/cities/{city}/")
@app.table_route(table=last_seen, match_info="city")
async def one_city(web: View, request: Request, city: str) -> Response:
    document = _local_document(city)
    if document is None:
        return web.json({"city": city, "error": "no reading for this city"}, status=404)
    return web.json(document)


@app.page("/weather/cities/")
async def all_cities(web: View, request: Request) -> Response:
    """Every configured city, each answered by the worker that owns it."""
    documents = await asyncio.gather(
        *(_city_anywhere(city.name) for city in settings.stream.cities)
    )
    return web.json({"cities": documents, "stale_after_seconds": MAX_AGE})


async def _city_anywhere(city: str) -> dict[str, Any]:
    owner = owner_url(app, last_seen, city)
    if owner is None:
        return {"city": city, "fresh": False, "error": "no worker owns this city yet"}
    if is_local(app, owner):
        document = _local_document(city)
        return document or {"city": city, "fresh": False, "error": "no reading yet"}
    url = f"{owner}/weather/cities/{quote(city, safe='')}/"
    try:
        async with app.http_client.get(url, timeout=PEER_TIMEOUT) as response:
            body: dict[str, Any] = await response.json()
    except (aiohttp.ClientError, TimeoutError, ValueError) as error:
        return {"city": city, "fresh": False, "error": f"owner {owner} unreachable: {error}"}
    if "latest" not in body:
        body["fresh"] = False
    return body
