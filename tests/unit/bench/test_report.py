from bench.measure import HARNESS, MACHINE, OTHERS
from bench.report import cores_table, cost_table, latency_table, targets_table
from bench.run import Latency, Options, Report, Result, sustained, unsustained


def report(**changes: object) -> Report:
    made = Report(Options(), machine={"cores (nproc)": "2"}, versions={})
    made.results = [
        Result("aiokafka", "plain aiokafka loop", rate=20_000.0, cores={"worker": 0.8}),
        Result("quix", "Quix Streams app", rate=25_000.0, cores={"worker": 1.0}),
        Result(
            "faust1",
            "Faust worker, 1",
            rate=6_000.0,
            rss_mb=100.0,
            cores={"worker": 1.0, "broker": 0.1, HARNESS: 0.02, OTHERS: 0.08, MACHINE: 1.2},
            cpu_window_s=30.0,
        ),
        Result(
            "faust2",
            "Faust workers, 2",
            rate=9_000.0,
            rss_mb=95.0,
            cores={"worker 1": 0.9, "worker 2": 0.6, MACHINE: 1.9},
            cpu_window_s=20.0,
        ),
    ]
    made.latencies = [
        Latency(
            1000, sent_rate=1000.0, readable_rate=998.0, backlog=20, sustained=True, p99_ms=40.0
        ),
        Latency(5000, sent_rate=5000.0, readable_rate=4000.0, backlog=20_000, sustained=False),
    ]
    for name, value in changes.items():
        setattr(made, name, value)
    return made


def rows(table: str) -> dict[str, list[str]]:
    found = {}
    for line in table.splitlines()[2:]:
        cells = [cell.strip() for cell in line.strip("|").split("|")]
        found[cells[0]] = cells[1:]
    return found


def test_readings_per_core_divide_the_rate_by_the_cores_of_every_worker():
    cost = rows(cost_table(report()))
    assert cost["Faust worker, 1"][:3] == ["6,000", "1.00", "6,000"]
    assert cost["Faust workers, 2"][:3] == ["9,000", "1.50", "6,000"]
    assert cost["plain aiokafka loop"][:3] == ["20,000", "0.80", "25,000"]
    assert list(cost) == [
        "Faust worker, 1",
        "Faust workers, 2",
        "plain aiokafka loop",
        "Quix Streams app",
    ]


def test_the_cost_table_shows_mib_per_1000_cities_only_where_the_city_benchmark_gave_it():
    assert {row[3] for row in rows(cost_table(report())).values()} == {"-"}
    cost = rows(cost_table(report(mib_per_1000_cities={"faust1": 12.34})))
    assert cost["Faust worker, 1"][3] == "12.3"
    assert cost["Quix Streams app"][3] == "-"


def test_the_cores_table_lists_each_worker_and_their_sum():
    cores = rows(cores_table(report()))
    assert cores["Faust worker, 1"] == ["30.0", "1.00", "0.10", "0.02", "0.08", "1.20"]
    assert cores["Faust workers, 2"][1] == "0.90 + 0.60 = 1.50"
    assert "plain aiokafka loop" not in cores  # no CPU window measured


def test_the_targets_are_0_9x_the_plain_loop_1x_quix_and_a_p99_per_latency_rate():
    targets = rows(targets_table(report()))
    assert targets["Faust (1 worker) / plain aiokafka loop"] == ["≥ 0.9 x", "0.30 x", "NOT met"]
    assert targets["Faust (1 worker) / Quix Streams (defaults)"] == ["≥ 1.0 x", "0.24 x", "NOT met"]
    assert targets["p99 produce → readable at 1,000/s"] == ["≤ 50 ms", "40.0 ms", "met"]
    assert targets["p99 produce → readable at 5,000/s"] == [
        "≤ 50 ms",
        "rate not sustained (4,000/s readable of 5,000/s sent)",
        "NOT met",
    ]
    assert targets["2 Faust workers / 1 worker"] == [
        "≥ 1.6 x",
        "1.50 x (cores: workers 1.00 → 1.50, all processes 1.20 → 1.90, of 2)",
        "NOT met",
    ]


def test_a_latency_rate_not_measured_has_no_verdict():
    targets = rows(targets_table(report(latencies=[])))
    assert targets["p99 produce → readable at 5,000/s"] == ["≤ 50 ms", "- ms", "-"]
    assert latency_table([]) == "(latency not measured)"


def test_the_latency_table_has_a_row_per_run_with_the_backlog():
    table = rows(latency_table(report().latencies))
    assert list(table) == ["Faust worker at 1,000/s", "Faust worker at 5,000/s"]
    assert table["Faust worker at 5,000/s"][:3] == ["5,000/s", "4,000/s", "20,000"]
    assert table["Faust worker at 5,000/s"][7] == "-"  # no p99 for a rate not sustained


def test_each_latency_run_says_where_it_was_pinned_or_that_it_was_not():
    made = report()
    made.latencies[0].pinned = "Faust worker on core 1; harness, broker on core 0"
    made.latencies[1].note = "first 50,000 at the rate not counted (p99 80.0 ms)"
    table = rows(latency_table(made.latencies))
    assert table["Faust worker at 1,000/s"][-1] == (
        "pinned: Faust worker on core 1; harness, broker on core 0"
    )
    assert table["Faust worker at 5,000/s"][-1] == (
        "not pinned; first 50,000 at the rate not counted (p99 80.0 ms)"
    )


def test_the_plain_loop_s_p99_at_the_same_rate_stands_beside_the_worker_s_verdict():
    references = [
        Latency(1000, "aiokafka", sustained=True, p99_ms=25.0),
        Latency(5000, "aiokafka", sustained=True, p99_ms=45.5),
    ]
    made = report()
    made.latencies = [*made.latencies, *references]
    targets = rows(targets_table(made))
    assert targets["p99 produce → readable at 1,000/s"] == [
        "≤ 50 ms",
        "40.0 ms (plain aiokafka loop: 25.0 ms)",
        "met",
    ]
    assert targets["p99 produce → readable at 5,000/s"] == [
        "≤ 50 ms",
        "rate not sustained (4,000/s readable of 5,000/s sent) (plain aiokafka loop: 45.5 ms)",
        "NOT met",  # the worker's verdict, whatever the loop's
    ]
    assert list(rows(latency_table(made.latencies)))[2:] == [
        "plain aiokafka loop at 1,000/s",
        "plain aiokafka loop at 5,000/s",
    ]


def test_a_rate_is_sustained_when_sent_and_made_readable_within_5_percent():
    assert sustained(5000, sent_rate=4800, readable_rate=4600)
    assert not sustained(5000, sent_rate=4700, readable_rate=4700)  # the harness fell short
    assert not sustained(5000, sent_rate=5000, readable_rate=4700)  # the worker fell behind


def test_the_note_of_a_rate_not_sustained_says_who_fell_short():
    harness = Latency(5000, sent_rate=4000.0, readable_rate=4000.0, backlog=10)
    assert "the harness sent only 4,000/s" in unsustained(harness, 900.0)
    worker = Latency(5000, sent_rate=5000.0, readable_rate=4000.0, backlog=20_000)
    note = unsustained(worker, 4321.0)
    assert "4,000/s readable of 5,000/s sent, 20,000 behind" in note
    assert "p99 4,321 ms" in note
