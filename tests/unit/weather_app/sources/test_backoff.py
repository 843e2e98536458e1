from datetime import UTC, datetime, timedelta
from itertools import cycle

import pytest

from weather_app.sources.backoff import (
    CoolDown,
    RetryPolicy,
    backoff_delay,
    backoff_schedule,
    retry_fits,
)

POLICY = RetryPolicy(attempts=6, base_delay_seconds=0.5, max_delay_seconds=4.0)
NOW = datetime(2026, 11, 28, 12, tzinfo=UTC)


def test_delays_double_until_the_cap_without_jitter_at_the_top():
    assert [backoff_delay(retry, POLICY, 1.0) for retry in range(5)] == [0.5, 1, 2, 4, 4]


def test_jitter_spreads_each_delay_over_the_upper_half_of_its_ceiling():
    assert [backoff_delay(retry, POLICY, 0.0) for retry in range(5)] == [0.25, 0.5, 1, 2, 2]
    assert backoff_delay(2, POLICY, 0.5) == 1.5


def test_the_schedule_has_one_delay_between_each_pair_of_tries_and_uses_the_randomness():
    draws = cycle([0.0, 1.0])
    assert backoff_schedule(POLICY, lambda: next(draws)) == [0.25, 1.0, 1.0, 4.0, 2.0]
    assert backoff_schedule(RetryPolicy(attempts=1), lambda: 0.5) == []


def test_the_default_policy_is_three_tries_within_a_few_seconds():
    delays = backoff_schedule(RetryPolicy(), lambda: 1.0)
    assert delays == [0.5, 1.0]


@pytest.mark.parametrize(("retry", "rand"), [(-1, 0.5), (0, -0.1), (0, 1.5)])
def test_bad_arguments_are_refused(retry, rand):
    with pytest.raises(ValueError, match="must be"):
        backoff_delay(retry, POLICY, rand)


def test_a_retry_must_end_within_the_round():
    assert retry_fits(elapsed_seconds=10, delay_seconds=1, timeout_seconds=10, round_seconds=60)
    assert retry_fits(elapsed_seconds=49, delay_seconds=1, timeout_seconds=10, round_seconds=60)
    assert not retry_fits(elapsed_seconds=50, delay_seconds=1, timeout_seconds=10, round_seconds=60)


def test_a_cool_down_blocks_until_it_ends():
    cooldown = CoolDown()
    assert not cooldown.active(NOW)
    assert cooldown.trip(NOW, 900, "rate_limited")
    assert cooldown.active(NOW + timedelta(seconds=899))
    assert not cooldown.active(NOW + timedelta(seconds=900))


def test_a_second_fault_during_a_cool_down_extends_it_but_is_not_a_new_one():
    cooldown = CoolDown()
    assert cooldown.trip(NOW, 900, "rate_limited")
    assert not cooldown.trip(NOW + timedelta(seconds=10), 3600, "unauthorized")
    assert cooldown.until == NOW + timedelta(seconds=3610)
    assert cooldown.reason == "unauthorized"
    # A shorter one never shortens it.
    assert not cooldown.trip(NOW + timedelta(seconds=20), 900, "rate_limited")
    assert cooldown.until == NOW + timedelta(seconds=3610)


def test_a_fault_after_the_cool_down_starts_a_new_one():
    cooldown = CoolDown()
    cooldown.trip(NOW, 900, "rate_limited")
    later = NOW + timedelta(seconds=1000)
    assert cooldown.trip(later, 900, "rate_limited")
    assert cooldown.until == later + timedelta(seconds=900)
