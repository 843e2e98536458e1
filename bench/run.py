"""Run every contender on the same data on a real local Kafka and report against the targets.

Throughput is measured from the first to the last output record's broker timestamp: every output
topic is created with `message.timestamp.type=LogAppendTime`, so the broker stamps each record as
it appends it (millisecond resolution), the same way for every contender, and start-up time is
not counted. Each Kafka contender reads the same preloaded raw topic with its own consumer group
and writes its own output topic; the harness only polls end offsets while a contender runs and
reads the output afterwards, so it takes no CPU from the contender during the timed part.
"""

import asyncio
import hashlib
import importlib.metadata
import os
import platform
import shlex
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer

from bench.cities import (
    SIZES,
    CityBench,
    CitySize,
    cities_json,
    worker_mib_per_1000_cities,
)
from bench.measure import (
    CpuSample,
    CpuWindow,
    Output,
    TopicWatch,
    core_split,
    cores_used,
    cpu_sample,
    pace,
    peak_rss_mb,
    pin,
    read_output,
    unpin,
)
from bench.profiling import SpyProfile, profile_pure_loop, py_spy, record_worker
from bench.workload import Enricher, readings
from tests.harness.kafka import KafkaBroker, create_topics, produce
from tests.harness.paths import REPO
from tests.harness.ports import free_port
from tests.harness.processes import Process, faust, recorded_pid
from tests.harness.waiting import poll_until

TARGETS = {
    "faust_vs_plain": 0.9,
    "faust_vs_quix": 1.0,
    "scaling": 1.6,
    "p99_ms": 50.0,
    "rss_mb": 250.0,
}


@dataclass
class Options:
    n: int = 200_000
    latency_rates: tuple[int, ...] = (1000, 5000)
    latency_seconds: float = 20.0
    latency_warmup_seconds: float = 10.0
    profile_seconds: int = 20
    broker: str | None = None
    output: Path = REPO / "BENCHMARKS.md"
    json_output: Path | None = None
    profile: bool = True
    contenders: tuple[str, ...] = ("pure", "aiokafka", "quix", "ceiling", "faust1", "faust2")
    latency: bool = True
    # Latency runs: the process fed on a core of its own, the harness and the broker on the rest.
    pin: bool = True
    command: str = ""
    workdir: Path | None = None
    city_sizes: tuple[int, ...] = SIZES


@dataclass
class Result:
    name: str
    label: str
    rate: float | None = None
    span_s: float | None = None
    wall_s: float | None = None
    rss_mb: float | None = None
    records: int | None = None
    distinct: int | None = None
    identical: bool | None = None
    note: str = ""
    # Cores used over the drain (CPU s / wall s, `cpu_window_s`): "worker" (or "worker 1",
    # "worker 2"), "broker" and measure.HARNESS, OTHERS, MACHINE.
    cores: dict[str, float] = field(default_factory=dict)
    cpu_window_s: float | None = None


LATENCY_LABELS = {"faust1": "Faust worker", "aiokafka": "plain aiokafka loop"}

# A latency run's rate counts as sustained when the harness sent at least this share of the rate
# asked and the worker made at least this share of what was sent readable while it was sent.
SUSTAINED_SHARE = 0.95


def sustained(asked: float, sent_rate: float, readable_rate: float) -> bool:
    return sent_rate >= SUSTAINED_SHARE * asked and readable_rate >= SUSTAINED_SHARE * sent_rate


@dataclass
class Latency:
    rate: int
    # Who was fed: "faust1" (the worker), or "aiokafka" (the plain loop, a reference: the same
    # enrichment and delivery with no Faust, the floor this machine gives at the rate).
    contender: str = "faust1"
    sent: int = 0
    received: int = 0
    sent_rate: float = 0.0
    # Over the counted part, from its first send to its last: readings made readable per second,
    # and those sent but not readable yet at the last send.
    readable_rate: float = 0.0
    backlog: int | None = None
    sustained: bool | None = None
    p50_ms: float | None = None
    p95_ms: float | None = None
    p99_ms: float | None = None
    max_ms: float | None = None
    appended_p50_ms: float | None = None
    appended_p99_ms: float | None = None
    rss_mb: float | None = None
    cores: dict[str, float] = field(default_factory=dict)
    # Where the counted part ran, when pinned: "Faust worker on core 1; harness, broker on core 0".
    pinned: str = ""
    note: str = ""


@dataclass
class Report:
    options: Options
    machine: dict[str, str]
    versions: dict[str, str]
    preload_rate: float = 0.0
    preload_s: float = 0.0
    generate_s: float = 0.0
    results: list[Result] = field(default_factory=list)
    latencies: list[Latency] = field(default_factory=list)
    # MiB of worker memory per 1,000 cities, by contender name ("faust1", ...): filled from the
    # city-scale benchmark's results when it ran; the cost table shows "-" for the others.
    mib_per_1000_cities: dict[str, float] = field(default_factory=dict)
    spy: SpyProfile | str | None = None
    spy_rate: float | None = None
    pure_profile: str = ""
    cities: list[CitySize] = field(default_factory=list)
    started: str = ""
    duration_s: float = 0.0


def log(message: str) -> None:
    print(f"[bench {time.strftime('%H:%M:%S')}] {message}", flush=True)


def machine_facts() -> dict[str, str]:
    model = "unknown"
    memory = "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                memory = f"{int(line.split()[1]) / 1024 / 1024:.1f} GiB"
                break
    except OSError:
        pass
    return {
        "cores (nproc)": str(len(os.sched_getaffinity(0))),
        "memory": memory,
        "CPU model": model,
        "OS": f"{platform.system()} {platform.release()}",
    }


def versions() -> dict[str, str]:
    found = {"Python": platform.python_version()}
    for package in (
        "faust-streaming",
        "mode-streaming",
        "aiokafka",
        "orjson",
        "quixstreams",
        "confluent-kafka",
        "py-spy",
    ):
        try:
            found[package] = importlib.metadata.version(package)
        except importlib.metadata.PackageNotFoundError:
            found[package] = "not installed"
    try:
        import confluent_kafka

        found["librdkafka"] = confluent_kafka.libversion()[0]
    except ImportError:
        pass
    pom = (REPO / "kafka" / "pom.xml").read_text()
    start = pom.find("<kafka.version>") + len("<kafka.version>")
    found["Apache Kafka"] = pom[start : pom.find("</kafka.version>")]
    return found


def digest(values: list[bytes]) -> str:
    return hashlib.sha256(b"\n".join(sorted(set(values)))).hexdigest()


class Bench:
    def __init__(self, options: Options, workdir: Path) -> None:
        self.options = options
        self.workdir = workdir
        self.run_id = uuid.uuid4().hex[:6]
        self.raw_topic = f"bench-{self.run_id}-raw"
        self.broker = options.broker or ""
        # Known when kafka.sh started the broker on this machine (ours, or --broker's).
        self.broker_pid = (
            recorded_pid("kafka", int(self.broker.rsplit(":", 1)[1])) if self.broker else None
        )
        self.processes: list[Process] = []
        self.values: list[bytes] = []
        self.expected: set[bytes] = set()
        self.expected_readings: set[tuple[str, str]] = set()
        self.report = Report(options, machine_facts(), versions())

    # processes -------------------------------------------------------------------------------
    def spawn(self, name: str, args: list[str], env: dict[str, str] | None = None) -> Process:
        process = Process(args, self.workdir / f"{name}.log", env or dict(os.environ), REPO)
        self.processes.append(process)
        return process

    def stop_all(self) -> None:
        for process in self.processes:
            process.stop()

    def faust_env(self, app_id: str, raw: str, out: str) -> dict[str, str]:
        return {
            **os.environ,
            "KAFKA_BROKER": self.broker,
            "WEATHER_APP_ID": app_id,
            "WEATHER_RAW_TOPIC": raw,
            "WEATHER_ENRICHED_TOPIC": out,
            "WEATHER_ALERTS_TOPIC": f"{app_id}-alerts",
            "WEATHER_DLQ_TOPIC": f"{app_id}-dlq",  # read by settings that have a dead-letter topic
            "WEATHER_SOURCE": "none",  # the workload publishes; the worker fetches nothing
            "WEATHER_ACCEPT_UNKNOWN_CITIES": "1",  # the workload's 60 cities
            "KAFKA_CONNECT_WAIT": "10",
        }

    def faust_worker(self, name: str, app_id: str, raw: str, out: str) -> Process:
        env = self.faust_env(app_id, raw, out)
        env["WEATHER_DATADIR"] = str(self.workdir / f"{name}-data")
        env["WEATHER_WEB_PORT"] = str(free_port())
        return self.spawn(name, faust("worker", "-l", "info"), env)

    def pin_latency_run(self, pid: int, result: Latency) -> dict[int, set[int]]:
        """With `options.pin` and two cores or more: process `pid` (the worker or the loop) on a
        core of its own, the harness and the broker (when kafka.sh started it here) on the
        others, as a deployment keeps the load and the broker off a worker's core. Returns what
        to `unpin` (the harness's and the broker's threads)."""
        split = core_split(os.sched_getaffinity(0)) if self.options.pin else None
        if split is None:
            return {}
        own, others = split
        pin([pid], own)
        shared = {"harness": os.getpid()}
        if self.broker_pid is not None:
            shared["broker"] = self.broker_pid
        result.pinned = (
            f"{LATENCY_LABELS[result.contender]} on core {min(own)};"
            f" {', '.join(shared)} on {'core' if len(others) == 1 else 'cores'}"
            f" {', '.join(map(str, sorted(others)))}"
        )
        return pin(list(shared.values()), others)

    def cpu_pids(self, workers: list[Process]) -> dict[str, int]:
        """The processes whose CPU time is measured besides the harness: worker(s), broker."""
        if len(workers) == 1:
            pids = {"worker": workers[0].pid}
        else:
            pids = {f"worker {i}": worker.pid for i, worker in enumerate(workers, 1)}
        if self.broker_pid is not None:
            pids["broker"] = self.broker_pid
        return pids

    # phases ----------------------------------------------------------------------------------
    async def preload(self) -> None:
        n = self.options.n
        log(f"generating {n} readings")
        began = time.perf_counter()
        records = list(readings(n))
        self.report.generate_s = time.perf_counter() - began
        self.values = [value for _, value in records]
        await create_topics(self.broker, [self.raw_topic])
        log(f"preloading {n} readings into {self.raw_topic} (6 partitions)")
        began = time.perf_counter()
        await produce(self.broker, self.raw_topic, records, acks="all", linger_ms=5)
        self.report.preload_s = time.perf_counter() - began
        self.report.preload_rate = n / self.report.preload_s

    def pure(self) -> Result:
        log("pure loop: decode -> enrich -> encode in process")
        enrich = Enricher()
        began = time.perf_counter()
        out = [enrich(value) for value in self.values]
        elapsed = time.perf_counter() - began
        encoded = [pair[1] for pair in out if pair is not None]
        self.expected = set(encoded)
        self.expected_readings = observations(encoded)
        self.report.pure_profile = profile_pure_loop(self.values[: min(len(self.values), 20_000)])
        return Result(
            "pure",
            "pure loop (no Kafka)",
            rate=len(self.values) / elapsed,
            span_s=elapsed,
            records=len(encoded),
            distinct=len(self.expected),
            identical=True,
            note=f"{enrich.invalid} invalid",
        )

    async def kafka_contender(
        self,
        name: str,
        label: str,
        start: Callable[[str], list[Process]],
    ) -> Result:
        out_topic = f"bench-{self.run_id}-{name}-out"
        await create_topics(self.broker, [out_topic], log_append_time=True)
        n = self.options.n
        timeout = 90 + n / 500
        log(f"{label}: draining {n} readings into {out_topic} (timeout {timeout:.0f}s)")
        began = time.time()
        processes = start(out_topic)
        rss: float | None = None
        cpu = CpuWindow(self.cpu_pids(processes))
        async with TopicWatch(self.broker, out_topic) as watch:
            count = await watch.wait_for(
                n,
                timeout,
                alive=lambda: all(p.alive() for p in processes),
                interval=0.2,
                observe=cpu.observe,
            )
            wall = time.time() - began
            peaks = [peak_rss_mb(p.pid) for p in processes]
            known = [peak for peak in peaks if peak is not None]
            rss = max(known) if known else None
        note = ""
        if count < n:
            dead = [p for p in processes if not p.alive()]
            note = f"only {count}/{n} in {timeout:.0f}s" + (" (a process exited)" if dead else "")
            for process in processes:
                log(f"{label} log tail:\n{process.tail()}")
        for process in processes:
            process.stop()
        output = await read_output(self.broker, out_topic)
        result = self.result_of(name, label, output, wall, rss, note)
        result.cores, result.cpu_window_s = cpu.cores(), cpu.seconds
        return result

    def result_of(
        self, name: str, label: str, output: Output, wall: float, rss: float | None, note: str
    ) -> Result:
        rate = (output.distinct - 1) / output.span_s if output.span_s > 0 else None
        identical = set(output.values) == self.expected if self.expected else None
        duplicates = output.records - output.distinct
        if duplicates:
            note = (note + "; " if note else "") + f"{duplicates} duplicates"
        lost = len(self.expected_readings - observations(output.values))
        if lost:
            note = (note + "; " if note else "") + f"**{lost} readings lost**"
        return Result(
            name,
            label,
            rate=rate,
            span_s=output.span_s,
            wall_s=wall,
            rss_mb=rss,
            records=output.records,
            distinct=output.distinct,
            identical=identical,
            note=note,
        )

    def start_aiokafka(self, out_topic: str) -> list[Process]:
        module = [sys.executable, "-m", "bench.aiokafka_loop"]
        group = f"bench-{self.run_id}-aiokafka"
        return [self.spawn("aiokafka", [*module, self.broker, self.raw_topic, out_topic, group])]

    def start_quix(self, out_topic: str) -> list[Process]:
        state = self.workdir / "quix-state"
        group = f"bench-{self.run_id}-quix"
        args = [sys.executable, "-m", "bench.quix_app", self.broker, self.raw_topic, out_topic]
        return [self.spawn("quix", [*args, group, str(state)])]

    def start_ceiling(self, out_topic: str) -> list[Process]:
        env = {
            **os.environ,
            "BENCH_BROKER": self.broker,
            "BENCH_APP_ID": f"bench-{self.run_id}-ceiling",
            "BENCH_RAW_TOPIC": self.raw_topic,
            "BENCH_OUT_TOPIC": out_topic,
            "BENCH_DATADIR": str(self.workdir / "ceiling-data"),
        }
        args = faust("worker", "-l", "info", app="bench.faust_ceiling")
        return [self.spawn("ceiling", args, env)]

    def start_faust(self, workers: int) -> Callable[[str], list[Process]]:
        def start(out_topic: str) -> list[Process]:
            app_id = f"bench-{self.run_id}-faust{workers}"
            return [
                self.faust_worker(f"faust{workers}-{i}", app_id, self.raw_topic, out_topic)
                for i in range(workers)
            ]

        return start

    async def latency(self, rate: int, contender: str = "faust1") -> Latency:
        """A running worker (or, `contender="aiokafka"`, the plain loop) fed at a steady rate:
        produce -> readable time of every record."""
        seconds = self.options.latency_seconds
        steady_warmup = int(rate * self.options.latency_warmup_seconds)
        app_id = f"bench-{self.run_id}-latency{rate}-{contender}"
        raw, out = f"{app_id}-raw", f"{app_id}-out"
        await create_topics(self.broker, [raw])
        await create_topics(self.broker, [out], log_append_time=True)
        warmup = 200
        total = warmup + steady_warmup + int(rate * seconds)
        pairs = list(readings(total))
        log(
            f"latency: {LATENCY_LABELS[contender]}, {warmup} warm-up readings, then {rate}/s for"
            f" {self.options.latency_warmup_seconds:.0f}s (not counted) + {seconds:.0f}s"
        )
        if contender == "aiokafka":
            loop = [sys.executable, "-m", "bench.aiokafka_loop", self.broker, raw, out, app_id]
            worker = self.spawn(f"latency{rate}-aiokafka", loop)
        else:
            worker = self.faust_worker(f"latency{rate}", app_id, raw, out)
        result = Latency(rate, contender)
        sent_at: dict[tuple[str, str], float] = {}
        seen_at: dict[tuple[str, str], float] = {}
        appended_at: dict[tuple[str, str], float] = {}
        producer = AIOKafkaProducer(bootstrap_servers=self.broker, acks="all")
        consumer = AIOKafkaConsumer(
            out, bootstrap_servers=self.broker, auto_offset_reset="earliest"
        )
        await producer.start()
        await consumer.start()
        done = asyncio.Event()

        async def read() -> None:
            while not done.is_set():
                batch = await consumer.getmany(timeout_ms=100)
                now = time.time()
                for records in batch.values():
                    for record in records:
                        value = orjson.loads(record.value)
                        ident = (value["city"], value["timestamp"])
                        seen_at.setdefault(ident, now)
                        appended_at.setdefault(ident, record.timestamp / 1000)

        def ident(value: bytes) -> tuple[str, str]:
            parsed = orjson.loads(value)
            return parsed["city"], parsed["timestamp"]

        reader = asyncio.create_task(read())
        pinned: dict[int, set[int]] = {}
        try:
            for key, value in pairs[:warmup]:
                sent_at[ident(value)] = time.time()
                await producer.send(raw, value=value, key=key)
            await poll_until(lambda: len(seen_at) >= warmup or not worker.alive(), 120)
            if len(seen_at) < warmup:
                result.note = f"worker not serving: {len(seen_at)}/{warmup} warm-up records"
                log(f"latency worker log tail:\n{worker.tail()}")
                return result
            steady = pairs[warmup:]
            ids = [ident(value) for _, value in steady]
            pids = self.cpu_pids([worker])
            pinned = self.pin_latency_run(worker.pid, result)
            counted_cpu: CpuSample | None = None
            began = time.monotonic()
            sent = 0
            while sent < len(steady):
                due = min(len(steady), int((time.monotonic() - began) * rate) + 1)
                while sent < due:
                    if sent == steady_warmup:
                        counted_cpu = cpu_sample(pids)
                    key, value = steady[sent]
                    sent_at[ids[sent]] = time.time()
                    await producer.send(raw, value=value, key=key)
                    sent += 1
                await asyncio.sleep(0.001)
            if counted_cpu is not None:
                result.cores = cores_used(counted_cpu, cpu_sample(pids))
            await producer.flush()
            await poll_until(lambda: len(seen_at) >= len(ids) + warmup, 30 + seconds)
            result.rss_mb = peak_rss_mb(worker.pid)
            first = sorted(
                (seen_at[i] - sent_at[i]) * 1000 for i in ids[:steady_warmup] if i in seen_at
            )
            notes = []
            if len(first) > 1:
                cut = statistics.quantiles(first, n=100, method="inclusive")[98]
                notes.append(f"first {len(first):,} at the rate not counted (p99 {cut:,.1f} ms)")
            ids = ids[steady_warmup:]
            readable = sorted(seen_at[i] for i in ids if i in seen_at)
            result.sent_rate, result.readable_rate, result.backlog = pace(
                [sent_at[i] for i in ids], readable
            )
            result.sustained = sustained(rate, result.sent_rate, result.readable_rate)
            delays = sorted((seen_at[i] - sent_at[i]) * 1000 for i in ids if i in seen_at)
            result.sent, result.received = len(ids), len(delays)
            if delays:
                cuts = statistics.quantiles(delays, n=100, method="inclusive")
                if result.sustained:
                    result.p50_ms, result.p95_ms, result.p99_ms = cuts[49], cuts[94], cuts[98]
                    result.max_ms = delays[-1]
                    appended = [
                        (appended_at[i] - sent_at[i]) * 1000 for i in ids if i in appended_at
                    ]
                    cuts = statistics.quantiles(appended, n=100, method="inclusive")
                    result.appended_p50_ms, result.appended_p99_ms = cuts[49], cuts[98]
                else:
                    notes.insert(0, unsustained(result, cuts[98]))
            result.note = "; ".join(notes)
        finally:
            unpin(pinned)
            done.set()
            await reader
            await consumer.stop()
            await producer.stop()
            worker.stop()
        return result

    async def profile(self) -> None:
        """py-spy on a Faust worker draining the preloaded topic (a run of its own, not timed)."""
        if py_spy() is None:
            self.report.spy = "py-spy is not installed (pip install py-spy)"
            return
        app_id = f"bench-{self.run_id}-profile"
        out = f"{app_id}-out"
        await create_topics(self.broker, [out], log_append_time=True)
        worker = self.faust_worker("profile", app_id, self.raw_topic, out)
        try:
            async with TopicWatch(self.broker, out) as watch:
                if await watch.wait_for(1, 90, alive=worker.alive) < 1:
                    self.report.spy = "the profiled worker produced nothing"
                    return
                seconds = self.options.profile_seconds
                log(f"profile: py-spy on the Faust worker (pid {worker.pid}) for {seconds}s")
                before = await watch.count()
                self.report.spy = await asyncio.to_thread(
                    record_worker, worker.pid, seconds, self.workdir / "faust-worker.pyspy.txt"
                )
                self.report.spy_rate = (await watch.count() - before) / seconds
        finally:
            worker.stop()

    async def run(self) -> Report:
        self.report.started = datetime.now(UTC).strftime("%Y-%m-%d %H:%M:%S UTC")
        began = time.monotonic()
        await self.preload()
        chosen = self.options.contenders
        results = self.report.results
        if "pure" in chosen:
            results.append(self.pure())
        else:
            self.expected = set()
        if "aiokafka" in chosen:
            results.append(
                await self.kafka_contender(
                    "aiokafka", "plain aiokafka loop (no Faust)", self.start_aiokafka
                )
            )
        if "quix" in chosen:
            try:
                importlib.metadata.version("quixstreams")
            except importlib.metadata.PackageNotFoundError:
                results.append(Result("quix", "Quix Streams app", note="quixstreams not installed"))
            else:
                results.append(
                    await self.kafka_contender(
                        "quix", "Quix Streams app (defaults)", self.start_quix
                    )
                )
        if "ceiling" in chosen:
            ceiling = await self.kafka_contender(
                "ceiling", "Faust agent forwarding raw records (no work)", self.start_ceiling
            )
            ceiling.identical = None  # its output is the raw readings, by design
            results.append(ceiling)
        if "faust1" in chosen:
            results.append(
                await self.kafka_contender("faust1", "Faust worker, 1", self.start_faust(1))
            )
        if "faust2" in chosen:
            results.append(
                await self.kafka_contender("faust2", "Faust workers, 2", self.start_faust(2))
            )
        if "cities" in chosen:
            cities = CityBench(self.broker, self.workdir, self.run_id, self.spawn, log)
            self.report.cities = await cities.measure(self.options.city_sizes)
            self.report.mib_per_1000_cities.update(worker_mib_per_1000_cities(self.report.cities))
        if self.options.latency:
            for rate in self.options.latency_rates:
                self.report.latencies.append(await self.latency(rate))
                if "aiokafka" in chosen:
                    self.report.latencies.append(await self.latency(rate, "aiokafka"))
        if self.options.profile:
            await self.profile()
        self.report.duration_s = time.monotonic() - began
        return self.report


@contextmanager
def broker_for(options: Options, workdir: Path) -> Iterator[str]:
    if options.broker:
        yield options.broker
        return
    # Kafka's default rebalance delay, not the tests' 0: the 2 workers, started together, form one
    # group generation instead of rebalancing while the first one already drains.
    broker = KafkaBroker(
        workdir / "kafka", extra={"KAFKA_GROUP_INITIAL_REBALANCE_DELAY_MS": "3000"}, quiet=True
    )
    log(f"starting Kafka on {broker.address} (data in {workdir / 'kafka'})")
    broker.up()
    try:
        yield broker.address
    finally:
        log("stopping Kafka")
        broker.down()


def run(options: Options) -> Report:
    with tempfile.TemporaryDirectory(prefix="wsl-bench-") as temp:
        workdir = options.workdir or Path(temp)
        workdir.mkdir(parents=True, exist_ok=True)
        with broker_for(options, workdir) as address:
            options.broker = address
            bench = Bench(options, workdir)
            try:
                return asyncio.run(bench.run())
            finally:
                bench.stop_all()


def as_json(report: Report) -> dict[str, Any]:
    spy = report.spy
    return {
        "machine": report.machine,
        "versions": report.versions,
        "command": report.options.command,
        "n": report.options.n,
        "results": [vars(result) for result in report.results],
        "latencies": [vars(latency) for latency in report.latencies],
        "mib_per_1000_cities": report.mib_per_1000_cities,
        "profile_samples": spy.samples if isinstance(spy, SpyProfile) else None,
        "cities": cities_json(report.cities),
        "duration_s": report.duration_s,
    }


def unsustained(latency: Latency, p99_ms: float) -> str:
    """Why a latency run's percentiles are not reported: who did not keep the rate."""
    if latency.sent_rate < SUSTAINED_SHARE * latency.rate:
        why = f"the harness sent only {latency.sent_rate:,.0f}/s"
    else:
        why = (
            f"the worker made {latency.readable_rate:,.0f}/s readable of"
            f" {latency.sent_rate:,.0f}/s sent, {latency.backlog:,} behind at the last send"
        )
    return f"**rate not sustained**: {why} (p99 {p99_ms:,.0f} ms: time queued, not latency)"


def observations(values: Iterable[bytes]) -> set[tuple[str, str]]:
    """(city, timestamp) of each record: which readings made it, whatever their forecast."""
    return {(record["city"], record["timestamp"]) for record in map(orjson.loads, values)}


def quoted_command(argv: list[str]) -> str:
    return shlex.join(["python", "-m", "bench", *argv])
