"""CalDAV benchmark on Radicale and Xandikos (loopback): HTTP requests per follow-up written, and what reading
meetings costs, first and with nothing new.

    .venv/bin/python bench/bench_caldav.py                     # 200 follow-ups, 2 calendars of 500 meetings
    .venv/bin/python bench/bench_caldav.py --followups 50 --meetings 100

Figures (HTTP requests as answered, authentication challenges included; each run twice):
* follow-ups: one reconcile creating N (the follow-ups calendar made on the way), then one with nothing to
  change (requests; target: finding the calendar and listing it, nothing written), then one refreshing every
  text (requests per follow-up; target 1, a conditional PUT each);
* meetings: a first pull of two calendars (requests, seconds), and a pull with nothing new (target: one
  request per calendar at most; syncd lists the calendar home once for all of them).
"""

from __future__ import annotations

import argparse
import sys
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def _meetings(count: int, prefix: str) -> list[str]:
    start = datetime(2025, 1, 6, 9, tzinfo=UTC)
    out = []
    for n in range(count):
        when = start + timedelta(days=n % 400, hours=n % 8)
        rule = "RRULE:FREQ=WEEKLY;COUNT=10\r\n" if n % 10 == 0 else ""
        out.append(f"BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//bench//EN\r\nBEGIN:VEVENT\r\nUID:{prefix}-{n}\r\n"
                   f"DTSTAMP:20250101T000000Z\r\nDTSTART:{when:%Y%m%dT%H%M%SZ}\r\nDURATION:PT30M\r\n"
                   f"SUMMARY:Meeting {n}\r\n{rule}ORGANIZER:mailto:me@example.com\r\n"
                   f"ATTENDEE;PARTSTAT=ACCEPTED:mailto:me@example.com\r\n"
                   f"ATTENDEE;PARTSTAT=ACCEPTED:mailto:person{n % 300}@example.org\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n")
    return out


def followups(account: Any, count: int, run: int) -> None:
    from connectors.caldav.target import CalDavTarget
    from syncd.config import FollowupsConfig
    from syncd.engine.due import DueFollowup
    from syncd.plan.reconcile import reconcile
    from syncd.store import Store

    cfg = FollowupsConfig(timezone=UTC, per_day=count, horizon=timedelta(days=14))
    now = datetime(2026, 3, 2, 7, tzinfo=UTC)

    def wanted(note: str) -> list[DueFollowup]:
        return [DueFollowup(f"p{n}-{run}@example.org", f"Person {n}", "cycle", "c1", date(2026, 3, 2), 30, 1, note)
                for n in range(count)]

    store = Store(":memory:")
    settings = account.settings(calendar_name=f"Follow-ups {run}")

    def once(note: str) -> tuple[int, float, Any]:
        target = CalDavTarget("acct", settings, account.slot)
        started = time.perf_counter()
        result = reconcile(wanted(note), store, target, now, cfg)
        return target.account.requests, time.perf_counter() - started, result

    requests, seconds, result = once("first")
    print(f"  run {run}: {result.created} follow-ups created with {requests} requests in {seconds:.1f} s "
          f"({requests / max(result.created, 1):.2f} a follow-up, the calendar made and found on the way)")
    idle, seconds, result = once("first")
    print(f"  run {run}: nothing to change: {idle} requests ({result.created + result.updated} writes)")
    requests, seconds, result = once("refreshed")
    print(f"  run {run}: {result.updated} texts refreshed with {requests} requests "
          f"({(requests - idle) / max(result.updated, 1):.2f} a follow-up beyond finding and listing the calendar)")


def meetings(account: Any, count: int, run: int) -> None:
    from connectors.caldav.source import CalDavSource
    from syncd.store import Store
    from tests.fakes.known import pull_into

    names = [f"Work {run}", f"Home {run}"]
    for name in names:
        calendar = account.calendar(name)
        for data in _meetings(count, name.replace(" ", "")):
            calendar.save_event(data)
    store = Store(":memory:")
    store.accounts.ensure("acct", "caldav")
    settings = account.settings(calendars=tuple(names), me=("me@example.com",), now=datetime(2026, 3, 2, tzinfo=UTC))
    first = CalDavSource("acct", settings, account.slot)
    started = time.perf_counter()
    pull_into(store, first)
    seconds = time.perf_counter() - started
    print(f"  run {run}: first pull of 2 calendars ({2 * count} meetings, {store.count('sightings')} occurrences): "
          f"{first.account.requests} requests in {seconds:.1f} s")
    idle = CalDavSource("acct", settings, account.slot)
    assert pull_into(store, idle) == []
    print(f"  run {run}: nothing new: {idle.account.requests} request(s) for 2 calendars")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--followups", type=int, default=200)
    parser.add_argument("--meetings", type=int, default=500)
    parser.add_argument("--servers", default="Radicale,Xandikos")
    args = parser.parse_args()
    from tests.servers import dav
    from tests.servers.radicale import Radicale
    from tests.servers.xandikos import Xandikos

    for kind in args.servers.split(","):
        print(kind)
        for run in (1, 2):  # a fresh server each run: Xandikos has one principal, so one follow-ups calendar
            server = Radicale().start() if kind == "Radicale" else Xandikos().start()
            try:
                account = dav.radicale_account(server) if kind == "Radicale" else dav.xandikos_account(server)
                followups(account, args.followups, run)
                meetings(account, args.meetings, run)
            finally:
                server.stop()


if __name__ == "__main__":
    main()
