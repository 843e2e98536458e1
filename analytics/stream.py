"""`python -m analytics.stream`: `weather_data_v2` from Kafka into the Parquet lake and the
Cassandra history, two Structured Streaming queries with their own checkpoints.

- `lake`: Spark's file sink, Hive-partitioned by the observation's UTC date and city. Its
  checkpoint and the sink's log make every committed record appear exactly once, across crashes.
- `cassandra`: each micro-batch upserted into spark_streams.weather_data with the connector; the
  key (city, timestamp) makes a batch replayed after a failure overwrite its own rows.

If Cassandra is down, the `cassandra` query fails; the job logs it and starts that query again
from its checkpoint after a backoff (2 s doubling to 10 s), while `lake` runs on. Its checkpoint
only moves past a batch the connector wrote, so nothing is lost while Kafka still holds the
records (an outage longer than the topic's retention fails the query at each start on the lost
offsets, failOnDataLoss, and the warning names them).
Records that are not valid v2 are skipped by both queries; the `lake` query counts them (Spark's
observed metric `v2_records`), and each batch that had some is logged as a warning line
"... not valid v2 ...". The job stops with the `lake` query's error, or on SIGTERM/SIGINT.
"""

import contextlib
import logging
import os
import re
import signal
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from types import FrameType
from typing import Any

from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F
from pyspark.sql.streaming.listener import StreamingQueryListener
from pyspark.sql.streaming.query import StreamingQuery

from analytics.history import KEYSPACE, TABLE, ensure_history_schema
from analytics.lake import checkpoint_dir, heartbeat_file, table_dir
from analytics.schema import KAFKA_COLUMNS, PARTITION_COLUMNS, V2_FIELDS, is_valid_v2, parsed_record
from analytics.session import STREAM_PACKAGES, spark_session
from weather_app.errors import ConfigError
from weather_app.settings import Settings

log = logging.getLogger("analytics.stream")

LAKE_QUERY, HISTORY_QUERY = "lake", "cassandra"
RECORD_COUNTS = "v2_records"
# A backlog is read in bounded batches, so a new lake does not start with one huge batch.
MAX_OFFSETS_PER_BATCH = 100_000
EXCEPTION_LINE = re.compile(r"^\W*[\w.$]+(Exception|Error|NoHostAvailable)\b")
SCHEMA_WAIT_SECONDS = 5.0
FIRST_RETRY_SECONDS, LONGEST_RETRY_SECONDS = 2.0, 10.0


def kafka_source(spark: SparkSession, settings: Settings) -> DataFrame:
    """The topic from its earliest offset (for a new checkpoint; afterwards from the checkpoint).

    Subscribed by a pattern that matches its name only: the job may start before any worker has
    created the topic (`subscribe` fails the query with UnknownTopicOrPartitionException), and
    Spark reads partitions it discovers later from their earliest offset.

    failOnDataLoss stays true: records the topic dropped (retention) or lost (recreated) before
    the job read them stop the job with Spark's message naming the offsets, instead of leaving a
    silent gap in a lake that promises all of the topic. read_committed: under
    WEATHER_PROCESSING_GUARANTEE=exactly_once the records of aborted transactions never arrive.
    """
    return (
        spark.readStream.format("kafka")
        .option("kafka.bootstrap.servers", settings.kafka.bootstrap_servers)
        .option("subscribePattern", f"^{re.escape(settings.stream.enriched_topic)}$")
        .option("startingOffsets", "earliest")
        .option("failOnDataLoss", "true")
        .option("kafka.isolation.level", "read_committed")
        .option("maxOffsetsPerTrigger", MAX_OFFSETS_PER_BATCH)
        .load()
        .select(
            parsed_record(F.col("value")).alias("record"),
            F.col("partition").alias(KAFKA_COLUMNS[0]),
            F.col("offset").alias(KAFKA_COLUMNS[1]),
        )
        .withColumn("valid", is_valid_v2(F.col("record")))
    )


def valid_rows(records: DataFrame) -> DataFrame:
    """The valid v2 records as typed columns: the observation time a UTC timestamp, its UTC date."""
    fields = [F.col(f"record.{name}").alias(name) for name in V2_FIELDS if name != "timestamp"]
    observed = F.to_timestamp(F.col("record.timestamp"))
    return records.where("valid").select(
        *fields,
        observed.alias("timestamp"),
        F.to_date(observed).alias("date"),
        *KAFKA_COLUMNS,
    )


def counted(records: DataFrame) -> DataFrame:
    """`records` with the observed metric RECORD_COUNTS: how many, and how many not valid v2."""
    return records.observe(
        RECORD_COUNTS,
        F.count(F.lit(1)).alias("records"),
        F.sum(F.when(F.col("valid"), 0).otherwise(1)).alias("invalid"),
    )


def start_lake(spark: SparkSession, settings: Settings) -> StreamingQuery:
    lake = settings.analytics.lake_path
    rows = valid_rows(counted(kafka_source(spark, settings)))
    return (
        # One task writes a batch: one file per (date, city) per batch rather than one per Kafka
        # partition too.
        rows.coalesce(1)
        .writeStream.queryName(LAKE_QUERY)
        .format("parquet")
        .partitionBy(*PARTITION_COLUMNS)
        .option("path", str(table_dir(lake)))
        .option("checkpointLocation", str(checkpoint_dir(lake, LAKE_QUERY)))
        .trigger(processingTime=f"{settings.analytics.trigger_seconds} seconds")
        .start()
    )


def write_history_batch(batch: DataFrame, batch_id: int) -> None:
    """Upsert one micro-batch into the history table (the connector writes by primary key)."""
    (
        batch.drop("date", *KAFKA_COLUMNS)
        .write.format("org.apache.spark.sql.cassandra")
        .options(keyspace=KEYSPACE, table=TABLE)
        .mode("append")
        .save()
    )


def start_history(spark: SparkSession, settings: Settings) -> StreamingQuery:
    lake = settings.analytics.lake_path
    return (
        valid_rows(kafka_source(spark, settings))
        .writeStream.queryName(HISTORY_QUERY)
        .foreachBatch(write_history_batch)
        .option("checkpointLocation", str(checkpoint_dir(lake, HISTORY_QUERY)))
        .trigger(processingTime=f"{settings.analytics.trigger_seconds} seconds")
        .start()
    )


class ProgressLog(StreamingQueryListener):
    """One line per micro-batch that read something; a warning for records not valid v2."""

    def __init__(self) -> None:
        self.invalid_since_start = 0

    def onQueryStarted(self, event: Any) -> None:
        log.info("query %s started (id %s)", event.name, event.id)

    def onQueryProgress(self, event: Any) -> None:
        progress = event.progress
        if progress.numInputRows:
            log.info(
                "%s: batch %d read %d records (%.0f records/s)",
                progress.name,
                progress.batchId,
                progress.numInputRows,
                progress.processedRowsPerSecond,
            )
        counts = progress.observedMetrics.get(RECORD_COUNTS)
        if counts is not None and counts["invalid"]:
            self.invalid_since_start += counts["invalid"]
            log.warning(
                "%s: batch %d: %d of %d records are not valid v2 and were skipped "
                "(%d since the job started)",
                progress.name,
                progress.batchId,
                counts["invalid"],
                counts["records"],
                self.invalid_since_start,
            )

    def onQueryIdle(self, event: Any) -> None:
        pass

    def onQueryTerminated(self, event: Any) -> None:
        pass


def close_connector_sessions(spark: SparkSession) -> None:
    """Close the connector's cached Cassandra sessions. A session that lost its node keeps a dead
    control connection: a query started again on it waited over a minute in a schema refresh."""
    jvm = spark.sparkContext._jvm
    assert jvm is not None
    jvm.com.datastax.spark.connector.cql.CassandraConnector.evictCache()


def retry_delay(failures: int) -> float:
    """Seconds before the n-th consecutive restart of the history query: 2, 4, 8, 10, 10..."""
    return min(LONGEST_RETRY_SECONDS, FIRST_RETRY_SECONDS * 2.0 ** (failures - 1))


def cause(error: str) -> str:
    """The innermost error line of a (Java or Python) error text, at most 300 characters."""
    lines = [line.strip(" :") for line in error.splitlines() if EXCEPTION_LINE.search(line)]
    return (lines[-1] if lines else error.strip() or "no reason given")[:300]


@dataclass
class HistorySupervisor:
    """Keeps the history query running: (re)starts it after a failure once its delay has passed,
    first making sure the keyspace and table exist."""

    start: Callable[[], StreamingQuery]
    ensure_schema: Callable[[], None]
    forget_sessions: Callable[[], None]
    clock: Callable[[], float] = time.monotonic
    query: StreamingQuery | None = None
    failures: int = 0
    next_start: float = 0.0
    running_since: float = 0.0

    def tend(self) -> None:
        now = self.clock()
        if self.query is not None:
            if self.query.isActive:
                if self.failures and now - self.running_since > LONGEST_RETRY_SECONDS:
                    self.failures = 0
                return
            self._failed(str(self.query.exception() or "stopped"), now)
            self.query = None
            try:
                self.forget_sessions()
            except Exception as error:  # the lake query must not stop for this
                log.warning("could not close the connector's sessions (%s)", cause(str(error)))
        if now < self.next_start:
            return
        try:
            self.ensure_schema()
            self.query = self.start()
            self.running_since = now
        except Exception as error:  # any failure to start is retried alike
            self._failed(str(error), now)

    def _failed(self, reason: str, now: float) -> None:
        self.failures += 1
        delay = retry_delay(self.failures)
        self.next_start = now + delay
        log.warning(
            "the Cassandra history query failed (%s); restarting it from its checkpoint in %.0f s",
            cause(reason),
            delay,
        )


def run(settings: Settings) -> None:
    spark = spark_session(
        "weather-analytics-stream",
        STREAM_PACKAGES,
        {
            "spark.cassandra.connection.host": settings.analytics.cassandra_hosts,
            # A query that does not stop within this raises, and the job still stops Spark.
            "spark.sql.streaming.stopTimeout": "20s",
        },
    )
    spark.streams.addListener(ProgressLog())
    stopping: list[int] = []

    def stop(signum: int, frame: FrameType | None) -> None:
        stopping.append(signum)

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    lake = start_lake(spark, settings)
    history = HistorySupervisor(
        start=lambda: start_history(spark, settings),
        # A short wait: the loop also watches the lake query and SIGTERM between tries.
        ensure_schema=lambda: ensure_history_schema(
            settings.analytics.cassandra_contact_points, SCHEMA_WAIT_SECONDS
        ),
        forget_sessions=lambda: close_connector_sessions(spark),
    )
    log.info(
        "reading %s at %s into %s and Cassandra %s",
        settings.stream.enriched_topic,
        settings.kafka.bootstrap_servers,
        table_dir(settings.analytics.lake_path),
        settings.analytics.cassandra_hosts,
    )
    heartbeat = heartbeat_file(settings.analytics.lake_path)
    try:
        while not stopping and lake.isActive:
            heartbeat.touch()
            history.tend()
            time.sleep(1)
        if not stopping:
            lake.awaitTermination()  # raises the error that stopped the lake query
    finally:
        for query in spark.streams.active:
            with contextlib.suppress(Exception):
                query.stop()
        spark.stop()


def main() -> None:
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    logging.getLogger("py4j").setLevel(logging.WARNING)
    try:
        settings = Settings.from_env(os.environ)
    except ConfigError as error:
        sys.exit(f"analytics.stream: {error}")
    settings.analytics.lake_path.mkdir(parents=True, exist_ok=True)
    run(settings)


if __name__ == "__main__":
    main()
