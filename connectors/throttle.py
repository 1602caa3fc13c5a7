"""The one place for rate budgets, retries and backoff, shared by every HTTP connector.

A connector wraps each provider call in :meth:`Throttle.call`: the call's quota cost is spent from the account's
:class:`RateBudget` first (waiting when the window is full), at most ``concurrency`` calls run at once, and a
failure the connector's ``classify`` calls transient is retried with exponential backoff and jitter, or after
exactly the server's ``Retry-After``. Why not the client libraries' own retries: google-api-python-client's
``execute(num_retries=N)`` ignores Retry-After and defaults to no retries, and Graph's 429s must be waited out for
exactly the time they name (docs/gmail.md#quota, docs/microsoft-graph.md#throttling,
docs/gmail.md#client-library-retries).
"""

from __future__ import annotations

import collections
import dataclasses
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
    """What ``classify`` answers for a transient failure: why (for the message), and the server's wait."""

    why: str
    after: float | None = None  # seconds, from Retry-After; None: back off exponentially


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
        self._lock = threading.Lock()

    def spend(self, units: float) -> None:
        """Wait until ``units`` fit into the window, then take them. More than a whole window waits for an empty one."""
        units = min(units, self.units)
        while True:
            with self._lock:
                now = self.clock()
                while self._log and self._log[0][0] <= now - self.per_seconds:
                    self._in_window -= self._log.popleft()[1]
                if self._in_window + units <= self.units + 1e-9:
                    self._log.append((now, units))
                    self._in_window += units
                    self.spent_total += units
                    return
                # The oldest spends that must leave the window before this one fits.
                need = self._in_window + units - self.units
                freed, until = 0.0, now
                for at, amount in self._log:
                    freed += amount
                    until = at + self.per_seconds
                    if freed >= need - 1e-9:
                        break
                # Never more than one window: ``(at + window) - now`` can come out one rounding step
                # above the window in floating point (t + 60 - t == 60.00000000000001 for some t).
                wait = min(max(until - now, 0.001), self.per_seconds)
            self.waited += wait
            self.sleep(wait)


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

    def call(self, fn: Callable[[], T], *, classify: Classify, units: float = 0, what: str = "request") -> T:
        """Run ``fn`` within the budget, retrying what ``classify`` calls transient.

        Anything ``classify`` answers None for propagates unchanged (the connector maps it: 404 → deleted,
        410 → resync, invalid_grant → needs login). When the attempts run out the last reason is reported.
        """
        for attempt in range(self.policy.attempts):
            if self.budget is not None and units:
                self.budget.spend(units)
            try:
                self.calls += 1
                if self._slots is None:
                    return fn()
                with self._slots:
                    return fn()
            except Exception as exc:  # classify decides; unknown errors are re-raised
                retry = classify(exc)
                if retry is None:
                    raise
                if attempt + 1 >= self.policy.attempts or (retry.after or 0) > self.policy.max_retry_after:
                    raise ConnectorError(
                        f"{what}: the provider kept failing ({retry.why}) after {attempt + 1} tries; try again later"
                    ) from exc
                self.retries += 1
                self.sleep(self.policy.delay(attempt, retry.after))
        raise AssertionError("unreachable")  # pragma: no cover - the loop returns or raises


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
