from aiokafka.partitioner import DefaultPartitioner

from weather_app.partitioning import home_partition
from weather_app.validation import encode_key


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
