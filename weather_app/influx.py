"""Read what reached InfluxDB: the newest point and the recent point count per city."""

from dataclasses import dataclass
from datetime import datetime

from influxdb_client.client.influxdb_client_async import InfluxDBClientAsync

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
