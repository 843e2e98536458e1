"""How the app module configures Faust."""

from typing import Any

from weather_app.app import app
from weather_app.rules.partitioning import kafka_partitioner


def test_the_producers_partition_with_the_hash_cached_partitioner():
    partitioner: Any = app.conf.producer_partitioner
    assert partitioner is kafka_partitioner
    assert app.producer.partitioner is kafka_partitioner
