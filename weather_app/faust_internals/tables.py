"""The app's tables: each key's entries live on its home partition, and only there; and the one
way the enrich agent writes them, once per commit (`TableWrites`).

A city's readings are enriched on the raw partition its key hashes to, and its table entries go
to the same partition of the changelogs (weather_app.rules.partitioning). Readings published under
another key (a producer sending none) were once enriched wherever they landed, leaving copies of
the city's entries on other changelog partitions: nothing overwrites them, and restoring them
could replace the city's real entry with a stale one. Recovery therefore ignores a changelog
record found on another partition than its key's, and at start-up a worker deletes such records
from the changelogs with tombstones (weather_app.broker.changelogs).
"""

from collections.abc import Callable, Iterable
from typing import Any

import faust
import rocksdict
from aiokafka.structs import RecordMetadata
from faust.stores import memory, rocksdb
from faust.types import TP, EventT, StoreT, TableT
from yarl import URL

from weather_app.broker.outbox import Outbox, OutgoingRecord
from weather_app.rules.partitioning import home_partition, on_home_partition
from weather_app.sources.slices import in_slices


class Table(faust.Table):  # type: ignore[type-arg]  # faust.Table is generic only in stubs
    def apply_changelog_batch(self, batch: Iterable[EventT[Any]]) -> None:
        partitions = self.partitions or self.app.conf.topic_partitions
        super().apply_changelog_batch(
            [
                event
                for event in batch
                if on_home_partition(event.message.key, event.message.partition, partitions)
            ]
        )

    def _new_store_by_url(self, url: str | URL) -> StoreT[Any, Any]:
        if URL(url).scheme != "rocksdb":
            return super()._new_store_by_url(url)
        return RocksDBStore(
            url,
            self.app,
            self,
            table_name=self.name,
            key_type=self.key_type,
            key_serializer=self.key_serializer,
            value_serializer=self.value_serializer,
            value_type=self.value_type,
            loop=self.loop,
            options=self.options,
        )


class RocksDBStore(rocksdb.Store):
    """Faust's RocksDB store (on rocksdict) with each key in its home partition's database.

    Faust's reads pick the database from `current_event()`: in the enrich agent's batches that is
    the stream's latest event, of whichever partition it came from. Its `len()` reads every key of
    every database; the admission check asks it for each reading, so the counts are kept here.
    Entries are written by `write_table` only (Faust's `table[key] = value` would pick the
    database of `current_event()` too).
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._key_counts: dict[int, int] = {}

    def write(self, key: Any, value: Any, delivered: RecordMetadata) -> None:
        """Set `key` in the database of the changelog partition its record was `delivered` to,
        with the record's offset as that partition's persisted one (where a restart's recovery
        starts), in one atomic write."""
        partition = delivered.partition
        db = self._db_for_partition(partition)
        encoded_key = self._encode_key(key)
        if partition in self._key_counts and db.get(encoded_key) is None:
            self._key_counts[partition] += 1
        batch = rocksdict.WriteBatch(raw_mode=True)
        batch.put(encoded_key, self._encode_value(value))
        batch.put(self.offset_key, str(delivered.offset).encode())
        db.write(batch)

    def apply_changelog_batch(
        self,
        batch: Iterable[EventT[Any]],
        to_key: Callable[[Any], Any],
        to_value: Callable[[Any], Any],
    ) -> None:
        events = list(batch)
        super().apply_changelog_batch(events, to_key, to_value)
        for event in events:
            self._key_counts.pop(event.message.partition, None)

    def revoke_partitions(self, table: Any, tps: set[TP]) -> None:
        super().revoke_partitions(table, tps)
        for tp in tps:
            self._key_counts.pop(tp.partition, None)

    def _home_partition(self, key: bytes) -> int:
        return home_partition(key, self.table.partitions or self.app.conf.topic_partitions)

    def _get(self, key: bytes) -> bytes | None:
        db = self._dbs.get(self._home_partition(key))  # None: a partition this worker lacks
        return None if db is None else db.get(key)

    def _contains(self, key: bytes) -> bool:
        return self._get(key) is not None

    def _size(self) -> int:
        actives = self.app.assignor.assigned_actives()
        topic = self.table.changelog_topic.get_topic_name()
        return sum(
            self._key_count(partition) for partition in self._dbs if TP(topic, partition) in actives
        )

    def _key_count(self, partition: int) -> int:
        if partition not in self._key_counts:
            self._key_counts[partition] = self._size1(self._dbs[partition])
        return self._key_counts[partition]


def changelog_record(
    table: TableT[str, Any], key: str, value: Any, partition: int
) -> OutgoingRecord:
    """The changelog record of `table[key] = value`, for `partition`, the source event's.

    `table[key] =` would pick the partition of Faust's current event, which inside a batch is not
    the one the key came from, and queue the record in Faust's producer buffer, which sends one
    record per event-loop turn and stalls the stream whenever it holds over 100.
    """
    changelog = table.changelog_topic
    data, _ = changelog.prepare_key(key, None)  # None: the table's own serializers
    encoded, _ = changelog.prepare_value(value, None)
    return OutgoingRecord(changelog.get_topic_name(), data, encoded, partition)


def write_table(table: TableT[str, Any], key: str, value: Any, delivered: RecordMetadata) -> None:
    """Set the entry whose changelog record the broker has `delivered`: the memory store needs
    nothing else; RocksDB keeps it in the record's partition with the record's offset (Faust's
    `table[key] =` would have done so once its own send of the record completed)."""
    store = table.data
    if isinstance(store, RocksDBStore):
        store.write(key, value, delivered)
    else:
        store[key] = value


def stored(table: TableT[str, Any], key: str) -> Any:
    """`table.get(key)`, read from its store: without the table's `on_key_get` (two sensors a
    read, Faust's statistics of table reads) and, in the memory store, straight from its dict.
    The enrich agent reads two entries a reading; at 100,000 cities, where every city's entries
    come from the table, Faust's path cost more than the reading's enrichment."""
    store = table.data
    if isinstance(store, memory.Store):
        return store.data.get(key)
    return store.get(key)


class TableWrites:
    """Table entries set by the enrich agent, held until the next commit, which sends each key's
    newest entry to its changelog and, once the broker has it, sets it in the table.

    Under a steady load a batch holds about one reading a city, so a changelog record per city
    and table per batch cost two records a reading beside the enriched one. Each commit `take`s
    the entries held, with no batch in progress, and `write`s them before it commits the offsets
    acknowledged by then (weather_app.faust_internals.transport.run_before_each_commit): no
    offset is committed past a reading whose entries are not in the changelogs. Until written,
    `get`, `holds`, `keys` and `size` see the entries over the table's (the freshness monitor
    reads through them); the table and its web view show what the changelogs hold, up to a commit
    interval behind. A crash loses the entries not written with the uncommitted readings, which
    are read again over the tables the changelogs rebuild.
    """

    def __init__(self) -> None:
        self._held: dict[tuple[str, str], tuple[TableT[str, Any], Any, int]] = {}
        self._taken: dict[tuple[str, str], tuple[TableT[str, Any], Any, int]] = {}
        # By table: keys held (or taken) here that the table lacks.
        self._new_held: dict[str, int] = {}
        self._new_taken: dict[str, int] = {}

    def get(self, table: TableT[str, Any], key: str) -> Any:
        entry = self._held.get((table.name, key)) or self._taken.get((table.name, key))
        return stored(table, key) if entry is None else entry[1]

    def holds(self, table: TableT[str, Any], key: str) -> bool:
        entry = (table.name, key)
        return entry in self._held or entry in self._taken or key in table

    def keys(self, table: TableT[str, Any]) -> set[str]:
        """The keys of `table` held or taken here."""
        return {key for name, key in (*self._held, *self._taken) if name == table.name}

    def size(self, table: TableT[str, Any]) -> int:
        name = table.name
        return len(table) + self._new_held.get(name, 0) + self._new_taken.get(name, 0)

    def set(self, table: TableT[str, Any], key: str, value: Any, partition: int) -> None:
        """Hold `table[key] = value`, whose changelog record goes to `partition` (the source
        event's)."""
        entry = (table.name, key)
        if not self.holds(table, key):
            self._new_held[table.name] = self._new_held.get(table.name, 0) + 1
        self._held[entry] = (table, value, partition)

    def take(self) -> int:
        """Take the entries held so far for the next `write`, and say how many they are; those
        set from now on wait for the commit after."""
        if self._taken:
            raise RuntimeError("the entries taken before are not written yet")
        self._taken, self._held = self._held, {}
        self._new_taken, self._new_held = self._new_held, {}
        return len(self._taken)

    async def write(self, outbox: Outbox) -> None:
        """Send every taken entry's changelog record through `outbox`, and once all are delivered
        set them in their tables; taken until then (`outbox.deliver()` raises if they are not)."""
        if not self._taken:
            return
        entries = list(self._taken.items())
        async for entries_slice in in_slices(entries):  # 100,000 cities: 200,000 entries a round
            for (_, key), (table, value, partition) in entries_slice:
                await outbox.send(changelog_record(table, key, value, partition))
        delivered = await outbox.deliver()
        for ((_, key), (table, value, _)), metadata in zip(entries, delivered, strict=True):
            write_table(table, key, value, metadata)
        self._taken = {}
        self._new_taken = {}
