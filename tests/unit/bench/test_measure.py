import os
import subprocess
import sys
from typing import Any, cast

import pytest

from bench import measure
from bench.measure import (
    HARNESS,
    MACHINE,
    OTHERS,
    CpuSample,
    backlog,
    busy_seconds_of_proc_stat,
    core_split,
    cores_used,
    cpu_seconds,
    cpu_seconds_of_stat,
    pace,
    pin,
    threads_of,
    unpin,
)
from tests.harness.kafka import PARTITIONS


def test_cpu_time_is_utime_stime_and_the_waited_for_childrens_even_with_a_parenthesised_name():
    # pid (comm) state ppid pgrp session tty tpgid flags minflt cminflt majflt cmajflt
    # utime stime cutime cstime priority ...
    stat = "4242 (a (b) c) S 1 4242 4242 0 -1 4194304 10 0 0 0 150 50 30 20 20 0 1 0 5 6 7\n"
    assert cpu_seconds_of_stat(stat, ticks_per_second=100) == 2.5


def test_machine_busy_time_leaves_out_idle_and_iowait_and_counts_guest_time_once():
    # cpu user nice system idle iowait irq softirq steal guest guest_nice
    proc_stat = "cpu  100 5 50 1000 30 2 3 4 7 1\ncpu0 50 2 25 500 15 1 1 2 3 0\n"
    assert busy_seconds_of_proc_stat(proc_stat, ticks_per_second=100) == 1.64


GRANDCHILD = """
import sys, time
while time.process_time() < 0.3:
    pass
print("busy", flush=True)
sys.stdin.read()
"""


def test_a_process_cpu_time_includes_its_live_descendants():
    child = subprocess.Popen(
        [
            sys.executable,
            "-c",
            f"import subprocess, sys; subprocess.run([sys.executable, '-c', {GRANDCHILD!r}])",
        ],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert child.stdout is not None
        assert child.stdout.readline() == "busy\n"
        with open(f"/proc/{child.pid}/stat") as stat:
            own = cpu_seconds_of_stat(stat.read(), 100)
        with_descendants = cpu_seconds(child.pid)
        assert with_descendants is not None
        assert with_descendants >= own + 0.29
    finally:
        assert child.stdin is not None
        child.stdin.close()  # the grandchild's stdin: it returns, then the child
        assert child.wait(10) == 0


def test_a_process_that_is_gone_has_no_cpu_time():
    done = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"],
        capture_output=True,
        text=True,
        check=True,
    )
    assert cpu_seconds(int(done.stdout)) is None


def test_cores_used_are_cpu_seconds_over_wall_seconds_per_process_and_for_the_rest():
    first = CpuSample(10.0, {"worker": 1.0, "broker": 0.5, "gone": 1.0}, harness=2.0, machine=100.0)
    last = CpuSample(12.0, {"worker": 2.8, "broker": 0.9, "gone": None}, harness=2.2, machine=103.4)
    cores = cores_used(first, last)
    assert cores.keys() == {"worker", "broker", HARNESS, OTHERS, MACHINE}
    expected = {"worker": 0.9, "broker": 0.2, HARNESS: 0.1, OTHERS: 0.5, MACHINE: 1.7}
    for name, value in expected.items():
        assert abs(cores[name] - value) < 1e-9, name


def test_the_backlog_is_what_was_sent_and_not_yet_readable_at_a_moment():
    sent = [0.0, 1.0, 2.0, 3.0]
    readable = [0.5, 2.5]
    assert [backlog(sent, readable, moment) for moment in (0.0, 0.5, 2.0, 3.0)] == [1, 0, 2, 2]


def test_a_worker_that_keeps_up_is_behind_only_by_what_is_in_flight():
    sent = [i / 1000 for i in range(1000)]  # 1,000/s for 1 s
    readable = [moment + 0.0205 for moment in sent]  # each readable 20.5 ms later
    sent_rate, readable_rate, behind = pace(sent, readable)
    assert behind == 21
    assert sent_rate == pytest.approx(1001, abs=0.1)
    assert readable_rate / sent_rate == pytest.approx((1000 - 21) / 1000)


def test_a_worker_slower_than_the_rate_falls_further_behind():
    sent = [i / 1000 for i in range(1000)]
    readable = [i / 800 for i in range(1, 1001)]  # 800/s
    sent_rate, readable_rate, behind = pace(sent, readable)
    assert behind == 201  # readable by 0.999 s: 799 of 1,000
    assert readable_rate < 0.81 * sent_rate


@pytest.fixture
def window(monkeypatch: pytest.MonkeyPatch) -> Any:
    """A CpuWindow whose samples are numbered 0, 1, 2, ... in the order they are taken."""
    samples = iter(range(10))
    monkeypatch.setattr(measure, "cpu_sample", lambda pids: next(samples))
    return measure.CpuWindow({"worker": 1})


def test_a_drain_shorter_than_one_poll_still_has_a_cpu_window(window):
    window.observe(0)
    window.observe(0)
    window.observe(2000)  # everything arrived between two polls
    assert (window.first, window.last) == (1, 2)


def test_the_window_starts_at_the_first_poll_when_records_were_there_already(window):
    window.observe(5)
    window.observe(2000)
    assert (window.first, window.last) == (0, 1)


class LateTopicConsumer:
    """A consumer on a broker where the watched topic appears at the third look."""

    def __init__(self) -> None:
        self.looks = 0
        self.offsets_asked = 0

    async def topics(self) -> set[str]:
        self.looks += 1
        return {"other", "out"} if self.looks >= 3 else {"other"}

    async def end_offsets(self, partitions: list[Any]) -> dict[Any, int]:
        self.offsets_asked += 1
        return dict.fromkeys(partitions, 2)


async def test_a_topic_watch_counts_0_without_asking_offsets_until_the_topic_exists():
    # Asked for the offsets of a topic it does not know, aiokafka logs an error each time.
    watch = measure.TopicWatch("127.0.0.1:9", "out")
    consumer = LateTopicConsumer()
    watch.consumer = cast(Any, consumer)
    records = 2 * PARTITIONS
    assert [await watch.count() for _ in range(4)] == [0, 0, records, records]
    assert consumer.offsets_asked == 2
    assert consumer.looks == 3  # once it exists, no more looks


def test_the_process_under_test_gets_the_highest_core_and_the_rest_share_the_others():
    assert core_split({0, 1}) == ({1}, {0})
    assert core_split({0, 1, 2, 3}) == ({3}, {0, 1, 2})
    assert core_split({5}) is None


TWO_THREADS = """
import sys, threading
threading.Thread(target=sys.stdin.read, daemon=True).start()
print("ready", flush=True)
sys.stdin.read()
"""


@pytest.mark.skipif(len(os.sched_getaffinity(0)) < 2, reason="needs two cores")
def test_every_thread_of_a_pinned_process_is_on_the_cores_given_until_unpinned():
    child = subprocess.Popen(
        [sys.executable, "-c", TWO_THREADS], stdin=subprocess.PIPE, stdout=subprocess.PIPE
    )
    try:
        assert child.stdout is not None
        assert child.stdout.readline() == b"ready\n"
        threads = threads_of(child.pid)
        assert len(threads) == 2
        everywhere = {thread: os.sched_getaffinity(thread) for thread in threads}
        core = min(os.sched_getaffinity(0))
        before = pin([child.pid], {core})
        assert before == everywhere
        assert {thread: os.sched_getaffinity(thread) for thread in threads} == {
            thread: {core} for thread in threads
        }
        unpin(before)
        assert {thread: os.sched_getaffinity(thread) for thread in threads} == everywhere
    finally:
        assert child.stdin is not None
        child.stdin.close()
        child.wait(10)
    assert threads_of(child.pid) == []
    assert pin([child.pid], {core}) == {}
