from datetime import datetime
from types import SimpleNamespace

import orjson

from bench.cities import (
    CitySize,
    StoreRun,
    by_round,
    cities_file,
    interval_for,
    last_round,
    log_seconds,
    mib_per_1000_cities,
    worker_mib_per_1000_cities,
)
from bench.report import cities_section
from weather_app.sources.cities import load_cities_file


def test_the_generated_cities_file_is_one_the_worker_reads(tmp_path):
    cities = load_cities_file(cities_file(tmp_path / "cities.json", 1000))
    assert len({city.name for city in cities}) == 1000


def test_the_interval_is_a_minute_for_large_sizes_and_shorter_for_small_ones():
    assert [interval_for(n) for n in (1_000, 10_000, 100_000)] == [5.0, 10.0, 60.0]


def record(timestamp: str, at_ms: int):
    return SimpleNamespace(value=orjson.dumps({"timestamp": timestamp}), timestamp=at_ms)


def test_the_last_full_round_gives_the_rate_and_its_durations():
    raw = by_round(
        [record("t1", 0), record("t1", 1000), record("t2", 60_000), record("t2", 61_000)]
    )
    enriched = by_round(
        [record("t1", 500), record("t1", 1500), record("t2", 60_500), record("t2", 62_500)]
    )
    enriched["t3"] = [120_500]  # a round still being enriched does not count
    last, rounds = last_round(raw, enriched, cities=2)
    assert rounds == 2
    assert last is not None
    assert (last.rate, last.publish_s, last.total_s) == (0.5, 1.0, 2.5)


def test_log_seconds_reads_the_time_of_the_first_line_holding_the_text():
    log = (
        "[2026-11-30 10:00:01,000] [1] [INFO] starting\n"
        "[2026-11-30 10:00:04,500] [1] [INFO] [^---Recovery]: Recovery complete \n"
        "[2026-11-30 10:00:09,000] [1] [INFO] [^---Recovery]: Recovery complete \n"
    )
    since = datetime(2026, 11, 30, 10, 0, 0).timestamp()
    assert log_seconds(log, since, "Recovery complete") == 4.5
    assert log_seconds(log, since, "never logged") is None


def test_memory_per_city_is_the_rss_above_the_smallest_size_with_the_same_store():
    sizes = [
        CitySize(1_000, 5, [StoreRun("memory", rss_mb=100.0), StoreRun("rocksdb", rss_mb=110.0)]),
        CitySize(
            101_000, 60, [StoreRun("memory", rss_mb=300.0), StoreRun("rocksdb", rss_mb=160.0)]
        ),
    ]
    assert mib_per_1000_cities(sizes, sizes[1], sizes[1].runs[0]) == 2.0
    assert mib_per_1000_cities(sizes, sizes[1], sizes[1].runs[1]) == 0.5
    assert mib_per_1000_cities(sizes, sizes[0], sizes[0].runs[0]) is None
    assert worker_mib_per_1000_cities(sizes) == {"faust1": 2.0}  # the cost table's row
    assert worker_mib_per_1000_cities([]) == {}
    table = cities_section(sizes)
    assert "| 101,000 | memory | 60 | 0 | 300.0 |" in table
    assert "Start-up scan for stray changelog entries" in table
