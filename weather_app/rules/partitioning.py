"""Where a key lives: the partition Kafka's default partitioner gives it."""

import random
from functools import lru_cache

from aiokafka.partitioner import murmur2

# A key's hash is asked for every record under it: the enrich agent's home-partition check and
# the producer's partitioner, for each reading of a city. murmur2 in Python takes ~2 µs; the
# hashes of this many keys are kept (far more cities than a worker holds by default).
KEY_HASHES_KEPT = 1 << 16


@lru_cache(maxsize=KEY_HASHES_KEPT)
def _positive_hash(key: bytes) -> int:
    hashed: int = murmur2(key)
    return hashed & 0x7FFFFFFF


def home_partition(key: bytes, partitions: int) -> int:
    """The partition of `key` among `partitions`, as Kafka's (and aiokafka's) default partitioner
    picks it: a city's raw readings, enriched records and table changelog records all go there."""
    return _positive_hash(key) % partitions


def on_home_partition(key: bytes | None, partition: int, partitions: int) -> bool:
    """Whether a record keyed `key` found on `partition` is where its key belongs (keyless: yes)."""
    return key is None or home_partition(key, partitions) == partition


def kafka_partitioner(key: bytes | None, all_partitions: list[int], available: list[int]) -> int:
    """aiokafka's `DefaultPartitioner` (Kafka's murmur2 partitioning; a keyless record goes to a
    random available partition), with each key's hash computed once: the app's producers use it."""
    if key is None:
        return random.choice(available or all_partitions)
    return all_partitions[home_partition(key, len(all_partitions))]
