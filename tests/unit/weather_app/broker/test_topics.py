import asyncio
import socket
from types import SimpleNamespace
from typing import Any, ClassVar

import pytest
from aiokafka import TopicPartition
from aiokafka.admin import NewTopic
from aiokafka.errors import CoordinatorNotAvailableError, KafkaTimeoutError

from weather_app.broker import topics as broker_topics
from weather_app.broker.topics import (
    TopicSize,
    app_topics,
    replication_for,
    topic_sizes,
    wait_for_broker,
)
from weather_app.errors import BrokerUnavailable
from weather_app.settings import Settings

settings = Settings()
CHANGELOGS = ["app-last_seen-changelog", "app-history-changelog"]
LEADER = "app-__assignor-__leader"


def test_table_changelogs_are_compacted_in_hourly_segments():
    changelogs = [t for t in app_topics(settings, CHANGELOGS, LEADER) if t.name in CHANGELOGS]
    assert len(changelogs) == 2
    for topic in changelogs:
        assert topic.topic_configs == {
            "min.insync.replicas": "1",
            "cleanup.policy": "compact",
            "segment.ms": "3600000",
        }


@pytest.mark.parametrize(
    ("brokers", "factor", "min_insync"), [(1, 1, 1), (2, 2, 1), (3, 3, 2), (5, 3, 2)]
)
def test_replication_follows_the_brokers_and_survives_one_loss_from_three(
    brokers, factor, min_insync
):
    assert replication_for(brokers) == (factor, min_insync)


def test_every_topic_of_the_app_is_replicated_three_times_on_three_brokers():
    topics = app_topics(settings, CHANGELOGS, LEADER, brokers=3)
    assert {topic.name for topic in topics} >= {
        settings.stream.raw_topic,
        settings.stream.enriched_topic,
    }
    for topic in topics:
        assert topic.replication_factor == 3
        assert topic.topic_configs["min.insync.replicas"] == "2"


class FakeAdmin:
    """What declare_topics asks of AIOKafkaAdminClient, on a cluster of three brokers."""

    created: ClassVar[list[NewTopic]] = []

    def __init__(self, bootstrap_servers: str) -> None:
        pass

    async def start(self) -> None:
        pass

    async def close(self) -> None:
        pass

    async def describe_cluster(self) -> dict[str, Any]:
        return {
            "brokers": [{"node_id": n, "host": "127.0.0.1", "port": 9090 + n} for n in (1, 2, 3)]
        }

    async def create_topics(self, topics: list[NewTopic]) -> Any:
        FakeAdmin.created = topics
        return SimpleNamespace(topic_errors=[(topic.name, 0, None) for topic in topics])

    async def describe_topics(self, topics: list[str]) -> list[dict[str, Any]]:
        return [described(topic, leaders=[1, 2, 3]) for topic in topics]

    async def find_coordinator(self, group_id: str) -> int:
        return 1


class ServingConsumer:
    """What wait_until_served asks of AIOKafkaConsumer: every partition answers at once."""

    asked: ClassVar[list[TopicPartition]] = []

    def __init__(self, **config: Any) -> None:
        pass

    async def start(self) -> None:
        pass

    async def stop(self) -> None:
        pass

    async def end_offsets(self, partitions: list[TopicPartition]) -> dict[TopicPartition, int]:
        ServingConsumer.asked = partitions
        return dict.fromkeys(partitions, 0)


@pytest.fixture(autouse=True)
def serving_consumer(monkeypatch):
    monkeypatch.setattr(broker_topics, "AIOKafkaConsumer", ServingConsumer)


def described(topic: str, leaders: list[int], error_code: int = 0) -> dict[str, Any]:
    """A topic as AIOKafkaAdminClient.describe_topics shows it; a leader of -1 is none yet."""
    return {
        "error_code": error_code,
        "topic": topic,
        "partitions": [
            {"error_code": 0 if leader >= 0 else 5, "partition": partition, "leader": leader}
            for partition, leader in enumerate(leaders)
        ],
    }


def test_declared_topics_take_their_replication_from_the_cluster(monkeypatch):
    monkeypatch.setattr(broker_topics, "AIOKafkaAdminClient", FakeAdmin)
    created = asyncio.run(broker_topics.declare_topics(settings, CHANGELOGS, LEADER))
    assert created == [topic.name for topic in app_topics(settings, CHANGELOGS, LEADER)]
    assert {topic.replication_factor for topic in FakeAdmin.created} == {3}
    assert {topic.topic_configs["min.insync.replicas"] for topic in FakeAdmin.created} == {"2"}


def test_the_worker_reaches_the_cluster_through_any_bootstrap_broker():
    with socket.socket() as closed:
        closed.bind(("127.0.0.1", 0))
        closed_port = closed.getsockname()[1]
        with socket.create_server(("127.0.0.1", 0)) as listening:
            open_port = listening.getsockname()[1]
            wait_for_broker(f"127.0.0.1:{closed_port},127.0.0.1:{open_port}", wait_seconds=0.1)


class RawTopicOfTwelve(FakeAdmin):
    async def describe_topics(self, topics: list[str]) -> list[dict[str, Any]]:
        return [described(topics[0], leaders=[1] * 12)]


def test_a_raw_topic_with_another_partition_count_is_one_line_naming_the_setting(monkeypatch):
    monkeypatch.setattr(broker_topics, "AIOKafkaAdminClient", RawTopicOfTwelve)
    with pytest.raises(BrokerUnavailable) as refused:
        asyncio.run(broker_topics.check_partitions(settings))
    assert str(refused.value) == (
        f"topic {settings.stream.raw_topic} has 12 partitions but WEATHER_PARTITIONS is "
        f"{settings.stream.partitions}: set WEATHER_PARTITIONS=12"
    )


def test_partitions_without_a_leader_and_topics_not_shown_yet_are_waited_for():
    answer = [described("raw", leaders=[1, -1, 1]), described("v2", leaders=[], error_code=5)]
    assert broker_topics.leaderless_partitions(answer, ["raw", "v2", "alerts"]) == [
        "v2",
        "alerts",
        "raw[1]",
    ]
    assert broker_topics.leaderless_partitions([described("raw", [1, 1])], ["raw"]) == []


class ElectingLeaders(FakeAdmin):
    """Topics created a moment ago: their partitions get a leader at the third answer."""

    answers = 0

    async def describe_topics(self, topics: list[str]) -> list[dict[str, Any]]:
        ElectingLeaders.answers += 1
        leader = 1 if self.answers >= 3 else -1
        return [described(topic, leaders=[leader] * 6) for topic in topics]


def test_topics_are_declared_once_every_partition_has_a_leader_answering_for_its_offsets(
    monkeypatch,
):
    monkeypatch.setattr(broker_topics, "AIOKafkaAdminClient", ElectingLeaders)
    ElectingLeaders.answers = 0
    asyncio.run(broker_topics.declare_topics(settings, CHANGELOGS, LEADER))
    assert ElectingLeaders.answers == 3  # the third, with every leader, lists the partitions
    names = [topic.name for topic in app_topics(settings, CHANGELOGS, LEADER)]
    assert ServingConsumer.asked == [TopicPartition(name, p) for name in names for p in range(6)]


def test_partitions_that_never_get_a_leader_are_one_line_naming_them(monkeypatch):
    monkeypatch.setattr(broker_topics, "AIOKafkaAdminClient", ElectingLeaders)
    ElectingLeaders.answers = -1000
    with pytest.raises(BrokerUnavailable) as refused:
        asyncio.run(broker_topics.declare_topics(settings, CHANGELOGS, LEADER, wait_seconds=0.2))
    topics = len(app_topics(settings, CHANGELOGS, LEADER))
    assert str(refused.value) == (
        f"{topics * 6} partitions ({settings.stream.raw_topic}[0], "
        f"{settings.stream.raw_topic}[1], {settings.stream.raw_topic}[2], ...) "
        "without a leader after 0.2s; check the broker's log"
    )


class CreatingOffsetsTopic(FakeAdmin):
    """A fresh broker: the group coordinator is there at the third question."""

    questions = 0

    async def find_coordinator(self, group_id: str) -> int:
        CreatingOffsetsTopic.questions += 1
        if self.questions < 3:
            raise CoordinatorNotAvailableError
        return 1


def test_declaring_returns_once_the_app_group_has_a_coordinator(monkeypatch):
    monkeypatch.setattr(broker_topics, "AIOKafkaAdminClient", CreatingOffsetsTopic)
    CreatingOffsetsTopic.questions = 0
    asyncio.run(broker_topics.declare_topics(settings, CHANGELOGS, LEADER))
    assert CreatingOffsetsTopic.questions == 3


def test_topic_sizes_count_partitions_and_the_offsets_each_topic_keeps():
    raw = [TopicPartition("weather_raw", partition) for partition in range(3)]
    alerts = TopicPartition("weather_alerts", 0)
    starts = {raw[0]: 0, raw[1]: 5, raw[2]: 0, alerts: 7}
    ends = {raw[0]: 10, raw[1]: 5, raw[2]: 4, alerts: 7}
    assert topic_sizes(starts, ends) == [
        TopicSize("weather_alerts", 1, 0),
        TopicSize("weather_raw", 3, 14),
    ]


class ClusterWithALeaderlessPartition(FakeAdmin):
    async def list_topics(self) -> list[str]:
        return ["raw", "v2"]

    async def describe_topics(self, topics: list[str]) -> list[dict[str, Any]]:
        return [described("raw", leaders=[1, -1, 3]), described("v2", leaders=[2])]


class OffsetsConsumer(ServingConsumer):
    """What list_topics asks of AIOKafkaConsumer: each partition keeps 10 offsets from 5."""

    def assign(self, partitions: list[TopicPartition]) -> None:
        OffsetsConsumer.asked = list(partitions)

    def pause(self, *partitions: TopicPartition) -> None:
        pass

    async def beginning_offsets(self, partitions: list[TopicPartition]) -> Any:
        return dict.fromkeys(partitions, 5)

    async def end_offsets(self, partitions: list[TopicPartition]) -> Any:
        return dict.fromkeys(partitions, 15)


def test_topics_names_partitions_without_a_leader_and_asks_only_the_others(monkeypatch):
    # aiokafka would retry a leaderless partition's offsets until its timeout, then raise.
    monkeypatch.setattr(broker_topics, "AIOKafkaAdminClient", ClusterWithALeaderlessPartition)
    monkeypatch.setattr(broker_topics, "AIOKafkaConsumer", OffsetsConsumer)
    sizes = asyncio.run(broker_topics.list_topics("127.0.0.1:9"))
    assert sizes == [TopicSize("raw", 3, 20, ("raw[1]",)), TopicSize("v2", 1, 10)]
    assert TopicPartition("raw", 1) not in OffsetsConsumer.asked
    assert len(OffsetsConsumer.asked) == 3


class SilentConsumer(OffsetsConsumer):
    async def beginning_offsets(self, partitions: list[TopicPartition]) -> Any:
        raise KafkaTimeoutError()


def test_offsets_not_answered_in_time_are_one_line(monkeypatch):
    monkeypatch.setattr(broker_topics, "AIOKafkaAdminClient", ClusterWithALeaderlessPartition)
    monkeypatch.setattr(broker_topics, "AIOKafkaConsumer", SilentConsumer)
    with pytest.raises(BrokerUnavailable) as silent:
        asyncio.run(broker_topics.list_topics("127.0.0.1:9", timeout_seconds=2))
    assert str(silent.value) == (
        "the brokers did not answer for the offsets of 3 partitions within 2s; check their logs"
    )
