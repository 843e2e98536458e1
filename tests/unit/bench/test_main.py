import pytest

from bench.__main__ import parse


def test_latency_runs_at_1000_and_5000_per_second_unless_told():
    assert parse([]).latency_rates == (1000, 5000)
    assert parse(["--quick"]).latency_rates == (1000, 5000)
    assert parse(["--latency-rates", "2000"]).latency_rates == (2000,)
    assert parse(["--latency-rates", "500,1000,5000"]).latency_rates == (500, 1000, 5000)


@pytest.mark.parametrize("rates", ["", "0", "1000,-5", "fast"])
def test_latency_rates_must_be_positive_whole_numbers(rates: str):
    with pytest.raises(SystemExit):
        parse(["--latency-rates", rates])


def test_latency_counts_only_after_10_s_at_the_rate_unless_told():
    # 10 s hold a worker's first three commits, which pay once what a started worker pays once.
    assert parse([]).latency_warmup_seconds == 10.0
    assert parse(["--latency-warmup-seconds", "2"]).latency_warmup_seconds == 2.0


def test_latency_runs_give_the_process_fed_a_core_of_its_own_unless_told():
    assert parse([]).pin is True
    assert parse(["--no-pin"]).pin is False
