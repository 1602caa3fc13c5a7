"""Gmail benchmark: quota units per message, speed against the quota, time to the last 90 days, an idle pull.

    .venv/bin/python bench/bench_gmail.py                    # 100,000 messages, 300,000 units/min, 50 ms/request
    .venv/bin/python bench/bench_gmail.py --messages 2000 --quota 600000

The connector runs through google-api-python-client and google-auth against the loopback Gmail fake,
which enforces the quota (new regime costs, docs/gmail.md#quota) and answers every request after ``--latency``.
Google's real per-user limit is 6,000 units/min, i.e. 5 metadata gets a second: a 100,000-message
mailbox then takes about 5.6 hours whatever the client does. To finish in minutes the quota is scaled up
(default 300,000 units/min, 50×) on both sides, the connector's budget and the fake's enforcement.

Figures:
* units per message: the floor is one metadata get plus 1/500 of a list page, 20.01;
* speed as a fraction of the quota-limited maximum: in a sliding window of Q units/min at most
  Q × (floor(T/60) + 1) units fit into T seconds, so U units need at least (ceil(U/Q) - 1) × 60 s; and,
  less step-shaped, the rate sustained after the first minute as a fraction of Q per minute;
* seconds until every message of the last 90 days is stored (the listing is newest first);
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
MARGIN = 0.02


@dataclass
class Figures:
    messages: int
    stored: int
    seconds: float
    units: float
    units_per_message: float
    minimum_seconds: float
    fraction_of_max: float
    sustained_fraction: float | None
    messages_per_second: float
    recent_seconds: float | None
    idle_requests: int
    throttle_retries: int
    quota_refusals: int


def run(messages: int = 100_000, quota: float = 300_000, latency: float = 0.05, years: float = 10.0,
        echo: bool = True) -> Figures:
    sys.path.insert(0, str(ROOT))
    os.environ["no_proxy"] = os.environ["NO_PROXY"] = "127.0.0.1,localhost"
    from connectors.google.gmail import GmailSource
    from connectors.throttle import RateBudget, RetryPolicy, Throttle
    from syncd.store import Store
    from tests.fakes.gmail import start_world

    world = start_world(latency=latency, quota=quota)
    try:
        now = int(datetime.now(UTC).timestamp() * 1000)
        step = years * 365 * DAY_MS / max(messages, 1)
        recent: set[str] = set()
        for i in range(messages):
            when = now - int((i + 0.5) * step)
            other = f"p{i % 997}@example.org"
            if i % 3 == 0:
                gid = world.gmail.add("sam@example.com", [other], when_ms=when, labels=["SENT"])
            else:
                gid = world.gmail.add(f"P <{other}>", ["sam@example.com"], when_ms=when, labels=["INBOX"])
            if when >= now - 90 * DAY_MS:
                recent.add(gid)
        # The client spends before it sends and the fake counts on arrival (after the latency and the parts
        # before it), so the two sliding windows disagree by tens of ms at their edges: a 2% margin keeps the
        # client under the server's count instead of paying refusals and their backoff.
        throttle = Throttle(RateBudget(quota * (1 - MARGIN), 60), RetryPolicy(base=0.05, cap=2.0, jitter=0.05))
        with tempfile.TemporaryDirectory() as tmp:
            store = Store(Path(tmp) / "state.sqlite3")
            store.accounts.ensure("g", "google")

            class Known:
                def known_ids(self, resource: str) -> set[str]:
                    return store.synced.known_ids("g", resource)

            source = GmailSource("g", world.settings, world.slot, throttle=throttle)
            missing = set(recent)
            recent_seconds: float | None = None if missing else 0.0
            started = time.monotonic()
            assert throttle.budget is not None
            at_minute: float | None = None
            for batch in source.pull(store.synced.cursors("g"), Known()):
                store.synced.apply_batch("g", batch)
                if at_minute is None and time.monotonic() - started >= 60:
                    at_minute = throttle.budget.spent_total
                if missing:
                    missing.difference_update(item.provider_id for item in batch.interactions)
                    if not missing:
                        recent_seconds = time.monotonic() - started
            seconds = time.monotonic() - started
            stored = len(store.synced.known_ids("g", "gmail"))
            units = throttle.budget.spent_total
            before = len(world.server.log)
            again = GmailSource("g", world.settings, world.slot, throttle=throttle)
            for batch in again.pull(store.synced.cursors("g"), Known()):
                store.synced.apply_batch("g", batch)
            idle_requests = len(world.server.log) - before
            store.close()
        minimum = (math.ceil(units / quota) - 1) * 60.0
        sustained = None
        if at_minute is not None and seconds > 90:
            sustained = (units - at_minute) / (seconds - 60) / (quota / 60)
        figures = Figures(
            messages=messages, stored=stored, seconds=seconds, units=units,
            units_per_message=units / max(messages, 1), minimum_seconds=minimum,
            fraction_of_max=(minimum / seconds) if seconds and minimum else 1.0, sustained_fraction=sustained,
            messages_per_second=messages / seconds if seconds else 0.0,
            recent_seconds=recent_seconds, idle_requests=idle_requests, throttle_retries=throttle.retries,
            quota_refusals=world.gmail.refused,
        )
    finally:
        world.close()
    if echo:
        print(f"messages                      {figures.messages:,} ({figures.stored:,} stored)")
        print(f"quota                         {quota:,.0f} units/min enforced by the fake (Google's per-user limit is "
              f"6,000; scaled up); the client spends at most {1 - MARGIN:.0%} of it")
        print(f"latency                       {latency * 1000:.0f} ms per request")
        print(f"full sync                     {figures.seconds:.1f} s, {figures.messages_per_second:.0f} messages/s")
        print(f"quota units per message       {figures.units_per_message:.3f} (floor 20.01)")
        print(f"quota-limited minimum         {figures.minimum_seconds:.1f} s "
              f"-> {figures.fraction_of_max:.2f} of the maximum speed (target >= 0.9)")
        if figures.sustained_fraction is not None:
            print(f"sustained after minute 1      {figures.sustained_fraction:.2f} of the quota's rate")
        recent_text = "n/a" if figures.recent_seconds is None else f"{figures.recent_seconds:.1f} s"
        print(f"last 90 days all stored after {recent_text} ({len(recent):,} messages)")
        print(f"idle pull                     {figures.idle_requests} request(s) (target 1)")
        print(f"retries / quota refusals      {figures.throttle_retries} / {figures.quota_refusals}")
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=100_000)
    parser.add_argument("--quota", type=float, default=300_000, help="units per minute (default 300,000)")
    parser.add_argument("--latency", type=float, default=0.05, help="seconds per request (default 0.05)")
    parser.add_argument("--years", type=float, default=10.0, help="the mailbox spans this many years")
    args = parser.parse_args()
    run(args.messages, args.quota, args.latency, args.years)


if __name__ == "__main__":
    main()
