"""`faust -A weather_app topics` on a cluster that cannot answer for every partition."""

import asyncio
from types import SimpleNamespace
from typing import Any
from unittest.mock import AsyncMock, patch

import pytest

from weather_app.broker.topics import TopicSize
from weather_app.cli import commands


def run_topics(sizes: list[TopicSize], said: list[str]) -> None:
    """Run the command's body on `sizes`, the lines it says into `said`."""
    command: Any = SimpleNamespace(say=said.append)
    with (
        patch.object(commands, "wait_for_broker"),
        patch.object(commands, "list_topics", AsyncMock(return_value=sizes)),
    ):
        asyncio.run(commands.topics.__wrapped__(command))  # type: ignore[attr-defined]


def test_topics_lists_each_topic_with_its_partitions_and_messages():
    lines: list[str] = []
    run_topics([TopicSize("weather_raw", 6, 120), TopicSize("weather_data_v2", 6, 118)], lines)
    assert [line.split() for line in lines] == [
        ["topic", "partitions", "messages"],
        ["weather_raw", "6", "120"],
        ["weather_data_v2", "6", "118"],
    ]


def test_partitions_without_a_leader_end_the_listing_with_one_line_naming_them(capsys):
    sizes = [TopicSize("weather_raw", 6, 100, ("weather_raw[2]", "weather_raw[5]"))]
    lines: list[str] = []
    with pytest.raises(SystemExit) as exited:
        run_topics(sizes, lines)
    assert exited.value.code == 1
    assert lines[1].split() == ["weather_raw", "6", "100"]  # the listing comes first
    assert capsys.readouterr().err.splitlines() == [
        "weather-speed-layer: 2 partitions have no leader, their messages are not counted: "
        "weather_raw[2], weather_raw[5]; check that their brokers are up"
    ]
