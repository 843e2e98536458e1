"""How the app module configures Faust."""

from typing import Any, cast

from weather_app.app import app
from weather_app.rules.partitioning import kafka_partitioner


def test_the_producers_partition_with_the_hash_cached_partitioner():
    assert cast(Any, app.conf).producer_partitioner is kafka_partitioner
    assert app.producer.partitioner is kafka_partitioner
