"""Gmail benchmark: a first pull at the account's real quota, learned with no configuration, in either regime.

    .venv/bin/python bench/bench_gmail.py --regime legacy   # 15,000 units/min, 5 a get (older projects)
    .venv/bin/python bench/bench_gmail.py --regime 2026     # 6,000 units/min, 20 a get (new projects)
    .venv/bin/python bench/bench_gmail.py --regime 2026 --messages 5000 --scale 40

The connector runs through google-api-python-client and google-auth against the loopback Gmail fake, which
enforces the regime's per-user quota in a moving window and answers 403 userRateLimitExceeded as Google
does (docs/gmail.md#quota-regimes). The client is built exactly as syncd builds it (default
``gmail_quota``, the same learning budget starting at the safe 2026 rate): it is not told the regime.

Time is scaled, not the quota: Google's minute becomes ``60 / scale`` seconds on both sides (the fake's
window and the client's), and so do the retry policy's delays; units, costs, batch sizes and the learning
rules are untouched. One benchmark second is then ``scale`` seconds of a real pull, and every figure but
the wall time is what a real pull would show. The default scale puts both regimes at the same 100 gets a
second (legacy x2, 2026 x20), which this machine sustains; what does not scale is the fake's ``--latency``
per request, so the scaled run is harsher than life (50 ms of latency is 1 s at x20).

Figures:
* fraction of the ceiling over the whole sync: U units accepted need at least (ceil(U/Q) - 1) windows
  in a moving window of Q units (the first window's Q can go at once), divided by the time taken;
* refused: calls (batch parts included) the fake refused for the rate, as a share of all calls;
* the learned rate and regime at the end, and the units per message at the regime's costs;
* a second pull with nothing changed: requests made (target 1: one history.list).
"""

from __future__ import annotations

import argparse
import math
import os
import sys
import tempfile
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DAY_MS = 86_400_000
REGIME_NAMES = {"legacy": "legacy", "2026": "2026"}
DEFAULT_SCALE = {"legacy": 2.0, "2026": 20.0}  # both at 100 gets a second


@dataclass
class Figures:
    regime: str
    messages: int
    stored: int
    scale: float
    seconds: float
    units: float
    quota: float
    minimum_seconds: float
    fraction: float
    calls: int
    refused: int
    refused_share: float
    learned_rate: float
    learned_regime: str
    units_per_message: float
    idle_requests: int


def run(regime: str = "legacy", messages: int = 100_000, scale: float | None = None, latency: float = 0.05,
        years: float = 10.0, echo: bool = True) -> Figures:
    sys.path.insert(0, str(ROOT))
    os.environ["no_proxy"] = os.environ["NO_PROXY"] = "127.0.0.1,localhost"
    from connectors.google.gmail import GmailSource
    from connectors.google.gmail_client import BATCH_LIMIT
    from connectors.google.gmail_quota import HIGHEST, WINDOW, GmailBudget, gmail_throttle
    from connectors.throttle import RetryPolicy
    from syncd.store import Store
    from tests.fakes.gmail import REGIMES, start_world
    from tests.fakes.known import StoreKnown

    scale = scale or DEFAULT_SCALE[regime]
    window = WINDOW / scale
    quota = REGIMES[regime][0]
    world = start_world(latency=latency, quota=quota, regime=regime, window=window)
    try:
        now = int(datetime.now(UTC).timestamp() * 1000)
        step = years * 365 * DAY_MS / max(messages, 1)
        for i in range(messages):
            when = now - int((i + 0.5) * step)
            other = f"p{i % 997}@example.org"
            if i % 3 == 0:
                world.gmail.add("sam@example.com", [other], when_ms=when, labels=["SENT"])
            else:
                world.gmail.add(f"P <{other}>", ["sam@example.com"], when_ms=when, labels=["INBOX"])
        # The retry policy's delays shrink with the window: a 1 s backoff is 1/60 of Google's minute.
        policy = RetryPolicy(base=1.0 / scale, cap=64.0 / scale, jitter=1.0 / scale, max_retry_after=600.0 / scale)
        throttle = gmail_throttle(HIGHEST, window=window, batch=BATCH_LIMIT, policy=policy)
        budget = throttle.budget
        assert isinstance(budget, GmailBudget)
        settings = {**world.settings, "gmail_quota": HIGHEST}
        with tempfile.TemporaryDirectory() as tmp:
            store = Store(Path(tmp) / "state.sqlite3")
            store.accounts.ensure("g", "google")
            known = StoreKnown(store, "g")
            source = GmailSource("g", settings, world.slot, throttle=throttle)
            started = time.monotonic()
            for batch in source.pull(store.synced.cursors("g"), known):
                store.synced.apply_batch("g", batch)
            seconds = time.monotonic() - started
            stored = len(store.synced.known_ids("g", "gmail"))
            units, calls, refused = world.gmail.accepted_units, world.gmail.accepted_calls, world.gmail.refused
            learned = store.rates.get("g", "gmail", str(settings["gmail_endpoint"])) or (0.0, "none")
            before = len(world.server.log)
            again = GmailSource("g", settings, world.slot, throttle=throttle)
            for batch in again.pull(store.synced.cursors("g"), known):
                store.synced.apply_batch("g", batch)
            idle_requests = len(world.server.log) - before
            store.close()
        minimum = (math.ceil(units / quota) - 1) * window
        figures = Figures(
            regime=regime, messages=messages, stored=stored, scale=scale, seconds=seconds, units=units, quota=quota,
            minimum_seconds=minimum, fraction=(minimum / seconds) if seconds and minimum else 1.0,
            calls=calls + refused, refused=refused, refused_share=refused / max(calls + refused, 1),
            learned_rate=learned[0], learned_regime=learned[1], units_per_message=units / max(messages, 1),
            idle_requests=idle_requests,
        )
    finally:
        world.close()
    if echo:
        cost = REGIMES[regime][1]["messages.get"]
        print(f"regime                    {regime}: {quota:,} units a minute per user, {cost} units a get "
              f"(the client is not told)")
        print(f"time scale                x{scale:g}: Google's minute is {window:.2f} s here; "
              f"{latency * 1000:.0f} ms latency per request (not scaled)")
        print(f"messages                  {messages:,} ({stored:,} stored), {units:,.0f} units accepted "
              f"({figures.units_per_message:.2f} a message)")
        print(f"full sync                 {seconds:.1f} s here = {seconds * scale / 60:.1f} min real; "
              f"the quota allows {minimum:.1f} s here = {minimum * scale / 60:.1f} min real")
        print(f"fraction of the ceiling   {figures.fraction:.3f} (target >= 0.9)")
        print(f"refused for the rate      {refused:,} of {figures.calls:,} calls = {figures.refused_share:.2%} "
              f"(target <= 1 %)")
        print(f"learned                   {figures.learned_rate:,.0f} units a minute, regime {figures.learned_regime}")
        print(f"idle pull                 {idle_requests} request(s) (target 1)")
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--regime", choices=sorted(REGIME_NAMES), default="legacy")
    parser.add_argument("--messages", type=int, default=100_000)
    parser.add_argument("--scale", type=float, default=None,
                        help="how much faster than life time runs (default: legacy 2, 2026 20)")
    parser.add_argument("--latency", type=float, default=0.05, help="seconds per request (default 0.05)")
    parser.add_argument("--years", type=float, default=10.0, help="the mailbox spans this many years")
    args = parser.parse_args()
    run(args.regime, args.messages, args.scale, args.latency, args.years)


if __name__ == "__main__":
    main()
