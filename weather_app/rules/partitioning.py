"""Where a key lives: the partition Kafka's default partitioner gives it."""

import random

from aiokafka.partitioner import murmur2

# A key's hash is asked for every record under it: the ingest timer's partition, the enrich
# agent's home-partition check and the producer's partitioner, for each reading of a city.
# murmur2 in Python takes ~4 µs. The hashes of the first this many keys seen are kept, as many
# as the largest city file benchmarked and more: every round asks for each city's key in the
# same order, which an LRU cache smaller than the cities misses every time (100,000 cities
# through the 65,536-key LRU used before: no hit at all).
KEY_HASHES_KEPT = 1 << 17
_hashes: dict[bytes, int] = {}


def _positive_hash(key: bytes) -> int:
    hashed = _hashes.get(key)
    if hashed is None:
        hashed = murmur2(key) & 0x7FFFFFFF
        if len(_hashes) < KEY_HASHES_KEPT:
            _hashes[key] = hashed
    return hashed


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
