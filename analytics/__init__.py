"""The analytics side on Spark: `weather_data_v2` into a Parquet lake and the Cassandra history
(`python -m analytics.stream`), and daily figures from the lake (`python -m analytics.daily`)."""
