import json
from pathlib import Path

from analytics.lake import committed_files, visible_files


def write_batch(log_dir: Path, name: str, files: list[str]) -> None:
    entries = [
        json.dumps({"path": f"file://{path}", "size": 1, "isDir": False, "action": "add"})
        for path in files
    ]
    (log_dir / name).write_text("\n".join(["v1", *entries]), encoding="utf-8")


def test_only_the_files_of_the_sink_log_are_committed(tmp_path):
    table = tmp_path / "weather_data"
    log_dir = table / "_spark_metadata"
    log_dir.mkdir(parents=True)
    write_batch(log_dir, "0", ["/lake/a.parquet"])
    write_batch(log_dir, "1", ["/lake/b.parquet"])
    (log_dir / "2.tmp").write_text("v1\n", encoding="utf-8")  # a write cut short
    (table / "orphan.parquet").write_bytes(b"")  # a killed batch's file: in no log entry
    assert committed_files(table) == [Path("/lake/a.parquet"), Path("/lake/b.parquet")]


def test_a_compacted_batch_replaces_the_batches_before_it(tmp_path):
    log_dir = tmp_path / "_spark_metadata"
    log_dir.mkdir()
    write_batch(log_dir, "8", ["/lake/stale-delta-kept-until-cleanup.parquet"])
    write_batch(log_dir, "9.compact", ["/lake/a.parquet", "/lake/b.parquet"])
    write_batch(log_dir, "10", ["/lake/c.parquet"])
    assert committed_files(tmp_path) == [Path(f"/lake/{name}.parquet") for name in "abc"]


def test_partition_directories_are_unquoted_from_the_logged_uri(tmp_path):
    log_dir = tmp_path / "_spark_metadata"
    log_dir.mkdir()
    write_batch(log_dir, "0", ["/lake/city=S%C3%A3o%20Paulo/part-0.parquet"])
    assert committed_files(tmp_path) == [Path("/lake/city=São Paulo/part-0.parquet")]


def test_a_lake_without_a_batch_has_no_committed_file(tmp_path):
    assert committed_files(tmp_path / "weather_data") == []


def test_a_batch_jobs_table_shows_what_sparks_reader_would_not_skip(tmp_path: Path):
    table = tmp_path / "daily_weather"
    kept = table / "date=2026-11-30" / "part-00000.parquet"
    skipped = [
        table / "_temporary" / "0" / "date=2026-11-30" / "part-00001.parquet",
        table / "date=2026-11-30" / ".part-00000.parquet.crc.parquet",
    ]
    for path in [kept, *skipped]:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(b"")
    assert visible_files(table) == [kept]
