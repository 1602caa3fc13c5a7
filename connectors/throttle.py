"""The one place for rate budgets, retries and backoff, shared by every HTTP connector.

A connector wraps each provider call in :meth:`Throttle.call`: the call's quota cost is spent from the
account's :class:`RateBudget` first (waiting when the window is full), at most ``concurrency`` calls run at
once, and a failure the connector's ``classify`` calls transient is retried with exponential backoff and
jitter, or after exactly the server's ``Retry-After``. Why not the client libraries' own retries:
google-api-python-client's ``execute(num_retries=N)`` ignores Retry-After and defaults to no retries
(docs/gmail.md#client-library-retries), and Graph's 429s must be waited out for exactly the time they name
(docs/microsoft-graph.md#throttling).

Where a provider does not say what its limit is, :class:`AdaptiveBudget` learns it: it starts at a rate
known to be safe, raises it additively while every answer comes back accepted, and cuts it
multiplicatively when the provider says "slow down" (AIMD, as TCP congestion control does, RFC 5681 §3.1;
the cut is CUBIC's factor 0.7, RFC 9438 §4.6). docs/gmail.md#learning-the-rate explains the choices.
"""

from __future__ import annotations

import collections
import dataclasses
import math
import random
import threading
import time
from collections.abc import Callable
from typing import TypeVar

from connectors.base import ConnectorError

T = TypeVar("T")
Clock = Callable[[], float]
Sleep = Callable[[float], None]


@dataclasses.dataclass(frozen=True, slots=True)
class Retry:
    """What ``classify`` answers for a transient failure: why (for the message), the server's wait, and whether
    the provider refused the call for the rate (429, a rate-limit 403) rather than failed it (5xx, a reset)."""

    why: str
    after: float | None = None  # seconds, from Retry-After; None: back off exponentially
    throttled: bool = False


Classify = Callable[[BaseException], Retry | None]


class RateBudget:
    """At most ``units`` quota units in any window of ``per_seconds`` (a sliding window, as providers count).

    A token bucket would let a full bucket plus a window's refill through in the first window and be
    throttled by the server; a log of the spends in the current window never exceeds the limit and still
    runs at the full rate.
    """

    def __init__(self, units: float, per_seconds: float, clock: Clock = time.monotonic, sleep: Sleep = time.sleep):
        if units <= 0 or per_seconds <= 0:
            raise ValueError("a rate budget needs positive units and window")
        self.units = units
        self.per_seconds = per_seconds
        self.clock = clock
        self.sleep = sleep
        self.spent_total = 0.0
        self.waited = 0.0  # seconds spent waiting for the budget, for benchmarks and status
        self._log: collections.deque[tuple[float, float]] = collections.deque()
        self._in_window = 0.0
        self._next_at = 0.0  # the earliest time the next spend may go, while spends are spread out (``_pace``)
        self._lock = threading.RLock()

    def spend(self, units: float) -> None:
        """Wait until ``units`` fit into the window, then take them. More than a whole window waits for an empty one."""
        while True:
            with self._lock:
                units = min(units, self.units)
                wait = self._wait(units)
                if not wait:
                    now = self.clock()
                    self._log.append((now, units))
                    self._in_window += units
                    self.spent_total += units
                    self._next_at = now + self._pace() * units / self.units * self.per_seconds
                    return
            self.waited += wait
            self.sleep(wait)

    def fits(self, unit: float, most: int) -> int:
        """How many spends of ``unit`` fit now, up to ``most``, waiting until one does; nothing is taken.

        A caller that can send fewer (a smaller batch) uses the room a window has left instead of waiting for
        room for a whole batch.
        """
        while True:
            with self._lock:
                unit = min(unit, self.units)
                wait = self._wait(unit)
                if not wait:
                    return max(1, min(most, int((self.units - self._in_window + 1e-9) // unit)))
            self.waited += wait
            self.sleep(wait)

    def _wait(self, units: float) -> float:
        """Called locked: 0 when ``units`` may be spent now, else how long to wait before asking again."""
        while True:
            now = self.clock()
            while self._log and self._log[0][0] <= now - self.per_seconds:
                self._in_window -= self._log.popleft()[1]
            if self._pace() and now < self._next_at:
                return self._next_at - now
            if self._in_window + units <= self.units + 1e-9:
                return 0.0
            if not self._full(now):
                break  # the budget did not grow: wait for the window
        # The oldest spends that must leave the window before this one fits.
        need = self._in_window + units - self.units
        freed, until = 0.0, now
        for at, amount in self._log:
            freed += amount
            until = at + self.per_seconds
            if freed >= need - 1e-9:
                break
        # Never more than one window: ``(at + window) - now`` can come out one rounding step above the window in
        # floating point (t + 60 - t == 60.00000000000001 for some t).
        return min(max(until - now, 0.001), self.per_seconds)

    def _full(self, now: float) -> bool:
        """Called (locked) when a spend does not fit: True when the budget made room meanwhile."""
        return False

    def _pace(self) -> float:
        """Called (locked): 0, or how far apart to spread spends, as a share of the even spacing at the budget's
        rate (a spend of u units waits ``share * u / units * window`` after the one before)."""
        return 0.0

    def settle(self, accepted: float, refused: float = 0.0) -> None:
        """What the provider did with units spent before: ``accepted`` were counted, ``refused`` were turned
        away for the rate. A fixed budget keeps counting refused units: Graph logs usage while it throttles
        (docs/microsoft-graph.md#throttling)."""

    @property
    def slowing(self) -> bool:
        """Whether refusals make this budget slower (an adaptive one above its floor)."""
        return False

    def _refund(self, units: float) -> None:
        # The latest spends are the ones just answered (the callers wait for each answer before the next spend).
        while units > 1e-9 and self._log:
            at, amount = self._log.pop()
            back = min(amount, units)
            units -= back
            self._in_window -= back
            self.spent_total -= back
            if amount - back > 1e-9:
                self._log.append((at, amount - back))

    def rescale(self, factor: float) -> None:
        """Express every amount in another unit (``factor`` new units per old one): the window keeps its share."""
        with self._lock:
            self.units *= factor
            self._log = collections.deque((at, amount * factor) for at, amount in self._log)
            self._in_window *= factor

    @property
    def in_window(self) -> float:
        """Units spent in the current window (for benchmarks and status)."""
        with self._lock:
            return self._in_window


class AdaptiveBudget(RateBudget):
    """A sliding-window budget whose size is learned from the provider's answers (AIMD).

    ``units`` starts at ``start`` (a rate known to be safe) and never exceeds ``bound`` (the user's upper
    limit). Levels are whole multiples of ``ramp``, the size of one full spend (a batch), so a level is
    really used, and tested, by full spends. It only grows when a spend does not fit and what was spent
    since the last change was accepted, so it grows only while it is used:

    * while nothing is known about the limit it grows by ``ramp`` per accepted spend (the climb goes as
      fast as the calls go out);
    * a refusal within a window of a raise means the raise overshot: back to the level before it, which
      is then held. The level held is tried ``ramp`` higher every ``FIRST_PROBE`` windows, and twice as
      long after each try refused (up to ``MAX_PROBE``); a try that lasts a whole window unrefused is the
      new level held, and the next try follows a window later (additive increase, once a window);
    * a refusal while the level held is taken as noise once (the clocks of client and provider never agree
      exactly); a second one within a window means the limit came down (another client of the same user,
      a quota changed): the budget is cut by ``CUT`` and climbs again by ``ramp`` until refused.
    """

    CUT = 0.7  # RFC 9438 §4.6 (CUBIC's beta)
    FIRST_PROBE = 2.0  # windows
    MAX_PROBE = 32.0
    PACE = 0.8  # at a known level, spends come at least 0.8 of the even spacing apart (so up to 1.25x the rate)

    def __init__(self, start: float, per_seconds: float, *, bound: float, ramp: float,
                 clock: Clock = time.monotonic, sleep: Sleep = time.sleep) -> None:
        if ramp <= 0 or bound <= 0:
            raise ValueError("an adaptive budget needs a positive ramp and bound")
        super().__init__(min(start, bound), per_seconds, clock, sleep)
        self.bound = bound
        self.ramp = ramp
        self.floor = min(ramp, self.units)  # never below one full spend
        self.hold: float | None = None  # the level known to be accepted; None: nothing known, climb by ``ramp``
        self.refusals = 0  # refusal events (a batch with several refused parts is one)
        self.raises = 0
        self.cuts = 0
        self._probe_windows = self.FIRST_PROBE
        self._probe_at = 0.0
        self._raised_at: float | None = None
        self._suspect_at: float | None = None
        self._before_raise = self.units
        self._proven = 0.0  # units accepted since the budget last changed

    def _full(self, now: float) -> bool:
        if self._proven <= 0 or self.units + self.ramp > self.bound + 1e-9:
            return False
        if self.hold is not None:
            if now < self._probe_at:
                return False
            if self._raised_at is not None:
                self._probe_windows = self.FIRST_PROBE  # the last try lasted a window: the limit did go up
            self.hold = self.units
            self._probe_at = now + self.per_seconds  # this try must last a window before the next
        self._before_raise = self.units
        self.units += self.ramp
        self._raised_at = now
        self._proven = 0.0
        self.raises += 1
        self._changed()
        return True

    def settle(self, accepted: float, refused: float = 0.0) -> None:
        with self._lock:
            if refused > 0:
                # Units turned away go back into the window: a refused call is taken as not charged
                # (docs/gmail.md#learning-the-rate); were it charged, the next refusal would cut all the same.
                self._refund(refused)
                self._refused(self.clock())
            elif accepted > 0:
                self._proven += accepted
            self._changed()

    def _refused(self, now: float) -> None:
        self.refusals += 1
        if self._raised_at is not None and now - self._raised_at < self.per_seconds:
            # The last raise overshot: back to the level that was accepted, held until the next probe.
            self.units = self._before_raise
            self.hold = self.units
            self._probe_at = now + self._probe_windows * self.per_seconds
            self._probe_windows = min(self._probe_windows * 2, self.MAX_PROBE)
        elif self._suspect_at is not None and now - self._suspect_at < self.per_seconds:
            # Refused twice within a window at a level that held: the limit came down.
            self.units = max(self.floor, self._whole(self.units * self.CUT))
            self.hold = None
            self.cuts += 1
            self._suspect_at = now
        else:
            self._suspect_at = now  # once may be the clocks: the refused calls are retried at this level
        self._raised_at = None
        self._proven = 0.0

    def _pace(self) -> float:
        # While climbing, spends go as fast as they are accepted. At a level held, or at the bound, a sliding
        # window would let them bunch at the start of each window, back to back, so that every answer that
        # comes late pushes all later ones back for good; spread out, each late answer is absorbed by the
        # gap before the next spend.
        return self.PACE if self.hold is not None or self.units + self.ramp > self.bound + 1e-9 else 0.0

    @property
    def slowing(self) -> bool:
        with self._lock:
            return self.units > self.floor + 1e-9

    @property
    def known(self) -> float:
        """The level known to be accepted: the one held while a higher one is tried, else the current one
        once anything was accepted at it (what is worth keeping for the next start)."""
        with self._lock:
            if self.hold is not None:
                return self.hold
            if self._raised_at is not None and self._proven <= 0:
                return self._before_raise
            return self.units

    def _whole(self, units: float) -> float:
        """``units`` down to a whole number of full spends."""
        return math.floor(units / self.ramp + 1e-9) * self.ramp

    def _changed(self) -> None:
        """Called (locked) after every settle and raise: subclasses draw conclusions from the new state."""

    def restore(self, units: float) -> None:
        """Start from a rate learned before (bounded), held and tried higher a first time one window from now."""
        with self._lock:
            self.units = max(self.floor, self._whole(min(units, self.bound)))
            self.hold = self.units
            self._probe_at = self.clock() + self.per_seconds

    def rescale(self, factor: float) -> None:
        with self._lock:
            super().rescale(factor)
            self.ramp *= factor
            self.floor *= factor
            self._before_raise *= factor
            self._proven *= factor
            if self.hold is not None:
                self.hold *= factor
            self.units = min(self.units, self.bound)


@dataclasses.dataclass
class RetryPolicy:
    """Truncated exponential backoff with jitter: ``min(cap, base * 2**n) + random() * jitter`` seconds."""

    attempts: int = 8
    base: float = 1.0
    cap: float = 64.0
    jitter: float = 1.0
    max_retry_after: float = 600.0  # a server asking for longer than this is treated as down for now
    rng: Callable[[], float] = random.random

    def delay(self, attempt: int, retry_after: float | None) -> float:
        if retry_after is not None:
            return max(retry_after, 0.0)  # exactly what the server asked for (Graph throttling guidance)
        return min(self.cap, self.base * 2.0**attempt) + self.rng() * self.jitter


class Throttle:
    """One account's budget, backoff policy and concurrency limit; every provider call goes through it."""

    def __init__(
        self,
        budget: RateBudget | None = None,
        policy: RetryPolicy | None = None,
        concurrency: int | None = None,
        sleep: Sleep = time.sleep,
    ) -> None:
        self.budget = budget
        self.policy = policy or RetryPolicy()
        self.sleep = sleep
        self._slots = threading.BoundedSemaphore(concurrency) if concurrency else None
        self.calls = 0  # requests made, retries included
        self.retries = 0

    def call(self, fn: Callable[[], T], *, classify: Classify, units: float = 0, what: str = "request",
             settles: bool = False) -> T:
        """Run ``fn`` within the budget, retrying what ``classify`` calls transient.

        Anything ``classify`` answers None for propagates unchanged (the connector maps it: 404 → deleted,
        410 → resync, invalid_grant → needs login). When the attempts run out the last reason is reported.
        The budget hears what became of the units (:meth:`RateBudget.settle`): an answer counts them as
        accepted, a refusal for the rate as refused; with ``settles`` the caller tells it instead (a batch,
        whose parts are answered one by one). A refusal the budget answers by slowing down is that
        instruction obeyed, not a failed try: only refusals it can no longer slow down for count.
        """
        tries = 0
        while True:
            if self.budget is not None and units:
                self.budget.spend(units)
            try:
                self.calls += 1
                if self._slots is None:
                    result = fn()
                else:
                    with self._slots:
                        result = fn()
                if self.budget is not None and units and not settles:
                    self.budget.settle(units)
                return result
            except Exception as exc:  # classify decides; unknown errors are re-raised
                retry = classify(exc)
                if retry is None:
                    raise
                obeyed = retry.throttled and self.refused(units)
                tries += 0 if obeyed else 1
                if tries >= self.policy.attempts or (retry.after or 0) > self.policy.max_retry_after:
                    raise ConnectorError(
                        f"{what}: the provider kept failing ({retry.why}) after {tries} tries; try again later"
                    ) from exc
                self.retries += 1
                self.sleep(self.policy.delay(max(tries - 1, 0), retry.after))

    def refused(self, units: float) -> bool:
        """Tell the budget the provider refused ``units`` for the rate; True when it slowed down for it (so the
        retry is not a failed try), False when it cannot (a fixed budget, or one at its floor)."""
        if self.budget is None or not units:
            return False
        could = self.budget.slowing
        self.budget.settle(0, units)
        return could



_shared: dict[tuple[object, ...], Throttle] = {}
_shared_lock = threading.Lock()


def shared_throttle(key: tuple[object, ...], make: Callable[[], Throttle]) -> Throttle:
    """The process's one throttle for ``key`` (an account and what the provider counts), made on first use.

    Providers count per user or mailbox, not per client: the sources and the target of an account, and every
    pull of a `syncd run` process, spend from the same window.
    """
    with _shared_lock:
        if key not in _shared:
            _shared[key] = make()
        return _shared[key]


def parse_retry_after(value: str | None) -> float | None:
    """Seconds from a Retry-After header (delta-seconds or an HTTP date); None when absent or unreadable."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    from email.utils import parsedate_to_datetime

    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(when.timestamp() - time.time(), 0.0)
