"""The app's tables: each key's entries live on its home partition, and only there; and the one
way the enrich agent writes them.

A city's readings are enriched on the raw partition its key hashes to, and its table entries go
to the same partition of the changelogs (weather_app.rules.partitioning). Readings published under
another key (a producer sending none) were once enriched wherever they landed, leaving copies of
the city's entries on other changelog partitions: nothing overwrites them, and restoring them
could replace the city's real entry with a stale one. Recovery therefore ignores a changelog
record found on another partition than its key's, and at start-up a worker deletes such records
from the changelogs with tombstones (weather_app.broker.changelogs).
"""

from collections.abc import Iterable
from typing import Any

import faust
from faust.types import EventT, TableT

from weather_app.broker.outbox import OutgoingRecord
from weather_app.rules.partitioning import on_home_partition


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


def write_table(table: TableT[str, Any], key: str, value: Any) -> None:
    """Set the entry whose changelog record the broker has: the memory store keeps no changelog
    offsets, so nothing else needs to see the record go out."""
    table.data[key] = value
