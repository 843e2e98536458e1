"""`replay_partitions` against an in-memory log: what it publishes, refuses and counts, and that
it ends. The fake consumer fetches like aiokafka: a fetch may cover offsets that hold no record
(transaction markers, deleted records) and its position moves past them anyway."""

import asyncio
import gc
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from types import SimpleNamespace

import orjson
import pytest
from aiokafka import TopicPartition
from aiokafka.errors import KafkaError

from models.codec import encode_key
from weather_app.cli.replay import Bound, ReplayReport, Window, replay_partitions
from weather_app.errors import BrokerUnavailable
from weather_app.rules.headers import STALE_AFTER_SECONDS, WIND_DIR
from weather_app.rules.timestamps import format_rfc3339
from weather_app.settings import KafkaSettings, Settings, StreamSettings

SETTINGS = Settings(stream=StreamSettings(history_size=4))
TOPIC = SETTINGS.stream.raw_topic
START = datetime(2024, 3, 1, 12, tzinfo=UTC)  # long past: the replay runs much later
CITY = SETTINGS.stream.cities[0]
FROM_OFFSET_0 = Bound(offset=0)


def reading(
    minute: int, observed_ahead: timedelta = timedelta(0), wind_dir: float | None = None
) -> bytes:
    return orjson.dumps(
        {
            "wind_dir": wind_dir,
            "city": CITY.name,
            "country": "FR",
            "station_id": "SIM",
            "timestamp": format_rfc3339(START + timedelta(minutes=minute) + observed_ahead),
            "temperature": 10.0 + minute % 7,
            "humidity": 70.0,
            "wind_speed": 12.0,
            "precipitation": 0.0,
            "data_origin": "simulated",
        }
    )


def record(partition: int, offset: int, minute: int, value: bytes) -> SimpleNamespace:
    published = START + timedelta(minutes=minute)
    return SimpleNamespace(
        topic=TOPIC,
        partition=partition,
        offset=offset,
        timestamp=int(published.timestamp() * 1000),
        key=encode_key(orjson.loads(value)["city"]) if value.startswith(b"{") else None,
        value=value,
    )


@dataclass
class Log:
    """One partition: records at some offsets, none at the others (markers, deleted)."""

    records: dict[int, SimpleNamespace]
    start: int
    end: int


@dataclass
class FakeConsumer:
    logs: dict[TopicPartition, Log]
    fetch_span: int = 3  # offsets one fetch covers
    positions: dict[TopicPartition, int] = field(default_factory=dict)

    def assign(self, partitions):
        assert set(partitions) == set(self.logs)

    async def beginning_offsets(self, partitions):
        return {p: self.logs[p].start for p in partitions}

    async def end_offsets(self, partitions):
        return {p: self.logs[p].end for p in partitions}

    async def offsets_for_times(self, times):
        found = {}
        for p, millis in times.items():
            offsets = [o for o, r in sorted(self.logs[p].records.items()) if r.timestamp >= millis]
            found[p] = SimpleNamespace(offset=offsets[0]) if offsets else None
        return found

    def seek(self, partition, offset):
        self.positions[partition] = offset

    async def position(self, partition):
        return self.positions[partition]

    async def getmany(self, *partitions, timeout_ms):
        batches = {}
        for p in partitions:
            log = self.logs[p]
            position = max(self.positions[p], log.start)  # out of range: the new log start
            if position >= log.end:
                continue
            upto = min(position + self.fetch_span, log.end)
            self.positions[p] = upto
            fetched = [log.records[o] for o in range(position, upto) if o in log.records]
            if fetched:
                batches[p] = fetched
        if not batches:
            await asyncio.sleep(timeout_ms / 1000)
        return batches


class FakeProducer:
    """Answers each send at flush time; sends to `failing` offsets of the output fail."""

    def __init__(self, failing: frozenset[int] = frozenset()) -> None:
        self.failing = failing
        self.sent: list[bytes] = []
        self.headers: list[list[tuple[str, bytes]]] = []
        self._unanswered: list[tuple[int, asyncio.Future[None]]] = []

    async def send(self, topic, key, value, headers):
        assert topic == SETTINGS.stream.enriched_topic
        answer = asyncio.get_running_loop().create_future()
        self._unanswered.append((len(self.sent), answer))
        self.sent.append(value)
        self.headers.append(headers)
        return answer

    async def flush(self):
        for index, answer in self._unanswered:
            if index in self.failing:
                answer.set_exception(KafkaError("NotEnoughReplicas"))
            else:
                answer.set_result(None)
        self._unanswered.clear()


def partition(number: int) -> TopicPartition:
    return TopicPartition(TOPIC, number)


async def run(
    consumer: FakeConsumer,
    producer: FakeProducer,
    start: Bound = FROM_OFFSET_0,
    end: Bound | None = None,
) -> ReplayReport:
    partitions = sorted(consumer.logs)
    return await asyncio.wait_for(
        replay_partitions(
            consumer, producer, partitions, SETTINGS, Window(start, end), lambda report: None
        ),
        timeout=10,
    )


def minutes_log(minutes: range, end_extra: int = 0) -> Log:
    records = {m: record(0, m, m, reading(m)) for m in minutes}
    return Log(records, start=minutes.start, end=minutes.stop + end_extra)


async def test_only_delivered_records_are_counted_and_failures_are_reported():
    consumer = FakeConsumer({partition(0): minutes_log(range(10))})
    producer = FakeProducer(failing=frozenset({2, 7}))
    report = await run(consumer, producer)
    assert len(producer.sent) == 10
    assert (report.delivered, report.failed) == (8, 2)
    assert report.first_error.startswith("KafkaError")


async def test_a_send_refused_at_once_counts_as_failed():
    class RefusingProducer(FakeProducer):
        async def send(self, topic, key, value, headers):
            raise KafkaError("message too large")

    report = await run(FakeConsumer({partition(0): minutes_log(range(5))}), RefusingProducer())
    assert (report.delivered, report.failed) == (0, 5)


async def test_a_reading_future_dated_when_published_is_refused_however_late_the_replay():
    # Published at minute 3 with an observation time 6 minutes ahead of that: the live agent
    # refused it (more than 5 minutes in the future). Replayed now, years later, still refused.
    log = minutes_log(range(6))
    log.records[3] = record(0, 3, 3, reading(3, observed_ahead=timedelta(minutes=6)))
    log.records[4] = record(0, 4, 4, reading(4, observed_ahead=timedelta(minutes=4)))
    producer = FakeProducer()
    report = await run(FakeConsumer({partition(0): log}), producer)
    assert (report.delivered, report.invalid) == (5, 1)
    published = [orjson.loads(value)["timestamp"] for value in producer.sent]
    assert format_rfc3339(START + timedelta(minutes=9)) not in published
    assert format_rfc3339(START + timedelta(minutes=8)) in published


async def test_it_ends_when_the_partition_ends_in_transaction_markers():
    # Offsets 10..13 hold only commit markers: no record reaches the end offset.
    logs = {partition(0): minutes_log(range(10), end_extra=4), partition(1): Log({}, 0, 3)}
    report = await run(FakeConsumer(logs), FakeProducer())
    assert report.delivered == 10


async def test_it_ends_at_a_time_bound_inside_a_run_of_markers():
    log = minutes_log(range(10), end_extra=4)
    for offset in (5, 6):  # markers where minutes 5 and 6 would be
        del log.records[offset]
    to = Bound(time=START + timedelta(minutes=6))
    producer = FakeProducer()
    report = await run(FakeConsumer({partition(0): log}), producer, end=to)
    assert report.delivered == 5


async def test_a_start_below_the_log_start_replays_from_the_log_start():
    # Retention removed offsets 0..4: `--from 0` starts at 5, and nothing waits for 0..4.
    consumer = FakeConsumer({partition(0): minutes_log(range(5, 12))})
    report = await run(consumer, FakeProducer(), start=FROM_OFFSET_0)
    assert report.delivered == 7


@pytest.mark.parametrize(("to", "expected"), [(Bound(offset=6), 7), (Bound(offset=99), 10)])
async def test_an_offset_bound_is_inclusive_and_capped_at_the_end(to, expected):
    report = await run(FakeConsumer({partition(0): minutes_log(range(10))}), FakeProducer(), end=to)
    assert report.delivered == expected


async def test_a_reading_published_without_its_city_s_key_is_replayed_only_as_re_published():
    # Live, the agent sent minute 3 again under the city's key (offset 6); replaying both copies
    # would publish it twice and count it twice in the history.
    log = minutes_log(range(6))
    keyless = log.records[3] = record(0, 3, 3, reading(3))
    keyless.key = None
    log.records[6] = record(0, 6, 3, reading(3))
    log.end = 7
    producer = FakeProducer()
    report = await run(FakeConsumer({partition(0): log}), producer)
    published = [orjson.loads(value)["timestamp"] for value in producer.sent]
    assert published.count(format_rfc3339(START + timedelta(minutes=3))) == 1
    assert report.delivered == 6


async def test_a_city_the_live_agent_refused_as_unknown_is_not_replayed():
    log = minutes_log(range(3))
    log.records[1] = record(0, 1, 1, reading(1).replace(CITY.name.encode(), b"Atlantis"))
    producer = FakeProducer()
    report = await run(FakeConsumer({partition(0): log}), producer)
    assert (report.delivered, report.invalid) == (2, 1)
    assert all(orjson.loads(value)["city"] == CITY.name for value in producer.sent)


async def test_replayed_records_carry_the_live_agents_headers():
    log = minutes_log(range(2))
    log.records[1] = record(0, 1, 1, reading(1, wind_dir=202.5))
    producer = FakeProducer()
    await run(FakeConsumer({partition(0): log}), producer)
    stale_after = str(SETTINGS.stale_after_seconds).encode()  # the live agent's threshold
    assert producer.headers == [
        [(STALE_AFTER_SECONDS, stale_after)],
        [(STALE_AFTER_SECONDS, stale_after), (WIND_DIR, b"202.5")],
    ]


# The session timeout's floor is 6 s from the environment; built directly, a test can take less.
QUICK_TO_GIVE_UP = Settings(
    stream=StreamSettings(history_size=4), kafka=KafkaSettings(session_timeout_seconds=0.5)
)


class SilentConsumer(FakeConsumer):
    """A broker gone mid-replay: every fetch comes back empty and no position moves."""

    async def getmany(self, *partitions, timeout_ms):
        await asyncio.sleep(timeout_ms / 1000)
        return {}


class StuckProducer(FakeProducer):
    """A broker gone with the producer's buffer full: a send waits for room for ever."""

    async def send(self, topic, key, value, headers):
        await asyncio.Event().wait()


async def stopped_line(consumer: FakeConsumer, producer: FakeProducer) -> str:
    with pytest.raises(BrokerUnavailable) as stopped:
        await asyncio.wait_for(
            replay_partitions(
                consumer,
                producer,
                sorted(consumer.logs),
                QUICK_TO_GIVE_UP,
                Window(FROM_OFFSET_0, None),
                lambda report: None,
            ),
            timeout=5,
        )
    return str(stopped.value)


async def test_fetches_that_stay_empty_stop_the_replay_with_one_line():
    line = await stopped_line(
        SilentConsumer({partition(0): minutes_log(range(10))}), FakeProducer()
    )
    assert line == (
        "replay stopped: nothing from the broker for 0.5s (KAFKA_SESSION_TIMEOUT), 1 of 1 "
        "partitions not read to their end; 0 readings re-published, 0 unanswered; replaying "
        "the same window again is safe"
    )


async def test_a_send_that_waits_for_ever_stops_the_replay_too():
    line = await stopped_line(FakeConsumer({partition(0): minutes_log(range(10))}), StuckProducer())
    assert line.startswith("replay stopped: nothing from the broker for 0.5s")


class GoneAfterOneFetch(FakeConsumer):
    """The broker answers one fetch, then is gone."""

    fetched: bool = False

    async def getmany(self, *partitions, timeout_ms):
        if self.fetched:
            await asyncio.sleep(timeout_ms / 1000)
            return {}
        self.fetched = True
        return await super().getmany(*partitions, timeout_ms=timeout_ms)


async def test_sends_left_unanswered_are_counted_and_their_errors_never_logged(caplog):
    producer = FakeProducer()
    line = await stopped_line(GoneAfterOneFetch({partition(0): minutes_log(range(10))}), producer)
    assert "0 readings re-published, 3 unanswered" in line
    for _, answer in producer._unanswered:
        answer.set_exception(KafkaError("LeaderNotAvailable"))
    producer._unanswered.clear()
    await asyncio.sleep(0)
    gc.collect()
    assert "never retrieved" not in caplog.text
