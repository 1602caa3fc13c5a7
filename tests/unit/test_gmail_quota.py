"""Gmail's quota learned with no configuration: the regime inferred from what Google accepts, the rate bounded."""

from __future__ import annotations

from connectors.google.gmail_quota import CURRENT, LEGACY, SLACK, GmailBudget
from tests.fakes.clock import FakeClock


def budget(clock: FakeClock, bound: float = 15000) -> GmailBudget:
    return GmailBudget(bound, clock=clock, sleep=clock.sleep)


def batches(budget: GmailBudget, clock: FakeClock, count: int, gets: int = 50) -> None:
    """``count`` batches of gets, each accepted whole, as the Gmail client spends and settles them."""
    for _ in range(count):
        cost = budget.cost("messages.get") * gets
        budget.spend(cost)
        budget.settle(cost)
        clock.now += 0.05


def test_starts_at_the_2026_regime_safe_under_both() -> None:
    b = budget(FakeClock())
    assert b.regime is CURRENT and b.units == 6000 and b.cost("messages.get") == 20
    assert b.per_seconds == 60 * (1 + SLACK)
    assert b.learned() == (6000, "2026")


def test_more_accepted_in_a_minute_than_2026_allows_means_the_legacy_regime() -> None:
    clock = FakeClock()
    b = budget(clock)
    batches(b, clock, 7)
    assert b.regime is CURRENT  # 350 gets: one batch over may be the clocks disagreeing at the minute's edge
    batches(b, clock, 1)  # an eighth batch in the same minute, accepted: 8,000 units at 2026 costs
    assert b.regime is LEGACY and b.cost("messages.get") == 5
    assert b.units == 2000 and b.in_window == 2000  # the same 400 gets a minute, in legacy units
    batches(b, clock, 200)
    assert b.units == 15000 and b.learned() == (15000, "legacy")  # 3,000 gets a minute: the bound


def test_refused_back_below_what_2026_allows_brings_its_costs_back() -> None:
    clock = FakeClock()
    b = budget(clock)
    b.resume(15000, "legacy")
    for _ in range(12):  # the quota fell: refused again and again, the rate comes down
        b.spend(250)
        b.settle(0, 250)
        clock.now += 1
    assert b.regime is CURRENT and b.units < CURRENT.per_user
    assert b.units % 1000 == 0  # whole batches at 20 units a get


def test_a_bound_of_6000_keeps_the_2026_regime_without_trying_above_it() -> None:
    clock = FakeClock()
    b = budget(clock, bound=6000)
    batches(b, clock, 60)
    assert b.regime is CURRENT and b.units == 6000 and b.raises == 0


def test_resume_takes_the_regime_and_rate_kept_and_ignores_an_unknown_regime() -> None:
    clock = FakeClock()
    b = budget(clock)
    b.resume(9000, "someday")
    assert b.learned() == (6000, "2026")
    b.resume(14990, "legacy")
    assert b.learned() == (14750, "legacy") and b.hold == 14750
