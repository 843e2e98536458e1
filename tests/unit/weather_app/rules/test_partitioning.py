from aiokafka.partitioner import DefaultPartitioner, murmur2

from models.codec import encode_key
from weather_app.rules import partitioning
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


def test_more_cities_than_hashes_kept_still_hit_for_those_kept_every_round(monkeypatch):
    """Each round asks for every city's key in the same order: an LRU cache smaller than the
    cities would miss every time; the hashes of the first keys seen stay."""
    hashed: list[bytes] = []

    def counting_murmur2(key: bytes) -> int:
        hashed.append(key)
        hashed_key: int = murmur2(key)
        return hashed_key

    monkeypatch.setattr(partitioning, "murmur2", counting_murmur2)
    monkeypatch.setattr(partitioning, "KEY_HASHES_KEPT", 100)
    monkeypatch.setattr(partitioning, "_hashes", {})
    keys = [encode_key(f"Station {n}") for n in range(150)]
    first = [home_partition(key, 6) for key in keys]
    hashed.clear()
    assert [home_partition(key, 6) for key in keys] == first
    assert hashed == keys[100:]
