"""Cost as cities grow: one worker watching N cities (a generated WEATHER_CITIES_FILE, simulated
weather), with each table store.

For each size (and a 60-city baseline) and store a fresh app (its own topics and changelogs)
runs the real worker until `ROUNDS` rounds of the ingest timer are enriched, then: its resident
memory (VmRSS, and the peak VmHWM), how fast it enriched the last round, and whether that round
was done within 60 s (one reading per city a minute). The worker is stopped with SIGTERM and
started again on the same data directory: the recovery time is from starting the process to
Faust's "Recovery complete" log line (the tables rebuilt from their changelogs, or from RocksDB
and the changelogs' tail). Last, the start-up scan for stray changelog entries
(weather_app.broker.changelogs) is timed on the memory run's changelogs.

The timer's interval is 60 s from 50,000 cities up; below, rounds come every max(5, N / 1,000) s
so that small sizes take seconds, not minutes: a round's work is N readings whatever the
interval, and each round is done long before the next starts (the table says how long it took).
"""

import asyncio
import json
import os
import re
import signal
import time
from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import orjson
from aiokafka import ConsumerRecord

from bench.measure import TopicWatch
from tests.harness.kafka import PARTITIONS, read_all
from tests.harness.ports import free_port
from tests.harness.processes import Process, faust
from weather_app.broker.changelogs import remove_stray_entries

SIZES = (1_000, 10_000, 100_000)
BASELINE_CITIES = 60  # always run too: memory per city is counted above it
STORES = ("memory", "rocksdb")
ROUNDS = 2
REAL_INTERVAL_FROM = 50_000
TABLES = ("last_seen", "history")
RECOVERED = "Recovery complete"
RESTORING, RESTORED = "Restoring state from changelog topics", "Done reading from changelog topics"
LOG_TIME = re.compile(r"^\[(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3})\]", re.MULTILINE)


@dataclass
class StoreRun:
    store: str
    rss_mb: float | None = None
    hwm_mb: float | None = None
    rounds: int = 0
    round_rate: float | None = None  # readings enriched per second during the last round
    publish_s: float | None = None  # the timer's first -> last raw reading of the last round
    round_s: float | None = None  # first raw reading of the last round -> its last enriched one
    changelog_records: int = 0
    recovery_s: float | None = None  # process start -> "Recovery complete"
    restore_s: float | None = None  # "Restoring state..." -> "Done reading..." (if any)
    note: str = ""


@dataclass
class CitySize:
    cities: int
    interval_s: float
    runs: list[StoreRun] = field(default_factory=list)
    stray_scan_s: float | None = None


def interval_for(cities: int) -> float:
    return 60.0 if cities >= REAL_INTERVAL_FROM else max(5.0, cities / 1000)


def cities_file(path: Path, count: int) -> Path:
    """`count` stations spread over the globe, in the WEATHER_CITIES_FILE format."""
    entries = [
        {
            "name": f"Station {index:06d}",
            "country": "XX",
            "latitude": round(-80 + 160 * ((index * 0.618034) % 1), 4),
            "longitude": round(-180 + 360 * ((index * 0.414214) % 1), 4),
            "code": f"S{index:06d}",
        }
        for index in range(count)
    ]
    path.write_text(json.dumps(entries))
    return path


def memory_mb(pid: int) -> tuple[float | None, float | None]:
    """(VmRSS, VmHWM) of a live process, in MiB."""
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return None, None
    fields = dict(line.split(":", 1) for line in status.splitlines() if ":" in line)

    def mib(name: str) -> float | None:
        return int(fields[name].split()[0]) / 1024 if name in fields else None

    return mib("VmRSS"), mib("VmHWM")


def by_round(records: Iterable[ConsumerRecord[bytes, bytes]]) -> dict[str, list[int]]:
    """Each round's (its observation time's) records' timestamps, in ms."""
    rounds: dict[str, list[int]] = defaultdict(list)
    for record in records:
        rounds[orjson.loads(record.value)["timestamp"]].append(record.timestamp)
    return rounds


@dataclass
class Round:
    rate: float | None  # enriched/s from its first to its last enriched reading
    publish_s: float  # its first to its last raw reading
    total_s: float  # its first raw reading to its last enriched one


def last_round(
    raw: dict[str, list[int]], enriched: dict[str, list[int]], cities: int
) -> tuple[Round | None, int]:
    """The last round whose every reading was enriched, and how many such rounds there were."""
    full = sorted(moment for moment, stamps in enriched.items() if len(stamps) >= cities)
    if not full:
        return None, 0
    stamps, published = enriched[full[-1]], raw[full[-1]]
    span = (max(stamps) - min(stamps)) / 1000
    return (
        Round(
            (len(stamps) - 1) / span if span > 0 else None,
            (max(published) - min(published)) / 1000,
            (max(stamps) - min(published)) / 1000,
        ),
        len(full),
    )


def log_seconds(log: str, since: float, line: str) -> float | None:
    """Seconds from `since` (epoch) to the first log line holding `line`."""
    index = log.find(line)
    if index < 0:
        return None
    stamps = LOG_TIME.findall(log, 0, index)
    if not stamps:
        return None
    logged = datetime.strptime(stamps[-1], "%Y-%m-%d %H:%M:%S,%f").timestamp()
    return logged - since


async def wait_for_line(process: Process, line: str, limit_s: float) -> bool:
    deadline = time.monotonic() + limit_s
    while time.monotonic() < deadline and process.alive():
        if line in process.log():
            return True
        await asyncio.sleep(0.25)
    return line in process.log()


class CityBench:
    """Runs the sizes on `broker`; `spawn(name, args, env)` starts (and registers) a process."""

    def __init__(
        self,
        broker: str,
        workdir: Path,
        run_id: str,
        spawn: Callable[[str, list[str], dict[str, str]], Process],
        log: Callable[[str], None],
    ) -> None:
        self.broker = broker
        self.workdir = workdir
        self.run_id = run_id
        self.spawn = spawn
        self.log = log

    async def measure(self, sizes: Iterable[int]) -> list[CitySize]:
        results = []
        for cities in sorted({BASELINE_CITIES, *sizes}):
            size = CitySize(cities, interval_for(cities))
            path = cities_file(self.workdir / f"cities-{cities}.json", cities)
            for store in STORES:
                size.runs.append(await self.store_run(size, store, path))
            size.stray_scan_s = await self.stray_scan(self.app_id(cities, "memory"))
            results.append(size)
        return results

    def app_id(self, cities: int, store: str) -> str:
        return f"bench-{self.run_id}-cities{cities}-{store}"

    def worker(self, name: str, app_id: str, env: dict[str, str]) -> Process:
        return self.spawn(name, faust("worker", "-l", "info"), env)

    async def store_run(self, size: CitySize, store: str, path: Path) -> StoreRun:
        app_id = self.app_id(size.cities, store)
        env = {
            **os.environ,
            "KAFKA_BROKER": self.broker,
            "WEATHER_APP_ID": app_id,
            "WEATHER_RAW_TOPIC": f"{app_id}-raw",
            "WEATHER_ENRICHED_TOPIC": f"{app_id}-out",
            "WEATHER_ALERTS_TOPIC": f"{app_id}-alerts",
            "WEATHER_DLQ_TOPIC": f"{app_id}-dlq",
            "WEATHER_CITIES_FILE": str(path),
            "WEATHER_INTERVAL": f"{size.interval_s:g}",
            "WEATHER_SOURCE": "simulation",  # generated stations: never a weather API
            "WEATHER_STORE": store,
            "WEATHER_DATADIR": str(self.workdir / f"{app_id}-data"),
            "WEATHER_WEB_PORT": str(free_port()),
            "KAFKA_CONNECT_WAIT": "10",
        }
        run = StoreRun(store)
        expected = ROUNDS * size.cities
        limit = 60 + ROUNDS * size.interval_s + size.cities / 500
        self.log(
            f"cities: {size.cities:,} cities, {store} store: {ROUNDS} rounds every "
            f"{size.interval_s:g}s (limit {limit:.0f}s)"
        )
        worker = self.worker(f"cities{size.cities}-{store}", app_id, env)
        try:
            async with TopicWatch(self.broker, f"{app_id}-out") as watch:
                done = await watch.wait_for(expected, limit, alive=worker.alive)
            run.rss_mb, run.hwm_mb = memory_mb(worker.pid)
        finally:
            worker.stop()
        if done < expected:
            run.note = f"only {done:,}/{expected:,} enriched in {limit:.0f}s"
            self.log(f"cities worker log tail:\n{worker.tail()}")
        raw = by_round(await read_all(self.broker, f"{app_id}-raw"))
        enriched = by_round(await read_all(self.broker, f"{app_id}-out"))
        last, run.rounds = last_round(raw, enriched, size.cities)
        if last is not None:
            run.round_rate, run.publish_s, run.round_s = last.rate, last.publish_s, last.total_s
        for table in TABLES:
            async with TopicWatch(self.broker, f"{app_id}-{table}-changelog") as watch:
                run.changelog_records += await watch.count()
        await self.recovery(run, f"cities{size.cities}-{store}-restart", app_id, env)
        return run

    async def recovery(self, run: StoreRun, name: str, app_id: str, env: dict[str, str]) -> None:
        """Start the worker again on the same data and time its table recovery."""
        started = time.time()
        worker = self.worker(name, app_id, env)
        try:
            recovered = await wait_for_line(worker, RECOVERED, 300)
        finally:
            worker.stop(signal.SIGTERM)
        log = worker.log()
        if not recovered:
            run.note = (run.note + "; " if run.note else "") + "no recovery within 300s"
            self.log(f"cities restart log tail:\n{worker.tail()}")
            return
        run.recovery_s = log_seconds(log, started, RECOVERED)
        restoring, restored = (log_seconds(log, started, line) for line in (RESTORING, RESTORED))
        if restoring is not None and restored is not None:
            run.restore_s = restored - restoring
        self.log(f"cities: {run.store} recovered in {run.recovery_s:.1f}s")

    async def stray_scan(self, app_id: str) -> float:
        changelogs = [f"{app_id}-{table}-changelog" for table in TABLES]
        began = time.monotonic()
        await remove_stray_entries(self.broker, changelogs, PARTITIONS, timeout_seconds=300)
        return time.monotonic() - began


def mib_per_1000_cities(sizes: list[CitySize], size: CitySize, run: StoreRun) -> float | None:
    """VmRSS above the smallest size's (the baseline's) run with the same store, per 1,000
    cities more."""
    smallest = min(sizes, key=lambda each: each.cities)
    base = next((each for each in smallest.runs if each.store == run.store), None)
    if size is smallest or base is None or base.rss_mb is None or run.rss_mb is None:
        return None
    return (run.rss_mb - base.rss_mb) / (size.cities - smallest.cities) * 1000


def worker_mib_per_1000_cities(sizes: list[CitySize]) -> dict[str, float]:
    """The cost table's entry: the one-worker contender (memory store, the default) at the
    largest size."""
    if not sizes:
        return {}
    largest = max(sizes, key=lambda each: each.cities)
    for run in largest.runs:
        cost = mib_per_1000_cities(sizes, largest, run) if run.store == "memory" else None
        if cost is not None:
            return {"faust1": cost}
    return {}


def cities_json(sizes: list[CitySize]) -> list[dict[str, Any]]:
    return [{**vars(size), "runs": [vars(run) for run in size.runs]} for size in sizes]
