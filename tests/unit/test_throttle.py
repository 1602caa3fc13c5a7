"""The shared rate budget and retry policy: never over the provider's window, Retry-After waited exactly."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from connectors.base import ConnectorError
from connectors.throttle import AdaptiveBudget, RateBudget, Retry, RetryPolicy, Throttle, parse_retry_after
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


# ---- the learning budget (AIMD) -----------------------------------------------------------------------------


def adaptive(clock: FakeClock, start: float = 600, bound: float = 2000, ramp: float = 100) -> AdaptiveBudget:
    return AdaptiveBudget(start, 60, bound=bound, ramp=ramp, clock=clock, sleep=clock.sleep)


def fill(budget: AdaptiveBudget, clock: FakeClock, spends: int, ramp: float = 100, accept: bool = True) -> None:
    """``spends`` full spends, each answered at once (accepted, or refused for the rate)."""
    for _ in range(spends):
        budget.spend(ramp)
        budget.settle(ramp) if accept else budget.settle(0, ramp)
        clock.now += 0.01


def test_climbs_one_full_spend_at_a_time_while_accepted_up_to_the_bound() -> None:
    clock = Clock()
    budget = adaptive(clock)
    fill(budget, clock, 6)
    assert budget.units == 600 and clock.sleeps == []  # the safe start goes out at once
    fill(budget, clock, 30)
    assert budget.units == 2000 and budget.raises == 14  # then one step per accepted spend, never past the bound
    assert clock.sleeps and all(wait <= 60 for wait in clock.sleeps)


def test_an_overshoot_goes_back_and_holds_then_probes_less_often_each_time_refused() -> None:
    clock = Clock()
    budget = adaptive(clock)
    fill(budget, clock, 10)  # 600 → 1000 accepted
    budget.spend(100)  # raised to 1100 …
    budget.settle(0, 100)  # … and refused at once
    assert budget.units == 1000 and budget.hold == 1000 and budget.cuts == 0
    assert budget.in_window == 1000  # the refused units went back
    started = clock.now
    assert 120 <= until_raised(budget, clock) - started <= 181  # held: tried again 2 windows on (when the window fills)
    assert budget.units == 1100
    budget.spend(100)
    budget.settle(0, 100)  # the try is refused: back, and the next one four windows on
    assert budget.units == 1000
    started = clock.now
    assert 240 <= until_raised(budget, clock) - started <= 301


def until_raised(budget: AdaptiveBudget, clock: FakeClock) -> float:
    """Spend and settle full spends until the budget grows; when it did."""
    raises = budget.raises
    while budget.raises == raises:
        budget.spend(100)
        budget.settle(100)
        clock.now += 0.01
    return clock.now


def test_at_a_level_held_spends_are_spread_out_not_bunched_at_the_start_of_each_window() -> None:
    clock = Clock()
    budget = adaptive(clock)
    fill(budget, clock, 6)  # climbing: at once
    assert clock.sleeps == []
    budget.restore(1000)
    clock.sleeps.clear()
    fill(budget, clock, 10)
    # 100 of 1,000 units a minute: at least 0.8 of 6 s apart, never a burst.
    assert all(wait >= 4.8 - 0.011 for wait in clock.sleeps) and len(clock.sleeps) >= 9


def test_a_probe_that_lasts_a_window_is_the_new_level_and_the_next_follows_a_window_later() -> None:
    clock = Clock()
    budget = adaptive(clock)
    budget.restore(1000)  # held at 1000, first probe one window from now
    fill(budget, clock, 25)
    assert budget.units == 1100 and budget.hold == 1000
    fill(budget, clock, 12)
    assert budget.units == 1200 and budget.hold == 1100  # accepted for a window: the limit did go up


def test_one_refusal_at_a_level_that_held_is_noise_two_within_a_window_cut_it() -> None:
    clock = Clock()
    budget = adaptive(clock)
    budget.restore(1000)
    budget.spend(100)
    budget.settle(0, 100)
    assert budget.units == 1000 and budget.cuts == 0  # once: the clocks
    clock.now += 61
    budget.spend(100)
    budget.settle(0, 100)
    assert budget.units == 1000 and budget.cuts == 0  # again, but a window later: still noise
    budget.spend(100)
    budget.settle(0, 100)
    assert budget.units == 700 and budget.cuts == 1 and budget.hold is None  # twice in a window: the limit fell
    budget.spend(100)
    budget.settle(0, 100)
    assert budget.units == 400  # whole spends, 0.7 each time …
    for _ in range(5):
        budget.spend(100)
        budget.settle(0, 100)
    assert budget.units == 100 and not budget.slowing  # … never below one spend
    fill(budget, clock, 3)
    assert budget.units > 100  # and it climbs again while accepted


def test_a_learned_rate_resumes_bounded_and_in_whole_spends() -> None:
    clock = Clock()
    budget = adaptive(clock)
    budget.restore(5555)
    assert budget.units == 2000 and budget.hold == 2000
    budget.restore(1250)
    assert budget.units == 1200


def test_refusals_the_budget_slows_down_for_are_not_failed_tries() -> None:
    clock = Clock()
    budget = adaptive(clock, start=800, ramp=100)
    budget.restore(800)
    throttle = Throttle(budget, RetryPolicy(attempts=2, rng=lambda: 0), sleep=clock.sleep)
    call, calls = _flaky([ThrottledRefusal() for _ in range(5)])
    assert throttle.call(call, classify=throttled, units=100) == "ok"  # 5 refusals, 2 attempts: it slowed down
    assert budget.units == 100 and len(calls) == 6
    call, calls = _flaky([ThrottledRefusal(), ThrottledRefusal(), ThrottledRefusal()])
    with pytest.raises(ConnectorError, match="after 2 tries"):
        throttle.call(call, classify=throttled, units=100)  # at its floor, refusals count again
    fixed = Throttle(RateBudget(1000, 60, clock=clock, sleep=clock.sleep), RetryPolicy(attempts=2, rng=lambda: 0),
                     sleep=clock.sleep)
    call, calls = _flaky([ThrottledRefusal(), ThrottledRefusal()])
    with pytest.raises(ConnectorError, match="after 2 tries"):
        fixed.call(call, classify=throttled, units=100)  # a fixed budget cannot slow down


class ThrottledRefusal(Exception):
    pass


def throttled(exc: BaseException) -> Retry | None:
    return Retry("HTTP 403 userRateLimitExceeded", throttled=True) if isinstance(exc, ThrottledRefusal) else None


def test_fits_says_how_many_spends_the_window_has_room_for_and_waits_for_one() -> None:
    clock = Clock()
    budget = RateBudget(1000, 60, clock=clock, sleep=clock.sleep)
    budget.spend(5)  # a small call: a whole batch of 100 no longer fits beside nine others
    for _ in range(9):
        budget.spend(100)
    assert budget.fits(10, 10) == 9 and clock.sleeps == []  # 95 units left: 9 spends of 10, not a wait for 100
    budget.spend(90)
    assert budget.fits(10, 10) == 10 and clock.sleeps == [60.0]  # none left: waited for the window to move
