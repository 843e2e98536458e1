from pyspark.sql.types import DoubleType, IntegerType, StringType

from analytics.schema import V2_SCHEMA
from models.readings import ENRICHED_FIELDS

SPARK_TYPE = {str: StringType(), float: DoubleType(), int: IntegerType()}


def test_the_spark_schema_is_the_v2_record_field_for_field():
    assert [(field.name, field.dataType) for field in V2_SCHEMA.fields] == [
        (name, SPARK_TYPE[kind]) for name, kind in ENRICHED_FIELDS.items()
    ]
