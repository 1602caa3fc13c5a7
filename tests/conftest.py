"""What every tier shares: a deterministic Hypothesis, and an in-memory store with one account.

Tiers: ``unit/`` (pure logic and the store, no network), ``connectors/`` (each connector through its real
client library against the loopback fakes in ``fakes/``), ``system/`` (the CLI and the service end to
end, real local servers, the Enron corpus when it is there (docs/testing.md#the-enron-corpus)), ``hostile/`` (the hostile-input
suite: broken mail trees, a corpus of real .ics test files, endless recurrences, a state-fault matrix,
``kill -9``; each ``syncd`` run there under a memory ceiling and a time-out). Helpers that are not
fixtures live in ``support/``.
"""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, settings

from syncd.store import Store

# CI must never be a coin: Hypothesis draws the same examples on every run (derandomize), and keeps no
# example database between runs. A property that fails, fails every time, with the example printed.
settings.register_profile(
    "syncd", derandomize=True, database=None, print_blob=True, suppress_health_check=[HealthCheck.too_slow]
)
settings.load_profile("syncd")

ACCOUNT = "acct"


@pytest.fixture
def store() -> Store:
    """An in-memory store holding one account, ``acct``."""
    made = Store(":memory:")
    made.accounts.ensure(ACCOUNT, "test")
    return made


@pytest.fixture(autouse=True)
def loopback_only(monkeypatch: pytest.MonkeyPatch) -> None:
    """Requests to the loopback fakes never go through a proxy the environment may name."""
    monkeypatch.setenv("no_proxy", "127.0.0.1,localhost")
    monkeypatch.setenv("NO_PROXY", "127.0.0.1,localhost")
