from datetime import UTC, datetime

import orjson

from models import EnrichedReading, LastSeen, Sample, StoredSamples
from models.codec import encode_record
from weather_app.web.views import DASHBOARD_HTML, city_document

NOW = datetime(2026, 11, 28, 12, 0, 30, tzinfo=UTC)
LATEST = EnrichedReading(
    city="Paris",
    country="FR",
    station_id="SIM-PAR",
    timestamp="2026-11-28T12:00:00Z",
    temperature=9.0,
    humidity=60.0,
    wind_speed=10.0,
    precipitation=0.5,
    next_hour_temp=9.5,
    next_hour_precip=0.5,
    is_rain=1,
    is_storm=0,
    data_origin="api",
)
SEEN = LastSeen(timestamp=LATEST.timestamp, data_origin="api", count=7, latest=LATEST)


def test_a_city_never_seen_has_no_document():
    assert city_document("Paris", None, None, NOW, 120) is None


def test_document_has_age_freshness_and_history():
    stored = StoredSamples(samples=[Sample(1795867200.0, 9.0, 0.5)])
    document = city_document("Paris", SEEN, stored, NOW, max_age=120)
    assert document is not None
    assert document["age_seconds"] == 30.0
    assert document["fresh"] is True
    assert (document["count"], document["data_origin"], document["country"]) == (7, "api", "FR")
    assert document["history"] == [
        {"timestamp": "2026-11-28T12:00:00Z", "temperature": 9.0, "precipitation": 0.5}
    ]
    assert document["latest"] == orjson.loads(encode_record(LATEST))


def test_older_than_the_limit_is_stale():
    document = city_document("Paris", SEEN, None, NOW, max_age=20)
    assert document is not None
    assert document["fresh"] is False


def test_the_page_is_self_contained():
    assert "/weather/cities/" in DASHBOARD_HTML
    assert "http://" not in DASHBOARD_HTML.replace("http://www.w3.org/2000/svg", "")
    assert "https://" not in DASHBOARD_HTML.replace(OPEN_METEO_CREDIT, "")


OPEN_METEO_CREDIT = '<a href="https://open-meteo.com/">Weather data by Open-Meteo.com</a>'


def test_the_page_credits_open_meteo_as_its_licence_asks():
    assert OPEN_METEO_CREDIT in DASHBOARD_HTML
