"""Grafana provisioning (datasource, dashboards, alerting) and the dashboard JSON, as files."""

import re
from typing import Any

import pytest

from tests.unit.deploy import (
    FILE_REFERENCE,
    PROVISIONING,
    VARIABLE,
    compose,
    dashboard,
    datasource,
    load_yaml,
)

CITY_FILTER = "r.city =~ /^${city:regex}$/"
# Every panel the issue asks for: title -> panel type.
REQUIRED_PANELS = {
    "Temperature": "timeseries",
    "Humidity": "timeseries",
    "Wind speed": "timeseries",
    "Precipitation": "timeseries",
    "Next-hour forecast vs actual temperature": "timeseries",
    "Rain (0/1)": "state-timeline",
    "Storm (0/1)": "state-timeline",
    "Points within the stale threshold": "stat",
    "Age of the last measurement": "table",
    "Data origin": "piechart",
    "Latest readings (debug)": "table",
    "Forecast error (next_hour_temp vs observed an hour later)": "timeseries",
    "Wind now (speed and direction)": "table",
    "Wind rose (direction by speed class)": "barchart",
}


def panels() -> list[dict[str, Any]]:
    result: list[dict[str, Any]] = dashboard()["panels"]
    return result


def panel(title: str) -> dict[str, Any]:
    [found] = [p for p in panels() if p["title"] == title]
    return found


def query_of(found: dict[str, Any]) -> str:
    [target] = found["targets"]
    return str(target["query"])


def rules() -> list[dict[str, Any]]:
    document = load_yaml(PROVISIONING / "alerting" / "rules.yaml")
    return [rule for group in document["groups"] for rule in group["rules"]]


def grafana_environment() -> dict[str, Any]:
    env: dict[str, Any] = compose()["services"]["grafana"]["environment"]
    return env


@pytest.mark.parametrize("path", sorted(PROVISIONING.rglob("*.yaml")), ids=lambda p: p.name)
def test_every_provisioning_file_parses_with_api_version_1(path):
    document = load_yaml(path)
    assert document["apiVersion"] == 1


def test_the_datasource_is_influxdb_flux_with_a_stable_uid():
    source = datasource()
    assert source["uid"] == "influxdb"
    assert source["type"] == "influxdb"
    assert source["jsonData"]["version"] == "Flux"


def test_the_datasource_takes_everything_installation_specific_from_the_environment():
    source = datasource()
    settings = {
        "url": source["url"],
        "organization": source["jsonData"]["organization"],
        "defaultBucket": source["jsonData"]["defaultBucket"],
    }
    env = grafana_environment()
    for key, value in settings.items():
        match = VARIABLE.fullmatch(str(value))
        assert match, f"{key} must be an environment variable, not {value!r}"
        assert match.group(1) in env, f"grafana service does not set {match.group(1)}"
    assert set(source) & {"password", "basicAuthPassword", "token"} == set()
    # The token: a file the compose file mounts into Grafana read-only (a read-only token).
    token = FILE_REFERENCE.fullmatch(source["secureJsonData"]["token"])
    assert token, "the token must come from a file"
    token_dir = token.group(1).rpartition("/")[0]
    assert f"{token_dir}:ro" in [
        str(volume).split(":", 1)[1] for volume in compose()["services"]["grafana"]["volumes"]
    ]


def test_the_dashboard_provider_reads_the_mounted_folder_and_forbids_ui_updates():
    [provider] = load_yaml(PROVISIONING / "dashboards" / "weather.yaml")["providers"]
    assert provider["type"] == "file"
    assert provider["allowUiUpdates"] is False
    mounts = compose()["services"]["grafana"]["volumes"]
    assert f"./grafana/dashboards:{provider['options']['path']}:ro" in mounts


def test_the_dashboard_is_weather_speed_layer():
    document = dashboard()
    [provider] = load_yaml(PROVISIONING / "dashboards" / "weather.yaml")["providers"]
    assert (provider["folder"], document["title"]) == ("Weather", "Speed Layer")
    assert document["uid"] == "weather-speed-layer"
    assert document["time"] == {"from": "now-1h", "to": "now"}


def test_the_dashboard_credits_open_meteo_as_its_licence_asks():
    assert "Weather data by Open-Meteo.com" in dashboard()["description"]
    [origin] = [panel for panel in panels() if panel["title"] == "Data origin"]
    assert "Weather data by Open-Meteo.com, https://open-meteo.com/" in origin["description"]


def test_the_dashboard_has_every_panel():
    found = {p["title"]: p["type"] for p in panels()}
    assert found == REQUIRED_PANELS
    ids = [p["id"] for p in panels()]
    assert len(ids) == len(set(ids))


def test_every_panel_and_query_uses_the_provisioned_datasource():
    uid = datasource()["uid"]
    for found in panels():
        assert found["datasource"] == {"type": "influxdb", "uid": uid}, found["title"]
        assert found["targets"], found["title"]
        for target in found["targets"]:
            assert target["datasource"] == {"type": "influxdb", "uid": uid}, found["title"]


def test_every_panel_query_is_filtered_by_the_city_variable():
    for found in panels():
        query = query_of(found)
        assert CITY_FILTER in query, found["title"]
        assert 'r._measurement == "weather"' in query, found["title"]
        assert "from(bucket: v.defaultBucket)" in query, found["title"]


def test_the_city_variable_lists_tag_values_and_allows_many_and_all():
    [variable] = dashboard()["templating"]["list"]
    assert variable["name"] == "city"
    assert variable["type"] == "query"
    assert variable["multi"] is True
    assert variable["includeAll"] is True
    assert variable["datasource"]["uid"] == datasource()["uid"]
    query = variable["query"]
    assert 'import "influxdata/influxdb/schema"' in query
    assert re.search(r'schema\.tagValues\([^)]*tag: "city"', query, flags=re.DOTALL)
    assert "bucket: v.defaultBucket" in query


def test_rain_and_storm_look_further_back_than_the_dashboard():
    for title in ("Rain (0/1)", "Storm (0/1)"):
        found = panel(title)
        assert found["timeFrom"] == "24h"
        assert "fn: max" in query_of(found)


def test_heartbeat_age_wind_and_forecast_panels_query_what_they_say():
    assert "r._value * 1000000000.0" in query_of(panel("Points within the stale threshold"))
    assert "int(v: now()) - int(v: r._time)" in query_of(panel("Age of the last measurement"))
    assert '"wind_dir"' in query_of(panel("Wind now (speed and direction)"))
    forecast = query_of(panel("Forecast error (next_hour_temp vs observed an hour later)"))
    assert "timeShift(duration: 1h)" in forecast
    assert '"next_hour_temp"' in forecast
    assert '"temperature"' in forecast
    origin = query_of(panel("Data origin"))
    assert 'group(columns: ["data_origin"])' in origin


def test_the_alert_rules_say_no_data_is_alerting_and_use_the_datasource():
    found = rules()
    assert {rule["uid"] for rule in found} == {
        "weather-no-data-all-cities",
        "weather-no-data-per-city",
    }
    panel_ids = {str(p["id"]) for p in panels()}
    for rule in found:
        assert rule["noDataState"] == "Alerting"
        assert rule["title"].startswith("No weather data for 2 fetch intervals")
        steps = {step["refId"]: step for step in rule["data"]}
        assert rule["condition"] in steps
        [query] = [s for s in rule["data"] if s["datasourceUid"] != "__expr__"]
        assert query["datasourceUid"] == datasource()["uid"]
        assert "from(bucket: v.defaultBucket)" in query["model"]["query"]
        assert query["relativeTimeRange"]["from"] > 0
        for step in rule["data"]:
            if step["datasourceUid"] == "__expr__":
                assert step["model"]["expression"] in steps
        assert rule["annotations"]["__dashboardUid__"] == dashboard()["uid"]
        assert rule["annotations"]["__panelId__"] in panel_ids
    per_city = next(rule for rule in found if rule["uid"] == "weather-no-data-per-city")
    assert 'group(columns: ["city"])' in per_city["data"][0]["model"]["query"]


def test_the_age_colours_and_alerts_compare_with_the_threshold_each_point_carries():
    """No fixed number of seconds: the threshold is the stale_after_seconds field of the point."""
    age = panel("Age of the last measurement")
    assert 'r._field == "stale_after_seconds"' in query_of(age)
    [state] = [o for o in age["fieldConfig"]["overrides"] if o["matcher"]["options"] == "state"]
    [mappings] = [p["value"] for p in state["properties"] if p["id"] == "mappings"]
    assert {name: option["color"] for name, option in mappings[0]["options"].items()} == {
        "fresh": "green",
        "late": "orange",
        "stale": "red",
    }
    assert "thresholds" not in age["fieldConfig"]["defaults"]
    for rule in rules():
        [query] = [s for s in rule["data"] if s["datasourceUid"] != "__expr__"]
        assert 'r._field == "stale_after_seconds"' in query["model"]["query"]
        assert "/ r._value" in query["model"]["query"]
        [threshold] = [s for s in rule["data"] if s["model"].get("type") == "threshold"]
        assert threshold["model"]["conditions"][0]["evaluator"] == {"type": "gt", "params": [1]}


def test_the_alerting_files_hold_no_dollar_but_environment_references():
    """Grafana expands $VAR in provisioning files: a stray $ would silently become empty."""
    for path in (PROVISIONING / "alerting").glob("*.yaml"):
        text = path.read_text()
        assert text.count("$") == len(VARIABLE.findall(text)), path.name


def test_the_notification_policy_sends_to_the_provisioned_webhook():
    contact_points = load_yaml(PROVISIONING / "alerting" / "contact-points.yaml")["contactPoints"]
    [policy] = load_yaml(PROVISIONING / "alerting" / "notification-policies.yaml")["policies"]
    names = {point["name"] for point in contact_points}
    assert policy["receiver"] in names
    [point] = contact_points
    [receiver] = point["receivers"]
    assert receiver["type"] == "webhook"
    match = VARIABLE.fullmatch(receiver["settings"]["url"])
    assert match
    assert match.group(1) in grafana_environment()
    assert "city" in policy["group_by"]
