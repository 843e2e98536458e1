from aiokafka.partitioner import DefaultPartitioner

from models.codec import encode_key
from weather_app.rules.partitioning import home_partition, kafka_partitioner


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


def test_the_app_s_partitioner_places_every_key_as_aiokafka_s_default_does():
    for key in [encode_key(f"City {n}") for n in range(300)] + [b"", b"\x00\xff" * 50]:
        for partitions in ([0], list(range(6)), list(range(7)), [3, 5, 9]):
            assert kafka_partitioner(key, partitions, partitions) == DefaultPartitioner()(
                key, partitions, partitions
            )


def test_a_keyless_record_goes_to_an_available_partition():
    assert {kafka_partitioner(None, [0, 1, 2, 3], [2]) for _ in range(50)} == {2}
    assert {kafka_partitioner(None, [0, 1], []) for _ in range(200)} == {0, 1}
