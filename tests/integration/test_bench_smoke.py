"""The benchmark harness runs end to end on a tiny N, so it cannot rot. No timing is asserted."""

import json
import subprocess
import sys
from pathlib import Path

from tests.harness.paths import REPO

CONTENDERS = ["pure", "aiokafka", "quix", "ceiling", "faust1", "faust2"]


def test_the_bench_harness_completes_and_writes_a_well_formed_table(
    kafka_broker: str, tmp_path: Path
):
    output, results = tmp_path / "BENCHMARKS.md", tmp_path / "results.json"
    run = subprocess.run(
        [
            sys.executable,
            "-m",
            "bench",
            "--n",
            "2000",
            "--broker",
            kafka_broker,
            "--latency-seconds",
            "2",
            "--latency-warmup-seconds",
            "2",
            "--profile-seconds",
            "2",
            "--output",
            str(output),
            "--json",
            str(results),
            "--workdir",
            str(tmp_path / "work"),
        ],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]

    data = json.loads(results.read_text())
    assert [result["name"] for result in data["results"]] == CONTENDERS
    for result in data["results"]:
        if result["note"] == "quixstreams not installed":
            continue
        assert "lost" not in result["note"], result  # every reading enriched
        assert isinstance(result["rate"], float), result
        if result["name"] == "ceiling":  # forwards the raw readings, enriches nothing
            assert result["distinct"] == 2000, result
        elif result["name"] == "faust2":
            # A rebalance while the first worker runs replays readings (at-least-once), and a
            # replay can forecast from a history that differs from the first pass's.
            assert result["distinct"] >= 2000, result
        else:  # exactly what the pure loop wrote
            assert result["distinct"] == 2000, result
            assert result["identical"] is True, result
    # The plain aiokafka loop is fed after the worker at each rate: the machine's floor.
    assert [(latency["contender"], latency["rate"]) for latency in data["latencies"]] == [
        ("faust1", 1000),
        ("aiokafka", 1000),
        ("faust1", 5000),
        ("aiokafka", 5000),
    ]
    for latency in data["latencies"]:
        assert latency["sent"] == latency["rate"] * 2, latency
        assert latency["received"] == latency["sent"], latency  # each readable, if late
    faust2 = data["results"][-1]
    assert set(faust2["cores"]) >= {"worker 1", "worker 2", "broker", "harness", "all processes"}

    table = output.read_text()
    assert "| contender | records/s |" in table
    labels = ("pure loop", "plain aiokafka loop", "Faust agent forwarding", "Faust worker, 1")
    for label in (*labels, "Faust workers, 2"):
        assert f"| {label}" in table
    assert "| target | goal | measured | verdict |" in table
    assert "| contender | window s | worker(s) | broker |" in table
    assert "| contender | readings/s | cores the worker(s) used | readings/s per core |" in table
    assert "| p99 produce → readable at 5,000/s |" in table
    assert "(plain aiokafka loop: " in table
    assert "| plain aiokafka loop at 5,000/s |" in table
    assert run.stdout.count("| contender | records/s |") == 1
