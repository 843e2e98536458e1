"""Least-privilege InfluxDB tokens for a test's bucket, made as scripts/influxdb.sh makes them."""

from pathlib import Path

from weather_app.cli.influx import InfluxTarget, ScopedToken, provision_tokens


def scoped_token_env(admin: InfluxTarget, directory: Path) -> dict[str, str]:
    """Environment for Telegraf and `check` on admin.bucket: a write-only and a read-only token
    file, and no admin token (INFLUXDB_TOKEN empty, so nothing falls back to it)."""
    write, read = directory / "telegraf.token", directory / "read.token"
    provision_tokens(admin, [ScopedToken("write", write), ScopedToken("read", read)])
    return {
        "INFLUXDB_TOKEN": "",
        "INFLUXDB_WRITE_TOKEN_FILE": str(write),
        "INFLUXDB_READ_TOKEN_FILE": str(read),
    }


def reader(admin: InfluxTarget, env: dict[str, str]) -> InfluxTarget:
    """admin's bucket as Grafana and `check` see it: with the read-only token of `env`."""
    token = Path(env["INFLUXDB_READ_TOKEN_FILE"]).read_text()
    return InfluxTarget(admin.url, admin.org, admin.bucket, token)
