from dataclasses import dataclass

from analytics.stream import HistorySupervisor, cause, retry_delay


@dataclass
class FakeQuery:
    isActive: bool = True  # pyspark's name
    error: str | None = None

    def exception(self) -> str | None:
        return self.error


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def supervisor(clock: Clock, queries: list[FakeQuery], events: list[str]) -> HistorySupervisor:
    def start() -> FakeQuery:
        events.append("start")
        return queries.pop(0)

    return HistorySupervisor(
        start=start,  # type: ignore[arg-type]
        ensure_schema=lambda: events.append("schema"),
        forget_sessions=lambda: events.append("forget"),
        clock=clock,
    )


def test_the_delay_doubles_from_2_to_at_most_10_seconds():
    assert [retry_delay(n) for n in range(1, 6)] == [2, 4, 8, 10, 10]


def test_a_failed_query_is_started_again_after_its_delay_with_fresh_sessions():
    clock, events = Clock(), list[str]()
    failing = FakeQuery()
    history = supervisor(clock, [failing, FakeQuery()], events)
    history.tend()
    assert events == ["schema", "start"]
    failing.isActive, failing.error = False, "java.io.IOException: node down"
    clock.now = 1
    history.tend()
    assert events == ["schema", "start", "forget"]
    clock.now = 2.9
    history.tend()
    assert events == ["schema", "start", "forget"]
    clock.now = 3
    history.tend()
    assert events == ["schema", "start", "forget", "schema", "start"]


def test_an_unreachable_cassandra_at_start_is_retried_with_a_growing_delay(caplog):
    clock, events = Clock(), list[str]()
    history = supervisor(clock, [FakeQuery()], events)

    def unreachable() -> None:
        raise ConnectionError("Cassandra is unreachable")

    history.ensure_schema = unreachable
    for now in (0, 2, 6):
        clock.now = now
        history.tend()
    assert history.failures == 3
    assert history.next_start == 6 + 8
    assert events == []
    assert "restarting it from its checkpoint in 8 s" in caplog.text


def test_the_cause_of_a_java_error_is_its_innermost_exception_line():
    error = (
        "An exception was raised by the Python Proxy. Return Message: Traceback (most recent...\n"
        '  File "analytics/stream.py", line 120, in write_history_batch\n'
        "py4j.protocol.Py4JJavaError: An error occurred while calling o382.save.\n"
        ": java.lang.IllegalStateException: Control channel not available\n"
        "\tat com.datastax.oss.driver.internal.core.Foo.bar(Foo.java:1)\n"
    )
    assert cause(error) == "java.lang.IllegalStateException: Control channel not available"
    assert cause("") == "no reason given"


def test_sessions_that_cannot_be_closed_leave_the_job_running(caplog):
    clock = Clock()
    failing = FakeQuery()
    history = supervisor(clock, [failing, FakeQuery()], [])

    def refuse() -> None:
        raise RuntimeError("py4j.protocol.Py4JError: gateway gone")

    history.forget_sessions = refuse
    history.tend()
    failing.isActive, failing.error = False, "java.io.IOException: node down"
    history.tend()
    assert history.query is None
    assert history.failures == 1
    assert "could not close the connector's sessions" in caplog.text
