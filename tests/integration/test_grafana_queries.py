"""Every Grafana query (panels, the `city` variable, alert rules) against a real InfluxDB.

Grafana cannot run here, so this does what Grafana does before it sends a Flux query: it
replaces `v.timeRangeStart`/`v.timeRangeStop` (RFC3339 times), `v.windowPeriod` (a duration),
`v.defaultBucket` (a string) and `${city:regex}` (`(London|Paris|...)` for all cities, `Paris`
for one) in the text, then runs the query on InfluxDB holding a minute of real data: a worker
with a short interval -> Kafka -> Telegraf -> InfluxDB, as in test_influx_pipeline.py.
"""

import json
import math
import re
import time
from collections import Counter
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
from tests.harness.waiting import settled
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
from weather_app.rules.freshness import max_age_seconds
from weather_app.rules.headers import STALE_AFTER_SECONDS, header_number
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
COLLECT_SECONDS = 30
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


def telegraf_service(env: AppEnv, log: Path) -> ScriptService:
    """Telegraf reading `env`'s enriched topic into its bucket, in its own consumer group."""
    return ScriptService(
        "telegraf.sh",
        {
            **env.variables(),
            "TELEGRAF_HEALTH_PORT": str(free_port()),
            "TELEGRAF_LOG": str(log),
            "TELEGRAF_CONSUMER_GROUP": unique_name("telegraf"),
        },
    )


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
        telegraf = telegraf_service(env, telegraf_log)
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
def test_the_heartbeat_counts_the_points_within_their_stale_threshold(
    live_bucket: InfluxTarget, cities: list[str]
):
    [row] = run_panel(live_bucket, by_title("Points within the stale threshold"), cities)
    assert row["_value"] > 0
    # One point per city and fetch: at most 2 x INTERVAL / INTERVAL + 1 per city.
    assert row["_value"] <= len(cities) * 3


@pytest.mark.parametrize("cities", [CITIES, [ONE_CITY]], ids=["all cities", "one city"])
def test_the_age_of_the_last_measurement_is_below_two_intervals(
    live_bucket: InfluxTarget, cities: list[str]
):
    rows = run_panel(live_bucket, by_title("Age of the last measurement"), cities)
    ages = {row["city"]: (row["age"], row["stale_after"], row["state"]) for row in rows}
    assert ages.keys() == set(cities)
    assert all(
        0 <= age < stale_after == 2 * INTERVAL and state != "stale"
        for age, stale_after, state in ages.values()
    ), ages


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


def evaluated_at(query: str, moment: datetime) -> str:
    """`query` with Flux's now() at `moment`: the option after its imports, which come first."""
    lines = query.split("\n")
    imports = 0
    while imports < len(lines) and lines[imports].startswith("import "):
        imports += 1
    option = f"option now = () => {rfc3339_nano(moment)}"
    return "\n".join([*lines[:imports], option, *lines[imports:]])


def firing(
    target: InfluxTarget, rule: dict[str, Any], at: datetime | None = None
) -> tuple[dict[str, float], list[dict[str, Any]]]:
    """What Grafana's rule would fire on (by city, "" for a query without one), evaluated now or
    `at`, and the query's rows. As Grafana: the query over relativeTimeRange, then the reduce and
    the threshold expressions."""
    [query] = [step for step in rule["data"] if step["datasourceUid"] != "__expr__"]
    span = timedelta(seconds=query["relativeTimeRange"]["from"])
    moment = at or datetime.now(UTC)
    text = substitute(
        query["model"]["query"], target.bucket, TimeRange(moment - span, moment), CITIES
    )
    if at is not None:
        text = evaluated_at(text, at)
    rows = flux(target, text)
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
    fired = {
        key: value
        for key, value in reduced.items()
        if (value < limit if kind == "lt" else value > limit)
    }
    return fired, rows


@pytest.mark.parametrize("rule", RULES, ids=[str(rule["uid"]) for rule in RULES])
def test_the_alert_rule_queries_run_and_do_not_fire_while_data_flows(
    live_bucket: InfluxTarget, rule: dict[str, Any]
):
    assert rule["noDataState"] == "Alerting"
    fired, rows = firing(live_bucket, rule)
    assert rows
    assert fired == {}
    if "city" in rows[0]:
        assert {str(row["city"]) for row in rows} == set(CITIES)


# A quota-raised interval as with an API key (10 cities on 1,000 calls a day: 864 s), and two
# cities written as the pipeline writes them, with the threshold header of a worker at 900 s.
SLOW_INTERVAL = 900.0
FRESH_CITY, STOPPED_CITY = 0, 1  # indexes into DEFAULT_CITIES
FRESH_AGE = 1000  # older than 300 s, the old fixed threshold, and than one interval
STOPPED_AGE = 2000  # older than 2 x 900 s


@pytest.fixture(scope="module")
def slow_bucket(
    kafka_broker: str, influxdb_server: InfluxTarget, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[InfluxTarget, datetime]]:
    """A fresh bucket holding, through Kafka and Telegraf, the points of two cities fetched every
    900 s: one whose newest point is FRESH_AGE s old, one stopped STOPPED_AGE s ago. Yields
    it with the moment those ages hold."""
    workdir: Path = tmp_path_factory.mktemp("grafana-slow")
    env = AppEnv(broker=kafka_broker, workdir=workdir)
    telegraf_log = workdir / "telegraf.log"
    with temporary_bucket(influxdb_server) as target:
        env.extra.update(
            INFLUXDB_URL=influxdb_server.url,
            INFLUXDB_ORG=influxdb_server.org,
            INFLUXDB_BUCKET=target.bucket,
            **scoped_token_env(target, workdir / "tokens"),
        )
        assert run_command(env, "create-topics").returncode == 0
        now = datetime.now(UTC).replace(microsecond=0)
        records = [
            seed_record(city, now - timedelta(seconds=age + fetches * SLOW_INTERVAL))
            for city, age in ((FRESH_CITY, FRESH_AGE), (STOPPED_CITY, STOPPED_AGE))
            for fetches in (2, 1, 0)
        ]
        # What the enrich agent of a worker fetching every 900 s puts on each record.
        headers = [(STALE_AFTER_SECONDS, header_number(max_age_seconds(SLOW_INTERVAL)))]
        send_enriched(kafka_broker, env.enriched_topic, records, headers)
        telegraf = telegraf_service(env, telegraf_log)
        telegraf.up()
        try:
            wait_until(
                lambda: len(stale_after_points(target)) == len(records),
                timeout=60,
                what="every record's point with its stale threshold",
            )
        finally:
            telegraf.down()
        assert telegraf_errors(telegraf_log) == []
        yield reader(target, env.extra), now


def stale_after_points(target: InfluxTarget) -> list[dict[str, Any]]:
    return flux(
        target,
        f"""
from(bucket: "{target.bucket}")
  |> range(start: -1d)
  |> filter(fn: (r) => r._measurement == "weather" and r._field == "stale_after_seconds")
""",
    )


def test_with_a_900_s_interval_only_the_stopped_city_fires(
    slow_bucket: tuple[InfluxTarget, datetime],
):
    target, now = slow_bucket
    assert {point["_value"] for point in stale_after_points(target)} == {2 * SLOW_INTERVAL}
    fresh, stopped = DEFAULT_CITIES[FRESH_CITY].name, DEFAULT_CITIES[STOPPED_CITY].name
    [per_city] = [rule for rule in RULES if rule["uid"] == "weather-no-data-per-city"]
    [all_cities] = [rule for rule in RULES if rule["uid"] == "weather-no-data-all-cities"]
    fired, _ = firing(target, per_city, at=now)
    assert fired.keys() == {stopped}
    assert fired[stopped] == pytest.approx(STOPPED_AGE / (2 * SLOW_INTERVAL))
    assert firing(target, all_cities, at=now)[0] == {}
    # 900 s later the fresh city is stopped too (1,900 s > 1,800 s): nothing arrives at all.
    later = now + timedelta(seconds=SLOW_INTERVAL)
    assert firing(target, per_city, at=later)[0].keys() == {fresh, stopped}
    assert firing(target, all_cities, at=later)[0].keys() == {""}


def test_with_a_900_s_interval_the_heartbeat_counts_the_points_within_1800_s(
    slow_bucket: tuple[InfluxTarget, datetime],
):
    target, now = slow_bucket
    query = panel_query(by_title("Points within the stale threshold"))
    query = substitute(query, target.bucket, TimeRange.last(DASHBOARD_RANGE), CITIES)
    [row] = flux(target, evaluated_at(query, now))
    assert row["_value"] == 1  # the fresh city's newest point, 1,000 s old (the old panel: 0)
    later = now + timedelta(seconds=SLOW_INTERVAL)
    [row] = flux(target, evaluated_at(query, later))
    assert row["_value"] == 0


def test_with_a_900_s_interval_the_age_panel_colours_by_that_interval(
    slow_bucket: tuple[InfluxTarget, datetime],
):
    target, now = slow_bucket
    panel = by_title("Age of the last measurement")
    query = substitute(panel_query(panel), target.bucket, TimeRange.last(DASHBOARD_RANGE), CITIES)
    rows = flux(target, evaluated_at(query, now))
    states = {row["city"]: (row["age"], row["stale_after"], row["state"]) for row in rows}
    assert states == {
        DEFAULT_CITIES[FRESH_CITY].name: (FRESH_AGE, 2 * SLOW_INTERVAL, "late"),
        DEFAULT_CITIES[STOPPED_CITY].name: (STOPPED_AGE, 2 * SLOW_INTERVAL, "stale"),
    }


# The wind rose's sectors in compass order (22.5 degrees each, N centred on 0) and its speed
# classes with their upper bounds (km/h).
SECTORS = ["N", "NNE", "NE", "ENE", "E", "ESE", "SE", "SSE"]
SECTORS += ["S", "SSW", "SW", "WSW", "W", "WNW", "NW", "NNW"]
SPEED_CLASSES = (
    (10.0, "0-10 km/h"),
    (20.0, "10-20 km/h"),
    (30.0, "20-30 km/h"),
    (50.0, "30-50 km/h"),
    (math.inf, "50+ km/h"),
)


def test_the_wind_rose_counts_each_direction_once_by_sector_and_speed_class(
    live_bucket: InfluxTarget,
):
    # The worker keeps writing: a range that ends a few rounds ago, once every point observed in
    # it has arrived, so the panel and the recount below see the same points.
    time_range = TimeRange.last(DASHBOARD_RANGE)
    time_range = TimeRange(time_range.start, time_range.stop - timedelta(seconds=3 * INTERVAL))
    expected = settled(lambda: wind_rose_recount(live_bucket, time_range), 2 * INTERVAL, 60)
    assert expected is not None, "the stored wind fields kept changing for 60 s"
    panel = by_title("Wind rose (direction by speed class)")
    rows = flux(live_bucket, substitute(panel_query(panel), live_bucket.bucket, time_range, CITIES))
    assert [row["sector"] for row in rows] == SECTORS
    shown = Counter({(row["sector"], name): row[name] for row in rows for _, name in SPEED_CLASSES})
    assert sum(expected.values()) >= len(CITIES) * COLLECT_SECONDS / INTERVAL / 2
    assert +shown == expected


def wind_rose_recount(target: InfluxTarget, time_range: TimeRange) -> Counter[tuple[str, str]]:
    """The wind rose counted here, from the stored wind_dir and wind_speed fields."""
    points = flux(
        target,
        f"""
from(bucket: "{target.bucket}")
  |> range(start: {rfc3339_nano(time_range.start)}, stop: {rfc3339_nano(time_range.stop)})
  |> filter(fn: (r) => r._measurement == "weather")
  |> filter(fn: (r) => r._field == "wind_dir" or r._field == "wind_speed")
  |> pivot(rowKey: ["_time"], columnKey: ["_field"], valueColumn: "_value")
  |> filter(fn: (r) => exists r.wind_dir)
""",
    )
    return Counter(
        (
            SECTORS[math.floor(point["wind_dir"] / 22.5 + 0.5) % 16],
            next(name for bound, name in SPEED_CLASSES if point["wind_speed"] < bound),
        )
        for point in points
    )
