import re

from tests.harness.processes import run_module


def test_the_producer_send_bench_times_both_senders():
    run = run_module("bench.producer_send", "--n", "2000")
    assert run.returncode == 0, run.stderr[-3000:]
    figures = re.findall(
        r"^(aiokafka's send|KafkaRecordSender): (\d+\.\d\d) µs a record$", run.stdout, re.M
    )
    assert [name for name, _ in figures] == ["aiokafka's send", "KafkaRecordSender"]
    assert all(float(us) > 0 for _, us in figures)
