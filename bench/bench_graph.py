"""Outlook through the Graph fakes at Outlook's real limits: a first pull (mail, meetings, follow-ups), then a pull
with nothing changed; requests, wall time, memory.

    .venv/bin/python bench/bench_graph.py [--messages N] [--followups 30,300] [--latency SECONDS] [--no-store]
                                          [--page-cap N]

The fakes (mail, calendar, JSON batching) run in a child process on one loopback server, so the peak RSS
printed is syncd's own, with ~100 ms per request, 4 requests at once per mailbox and 10,000 requests per 10
minutes (docs/microsoft-graph.md#throttling). Figures:

* mail: the first pull reads every message (the floor is one request per 1,000 messages: Graph's largest
  page); the second pull, with nothing changed, one request per folder;
* follow-ups: each count is written by a first pull into a follow-ups calendar that does not exist yet
  (looked for, created, then written in JSON batches of up to 20); the target is at most one request per
  10 follow-ups for the writes themselves, the calendar's lookup and creation beside them;
* a pull with nothing changed, of the whole account (mail folders, meetings, the follow-ups listed): at most 5.
  ``--page-cap N`` has the fake serve at most N follow-ups a page, whatever syncd asks for (Graph documents no
  maximum for events: docs/microsoft-graph.md#listing-follow-ups), to see what a smaller page would cost.
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import resource
import sys
import tempfile
import time
from collections import Counter
from datetime import UTC, datetime, timedelta
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("no_proxy", "127.0.0.1,localhost")

from connectors.base import Source
from connectors.microsoft.calendar import OutlookCalendarSource
from connectors.microsoft.calendar_target import PAGE_SIZE, OutlookCalendarTarget
from connectors.microsoft.mail import OutlookMailSource
from syncd.config import FollowupsConfig
from syncd.engine.due import DueFollowup
from syncd.plan.reconcile import reconcile
from syncd.store import Store

OWNER = "sam@example.com"
TOKEN = "bench-token"
FOLDERS = ("inbox", "sentitems")
NOW = datetime.now(UTC)


def _serve(pipe: Connection, messages: int, latency: float, page_cap: int | None) -> None:
    """The child: Graph mail and calendar fakes on one server, seeded, answering 'count' and 'stop' over the pipe."""
    from tests.fakes.graph_batch import PART
    from tests.fakes.graph_calendar import GraphCalendarFake
    from tests.fakes.graph_mail import GraphMailFake
    from tests.fakes.server import FakeServer

    server = FakeServer(latency=latency, max_concurrent=4)
    calendar = GraphCalendarFake(server, owner=OWNER)
    calendar.bearer_guard(TOKEN)
    calendar.max_page = page_cap
    mail = GraphMailFake(server, owner=OWNER)  # the real budget: 10,000 per 10 minutes
    start = datetime(2020, 1, 1, tzinfo=UTC)
    for i in range(messages):
        when = start + timedelta(minutes=7 * i)
        peer = f"person{i % 5000}@example.org"
        if i % 3 == 0:  # a third sent, two thirds received: a typical mailbox
            mail.add("sentitems", sender=OWNER, to=[peer], cc=[f"cc{i % 97}@example.net"] if i % 5 == 0 else [],
                     when=when)
        else:
            mail.add("inbox", sender=peer, to=[OWNER], when=when, inference="other" if i % 11 == 0 else "focused")
    for i in range(200):  # a year of meetings
        calendar.add_meeting(f"Meeting {i}", NOW - timedelta(days=i * 2), attendees=[(f"person{i}@example.org", "accepted")])
    pipe.send(server.start())
    while True:
        command = pipe.recv()
        if command == "count":
            with server.lock:  # HTTP requests only: a JSON batch's own requests are logged as parts of it
                made = [f"{r.method} {_shape(r.path)}" for r in server.log if PART not in r.headers]
                pipe.send((made, server.peak_in_flight, mail.throttled))
                server.log.clear()
        else:
            server.stop()
            pipe.send("stopped")
            return


def _shape(path: str) -> str:
    """A request's path without ids: what kind of request it was."""
    parts = path.removeprefix("/v1.0/").split("/")
    return "/".join("{id}" if part.startswith("AAMk") else part for part in parts)


class _Known:
    def __init__(self, store: Store | None) -> None:
        self.store = store

    def known_ids(self, resource: str) -> set[str]:
        return self.store.synced.known_ids("bench", resource) if self.store is not None else set()


_cursors: dict[str, str] = {}  # with --no-store, the cursors kept between pulls


def _pull(source: Source, store: Store | None) -> tuple[int, float]:
    cursors = store.synced.cursors("bench") if store is not None else dict(_cursors)
    started = time.perf_counter()
    items = 0
    for batch in source.pull(cursors, _Known(store)):
        items += len(batch.interactions)
        if store is not None:
            store.synced.apply_batch("bench", batch)
        elif batch.cursor is not None:
            _cursors[batch.resource] = batch.cursor
    return items, time.perf_counter() - started


def _wanted(count: int) -> list[DueFollowup]:
    """``count`` people due (overdue by up to 40 days), different people for each count."""
    today = NOW.date()
    return [DueFollowup(f"p{count}-{n}@example.org", f"Person {n}", "cycle", "c1", today - timedelta(days=n % 40), 30,
                        1, f"Last contact: {(today - timedelta(days=30 + n % 40)).isoformat()}")
            for n in range(count)]


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=100_000)
    parser.add_argument("--followups", default="30,300", help="follow-up counts to write, comma-separated")
    parser.add_argument("--latency", type=float, default=0.1)
    parser.add_argument("--no-store", action="store_true", help="measure the mail connector without a store")
    parser.add_argument("--page-cap", type=int, default=None, help="the most follow-ups the fake serves a page")
    args = parser.parse_args(argv)
    counts = [int(n) for n in args.followups.split(",") if n.strip()]

    context = multiprocessing.get_context("fork")
    ours, theirs = context.Pipe()
    seeding = time.perf_counter()
    child = context.Process(target=_serve, args=(theirs, args.messages, args.latency, args.page_cap), daemon=True)
    child.start()
    base_url = ours.recv()
    print(f"fake mailbox: {args.messages:,} messages seeded in {time.perf_counter() - seeding:.1f} s, "
          f"{args.latency * 1000:.0f} ms per request, 4 at once, 10,000 requests / 10 min")

    def count() -> tuple[list[str], int, int]:
        ours.send("count")
        made, peak, throttled = ours.recv()
        return made, peak, throttled

    settings: dict[str, Any] = {
        "graph_endpoint": base_url, "folders": FOLDERS, "rate_limit": 10_000, "concurrency": 4, "me": (OWNER,),
        "window_past": timedelta(days=365), "window_future": timedelta(days=180), "followups_calendar_id": None,
    }
    token = {"token": lambda force: TOKEN}
    figures: dict[str, Any] = {"messages": args.messages}
    rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    with tempfile.TemporaryDirectory() as tmp:
        store = Store(str(Path(tmp) / "bench.db"))
        store.accounts.ensure("bench", "microsoft")
        mail_store = None if args.no_store else store
        items, seconds = _pull(OutlookMailSource("bench", settings, None, **token), mail_store)
        made, peak, throttled = count()
        rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        floor = -(-args.messages // 1000)
        figures.update(mail_requests=len(made), mail_seconds=round(seconds, 2), peak_rss_mb=round(rss / 1024, 1),
                       peak_in_flight=peak, throttled=throttled)
        print(f"mail, first pull:      {items:,} interactions, {len(made)} requests (floor {floor}: one per 1,000 "
              f"messages; plus /me and each folder's last page), {seconds:.1f} s, {items / max(seconds, 1e-9):,.0f} "
              f"messages/s; peak RSS {rss / 1024:.1f} MB (before {rss_before / 1024:.1f} MB), peak in flight {peak}, "
              f"429s {throttled}")
        meetings, seconds = _pull(OutlookCalendarSource("bench", settings, None, **token), store)
        made, _, _ = count()
        print(f"meetings, first pull:  {meetings} interactions, {len(made)} requests, {seconds:.2f} s")

        cfg = FollowupsConfig(target="bench", per_day=1000, horizon=timedelta(days=14))
        for wanted in counts:
            target = OutlookCalendarTarget("bench", {**settings, "calendar_name": f"Follow-ups {wanted}"}, None, **token)
            started = time.perf_counter()
            result = reconcile(_wanted(wanted), store, target, NOW, cfg)
            seconds = time.perf_counter() - started
            made, _, _ = count()
            writes = Counter(made)["POST $batch"]
            figures[f"followups_{wanted}"] = {"requests": len(made), "writes": writes, "seconds": round(seconds, 2)}
            others = ", ".join(sorted(set(made) - {"POST $batch"}))
            print(f"{wanted:>4} follow-ups:      {result.created} created with {len(made)} requests: {writes} JSON "
                  f"batches for the writes ({writes / max(wanted, 1) * 10:.2f} per 10 follow-ups; target <= 1), "
                  f"{len(made) - writes} to find and create the calendar ({others}); {seconds:.1f} s")

        # Nothing changed: the whole account pulled again, and the follow-ups reconciled against each calendar.
        started = time.perf_counter()
        _pull(OutlookMailSource("bench", settings, None, **token), mail_store)
        _pull(OutlookCalendarSource("bench", settings, None, **token), store)
        sources, _, _ = count()
        print(f"nothing changed:       {len(sources)} requests for the mail folders and the meetings "
              f"({', '.join(sources)}); {time.perf_counter() - started:.2f} s")
        for wanted in counts:
            target = OutlookCalendarTarget("bench", {**settings, "calendar_name": f"Follow-ups {wanted}"}, None, **token)
            quiet = reconcile(_wanted(wanted), store, target, NOW, cfg)
            assert (quiet.created, quiet.updated, quiet.deleted) == (0, 0, 0), quiet.describe()
            made, _, _ = count()
            figures[f"idle_requests_{wanted}"] = len(sources) + len(made)
            print(f"  with {wanted:>3} follow-ups:  {len(sources) + len(made)} requests in all (target <= 5): "
                  f"+ {', '.join(made)} (one listing page per {min(PAGE_SIZE, args.page_cap or PAGE_SIZE)} follow-ups)")
        store.close()
    ours.send("stop")
    ours.recv()
    child.join(5)
    return figures


if __name__ == "__main__":
    main()
