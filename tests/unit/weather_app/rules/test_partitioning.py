from aiokafka.partitioner import DefaultPartitioner

from models.codec import encode_key
from weather_app.rules.partitioning import home_partition


def test_a_city_s_home_partition_is_the_one_the_producer_picks_for_its_key():
    for city in ("Paris", "Rome", "São Paulo", "x" * 100):
        key = encode_key(city)
        for partitions in (1, 6, 7, 100):
            assert home_partition(key, partitions) == DefaultPartitioner()(
                key, list(range(partitions)), list(range(partitions))
            )


def test_home_partitions_spread_over_all_partitions():
    homes = {home_partition(encode_key(f"City {n}"), 6) for n in range(200)}
    assert homes == set(range(6))
