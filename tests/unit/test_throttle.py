"""The shared rate budget and retry policy: never over the provider's window, Retry-After waited exactly."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from connectors.base import ConnectorError
from connectors.throttle import RateBudget, Retry, RetryPolicy, Throttle, parse_retry_after
from tests.fakes.clock import FakeClock


def Clock() -> FakeClock:
    return FakeClock(0.0)


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(st.integers(1, 40), st.floats(0, 5)), min_size=1, max_size=80))
# Once drawn at random and failed: the wait for the first spend to leave the window came out as
# (4.777018854832501 + 60) - 4.777018854832501 = 60.00000000000001, one rounding step over the window.
@example([(1, 4.777018854832501), (20, 0.0), (40, 0.0), (40, 0.0)])
def test_budget_never_exceeds_the_window_and_runs_at_full_rate(spends: list[tuple[int, float]]) -> None:
    clock = Clock()
    budget = RateBudget(100, 60, clock=clock, sleep=clock.sleep)
    log = []
    for units, pause in spends:
        clock.now += pause
        budget.spend(units)
        log.append((clock.now, units))
    for at, _ in log:  # every window that ends at a spend holds at most the budget
        assert sum(u for t, u in log if at - 60 < t <= at) <= 100
    # Waiting only happens when the window is full: no wait is longer than one window.
    assert all(wait <= 60 for wait in clock.sleeps)
    assert budget.spent_total == sum(units for units, _ in spends)


def test_budget_waits_exactly_until_the_oldest_spend_leaves_the_window() -> None:
    clock = Clock()
    budget = RateBudget(100, 60, clock=clock, sleep=clock.sleep)
    budget.spend(60)
    clock.now = 10
    budget.spend(40)
    budget.spend(30)  # needs the first 60 units to leave: at t=60
    assert clock.sleeps == [50.0] and budget.waited == 50.0


def test_more_than_a_window_waits_for_an_empty_one_instead_of_forever() -> None:
    clock = Clock()
    budget = RateBudget(100, 60, clock=clock, sleep=clock.sleep)
    budget.spend(10)
    budget.spend(1000)
    assert clock.now == 60


def _flaky(failures: list[BaseException], result: str = "ok") -> tuple[Callable[[], str], list[int]]:
    calls: list[int] = []

    def call() -> str:
        calls.append(1)
        if failures:
            raise failures.pop(0)
        return result

    return call, calls


class Transient(Exception):
    def __init__(self, after: float | None = None) -> None:
        self.after = after


def classify(exc: BaseException) -> Retry | None:
    return Retry("HTTP 429", exc.after) if isinstance(exc, Transient) else None


def test_retry_after_is_waited_exactly_and_backoff_grows_with_jitter_otherwise() -> None:
    clock = Clock()
    throttle = Throttle(policy=RetryPolicy(base=1, cap=8, jitter=1, rng=lambda: 0.5), sleep=clock.sleep)
    call, calls = _flaky([Transient(7), Transient(), Transient(), Transient(), Transient(), Transient()])
    assert throttle.call(call, classify=classify) == "ok"
    assert clock.sleeps == [7, 2.5, 4.5, 8.5, 8.5, 8.5]  # min(cap, base*2**n) + jitter; Retry-After as given
    assert len(calls) == 7 and throttle.retries == 6 and throttle.calls == 7


def test_budget_is_spent_for_every_attempt() -> None:
    clock = Clock()
    budget = RateBudget(1000, 60, clock=clock, sleep=clock.sleep)
    throttle = Throttle(budget, RetryPolicy(rng=lambda: 0), sleep=clock.sleep)
    call, _ = _flaky([Transient(0)])
    throttle.call(call, classify=classify, units=20)
    assert budget.spent_total == 40


def test_gives_up_with_the_reason_after_the_attempts() -> None:
    clock = Clock()
    throttle = Throttle(policy=RetryPolicy(attempts=3, rng=lambda: 0), sleep=clock.sleep)
    call, calls = _flaky([Transient()] * 5)
    with pytest.raises(ConnectorError, match=r"list messages: the provider kept failing \(HTTP 429\) after 3 tries"):
        throttle.call(call, classify=classify, what="list messages")
    assert len(calls) == 3


def test_a_retry_after_longer_than_allowed_is_not_waited() -> None:
    clock = Clock()
    throttle = Throttle(policy=RetryPolicy(max_retry_after=60), sleep=clock.sleep)
    call, _ = _flaky([Transient(3600)])
    with pytest.raises(ConnectorError, match="try again later"):
        throttle.call(call, classify=classify)
    assert clock.sleeps == []


def test_errors_classify_does_not_know_pass_through_unchanged() -> None:
    throttle = Throttle(sleep=Clock().sleep)
    call, calls = _flaky([KeyError("404")])
    with pytest.raises(KeyError):
        throttle.call(call, classify=classify)
    assert len(calls) == 1


def test_retry_after_header_forms() -> None:
    assert parse_retry_after("120") == 120
    assert parse_retry_after(None) is None and parse_retry_after("soon") is None
    later = format_datetime(datetime.now(UTC) + timedelta(seconds=30), usegmt=True)
    assert 25 <= (parse_retry_after(later) or 0) <= 31
