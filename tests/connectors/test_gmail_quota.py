"""Gmail at whatever quota the account really has: the learning budget against the fake in either regime.

The fake's moving window and the client's budget share one fake clock, which only the client's waits
advance: Google's real minute, units, costs and batches, without waiting for them.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest

from connectors.google.gmail import GmailSource
from connectors.google.gmail_quota import CURRENT, LEGACY, GmailBudget, gmail_throttle
from connectors.throttle import Throttle
from syncd.store import Store
from tests.fakes.clock import FakeClock
from tests.fakes.gmail import REGIMES, GmailWorld, start_world
from tests.fakes.known import pull_into

os.environ["NO_PROXY"] = "127.0.0.1,localhost"

ME = "sam@example.com"
NOW_MS = int(datetime.now(UTC).timestamp() * 1000)


@pytest.fixture(params=["legacy", "2026"])
def regime(request: pytest.FixtureRequest) -> str:
    return str(request.param)


def world_in(regime: str) -> GmailWorld:
    return start_world(quota=REGIMES[regime][0], regime=regime, clock=CLOCK)


CLOCK = FakeClock()


@pytest.fixture
def legacy() -> Iterator[GmailWorld]:
    started = world_in("legacy")
    yield started
    started.close()


def seed(world: GmailWorld, n: int) -> None:
    for i in range(n):
        world.gmail.add(f"P <p{i % 11}@example.org>", [ME], when_ms=NOW_MS - (i + 1) * 3_600_000)


def learning() -> Throttle:
    """The throttle syncd builds for an account, on the fake clock."""
    return gmail_throttle(clock=CLOCK, sleep=CLOCK.sleep)


def new_store() -> Store:
    store = Store(":memory:")
    store.accounts.ensure("g", "google")
    return store


def budget_of(throttle: Throttle) -> GmailBudget:
    assert isinstance(throttle.budget, GmailBudget)
    return throttle.budget


def test_each_regime_is_learned_with_no_configuration_and_kept_in_the_store(regime: str) -> None:
    world = world_in(regime)
    try:
        seed(world, 800)
        throttle = learning()
        store = new_store()
        pull_into(store, GmailSource("g", world.settings, world.slot, throttle=throttle), "g")
        assert len(store.synced.known_ids("g", "gmail")) == 800
        expected = LEGACY if regime == "legacy" else CURRENT
        budget = budget_of(throttle)
        assert budget.regime is expected
        kept = store.rates.get("g", "gmail", world.settings["gmail_endpoint"])
        assert kept == budget.learned() and kept[1] == regime
        if regime == "legacy":
            assert world.gmail.refused == 0  # it climbed from 300 gets a minute and never went over
        else:
            assert kept[0] == 6000 and world.gmail.refused <= 50  # one batch tried above, then held
    finally:
        world.close()


def test_a_quota_that_drops_mid_sync_brings_the_rate_down_and_the_sync_completes(legacy: GmailWorld) -> None:
    seed(legacy, 1500)
    throttle = learning()
    store = new_store()
    source = GmailSource("g", legacy.settings, legacy.slot, throttle=throttle)
    pull_into(store, source, "g", stop_after=12)
    learned = budget_of(throttle).learned()
    assert learned[1] == "legacy" and learned[0] > 1500
    legacy.gmail.set_regime("2026")  # 300 gets a minute from now on
    pull_into(store, GmailSource("g", legacy.settings, legacy.slot, throttle=throttle), "g")
    assert len(store.synced.known_ids("g", "gmail")) == 1500  # nothing lost, nothing failed
    kept = store.rates.get("g", "gmail", legacy.settings["gmail_endpoint"])
    assert kept is not None
    gets_a_minute = kept[0] / REGIMES[kept[1]][1]["messages.get"]
    assert gets_a_minute <= 300 < learned[0] / 5  # came down to what Google now allows
    assert legacy.gmail.refused > 0


def test_a_rate_learned_on_another_endpoint_is_ignored(legacy: GmailWorld) -> None:
    seed(legacy, 40)
    endpoint = legacy.settings["gmail_endpoint"]
    store = new_store()
    store.rates.put("g", "gmail", "https://proxy.example/gmail/", 15000, "legacy")
    throttle = learning()
    pull_into(store, GmailSource("g", legacy.settings, legacy.slot, throttle=throttle), "g")
    assert budget_of(throttle).learned() == (6000, "2026")  # the safe start: 40 gets needed no more
    assert store.rates.get("g", "gmail", endpoint) == (6000, "2026")
    assert store.rates.get("g", "gmail", "https://proxy.example/gmail/") == (15000, "legacy")
    # The same endpoint's rate is where a new process starts.
    store.rates.put("g", "gmail", endpoint, 15000, "legacy")
    legacy.gmail.add("ann@example.org", [ME], when_ms=NOW_MS)
    fresh = learning()
    pull_into(store, GmailSource("g", legacy.settings, legacy.slot, throttle=fresh), "g")
    assert budget_of(fresh).learned() == (15000, "legacy")
