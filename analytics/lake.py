"""The lake's layout, and the files Spark's file sink committed (what DuckDB should read).

    <ANALYTICS_LAKE_DIR>/weather_data/date=YYYY-MM-DD/city=NAME/part-*.parquet   the v2 records
    <ANALYTICS_LAKE_DIR>/weather_data/_spark_metadata/                          the sink's log
    <ANALYTICS_LAKE_DIR>/daily_weather/date=YYYY-MM-DD/part-*.parquet          analytics.daily
    <ANALYTICS_LAKE_DIR>/_spark/lake, _spark/cassandra                         the checkpoints
    <ANALYTICS_LAKE_DIR>/_spark/heartbeat          touched every second while the lake query runs

Spark reads `weather_data` through the sink's log, so it sees every committed batch exactly once.
A batch killed while writing leaves files the log never names; a reader that globs the directory
(DuckDB's `read_parquet('.../**/*.parquet')`) would count their rows too, so `committed_files`
lists only the logged ones. `python -m analytics.lake "SQL"` runs DuckDB on those as the view
`weather_data` (and `daily_weather`, once analytics.daily has written it).
"""

import json
import os
import sys
from pathlib import Path
from urllib.parse import unquote, urlparse

import duckdb

from weather_app.errors import ConfigError
from weather_app.settings import Settings

LAKE_TABLE = "weather_data"
DAILY_TABLE = "daily_weather"
SINK_LOG = "_spark_metadata"
CHECKPOINTS = "_spark"


def table_dir(lake: Path, table: str = LAKE_TABLE) -> Path:
    return lake / table


def checkpoint_dir(lake: Path, query: str) -> Path:
    return lake / CHECKPOINTS / query


def heartbeat_file(lake: Path) -> Path:
    """Touched by the streaming job every second while its lake query runs: a healthcheck
    reads its age (the checkpoint files stay in the volume when the job is gone)."""
    return lake / CHECKPOINTS / "heartbeat"


def visible_files(table: Path) -> list[Path]:
    """The Parquet files of a table written by a batch job, skipping what Spark's own reader
    skips: paths with a part that starts with `_` or `.` (a killed job's `_temporary/`)."""
    return sorted(
        path
        for path in table.rglob("*.parquet")
        if not any(part.startswith(("_", ".")) for part in path.relative_to(table).parts)
    )


def _batch_id(log_file: Path) -> int | None:
    name = log_file.name.removesuffix(".compact")
    return int(name) if name.isdigit() else None


def committed_files(table: Path) -> list[Path]:
    """The data files the file sink's log names, in batch order: the newest compacted batch (it
    holds every earlier one) and the batches after it. Empty before the first batch."""
    log_dir = table / SINK_LOG
    batches = sorted(
        (batch_id, path)
        for path in (log_dir.iterdir() if log_dir.is_dir() else ())
        if (batch_id := _batch_id(path)) is not None
    )
    compacted = [batch_id for batch_id, path in batches if path.name.endswith(".compact")]
    first = compacted[-1] if compacted else -1
    files: dict[str, None] = {}
    for batch_id, path in batches:
        if batch_id < first:
            continue
        for line in path.read_text(encoding="utf-8").splitlines()[1:]:  # line 1: "v1"
            entry = json.loads(line)
            if entry["action"] == "add":
                files[entry["path"]] = None
            else:
                files.pop(entry["path"], None)
    return [Path(unquote(urlparse(uri).path)) for uri in files]


def duckdb_connection(lake: Path) -> duckdb.DuckDBPyConnection:
    """DuckDB with the view `weather_data` over the committed lake files (Hive partitions `date`
    and `city` as columns) and `daily_weather` when analytics.daily has written it; in UTC."""
    connection = duckdb.connect()
    connection.execute("SET TimeZone = 'UTC'")
    files = [str(path) for path in committed_files(table_dir(lake))]
    if not files:
        raise FileNotFoundError(f"{table_dir(lake)} holds no committed batch yet")
    connection.read_parquet(files, hive_partitioning=True).create_view(LAKE_TABLE)
    daily = table_dir(lake, DAILY_TABLE)
    daily_files = [str(path) for path in visible_files(daily)] if daily.is_dir() else []
    if daily_files:
        connection.read_parquet(daily_files, hive_partitioning=True).create_view(DAILY_TABLE)
    return connection


def main(argv: list[str]) -> None:
    if len(argv) != 1:
        sys.exit('usage: python -m analytics.lake "SELECT ... FROM weather_data ..."')
    try:
        lake = Settings.from_env(os.environ).analytics.lake_path
        duckdb_connection(lake).sql(argv[0]).show(max_rows=1000)
    except (ConfigError, FileNotFoundError, duckdb.Error) as error:
        sys.exit(f"analytics.lake: {error}")


if __name__ == "__main__":
    main(sys.argv[1:])
