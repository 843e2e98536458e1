"""The results table (printed) and BENCHMARKS.md (written)."""

from pathlib import Path

from bench.cities import CitySize, mib_per_1000_cities
from bench.measure import HARNESS, MACHINE, OTHERS
from bench.run import LATENCY_LABELS, SUSTAINED_SHARE, TARGETS, Latency, Report, Result

# The cost table's rows: the contenders doing the same work, by name.
COST_CONTENDERS = ("faust1", "faust2", "aiokafka", "quix")


def _num(value: float | None, digits: int = 0) -> str:
    if value is None:
        return "-"
    return f"{value:,.{digits}f}"


def _by_name(report: Report) -> dict[str, Result]:
    return {result.name: result for result in report.results}


def _ratio(top: float | None, bottom: float | None) -> float | None:
    if top is None or bottom is None or bottom == 0:
        return None
    return top / bottom


def results_table(report: Report) -> str:
    quix = _by_name(report).get("quix")
    quix_rate = quix.rate if quix else None
    rows = [
        "| contender | records/s | x Quix | span s | wall s | peak RSS MiB | out records "
        "| distinct | same output as pure loop | note |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- | --- |",
    ]
    for result in report.results:
        same = "-" if result.identical is None else ("yes" if result.identical else "NO")
        ratio = _ratio(result.rate, quix_rate)
        rows.append(
            f"| {result.label} | {_num(result.rate)} | {_num(ratio, 2)} | {_num(result.span_s, 1)}"
            f" | {_num(result.wall_s, 1)} | {_num(result.rss_mb, 1)} | {_num(result.records)}"
            f" | {_num(result.distinct)} | {same} | {result.note} |"
        )
    return "\n".join(rows)


def _worker_cores(result: Result) -> list[float]:
    return [cores for name, cores in sorted(result.cores.items()) if name.startswith("worker")]


def _workers_cell(result: Result) -> str:
    cores = _worker_cores(result)
    if len(cores) < 2:
        return _num(cores[0] if cores else None, 2)
    return " + ".join(f"{value:.2f}" for value in cores) + f" = {sum(cores):.2f}"


def cores_table(report: Report) -> str:
    rows = [
        "| contender | window s | worker(s) | broker | harness | others | all processes |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for result in report.results:
        if result.cpu_window_s is None:
            continue
        rows.append(
            f"| {result.label} | {_num(result.cpu_window_s, 1)} | {_workers_cell(result)}"
            f" | {_num(result.cores.get('broker'), 2)} | {_num(result.cores.get(HARNESS), 2)}"
            f" | {_num(result.cores.get(OTHERS), 2)} | {_num(result.cores.get(MACHINE), 2)} |"
        )
    return "\n".join(rows)


def cost_table(report: Report) -> str:
    results = _by_name(report)
    rows = [
        "| contender | readings/s | cores the worker(s) used | readings/s per core "
        "| MiB per 1,000 cities |",
        "| --- | ---: | ---: | ---: | ---: |",
    ]
    for name in COST_CONTENDERS:
        result = results.get(name)
        if result is None:
            continue
        cores = _worker_cores(result)
        used = sum(cores) if cores else None
        rows.append(
            f"| {result.label} | {_num(result.rate)} | {_num(used, 2)}"
            f" | {_num(_ratio(result.rate, used))}"
            f" | {_num(report.mib_per_1000_cities.get(name), 1)} |"
        )
    return "\n".join(rows)


def _cores_cell(cores: dict[str, float]) -> str:
    names = ("worker", "broker", HARNESS, OTHERS)
    return " / ".join(_num(cores.get(name), 2) for name in names)


def _latency_note(latency: Latency) -> str:
    pinned = f"pinned: {latency.pinned}" if latency.pinned else "not pinned"
    return "; ".join(part for part in (pinned, latency.note) if part)


def latency_table(latencies: list[Latency]) -> str:
    if not latencies:
        return "(latency not measured)"
    rows = [
        "| run | rate sent | readable/s | behind at last send | sent | readable "
        "| p50 ms | p95 ms | p99 ms | max ms | appended p50 / p99 ms "
        "| cores: worker / broker / harness / others | worker peak RSS MiB | note |",
        "| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: "
        "| ---: | ---: | --- |",
    ]
    for latency in latencies:
        rows.append(
            f"| {LATENCY_LABELS[latency.contender]} at {latency.rate:,}/s"
            f" | {_num(latency.sent_rate)}/s | {_num(latency.readable_rate)}/s"
            f" | {_num(latency.backlog)} | {latency.sent:,} | {latency.received:,}"
            f" | {_num(latency.p50_ms, 1)} | {_num(latency.p95_ms, 1)}"
            f" | {_num(latency.p99_ms, 1)} | {_num(latency.max_ms, 1)}"
            f" | {_num(latency.appended_p50_ms, 1)} / {_num(latency.appended_p99_ms, 1)}"
            f" | {_cores_cell(latency.cores)} | {_num(latency.rss_mb, 1)}"
            f" | {_latency_note(latency)} |"
        )
    return "\n".join(rows)


def _verdict(ok: bool | None) -> str:
    return "-" if ok is None else ("met" if ok else "NOT met")


def _at_least(value: float | None, goal: float) -> str:
    return _verdict(None if value is None else value >= goal)


def _scaling_cell(report: Report, scaling: float | None) -> str:
    """The 2-worker ratio with the cores used by the worker(s) and by everything, 1 then 2."""
    results = _by_name(report)
    one, two = results.get("faust1"), results.get("faust2")
    cell = f"{_num(scaling, 2)} x"
    if one is None or two is None or not one.cores or not two.cores:
        return cell
    workers = f"{_num(sum(_worker_cores(one)), 2)} → {_num(sum(_worker_cores(two)), 2)}"
    machine = f"{_num(one.cores.get(MACHINE), 2)} → {_num(two.cores.get(MACHINE), 2)}"
    of = report.machine.get("cores (nproc)", "?")
    return f"{cell} (cores: workers {workers}, all processes {machine}, of {of})"


def _p99_row(rate: int, latency: Latency | None, reference: Latency | None) -> str:
    """The worker's p99 at `rate` against the goal, with the plain loop's beside it."""
    goal = f"≤ {TARGETS['p99_ms']:.0f} ms"
    label = f"p99 produce → readable at {rate:,}/s"
    beside = ""
    if reference is not None:
        beside = f" (plain aiokafka loop: {_p99_measured(reference)})"
    if latency is not None and latency.sustained is False:
        return f"| {label} | {goal} | {_p99_measured(latency)}{beside} | NOT met |"
    p99 = latency.p99_ms if latency else None
    verdict = _verdict(None if p99 is None else p99 <= TARGETS["p99_ms"])
    return f"| {label} | {goal} | {_num(p99, 1)} ms{beside} | {verdict} |"


def _p99_measured(latency: Latency) -> str:
    if latency.sustained is False:
        return (
            f"rate not sustained ({_num(latency.readable_rate)}/s readable"
            f" of {_num(latency.sent_rate)}/s sent)"
        )
    return f"{_num(latency.p99_ms, 1)} ms"


def targets_table(report: Report) -> str:
    results = _by_name(report)

    def rate(name: str) -> float | None:
        found = results.get(name)
        return found.rate if found else None

    faust_plain = _ratio(rate("faust1"), rate("aiokafka"))
    faust_quix = _ratio(rate("faust1"), rate("quix"))
    scaling = _ratio(rate("faust2"), rate("faust1"))
    latencies = {(latency.contender, latency.rate): latency for latency in report.latencies}
    rss_values = [r.rss_mb for n, r in results.items() if n.startswith("faust") and r.rss_mb]
    rss = max(rss_values) if rss_values else None
    rows = [
        "| target | goal | measured | verdict |",
        "| --- | ---: | ---: | --- |",
        f"| Faust (1 worker) / plain aiokafka loop | ≥ {TARGETS['faust_vs_plain']:.1f} x "
        f"| {_num(faust_plain, 2)} x | {_at_least(faust_plain, TARGETS['faust_vs_plain'])} |",
        f"| Faust (1 worker) / Quix Streams (defaults) | ≥ {TARGETS['faust_vs_quix']:.1f} x "
        f"| {_num(faust_quix, 2)} x | {_at_least(faust_quix, TARGETS['faust_vs_quix'])} |",
        f"| 2 Faust workers / 1 worker | ≥ {TARGETS['scaling']:.1f} x "
        f"| {_scaling_cell(report, scaling)} | {_at_least(scaling, TARGETS['scaling'])} |",
        *(
            _p99_row(rate, latencies.get(("faust1", rate)), latencies.get(("aiokafka", rate)))
            for rate in report.options.latency_rates
        ),
        f"| Faust worker peak RSS (VmHWM) | ≤ {TARGETS['rss_mb']:.0f} MiB | {_num(rss, 1)} MiB "
        f"| {_verdict(None if rss is None else rss <= TARGETS['rss_mb'])} |",
    ]
    return "\n".join(rows)


def spy_section(report: Report) -> str:
    spy = report.spy
    if spy is None:
        return "(not profiled in this run)"
    if isinstance(spy, str):
        return f"(no profile: {spy})"
    lines = [
        f"py-spy 100 Hz, `--nonblocking`, {spy.samples:,} samples of the worker's CPU time "
        f"(idle not sampled) while it drained the preloaded topic at "
        f"{_num(report.spy_rate)} records/s under the profiler.",
        "",
        "| layer | self (leaf frame) | inclusive (on the stack below the event loop) |",
        "| --- | ---: | ---: |",
    ]
    for layer, count in spy.self_layers.most_common():
        lines.append(f"| {layer} | {spy.share(count)} | {spy.share(spy.incl_layers[layer])} |")
    lines += ["", "Top functions by own time:", "", "| function | self |", "| --- | ---: |"]
    for name, count in spy.self_funcs.most_common(15):
        lines.append(f"| `{name}` | {spy.share(count)} |")
    lines += ["", "Top functions by inclusive time (below the event loop):", ""]
    lines.append("| function | inclusive |")
    lines.append("| --- | ---: |")
    for name, count in spy.incl_funcs.most_common(30):
        lines.append(f"| `{name}` | {spy.share(count)} |")
    return "\n".join(lines)


def cities_section(sizes: list[CitySize]) -> str:
    if not sizes:
        return "(not measured in this run: `python -m bench --cities 1000,10000,100000`)"
    rows = [
        "| cities | store | interval s | rounds | VmRSS MiB | VmHWM MiB | MiB / 1,000 cities "
        "| last round: enriched/s | published in s | raw → enriched s | within 60 s "
        "| changelog records | recovery s | of which restoring s | note |",
        "| ---: | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- | ---: | ---: "
        "| ---: | --- |",
    ]
    for size in sizes:
        for run in size.runs:
            within = None if run.round_s is None else run.round_s <= 60
            rows.append(
                f"| {size.cities:,} | {run.store} | {size.interval_s:g} | {run.rounds}"
                f" | {_num(run.rss_mb, 1)} | {_num(run.hwm_mb, 1)}"
                f" | {_num(mib_per_1000_cities(sizes, size, run), 2)}"
                f" | {_num(run.round_rate)} | {_num(run.publish_s, 1)} | {_num(run.round_s, 1)}"
                f" | {'-' if within is None else ('yes' if within else 'NO')}"
                f" | {run.changelog_records:,} | {_num(run.recovery_s, 1)}"
                f" | {_num(run.restore_s, 1)} | {run.note} |"
            )
    scans = ", ".join(f"{size.cities:,} cities: {_num(size.stray_scan_s, 1)} s" for size in sizes)
    return "\n".join(rows) + f"\n\nStart-up scan for stray changelog entries: {scans}."


def text_summary(report: Report) -> str:
    return "\n\n".join(
        [
            results_table(report),
            cores_table(report),
            cost_table(report),
            latency_table(report.latencies),
            targets_table(report),
            cities_section(report.cities),
        ]
    )


CITIES_METHOD = """\
One worker per size and table store (`WEATHER_STORE`), on its own topics, with a generated
`WEATHER_CITIES_FILE` and simulated weather, run until 2 rounds of the ingest timer are enriched
(`bench/cities.py`). The interval is 60 s from 50,000 cities up and max(5, cities / 1,000) s
below: a round is one reading per city whatever the interval. Of the last round (producer
timestamps): enriched/s from its first to its last enriched record (bounded by how fast the
timer, in the same worker, publishes it: "published in s"), and from its first raw record to its
last enriched one, which says whether one reading per city a minute is kept up with. VmRSS and
VmHWM are read once both rounds are enriched; MiB / 1,000 cities is the VmRSS above the 60-city
baseline's, same store. Recovery: the worker is stopped (SIGTERM) and started on the same data
directory; seconds from starting the process to Faust's `Recovery complete` log line, and of
those the changelog reading (`Restoring state` → `Done reading`). The memory store reads every
changelog record (2 rounds: 2 per city and table, not compacted yet); RocksDB only those after
its persisted offsets."""


def markdown(report: Report) -> str:
    options = report.options
    facts = "\n".join(f"| {key} | {value} |" for key, value in report.machine.items())
    versions = "\n".join(f"| {key} | {value} |" for key, value in report.versions.items())
    return f"""# Benchmarks

Generated by `bench/` ({report.started}, {report.duration_s:.0f} s in all). Re-run with:

```sh
{options.command}
```

N = {options.n:,} raw readings (60 cities, one a minute each, from `simulate_reading`) preloaded
into one 6-partition topic: generated in {report.generate_s:.1f} s, produced in
{report.preload_s:.1f} s ({report.preload_rate:,.0f}/s, acks=all). Every contender runs
`decode_raw` → `process_reading` → `encode_record` on the same records, but one: the Faust agent
forwarding raw records (`bench/faust_ceiling.py`) does none of the work, with the enrich agent's
batches, producer settings and acks: the most any Faust agent drains here.

## Machine and versions

| machine | |
| --- | --- |
{facts}

| software | version |
| --- | --- |
{versions}

## Throughput, memory

records/s = (distinct output records - 1) / (last - first output record's broker timestamp):
the output topics use `message.timestamp.type=LogAppendTime`, so the broker stamps each record
on append, the same for every contender, and start-up is not counted. "wall s" is from starting
the process(es) to the harness seeing all N outputs (start-up, group join and the 0.2 s polling
included). Peak RSS is `VmHWM` from `/proc/<pid>/status` just before the process is stopped (the
largest of the workers). "same output" compares the set of output values with the pure loop's,
byte for byte.

{results_table(report)}

## Cores used while draining

The CPU time of each process (`utime + stime` of `/proc/<pid>/stat`, all its threads, plus its
children's) from the first time the harness sees an output record to the time it sees all N
(polling every 0.2 s), divided by that window's wall time: 1.00 is one core busy all the time.
"worker(s)" is the process doing the work (the Faust worker, the plain loop, the Quix app; each
of 2 workers, then their sum), "broker" the Kafka broker ("-" when the broker given with
`--broker` was not started by `scripts/kafka.sh` here), "harness" this benchmark's process
(polling end offsets; its own threads only), "all processes" every core's busy time from
`/proc/stat`, and "others" what of it the processes named do not account for: other jobs on the
machine. Everything runs on the same {report.machine.get("cores (nproc)", "?")} cores
(`nproc`), none pinned here: the broker and the harness share them with the worker(s).

{cores_table(report)}

## Cost

readings/s per core = records/s (the throughput table) / the cores the worker(s) used while
draining: what one core of Python buys on the same work. MiB per 1,000 cities comes from the
city-scale benchmark when its results are in the run ("-" otherwise).

{cost_table(report)}

## Latency

A fresh worker on its own topics, warmed with 200 readings, then fed at a steady rate by an
aiokafka producer (acks=all) in the harness; the first {options.latency_warmup_seconds:.0f} s at
that rate are not counted (their p99 is in the note). They hold the worker's first commits
(every 2.8 s), which pay once what a worker pays once after it starts: the first appends to
topics created just before are slower. A plain consumer (no
group, read_uncommitted, the default) in the same process notes when each enriched record is
returned by `getmany`. Latency = that time - the time just before `send` of its raw reading
(same clock). "appended" uses the
output record's broker timestamp (LogAppendTime) instead of the read time: the part of the
latency before the harness's consumer fetches it.

When the plain aiokafka loop is among the contenders (`--only`), it is fed the same way after
the worker at each rate, as a reference: the same enrichment and delivery (acks=all, each
batch's offsets committed once its output is acknowledged) without Faust, in a process of its
own, with aiokafka's default fetch settings. Its latency is what this machine, the broker and
the harness leave to any Python consumer at that rate; the gap to it is what Faust and the agent
add.

One run, with a fresh worker and topics, per rate asked (`--latency-rates`). "rate sent",
"readable/s" and "behind at last send" are over the counted part, from its first send to its
last: readings sent per second, readings made readable per second, and readings sent but not yet
readable at the last send. The rate counts as sustained when the harness sent at least
{SUSTAINED_SHARE:.0%} of the rate asked and the worker made at least {SUSTAINED_SHARE:.0%} of it
readable meanwhile; otherwise the backlog grows, the delays measure the queue rather than the
latency, and the percentiles are left out (the note gives the p99 anyway). The cores are those
of the counted part, as in the table of cores above.

On two cores or more, from the first send at the rate, the process fed (the worker, or the plain
loop) has a core of its own and the harness and the broker (when `scripts/kafka.sh` started it
on this machine) share the others, as a deployment keeps the load and the broker off a worker's
core; the note says where (`--no-pin`: every process on every core, as in the throughput runs).

{latency_table(report.latencies)}

## Against the targets (one run)

{targets_table(report)}

## Cost as cities grow

{CITIES_METHOD}

{cities_section(report.cities)}

## Profile of the Faust worker

{spy_section(report)}

### The enrichment itself (cProfile of the pure loop, first 20,000 readings)

```
{report.pure_profile}
```

How to read these numbers, and the lab diary: [docs/benchmark-notes.md](docs/benchmark-notes.md)
"""


def write(report: Report, path: Path) -> None:
    path.write_text(markdown(report))
