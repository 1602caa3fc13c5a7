"""Gmail's per-user quota, learned: how many units a minute the account gets, and which regime it is under.

Google has two regimes (docs/gmail.md#quota-regimes): projects that used the API before May 2026 keep
15,000 units a minute per user at 5 units per ``messages.get``; newer ones get 6,000 at 20 units a get.
syncd cannot ask which one the user's own Cloud project is under, and a refusal names neither the limit
nor the cost. What syncd sees is only which calls Google accepted and which it refused
(docs/gmail.md#learning-the-rate). So:

* it starts with the 2026 regime's limit and costs, safe under both (300 gets a minute);
* a :class:`GmailBudget` raises the rate while Google accepts it and cuts it on ``userRateLimitExceeded``
  or 429 (AIMD, :class:`connectors.throttle.AdaptiveBudget`);
* once Google has accepted, within one minute, clearly more than the 2026 regime allows (counted at that
  regime's costs), the project cannot be under it: the costs become the legacy regime's, and the budget
  is expressed in them (the same calls a minute). Should refusals bring the rate back below what the 2026
  regime allows, nothing rules that regime out any more, and its costs come back;
* ``gmail_quota`` bounds the rate, in units of the regime inferred (default: the highest documented
  per-user limit), and the learned rate is kept per account and endpoint across pulls and restarts.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Mapping

from connectors.throttle import AdaptiveBudget, Clock, RetryPolicy, Sleep, Throttle

GET = "messages.get"


@dataclasses.dataclass(frozen=True)
class Regime:
    """One of Google's documented quota regimes (docs/gmail.md#quota-regimes, #method-costs)."""

    name: str
    per_user: int  # units a minute per user and project
    costs: Mapping[str, int]  # units per call of each method syncd uses


CURRENT = Regime("2026", 6000, {GET: 20, "messages.list": 5, "history.list": 2, "getProfile": 1})
LEGACY = Regime("legacy", 15000, {GET: 5, "messages.list": 5, "history.list": 2, "getProfile": 1})
REGIMES = {regime.name: regime for regime in (CURRENT, LEGACY)}
HIGHEST = max(regime.per_user for regime in REGIMES.values())  # the default bound, gmail_quota
WINDOW = 60.0  # Google counts per minute, in a moving window
# The budget counts each spend 2% longer than Google's minute: Google counts a call when it arrives, and
# arrival delays vary, so a window that is full to the unit on the client's clock can hold a little more on
# Google's (a 2% longer window absorbs 1.2 s of variation, at 2% of the rate).
SLACK = 0.02
# An accepted minute must exceed the 2026 limit by this much, and one batch more, before that regime is
# ruled out (and the rate must fall this far below it before it is considered again): the two clocks never
# agree exactly, and a batch spent at the edge of the client's minute may already count in Google's next one.
MARGIN = 0.1


class GmailBudget(AdaptiveBudget):
    """An :class:`AdaptiveBudget` in Gmail quota units, which also infers the regime (and so the cost of a get).

    ``batch`` is how many gets go in one batch: the rate moves a full batch of gets at a time.
    """

    def __init__(self, bound: float = HIGHEST, *, window: float = WINDOW, batch: int = 50,
                 clock: Clock = time.monotonic, sleep: Sleep = time.sleep) -> None:
        self.regime = CURRENT
        self.batch = batch
        self.window = window
        super().__init__(CURRENT.per_user, window * (1 + SLACK), bound=bound, ramp=batch * CURRENT.costs[GET],
                         clock=clock, sleep=sleep)

    def cost(self, method: str) -> int:
        return self.regime.costs[method]

    def _changed(self) -> None:
        if self.regime is CURRENT and self._in_window > CURRENT.per_user * (1 + MARGIN) + self.ramp:
            self._become(LEGACY)  # accepted more than the 2026 regime allows in a minute: not under it
        elif self.regime is LEGACY and self._as(CURRENT, self.units) < CURRENT.per_user * (1 - MARGIN):
            self._become(CURRENT)  # no longer evidence against the 2026 regime: its (safe) costs again

    def _as(self, regime: Regime, units: float) -> float:
        return units * regime.costs[GET] / self.regime.costs[GET]

    def _become(self, regime: Regime) -> None:
        factor = regime.costs[GET] / self.regime.costs[GET]
        self.regime = regime
        self.rescale(factor)  # the same number of gets a minute, in the new regime's units

    def learned(self) -> tuple[float, str]:
        """(units a minute known to be accepted, regime name): what is kept between pulls."""
        with self._lock:
            return round(self.known), self.regime.name

    def resume(self, units: float, regime: str) -> None:
        """Start from a rate learned before, in the regime inferred then (an unknown regime name is ignored)."""
        with self._lock:
            known = REGIMES.get(regime)
            if known is None:
                return
            if known is not self.regime:
                self.rescale(known.costs[GET] / self.regime.costs[GET])
                self.regime = known
            self.restore(units)


def gmail_throttle(bound: float = HIGHEST, *, window: float = WINDOW, batch: int = 50,
                   policy: RetryPolicy | None = None, clock: Clock = time.monotonic, sleep: Sleep = time.sleep
                   ) -> Throttle:
    """One account's Gmail throttle: a learning budget bounded by ``bound`` units a minute, and the retry policy.

    ``window`` is Google's minute; a benchmark shortens it (with the policy's delays) to run faster than life.
    """
    budget = GmailBudget(bound, window=window, batch=batch, clock=clock, sleep=sleep)
    return Throttle(budget, policy or RetryPolicy(), sleep=sleep)
