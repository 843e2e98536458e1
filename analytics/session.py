"""The Spark session of the analytics jobs: local mode, UTC, the Maven Central jars it needs."""

import os
from pathlib import Path

from pyspark.sql import SparkSession

# The streaming job's jars: the Kafka source at pyspark's own version (setup.cfg pins
# pyspark==3.5.3) and the Cassandra connector of the Spark 3.5 line, both for Scala 2.12 (the
# Scala of pyspark 3.5's jars).
STREAM_PACKAGES = (
    "org.apache.spark:spark-sql-kafka-0-10_2.12:3.5.3",
    "com.datastax.spark:spark-cassandra-connector_2.12:3.5.1",
)

IVY_SETTINGS = Path(__file__).with_name("ivysettings.xml")


def cache_dir() -> Path:
    """The project's cache, as scripts/lib.sh has it: WSL_CACHE or ~/.cache/weather-speed-layer."""
    default = Path.home() / ".cache" / "weather-speed-layer"
    return Path(os.environ.get("WSL_CACHE", default))


def spark_session(
    app_name: str, packages: tuple[str, ...] = (), extra: dict[str, str] | None = None
) -> SparkSession:
    """A local Spark with 2 cores and a small driver; `packages` (Maven coordinates) resolved
    once by Ivy (it prints its progress) into the project's cache and taken from there after."""
    builder = (
        SparkSession.builder.appName(app_name)
        .master("local[2]")
        .config("spark.driver.memory", "768m")
        .config("spark.jars.packages", ",".join(packages))
        .config("spark.jars.ivy", str(cache_dir() / "ivy"))
        .config("spark.jars.ivySettings", str(IVY_SETTINGS))
        .config("spark.driver.host", "127.0.0.1")
        .config("spark.driver.bindAddress", "127.0.0.1")
        .config("spark.ui.enabled", "false")
        .config("spark.ui.showConsoleProgress", "false")
        .config("spark.sql.session.timeZone", "UTC")
        .config("spark.sql.shuffle.partitions", "2")
        # Typed UTC timestamps that DuckDB and Arrow read as such (Spark's default is INT96).
        .config("spark.sql.parquet.outputTimestampType", "TIMESTAMP_MICROS")
    )
    for key, value in (extra or {}).items():
        builder = builder.config(key, value)
    session = builder.getOrCreate()
    session.sparkContext.setLogLevel("WARN")
    return session
