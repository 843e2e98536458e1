"""The results table (printed) and BENCHMARKS.md (written)."""

from pathlib import Path

from bench.run import TARGETS, Latency, Report, Result


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


def latency_table(latency: Latency | None, rate: int) -> str:
    if latency is None:
        return "(latency not measured)"
    rows = [
        "| rate asked | rate achieved | sent | readable | p50 ms | p95 ms | p99 ms | max ms "
        "| appended p50 / p99 ms | worker peak RSS MiB | note |",
        "| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- |",
        f"| {rate:,}/s | {_num(latency.achieved_rate)}/s | {latency.sent:,} | {latency.received:,}"
        f" | {_num(latency.p50_ms, 1)} | {_num(latency.p95_ms, 1)} | {_num(latency.p99_ms, 1)}"
        f" | {_num(latency.max_ms, 1)}"
        f" | {_num(latency.appended_p50_ms, 1)} / {_num(latency.appended_p99_ms, 1)}"
        f" | {_num(latency.rss_mb, 1)} | {latency.note} |",
    ]
    return "\n".join(rows)


def _verdict(ok: bool | None) -> str:
    return "-" if ok is None else ("met" if ok else "NOT met")


def targets_table(report: Report) -> str:
    results = _by_name(report)

    def rate(name: str) -> float | None:
        found = results.get(name)
        return found.rate if found else None

    faust_quix = _ratio(rate("faust1"), rate("quix"))
    faust_plain = _ratio(rate("faust1"), rate("aiokafka"))
    scaling = _ratio(rate("faust2"), rate("faust1"))
    p99 = report.latency.p99_ms if report.latency else None
    rss_values = [r.rss_mb for n, r in results.items() if n.startswith("faust") and r.rss_mb]
    rss = max(rss_values) if rss_values else None
    rows = [
        "| target | goal | measured | verdict |",
        "| --- | ---: | ---: | --- |",
        f"| Faust (1 worker) / Quix Streams (defaults) | ≥ {TARGETS['faust_vs_quix']:.1f} x "
        f"| {_num(faust_quix, 2)} x "
        f"| {_verdict(None if faust_quix is None else faust_quix >= TARGETS['faust_vs_quix'])} |",
        f"| Faust (1 worker) / plain aiokafka loop | well above 1 x | {_num(faust_plain, 2)} x "
        f"| {_verdict(None if faust_plain is None else faust_plain > 1.0)} |",
        f"| 2 Faust workers / 1 worker | ≥ {TARGETS['scaling']:.1f} x | {_num(scaling, 2)} x "
        f"| {_verdict(None if scaling is None else scaling >= TARGETS['scaling'])} |",
        f"| p99 produce → readable at {report.options.latency_rate:,}/s "
        f"| ≤ {TARGETS['p99_ms']:.0f} ms | {_num(p99, 1)} ms "
        f"| {_verdict(None if p99 is None else p99 <= TARGETS['p99_ms'])} |",
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


def text_summary(report: Report) -> str:
    return "\n\n".join(
        [
            results_table(report),
            latency_table(report.latency, report.options.latency_rate),
            targets_table(report),
        ]
    )


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
the process(es) to the harness seeing all N outputs (start-up, group join and the 0.5 s polling
included). Peak RSS is `VmHWM` from `/proc/<pid>/status` just before the process is stopped (the
largest of the workers). "same output" compares the set of output values with the pure loop's,
byte for byte.

{results_table(report)}

## Latency

A fresh worker on its own topics, warmed with 200 readings, then fed at a steady rate by an
aiokafka producer (acks=all) in the harness; the first {options.latency_warmup_seconds:.0f} s at
that rate are not counted (their p99 is in the note: the worker's first second on topics created
just before is slower). A plain consumer (no group, read_uncommitted, the default) in the same
process notes when each enriched record is returned by `getmany`. Latency =
that time - the time just before `send` of its raw reading (same clock). "appended" uses the
output record's broker timestamp (LogAppendTime) instead of the read time: the part of the
latency before the harness's consumer fetches it.

{latency_table(report.latency, options.latency_rate)}

## Against the targets (one run)

{targets_table(report)}

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
