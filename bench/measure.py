"""What the bench measures on Kafka: a topic's record count while a contender runs, its output
records and their broker timestamps afterwards, a process's peak memory and the CPU time of the
processes involved (and of the whole machine) over a window."""

import asyncio
import os
import time
from bisect import bisect_right
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from aiokafka import AIOKafkaConsumer, ConsumerRecord, TopicPartition

from tests.harness.kafka import PARTITIONS, read_all


def peak_rss_mb(pid: int) -> float | None:
    """VmHWM (peak resident set) of the process, in MiB, while it is alive."""
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return None
    for line in status.splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return None


def cpu_seconds_of_stat(stat: str, ticks_per_second: int) -> float:
    """utime + stime + cutime + cstime of a `/proc/<pid>/stat` line, in seconds: every thread of
    the process, and its children that have exited and been waited for."""
    # The command name (field 2) is in parentheses and may itself hold spaces and parentheses.
    fields_from_state = stat[stat.rindex(")") + 2 :].split()
    utime_to_cstime = fields_from_state[11:15]  # fields 14-17 of proc(5)
    return sum(int(ticks) for ticks in utime_to_cstime) / ticks_per_second


def busy_seconds_of_proc_stat(proc_stat: str, ticks_per_second: int) -> float:
    """CPU time every core spent neither idle nor waiting for I/O: the `cpu` line of /proc/stat."""
    ticks = [int(value) for value in proc_stat.splitlines()[0].split()[1:]]
    user, nice, system, _idle, _iowait, irq, softirq, steal = ticks[:8]  # guest is in user
    return (user + nice + system + irq + softirq + steal) / ticks_per_second


def _children(pid: int) -> list[int]:
    found: list[int] = []
    try:
        for task in Path(f"/proc/{pid}/task").iterdir():
            found += [int(child) for child in (task / "children").read_text().split()]
    except OSError:
        pass
    return found


def cpu_seconds(pid: int) -> float | None:
    """CPU time used so far by the process and its live descendants; None once it has gone."""
    ticks = os.sysconf("SC_CLK_TCK")
    try:
        own = cpu_seconds_of_stat(Path(f"/proc/{pid}/stat").read_text(), ticks)
    except OSError:
        return None
    return own + sum(cpu_seconds(child) or 0.0 for child in _children(pid))


def machine_busy_seconds() -> float:
    return busy_seconds_of_proc_stat(Path("/proc/stat").read_text(), os.sysconf("SC_CLK_TCK"))


@dataclass(frozen=True)
class CpuSample:
    """CPU seconds at one moment (monotonic s): of named processes (with their descendants), of
    this process alone (the harness; its descendants are the processes measured) and of every
    core of the machine."""

    at: float
    processes: Mapping[str, float | None]
    harness: float
    machine: float


def threads_of(pid: int) -> list[int]:
    """The thread ids of process `pid` (none once it has exited)."""
    try:
        return [int(name) for name in os.listdir(f"/proc/{pid}/task")]
    except FileNotFoundError:
        return []


def core_split(cores: set[int]) -> tuple[set[int], set[int]] | None:
    """A core of its own for the process under test (the highest numbered) and the rest for the
    load and the broker; None below two cores."""
    if len(cores) < 2:
        return None
    own = {max(cores)}
    return own, cores - own


def pin(pids: Sequence[int], cores: set[int]) -> dict[int, set[int]]:
    """Put every thread of `pids` on `cores` (a thread they start later inherits it from the
    thread that starts it); returns the cores each thread had, for `unpin`."""
    before: dict[int, set[int]] = {}
    for pid in pids:
        for thread in threads_of(pid):
            try:
                had = os.sched_getaffinity(thread)
                os.sched_setaffinity(thread, cores)
            except ProcessLookupError:  # it ended meanwhile
                continue
            before[thread] = had
    return before


def unpin(before: Mapping[int, set[int]]) -> None:
    for thread, cores in before.items():
        try:
            os.sched_setaffinity(thread, cores)
        except ProcessLookupError:
            continue


def cpu_sample(pids: Mapping[str, int]) -> CpuSample:
    processes = {name: cpu_seconds(pid) for name, pid in pids.items()}
    return CpuSample(time.monotonic(), processes, time.process_time(), machine_busy_seconds())


HARNESS, MACHINE, OTHERS = "harness", "all processes", "others"


def cores_used(first: CpuSample, last: CpuSample) -> dict[str, float]:
    """Cores used between two samples (CPU s / wall s): by each named process, by the harness
    (`HARNESS`), by the whole machine (`MACHINE`) and by everything else on it (`OTHERS`); a
    process missing from either sample is left out (and then counted in `OTHERS`)."""
    wall = last.at - first.at
    if wall <= 0:
        return {}
    cores = {
        name: (after - before) / wall
        for name, after in last.processes.items()
        if after is not None and (before := first.processes.get(name)) is not None
    }
    cores[HARNESS] = (last.harness - first.harness) / wall
    machine = (last.machine - first.machine) / wall
    cores[OTHERS] = max(0.0, machine - sum(cores.values()))
    cores[MACHINE] = machine
    return cores


class CpuWindow:
    """CPU samples taken while a topic fills: the first at the last poll that found it empty,
    the last at the latest poll; the span between them is the drain as the harness sees it, at
    most one poll longer. Starting before the first record keeps a window for a drain shorter
    than one poll (the smoke test's 2,000 readings)."""

    def __init__(self, pids: Mapping[str, int]) -> None:
        self.pids = dict(pids)
        self.first: CpuSample | None = None
        self.last: CpuSample | None = None
        self._empty: CpuSample | None = None

    def observe(self, count: int) -> None:
        sample = cpu_sample(self.pids)
        if count == 0:
            self._empty = sample
            return
        if self.first is None:
            self.first = self._empty or sample
        if sample is not self.first:
            self.last = sample

    @property
    def seconds(self) -> float | None:
        if self.first is None or self.last is None:
            return None
        return self.last.at - self.first.at

    def cores(self) -> dict[str, float]:
        if self.first is None or self.last is None:
            return {}
        return cores_used(self.first, self.last)


def backlog(sent_at: Sequence[float], readable_at: Sequence[float], moment: float) -> int:
    """Readings sent by `moment` and not readable yet then; both times sorted, the same clock."""
    return bisect_right(sent_at, moment) - bisect_right(readable_at, moment)


def pace(sent_at: Sequence[float], readable_at: Sequence[float]) -> tuple[float, float, int]:
    """From the first send to the last (times sorted, the same clock): readings sent per second,
    readings made readable per second, and the backlog at the last send."""
    if len(sent_at) < 2 or sent_at[-1] <= sent_at[0]:
        return 0.0, 0.0, backlog(sent_at, readable_at, sent_at[-1]) if sent_at else 0
    window = sent_at[-1] - sent_at[0]
    behind = backlog(sent_at, readable_at, sent_at[-1])
    return len(sent_at) / window, (len(sent_at) - behind) / window, behind


class TopicWatch:
    """End offsets of a topic (a cheap count of its records), read by one consumer."""

    def __init__(self, broker: str, topic: str) -> None:
        self.broker = broker
        self.topic = topic
        self.partitions = [TopicPartition(topic, p) for p in range(PARTITIONS)]
        self.consumer = AIOKafkaConsumer(bootstrap_servers=broker, enable_auto_commit=False)
        self._exists = False

    async def __aenter__(self) -> "TopicWatch":
        await self.consumer.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.consumer.stop()

    async def count(self) -> int:
        """The topic's records; 0 while the broker does not have it yet (asked for its offsets
        then, aiokafka logs an error each time: a flood while a worker starts)."""
        if not self._exists:
            self._exists = self.topic in await self.consumer.topics()
            if not self._exists:
                return 0
        offsets = await self.consumer.end_offsets(self.partitions)
        return int(sum(offsets.values()))

    async def wait_for(
        self,
        expected: int,
        limit_s: float,
        alive: Callable[[], bool] | None = None,
        interval: float = 0.5,
        observe: Callable[[int], None] | None = None,
    ) -> int:
        """Poll until the topic holds `expected` records, `limit_s` passes or `alive()` is false;
        `observe` is given the count after each poll."""
        deadline = time.monotonic() + limit_s
        count = await self.count()
        while True:
            if observe is not None:
                observe(count)
            if count >= expected or time.monotonic() >= deadline:
                return count
            if alive is not None and not alive():
                return count
            await asyncio.sleep(interval)
            count = await self.count()


@dataclass
class Output:
    records: int
    distinct: int
    first_ms: int | None
    last_ms: int | None
    values: list[bytes]

    @property
    def span_s(self) -> float:
        if self.first_ms is None or self.last_ms is None:
            return 0.0
        return (self.last_ms - self.first_ms) / 1000


def output_of(records: list[ConsumerRecord[bytes, bytes]]) -> Output:
    """Counts and the first and last broker timestamps of an output topic's records."""
    values = [record.value for record in records]
    stamps = [record.timestamp for record in records]
    first, last = (min(stamps), max(stamps)) if stamps else (None, None)
    return Output(len(values), len(set(values)), first, last, values)


async def read_output(broker: str, topic: str) -> Output:
    """Every record of `topic` (up to its end offsets now): counts and broker timestamps."""
    return output_of(await read_all(broker, topic))
