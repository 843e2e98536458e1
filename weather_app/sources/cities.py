"""The cities the speed layer watches: a built-in catalogue, a subset by name, or a JSON file."""

import json
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from weather_app.errors import ConfigError


@dataclass(frozen=True)
class City:
    name: str
    country: str
    latitude: float
    longitude: float
    code: str

    @property
    def station_id(self) -> str:
        """The station id of the city's simulated readings."""
        return f"SIM-{self.code}"

    @property
    def api_station_id(self) -> str:
        """The station id of the city's API readings: the same at every fetch, whichever station
        the API took the observation from, so a city keeps one series per origin in InfluxDB."""
        return f"API-{self.code}"


DEFAULT_CITIES: tuple[City, ...] = (
    City("London", "GB", 51.5074, -0.1278, "LON"),
    City("Paris", "FR", 48.8566, 2.3522, "PAR"),
    City("Berlin", "DE", 52.5200, 13.4050, "BER"),
    City("Madrid", "ES", 40.4168, -3.7038, "MAD"),
    City("Rome", "IT", 41.9028, 12.4964, "ROM"),
    City("New York", "US", 40.7128, -74.0060, "NYC"),
    City("Tokyo", "JP", 35.6762, 139.6503, "TYO"),
    City("Sydney", "AU", -33.8688, 151.2093, "SYD"),
    City("Sao Paulo", "BR", -23.5505, -46.6333, "SAO"),
    City("Mumbai", "IN", 19.0760, 72.8777, "BOM"),
)


class CityConfigError(ConfigError):
    pass


def select_cities(names: str) -> tuple[City, ...]:
    """Pick cities from the catalogue by a comma-separated list of names (case-insensitive)."""
    found, unknown = _named(DEFAULT_CITIES, [name for name in names.split(",") if name.strip()])
    if unknown:
        known = ", ".join(city.name for city in DEFAULT_CITIES)
        raise CityConfigError(
            f"unknown city {', '.join(unknown)!s} in WEATHER_CITIES; known: {known} "
            "(or describe your own in WEATHER_CITIES_FILE)"
        )
    if not found:
        raise CityConfigError("WEATHER_CITIES is set but names no city")
    return found


def choose_cities(configured: tuple[City, ...], names: Iterable[str]) -> tuple[City, ...]:
    """The configured cities with these names (case-insensitive), in the order given."""
    found, unknown = _named(configured, names)
    if unknown:
        known = ", ".join(city.name for city in configured)
        raise CityConfigError(
            f"unknown city {', '.join(map(repr, unknown))}; the configured cities are: {known}"
        )
    return found


def _named(catalogue: Iterable[City], names: Iterable[str]) -> tuple[tuple[City, ...], list[str]]:
    """The cities of `catalogue` with these names (case-insensitive), each once in the order
    first given, and the names it does not hold."""
    by_name = {city.name.lower(): city for city in catalogue}
    wanted = [name.strip() for name in names]
    unknown = [name for name in wanted if name.lower() not in by_name]
    found = dict.fromkeys(by_name[name.lower()] for name in wanted if name.lower() in by_name)
    return tuple(found), unknown


def load_cities_file(path: Path) -> tuple[City, ...]:
    """Read `[{"name", "country", "latitude", "longitude", "code"?}, ...]` from a JSON file."""
    try:
        entries = json.loads(path.read_text(encoding="utf-8"))
    except OSError as error:
        raise CityConfigError(f"cannot read WEATHER_CITIES_FILE {path}: {error.strerror}") from None
    except ValueError as error:
        raise CityConfigError(f"WEATHER_CITIES_FILE {path} is not valid JSON: {error}") from None
    if not isinstance(entries, list) or not entries:
        raise CityConfigError(f"WEATHER_CITIES_FILE {path} must hold a non-empty JSON list")
    cities = tuple(_city_from_entry(entry, path, index) for index, entry in enumerate(entries))
    names = [city.name for city in cities]
    if len(set(names)) != len(names):
        raise CityConfigError(f"WEATHER_CITIES_FILE {path} names a city twice")
    by_code: dict[str, str] = {}
    for city in cities:
        if (other := by_code.setdefault(city.code, city.name)) != city.name:
            raise CityConfigError(
                f"WEATHER_CITIES_FILE {path}: {other} and {city.name} share the code {city.code} "
                '(their station_id); give one a "code" of its own'
            )
    return cities


def _city_from_entry(entry: Any, path: Path, index: int) -> City:
    where = f"WEATHER_CITIES_FILE {path} entry {index}"
    if not isinstance(entry, dict):
        raise CityConfigError(f"{where} must be an object")
    try:
        name = str(entry["name"]).strip()
        country = str(entry["country"]).strip()
        latitude = float(entry["latitude"])
        longitude = float(entry["longitude"])
    except KeyError as missing:
        raise CityConfigError(f"{where} lacks {missing}") from None
    except (TypeError, ValueError):
        raise CityConfigError(f"{where}: latitude and longitude must be numbers") from None
    if not name or not country:
        raise CityConfigError(f"{where}: name and country must not be empty")
    if not (-90 <= latitude <= 90 and -180 <= longitude <= 180):
        raise CityConfigError(f"{where}: coordinates out of range")
    code = str(entry.get("code") or name[:3]).upper()
    return City(name, country, latitude, longitude, code)
