"""Outlook mail through the Graph fake at Outlook's real limits: requests, wall time, memory, and an idle pull.

    .venv/bin/python bench/bench_graph.py [--messages N] [--latency SECONDS] [--no-store]

The fake runs in a child process (so the peak RSS printed is syncd's own: the connector plus the store),
with ~100 ms per request, 4 requests at once per mailbox and 10,000 requests per 10 minutes
(docs/microsoft-graph.md#throttling). The first pull reads every message (the floor is one request per 1,000 messages: Graph's largest
page, docs/microsoft-graph.md#mail); the second pull, with nothing changed, should cost one request per folder.
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import resource
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("no_proxy", "127.0.0.1,localhost")

from connectors.microsoft.mail import OutlookMailSource
from syncd.store import Store

OWNER = "sam@example.com"
TOKEN = "bench-token"
FOLDERS = ("inbox", "sentitems")


def _serve(pipe: Connection, messages: int, latency: float) -> None:
    """The child: a Graph mail fake with the mailbox seeded, answering 'count' and 'stop' over the pipe."""
    from tests.fakes.graph_mail import GraphMailFake
    from tests.fakes.server import FakeServer, Request, Response

    def bearer(request: Request) -> Response | None:
        ok = request.headers.get("authorization") == f"Bearer {TOKEN}"
        return None if ok else Response(401, {"error": {"code": "InvalidAuthenticationToken", "message": "no"}})

    server = FakeServer(latency=latency, max_concurrent=4)
    fake = GraphMailFake(server, owner=OWNER, auth=bearer)  # the real budget: 10,000 per 10 minutes
    start = datetime(2020, 1, 1, tzinfo=UTC)
    for i in range(messages):
        when = start + timedelta(minutes=7 * i)
        peer = f"person{i % 5000}@example.org"
        if i % 3 == 0:  # a third sent, two thirds received: a typical mailbox
            fake.add("sentitems", sender=OWNER, to=[peer], cc=[f"cc{i % 97}@example.net"] if i % 5 == 0 else [],
                     when=when)
        else:
            fake.add("inbox", sender=peer, to=[OWNER], when=when, inference="other" if i % 11 == 0 else "focused")
    pipe.send(server.start())
    while True:
        command = pipe.recv()
        if command == "count":
            with server.lock:
                pipe.send((len(server.log), server.peak_in_flight, fake.throttled))
                server.log.clear()
        else:
            server.stop()
            pipe.send("stopped")
            return


def _pull(source: OutlookMailSource, store: Store | None) -> tuple[int, int, float]:
    cursors = store.synced.cursors("bench") if store is not None else _cursors
    started = time.perf_counter()
    items = batches = 0
    for batch in source.pull(cursors, _NoKnown()):
        batches += 1
        items += len(batch.interactions)
        if store is not None:
            store.synced.apply_batch("bench", batch)
        elif batch.cursor is not None:
            _cursors[batch.resource] = batch.cursor
    return items, batches, time.perf_counter() - started


_cursors: dict[str, str] = {}  # with --no-store, the cursors kept between the two pulls


class _NoKnown:
    """The full pull reports no removals, so the store is never asked which ids a folder holds."""

    def known_ids(self, resource: str) -> set[str]:
        return set()


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=100_000)
    parser.add_argument("--latency", type=float, default=0.1)
    parser.add_argument("--no-store", action="store_true", help="measure the connector alone")
    args = parser.parse_args(argv)

    context = multiprocessing.get_context("fork")
    ours, theirs = context.Pipe()
    seeding = time.perf_counter()
    child = context.Process(target=_serve, args=(theirs, args.messages, args.latency), daemon=True)
    child.start()
    base_url = ours.recv()
    print(f"fake mailbox: {args.messages:,} messages seeded in {time.perf_counter() - seeding:.1f} s, "
          f"{args.latency * 1000:.0f} ms per request, 4 at once, 10,000 requests / 10 min")

    settings = {"graph_endpoint": base_url, "folders": FOLDERS, "rate_limit": 10_000, "concurrency": 4, "me": ()}
    rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    with tempfile.TemporaryDirectory() as tmp:
        store = None if args.no_store else Store(str(Path(tmp) / "bench.db"))
        if store is not None:
            store.accounts.ensure("bench", "microsoft")
        source = OutlookMailSource("bench", settings, None, token=lambda force: TOKEN)
        items, batches, seconds = _pull(source, store)
        ours.send("count")
        requests, peak, throttled = ours.recv()
        rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        floor = -(-args.messages // 1000)
        figures: dict[str, Any] = {
            "messages": args.messages, "interactions": items, "batches": batches, "requests": requests,
            "floor": floor, "seconds": round(seconds, 2), "peak_rss_mb": round(rss / 1024, 1),
            "peak_in_flight": peak, "throttled": throttled,
        }
        print(f"full pull:  {items:,} interactions in {batches} batches, {requests} requests "
              f"(floor: {floor}, one per 1,000 messages; plus /me and each folder's last page), {seconds:.1f} s wall, "
              f"{items / max(seconds, 1e-9):,.0f} messages/s")
        print(f"            peak RSS {rss / 1024:.1f} MB (before the pull {rss_before / 1024:.1f} MB), "
              f"peak in flight {peak}, 429s {throttled}{'' if store is None else ', into a SQLite store'}")

        source = OutlookMailSource("bench", settings, None, token=lambda force: TOKEN)
        items, batches, seconds = _pull(source, store)
        ours.send("count")
        idle_requests, _, _ = ours.recv()
        figures.update(idle_requests=idle_requests, idle_seconds=round(seconds, 3), idle_items=items)
        print(f"idle pull:  {idle_requests} requests for {len(FOLDERS)} folders (target: one per folder), "
              f"{items} interactions, {seconds:.2f} s")
        if store is not None:
            store.close()
    ours.send("stop")
    ours.recv()
    child.join(5)
    return figures


if __name__ == "__main__":
    main()
