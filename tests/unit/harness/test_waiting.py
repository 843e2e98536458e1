from collections.abc import Iterator

from tests.harness.waiting import settled


def reads(*values: int) -> Iterator[int]:
    yield from values


def test_settled_returns_the_first_value_read_twice_in_a_row():
    values = reads(1, 2, 3, 3, 4)
    assert settled(lambda: next(values), 0, 10) == 3


def test_settled_gives_up_on_a_value_that_keeps_changing():
    count = iter(range(1_000_000))
    assert settled(lambda: next(count), 0.01, 0.1) is None
