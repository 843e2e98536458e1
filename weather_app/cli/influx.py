"""Read what reached InfluxDB (the newest point and the recent point count per city), and give
Telegraf, Grafana and `check` tokens that may only write or only read the bucket."""

import json
import os
import urllib.error
import urllib.request
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlencode, urlsplit

from influxdb_client.client.influxdb_client_async import InfluxDBClientAsync

from weather_app.errors import ConfigError, WeatherError, exit_with
from weather_app.settings import InfluxDBSettings, Settings

MEASUREMENT = "weather"
HEARTBEAT_FIELD = "temperature"


@dataclass(frozen=True)
class InfluxTarget:
    url: str
    org: str
    bucket: str
    token: str

    def __repr__(self) -> str:
        return f"InfluxTarget(url={self.url!r}, org={self.org!r}, bucket={self.bucket!r})"


def last_points_query(bucket: str, lookback_seconds: int) -> str:
    return f"""
from(bucket: "{bucket}")
  |> range(start: -{lookback_seconds}s)
  |> filter(fn: (r) => r._measurement == "{MEASUREMENT}" and r._field == "{HEARTBEAT_FIELD}")
  |> group(columns: ["city"])
  |> last()
"""


def recent_counts_query(bucket: str, window_seconds: int) -> str:
    return f"""
from(bucket: "{bucket}")
  |> range(start: -{window_seconds}s)
  |> filter(fn: (r) => r._measurement == "{MEASUREMENT}" and r._field == "{HEARTBEAT_FIELD}")
  |> group(columns: ["city"])
  |> count()
"""


async def city_activity(
    target: InfluxTarget, lookback_seconds: int, window_seconds: int
) -> tuple[dict[str, datetime], dict[str, int]]:
    """(newest point time per city, points in the last `window_seconds` per city)."""
    async with InfluxDBClientAsync(url=target.url, token=target.token, org=target.org) as client:
        query_api = client.query_api()
        last_tables = await query_api.query(last_points_query(target.bucket, lookback_seconds))
        count_tables = await query_api.query(recent_counts_query(target.bucket, window_seconds))
    last_seen = {
        str(record.values["city"]): record.values["_time"]
        for table in last_tables
        for record in table.records
    }
    counts = {
        str(record.values["city"]): int(record.values["_value"])
        for table in count_tables
        for record in table.records
    }
    return last_seen, counts


# --- Least-privilege tokens ----------------------------------------------------------------------
# scripts/influxdb.sh (and the compose file's influxdb-tokens step) run `python -m
# weather_app.cli.influx`: with the admin token it gives Telegraf a token that may only write the
# bucket and Grafana and `check` one that may only read it, each in its own file (mode 600).

WRITE_FILE_SETTING = "INFLUXDB_WRITE_TOKEN_FILE"
READ_FILE_SETTING = "INFLUXDB_READ_TOKEN_FILE"
DEFAULT_CACHE = Path.home() / ".cache" / "weather-speed-layer"
REQUEST_TIMEOUT_SECONDS = 15


class InfluxSetupError(WeatherError):
    """InfluxDB refused or failed a setup request; the message names it (never a token)."""


@dataclass(frozen=True)
class ScopedToken:
    """A token that may only `action` ("read" or "write") the bucket, kept in `path`."""

    action: str
    path: Path

    def description(self, bucket: str) -> str:
        # One authorization per token file: a new token for the file replaces the previous one.
        return f"weather-speed-layer: {self.action} {bucket} ({self.path})"


def default_token_file(url: str, action: str, environ: Mapping[str, str]) -> Path:
    """Where scripts/influxdb.sh keeps the token for the InfluxDB on `url`'s port."""
    port = urlsplit(url).port or 8086
    cache = Path(environ.get("WSL_CACHE") or DEFAULT_CACHE)
    name = "telegraf.token" if action == "write" else "read.token"
    return cache / "run" / f"influxdb-{port}-tokens" / name


def read_token(settings: InfluxDBSettings, environ: Mapping[str, str]) -> str:
    """The token for reading: INFLUXDB_TOKEN if set, else the read-only token file
    (INFLUXDB_READ_TOKEN_FILE, or the one scripts/influxdb.sh wrote for the URL's port, under
    WSL_CACHE in `environ`)."""
    if settings.token:
        return settings.token
    configured = settings.read_token_file
    path = Path(configured) if configured else default_token_file(settings.url, "read", environ)
    try:
        token = path.read_text(encoding="utf-8").strip()
    except OSError as error:
        reason = error.strerror or type(error).__name__
        raise InfluxSetupError(
            f"no InfluxDB token: INFLUXDB_TOKEN is unset and {path} cannot be read ({reason}); "
            f"set {READ_FILE_SETTING} or INFLUXDB_TOKEN, or run scripts/influxdb.sh up"
        ) from None
    if not token:
        raise InfluxSetupError(f"no InfluxDB token: {path} is empty")
    return token


def _call(admin: InfluxTarget, method: str, path: str, body: object = None) -> Any:
    request = urllib.request.Request(  # noqa: S310 - the URL is the configured InfluxDB
        admin.url.rstrip("/") + path,
        method=method,
        data=None if body is None else json.dumps(body).encode(),
        headers={"Authorization": f"Token {admin.token}", "Content-Type": "application/json"},
    )
    try:
        with urllib.request.urlopen(request, timeout=REQUEST_TIMEOUT_SECONDS) as response:  # noqa: S310
            payload = response.read()
    except urllib.error.HTTPError as error:
        try:
            message = json.loads(error.read()).get("message", "")
        except ValueError:
            message = ""
        raise InfluxSetupError(
            f"{method} {path.partition('?')[0]} returned HTTP {error.code} {message}".rstrip()
        ) from None
    except OSError as error:
        raise InfluxSetupError(f"{method} {admin.url}: {error}") from None
    return json.loads(payload) if payload else None


def _only_id(listing: Any, key: str, what: str) -> str:
    items = listing.get(key) or []
    if len(items) != 1:
        raise InfluxSetupError(f"{what} not found")
    return str(items[0]["id"])


def _grants_only(authorization: dict[str, Any], action: str, bucket_id: str) -> bool:
    permissions = [
        (p["action"], p["resource"]["type"], p["resource"].get("id"))
        for p in authorization.get("permissions", [])
    ]
    return authorization.get("status") == "active" and permissions == [
        (action, "buckets", bucket_id)
    ]


def _write_secret(path: Path, token: str) -> None:
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    partial = path.with_name(path.name + ".new")
    partial.unlink(missing_ok=True)
    with os.fdopen(os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600), "w") as out:
        out.write(token)
    partial.replace(path)


def provision_tokens(admin: InfluxTarget, tokens: Sequence[ScopedToken]) -> list[str]:
    """Make each token file hold a token that may only do its action on admin.bucket.

    A token still valid with exactly that permission is kept (a running Telegraf keeps working);
    otherwise a new one is written and the file's earlier ones are deleted. Returns what was done.
    """
    org_id = _only_id(
        _call(admin, "GET", f"/api/v2/orgs?{urlencode({'org': admin.org})}"),
        "orgs",
        f"org {admin.org!r}",
    )
    bucket_query = urlencode({"orgID": org_id, "name": admin.bucket})
    bucket_id = _only_id(
        _call(admin, "GET", f"/api/v2/buckets?{bucket_query}"),
        "buckets",
        f"bucket {admin.bucket!r} in org {admin.org!r}",
    )
    listing = _call(admin, "GET", f"/api/v2/authorizations?{urlencode({'orgID': org_id})}")
    existing: list[dict[str, Any]] = listing.get("authorizations") or []
    done = []
    for scoped in tokens:
        description = scoped.description(admin.bucket)
        try:
            current = scoped.path.read_text(encoding="utf-8").strip()
        except FileNotFoundError:
            current = ""
        mine = [auth for auth in existing if auth.get("description") == description]
        kept = next(
            (
                auth
                for auth in mine
                if current
                and auth.get("token") == current
                and _grants_only(auth, scoped.action, bucket_id)
            ),
            None,
        )
        if kept is None:
            permission = {
                "action": scoped.action,
                "resource": {"type": "buckets", "id": bucket_id, "orgID": org_id},
            }
            created = _call(
                admin,
                "POST",
                "/api/v2/authorizations",
                {"orgID": org_id, "description": description, "permissions": [permission]},
            )
            _write_secret(scoped.path, str(created["token"]))
            kept = created
            done.append(
                f"new {scoped.action}-only token for bucket {admin.bucket!r}: {scoped.path}"
            )
        else:
            scoped.path.chmod(0o600)
            done.append(f"{scoped.action}-only token for bucket {admin.bucket!r}: {scoped.path}")
        for stale in mine:
            if stale["id"] != kept["id"]:
                _call(admin, "DELETE", f"/api/v2/authorizations/{stale['id']}")
    return done


def main(environ: Mapping[str, str]) -> None:
    """`python -m weather_app.cli.influx`: provision_tokens for the InfluxDB settings in
    `environ`, with the admin INFLUXDB_TOKEN and both token files named explicitly."""
    names = ("INFLUXDB_TOKEN", WRITE_FILE_SETTING, READ_FILE_SETTING)
    if missing := [name for name in names if not environ.get(name, "").strip()]:
        exit_with(f"scoped InfluxDB tokens: set {', '.join(missing)}", code=2)
    try:
        settings = Settings.from_env(environ).influxdb
    except ConfigError as error:
        exit_with(f"configuration error: {error}")
    admin = InfluxTarget(settings.url, settings.org, settings.bucket, settings.token)
    tokens = [
        ScopedToken("write", Path(settings.write_token_file)),
        ScopedToken("read", Path(settings.read_token_file)),
    ]
    try:
        for line in provision_tokens(admin, tokens):
            print(line)
    except (InfluxSetupError, OSError) as error:
        exit_with(f"scoped InfluxDB tokens for {admin.url}: {error}")


if __name__ == "__main__":
    main(os.environ)
