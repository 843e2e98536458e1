"""Where a key lives: the partition Kafka's default partitioner gives it."""

from aiokafka.partitioner import murmur2


def home_partition(key: bytes, partitions: int) -> int:
    """The partition of `key` among `partitions`, as Kafka's (and aiokafka's) default partitioner
    picks it: a city's raw readings, enriched records and table changelog records all go there."""
    hashed: int = murmur2(key)
    return (hashed & 0x7FFFFFFF) % partitions


def on_home_partition(key: bytes | None, partition: int, partitions: int) -> bool:
    """Whether a record keyed `key` found on `partition` is where its key belongs (keyless: yes)."""
    return key is None or home_partition(key, partitions) == partition
