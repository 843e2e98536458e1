"""The v2 record (`weather_data_v2`) as Spark reads it, and the columns of the lake."""

import operator
from functools import reduce

from pyspark.sql import Column
from pyspark.sql import functions as F
from pyspark.sql.types import (
    DoubleType,
    IntegerType,
    StringType,
    StructField,
    StructType,
)

# The JSON of a v2 record, field for field (models.readings.EnrichedReading; a unit test holds
# them together). `timestamp` is RFC3339 text on the topic and a UTC timestamp in the lake.
V2_SCHEMA = StructType(
    [
        StructField("city", StringType()),
        StructField("country", StringType()),
        StructField("station_id", StringType()),
        StructField("timestamp", StringType()),
        StructField("temperature", DoubleType()),
        StructField("humidity", DoubleType()),
        StructField("wind_speed", DoubleType()),
        StructField("precipitation", DoubleType()),
        StructField("next_hour_temp", DoubleType()),
        StructField("next_hour_precip", DoubleType()),
        StructField("is_rain", IntegerType()),
        StructField("is_storm", IntegerType()),
        StructField("data_origin", StringType()),
    ]
)
V2_FIELDS = V2_SCHEMA.fieldNames()

# Where each lake row came from: a topic record is (partition, offset), so these make "exactly
# once" checkable row by row.
KAFKA_COLUMNS = ("kafka_partition", "kafka_offset")
# Hive partitions of the lake: the UTC date of the observation, then the city.
PARTITION_COLUMNS = ("date", "city")


def parsed_record(kafka_value: Column) -> Column:
    """The Kafka value (bytes of JSON) as a struct of V2_SCHEMA; null fields where it is not."""
    return F.from_json(kafka_value.cast("string"), V2_SCHEMA)


def is_valid_v2(record: Column) -> Column:
    """A record is valid v2 when every field is there with its type and the timestamp parses."""
    checks = [record[name].isNotNull() for name in V2_FIELDS]
    checks.append(F.to_timestamp(record["timestamp"]).isNotNull())
    return F.coalesce(reduce(operator.and_, checks), F.lit(False))
