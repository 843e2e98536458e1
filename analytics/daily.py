"""`python -m analytics.daily`: per city and UTC day, from the lake, into `<lake>/daily_weather`.

The figures of a day: the readings, the minimum, maximum and mean temperature, the precipitation
total (the sum of the readings' `precipitation`), and the hours with rain and with a storm: the
clock hours (UTC) with at least one reading with `is_rain = 1` (`is_storm = 1`). The table is
written anew at each run (Parquet, partitioned by `date`) and printed.
"""

import os
import sys

from pyspark.sql import Column, DataFrame, SparkSession
from pyspark.sql import functions as F

from analytics.lake import DAILY_TABLE, table_dir
from analytics.session import spark_session
from weather_app.errors import ConfigError
from weather_app.settings import Settings

DAILY_COLUMNS = (
    "city",
    "date",
    "readings",
    "min_temperature",
    "max_temperature",
    "mean_temperature",
    "precipitation_total",
    "rain_hours",
    "storm_hours",
)


def hours_with(flag: str) -> Column:
    """The distinct clock hours of the group with at least one reading with `flag` = 1."""
    return F.count_distinct(F.when(F.col(flag) == 1, F.date_trunc("hour", "timestamp")))


def daily_figures(readings: DataFrame) -> DataFrame:
    return (
        readings.groupBy("city", "date")
        .agg(
            F.count(F.lit(1)).alias("readings"),
            F.min("temperature").alias("min_temperature"),
            F.max("temperature").alias("max_temperature"),
            F.avg("temperature").alias("mean_temperature"),
            F.sum("precipitation").alias("precipitation_total"),
            hours_with("is_rain").alias("rain_hours"),
            hours_with("is_storm").alias("storm_hours"),
        )
        .select(*DAILY_COLUMNS)
        .orderBy("date", "city")
    )


def run(spark: SparkSession, settings: Settings) -> DataFrame:
    """Spark reads the lake through its file sink's log: each committed record once."""
    lake = settings.analytics.lake_path
    figures = daily_figures(spark.read.parquet(str(table_dir(lake))))
    figures.write.mode("overwrite").partitionBy("date").parquet(str(table_dir(lake, DAILY_TABLE)))
    return figures


def main() -> None:
    try:
        settings = Settings.from_env(os.environ)
    except ConfigError as error:
        sys.exit(f"analytics.daily: {error}")
    if not table_dir(settings.analytics.lake_path).is_dir():
        sys.exit(f"analytics.daily: no lake at {table_dir(settings.analytics.lake_path)}")
    spark = spark_session("weather-analytics-daily")
    try:
        run(spark, settings).show(1000, truncate=False)
    finally:
        spark.stop()


if __name__ == "__main__":
    main()
