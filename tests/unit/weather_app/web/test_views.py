from datetime import UTC, datetime

from weather_app.web.views import DASHBOARD_HTML, city_document

NOW = datetime(2026, 11, 28, 12, 0, 30, tzinfo=UTC)
SEEN = {
    "timestamp": "2026-11-28T12:00:00Z",
    "data_origin": "api",
    "count": 7,
    "latest": {"city": "Paris", "country": "FR", "temperature": 9.0},
}


def test_a_city_never_seen_has_no_document():
    assert city_document("Paris", None, None, NOW, 120) is None


def test_document_has_age_freshness_and_history():
    document = city_document("Paris", SEEN, [[1795867200.0, 9.0, 0.5]], NOW, max_age=120)
    assert document is not None
    assert document["age_seconds"] == 30.0
    assert document["fresh"] is True
    assert (document["count"], document["data_origin"], document["country"]) == (7, "api", "FR")
    assert document["history"] == [
        {"timestamp": "2026-11-28T12:00:00Z", "temperature": 9.0, "precipitation": 0.5}
    ]


def test_older_than_the_limit_is_stale():
    document = city_document("Paris", SEEN, [], NOW, max_age=20)
    assert document is not None
    assert document["fresh"] is False


def test_the_page_is_self_contained():
    assert "/weather/cities/" in DASHBOARD_HTML
    assert "http://" not in DASHBOARD_HTML.replace("http://www.w3.org/2000/svg", "")
    assert "https://" not in DASHBOARD_HTML
