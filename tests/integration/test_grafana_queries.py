"""Every Grafana query (panels, the `city` variable, alert rules) against a real InfluxDB.

Grafana cannot run here, so this does what Grafana does before it sends a Flux query: it
replaces `v.timeRangeStart`/`v.timeRangeStop` (RFC3339 times), `v.windowPeriod` (a duration),
`v.defaultBucket` (a string) and `${city:regex}` (`(London|Paris|...)` for all cities, `Paris`
for one) in the text, then runs the query on InfluxDB holding a minute of real data: a worker
with a short interval -> Kafka -> Telegraf -> InfluxDB, as in test_influx_pipeline.py.
"""

import json
import re
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.harness.paths import REPO
from tests.harness.ports import free_port
from tests.harness.processes import ScriptService
from tests.integration.scoped_tokens import reader, scoped_token_env
from tests.integration.support import (
    AppEnv,
    Worker,
    flux,
    run_command,
    send_enriched,
    telegraf_errors,
    temporary_bucket,
    unique_name,
    wait_until,
)
from weather_app.cli.influx import InfluxTarget
from weather_app.rules.timestamps import format_rfc3339
from weather_app.sources.cities import DEFAULT_CITIES

DASHBOARD = json.loads((REPO / "grafana/dashboards/weather-speed-layer.json").read_text())
ALERT_RULES = yaml.safe_load((REPO / "grafana/provisioning/alerting/rules.yaml").read_text())
PANELS: list[dict[str, Any]] = DASHBOARD["panels"]
[CITY_VARIABLE] = [v for v in DASHBOARD["templating"]["list"] if v["name"] == "city"]
RULES: list[dict[str, Any]] = [rule for group in ALERT_RULES["groups"] for rule in group["rules"]]

CITIES = [city.name for city in DEFAULT_CITIES]
ONE_CITY = "Paris"
# Seconds between the worker's fetches. Not 1 s: observation times are whole seconds (up to 1 s
# before the fetch) and Telegraf flushes every second, so just before the next point lands the
# newest one is up to interval + ~2.2 s old; with 3 s that stays below 2 x interval (measured at
# interval 2: about 2.5 s at a random moment).
INTERVAL = 3
COLLECT_SECONDS = 60
# The datasource's minimum interval (timeInterval) and the width, in points, Grafana asks for.
MIN_INTERVAL_SECONDS = 10
MAX_DATA_POINTS = 1000
# Grafana rounds the computed interval down to one of these (seconds).
ROUND_INTERVALS = (1, 5, 10, 15, 20, 30, 60, 300, 600, 900, 1800, 3600, 10800, 21600, 43200, 86400)


def escape_regex(value: str) -> str:
    """Grafana's regex escaping of a variable value (the characters of escapeRegex)."""
    return re.sub(r"([\\^$*+?.()|\[\]{}/])", r"\\\1", value)


def regex_format(values: Sequence[str]) -> str:
    """`${var:regex}`: one value escaped as is, several (or All) as an escaped alternation."""
    if len(values) == 1:
        return escape_regex(values[0])
    return "(" + "|".join(escape_regex(value) for value in values) + ")"


def go_duration(seconds: int) -> str:
    """A duration as Go's time.Duration prints it (`10s`, `1m0s`, `1h0m0s`): valid Flux."""
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    if hours:
        return f"{hours}h{minutes}m{secs}s"
    if minutes:
        return f"{minutes}m{secs}s"
    return f"{secs}s"


def window_period(range_seconds: float) -> str:
    raw = range_seconds / MAX_DATA_POINTS
    rounded = max(step for step in ROUND_INTERVALS if step <= max(raw, 1))
    return go_duration(max(rounded, MIN_INTERVAL_SECONDS))


def rfc3339_nano(moment: datetime) -> str:
    text = moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f").rstrip("0").rstrip(".")
    return text + "Z"


def parse_relative(text: str) -> timedelta:
    """A panel's `timeFrom` such as `24h` or `30m`."""
    match = re.fullmatch(r"(\d+)([smhd])", text)
    assert match, f"unsupported relative time {text!r}"
    unit = {"s": 1, "m": 60, "h": 3600, "d": 86400}[match.group(2)]
    return timedelta(seconds=int(match.group(1)) * unit)


@dataclass(frozen=True)
class TimeRange:
    start: datetime
    stop: datetime

    @classmethod
    def last(cls, span: timedelta) -> "TimeRange":
        stop = datetime.now(UTC)
        return cls(stop - span, stop)


DASHBOARD_RANGE = timedelta(hours=1)  # the dashboard's default: now-1h .. now
assert DASHBOARD["time"] == {"from": "now-1h", "to": "now"}


def substitute(query: str, bucket: str, time_range: TimeRange, cities: Sequence[str]) -> str:
    """The query text as Grafana sends it to InfluxDB."""
    span = (time_range.stop - time_range.start).total_seconds()
    replacements = {
        "${city:regex}": regex_format(cities),
        "v.timeRangeStart": rfc3339_nano(time_range.start),
        "v.timeRangeStop": rfc3339_nano(time_range.stop),
        "v.windowPeriod": window_period(span),
        "v.defaultBucket": json.dumps(bucket),
    }
    for variable, value in replacements.items():
        query = query.replace(variable, value)
    return query


def panel_range(panel: dict[str, Any]) -> TimeRange:
    """The panel's own relative time (`timeFrom`) if it has one, else the dashboard's."""
    return TimeRange.last(
        parse_relative(panel["timeFrom"]) if "timeFrom" in panel else DASHBOARD_RANGE
    )


def panel_query(panel: dict[str, Any]) -> str:
    [target] = panel["targets"]
    return str(target["query"])


def by_title(title: str) -> dict[str, Any]:
    [panel] = [panel for panel in PANELS if panel["title"] == title]
    return panel


def run_panel(
    target: InfluxTarget, panel: dict[str, Any], cities: Sequence[str]
) -> list[dict[str, Any]]:
    return flux(target, substitute(panel_query(panel), target.bucket, panel_range(panel), cities))


def live_cities(target: InfluxTarget) -> set[str]:
    """Cities with a point of the last 30 s (the seeded points are an hour old)."""
    rows = flux(
        target,
        f"""
from(bucket: "{target.bucket}")
  |> range(start: -30s)
  |> filter(fn: (r) => r._measurement == "weather" and r._field == "temperature")
  |> group(columns: ["city"])
  |> count()
""",
    )
    return {str(row["city"]) for row in rows}


def seed_record(city_index: int, observed: datetime) -> dict[str, Any]:
    city = DEFAULT_CITIES[city_index]
    return {
        "city": city.name,
        "country": city.country,
        "station_id": city.station_id,
        "timestamp": format_rfc3339(observed),
        "temperature": 15.0,
        "humidity": 70.0,
        "wind_speed": 10.0,
        "precipitation": 0.0,
        "next_hour_temp": 15.5,
        "next_hour_precip": 0.0,
        "is_rain": 0,
        "is_storm": 0,
        "data_origin": "simulated",
    }


@pytest.fixture(scope="module")
def live_bucket(
    kafka_broker: str, influxdb_server: InfluxTarget, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[InfluxTarget]:
    """A fresh bucket fed by a running worker (every INTERVAL s) through Kafka and Telegraf.

    Yields once it holds COLLECT_SECONDS of live data, with the worker still running; also
    seeded through Kafka with an hour-old record every 5 s per city, so that the forecast-error
    panel (forecast issued an hour before the observation) has something to compare.
    """
    workdir: Path = tmp_path_factory.mktemp("grafana")
    env = AppEnv(broker=kafka_broker, workdir=workdir)
    env.extra.update(
        WEATHER_INTERVAL=str(INTERVAL),
        INFLUXDB_URL=influxdb_server.url,
        INFLUXDB_ORG=influxdb_server.org,
    )
    telegraf_log = workdir / "telegraf.log"
    with temporary_bucket(influxdb_server) as target:
        env.extra["INFLUXDB_BUCKET"] = target.bucket
        # Telegraf writes with a write-only token; the queries run with Grafana's read-only one.
        env.extra.update(scoped_token_env(target, workdir / "tokens"))
        assert run_command(env, "create-topics").returncode == 0
        started = datetime.now(UTC).replace(microsecond=0)
        seeds = [
            seed_record(index, started - timedelta(hours=1) + timedelta(seconds=offset))
            for offset in range(-30, COLLECT_SECONDS + 30, 5)
            for index in range(len(DEFAULT_CITIES))
        ]
        send_enriched(kafka_broker, env.enriched_topic, seeds)
        telegraf = ScriptService(
            "telegraf.sh",
            {
                **env.variables(),
                "TELEGRAF_HEALTH_PORT": str(free_port()),
                "TELEGRAF_LOG": str(telegraf_log),
                "TELEGRAF_CONSUMER_GROUP": unique_name("telegraf"),
            },
        )
        telegraf.up()
        try:
            worker = Worker(env)
            try:
                wait_until(
                    lambda: live_cities(target) >= set(CITIES),
                    timeout=60,
                    what="live points for every city",
                )
                time.sleep(COLLECT_SECONDS)
                assert worker.process.poll() is None, worker.log()
                yield reader(target, env.extra)
            finally:
                assert worker.stop() == 0, worker.log()
        finally:
            telegraf.down()
        assert telegraf_errors(telegraf_log) == []


def cities_in(rows: list[dict[str, Any]]) -> set[str]:
    return {str(row["city"]) for row in rows if row.get("city") is not None}


def test_the_city_variable_lists_every_configured_city(live_bucket: InfluxTarget):
    assert CITY_VARIABLE["multi"] is True
    assert CITY_VARIABLE["includeAll"] is True
    query = substitute(
        CITY_VARIABLE["query"], live_bucket.bucket, TimeRange.last(DASHBOARD_RANGE), CITIES
    )
    values = sorted(str(row["_value"]) for row in flux(live_bucket, query))
    assert values == sorted(CITIES)


@pytest.mark.parametrize("selection", ["all cities", "one city"])
@pytest.mark.parametrize("panel", PANELS, ids=[str(panel["title"]) for panel in PANELS])
def test_every_panel_query_runs_and_returns_rows(
    live_bucket: InfluxTarget, panel: dict[str, Any], selection: str
):
    cities = CITIES if selection == "all cities" else [ONE_CITY]
    rows = run_panel(live_bucket, panel, cities)
    assert rows, f"{panel['title']!r} returned no rows for {selection}"
    seen = cities_in(rows)
    if selection == "one city":
        assert seen <= {ONE_CITY}
    elif seen:
        # A panel that keeps the city shows every one of them.
        assert seen == set(CITIES)


def test_the_city_regex_matches_names_with_spaces_and_nothing_else():
    assert regex_format(["New York"]) == "New York"
    assert regex_format(["a.b", "c/d"]) == r"(a\.b|c\/d)"
    pattern = re.compile("^" + regex_format(CITIES) + "$")
    assert all(pattern.match(city) for city in CITIES)
    assert not pattern.match("Parisian")
    assert go_duration(90) == "1m30s"
    assert window_period(3600) == "10s"
    assert window_period(86400) == "1m0s"


@pytest.mark.parametrize("cities", [CITIES, [ONE_CITY]], ids=["all cities", "one city"])
def test_the_heartbeat_counts_the_messages_of_the_last_minute(
    live_bucket: InfluxTarget, cities: list[str]
):
    [row] = run_panel(live_bucket, by_title("Messages in the last minute"), cities)
    assert row["_value"] > 0
    # One point per city and fetch: about 60 / INTERVAL per city, less what is still in flight.
    assert row["_value"] <= len(cities) * (60 / INTERVAL + 1)


@pytest.mark.parametrize("cities", [CITIES, [ONE_CITY]], ids=["all cities", "one city"])
def test_the_age_of_the_last_measurement_is_below_two_intervals(
    live_bucket: InfluxTarget, cities: list[str]
):
    rows = run_panel(live_bucket, by_title("Age of the last measurement"), cities)
    ages = {row["city"]: row["_value"] for row in rows}
    assert ages.keys() == set(cities)
    assert all(0 <= age < 2 * INTERVAL for age in ages.values()), ages


def test_the_forecast_error_compares_each_city_with_its_forecast_of_an_hour_before(
    live_bucket: InfluxTarget,
):
    rows = run_panel(
        live_bucket,
        by_title("Forecast error (next_hour_temp vs observed an hour later)"),
        CITIES,
    )
    assert cities_in(rows) == set(CITIES)
    # The seeded forecast is 15.5 °C everywhere; the error is that minus what was observed.
    observed = flux(
        live_bucket,
        f"""
from(bucket: "{live_bucket.bucket}")
  |> range(start: -1h)
  |> filter(fn: (r) => r._measurement == "weather" and r._field == "temperature")
  |> group(columns: ["city"])
  |> max()
""",
    )
    hottest = {row["city"]: row["_value"] for row in observed}
    assert all(row["_value"] >= 15.5 - hottest[row["city"]] - 1e-9 for row in rows)


@pytest.mark.parametrize("rule", RULES, ids=[str(rule["uid"]) for rule in RULES])
def test_the_alert_rule_queries_run_and_do_not_fire_while_data_flows(
    live_bucket: InfluxTarget, rule: dict[str, Any]
):
    assert rule["noDataState"] == "Alerting"
    [query] = [step for step in rule["data"] if step["datasourceUid"] != "__expr__"]
    span = timedelta(seconds=query["relativeTimeRange"]["from"])
    rows = flux(
        live_bucket,
        substitute(query["model"]["query"], live_bucket.bucket, TimeRange.last(span), CITIES),
    )
    assert rows
    reducer = next(step["model"] for step in rule["data"] if step["model"].get("type") == "reduce")
    threshold = next(
        step["model"] for step in rule["data"] if step["model"].get("type") == "threshold"
    )
    [condition] = threshold["conditions"]
    kind, [limit] = condition["evaluator"]["type"], condition["evaluator"]["params"]
    series: dict[str, list[float]] = {}
    for row in rows:
        series.setdefault(str(row.get("city", "")), []).append(float(row["_value"]))
    reduced = {
        key: sum(values) if reducer["reducer"] == "sum" else values[-1]
        for key, values in series.items()
    }
    firing = {
        key: value
        for key, value in reduced.items()
        if (value < limit if kind == "lt" else value > limit)
    }
    assert firing == {}
    if "city" in rows[0]:
        assert reduced.keys() == set(CITIES)
