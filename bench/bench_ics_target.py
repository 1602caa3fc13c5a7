"""A follow-ups .ics that also holds the user's own calendar: what one run costs to read and rewrite it.

    .venv/bin/python bench/bench_ics_target.py --events 40000 --followups 300

Writes an .ics of ``--events`` foreign events (with a VTIMEZONE, recurring ones, alarms, attendees, as
an exported calendar has) plus ``--followups`` of syncd's own, then does what a pull does to its target:
``list_own``, change a few follow-ups (create, update, delete), ``commit``. Prints seconds per phase and
the peak memory; the target (issue 11) is under 5 s for the whole run at 40,000 events. The foreign
events must come out byte for byte.
"""

from __future__ import annotations

import argparse
import resource
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from connectors.base import FollowupEvent
from connectors.local.ics_target import IcsFileTarget

START = datetime(2026, 3, 2, 9, 30, tzinfo=UTC)
TIMEZONE = """BEGIN:VTIMEZONE\r
TZID:Europe/Berlin\r
BEGIN:DAYLIGHT\r
DTSTART:19700329T020000\r
RRULE:FREQ=YEARLY;BYMONTH=3;BYDAY=-1SU\r
TZOFFSETFROM:+0100\r
TZOFFSETTO:+0200\r
END:DAYLIGHT\r
BEGIN:STANDARD\r
DTSTART:19701025T030000\r
RRULE:FREQ=YEARLY;BYMONTH=10;BYDAY=-1SU\r
TZOFFSETFROM:+0200\r
TZOFFSETTO:+0100\r
END:STANDARD\r
END:VTIMEZONE\r
"""


def foreign(n: int) -> str:
    day = datetime(2020, 1, 1) + timedelta(hours=7 * n)
    rule = "RRULE:FREQ=WEEKLY;COUNT=10\r\n" if n % 50 == 0 else ""
    return (
        f"BEGIN:VEVENT\r\nUID:{n:08d}-own@example.org\r\nDTSTAMP:20250101T000000Z\r\n"
        f"DTSTART;TZID=Europe/Berlin:{day:%Y%m%dT%H%M%S}\r\nDTEND;TZID=Europe/Berlin:{day:%Y%m%dT%H}5900\r\n"
        f"{rule}SUMMARY:Project meeting {n} with a longer title as calendars have them\r\n"
        f"DESCRIPTION:Agenda: item one\\, item two\\; notes follow. Dial-in: +49 30 1234567 PIN {n}\r\n"
        f"LOCATION:Room {n % 40}\r\nORGANIZER;CN=Ann Berg:mailto:ann@example.org\r\n"
        f"ATTENDEE;CN=Bo Chen;PARTSTAT=ACCEPTED:mailto:bo{n % 300}@example.org\r\n"
        f"BEGIN:VALARM\r\nACTION:DISPLAY\r\nDESCRIPTION:Reminder\r\nTRIGGER:-PT15M\r\nEND:VALARM\r\nEND:VEVENT\r\n"
    )


def followup(n: int, title: str = "Reach out to someone") -> FollowupEvent:
    start = START + timedelta(days=n % 14, minutes=n)
    return FollowupEvent(f"k{n}", f"p{n}@example.org", start, 15, f"{title} {n}", "Last contact: 2026-01-05", 0, start)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--events", type=int, default=40_000)
    parser.add_argument("--followups", type=int, default=300)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="syncd-ics-target-") as tmp:
        path = Path(tmp) / "followups.ics"
        seed = IcsFileTarget("ics", {"path": path})
        for n in range(args.followups):
            seed.create(followup(n))
        seed.commit()
        text = path.read_bytes().decode()
        body = TIMEZONE + "".join(foreign(n) for n in range(args.events))
        at = text.index("BEGIN:VEVENT")
        path.write_bytes((text[:at] + body + text[at:]).encode())
        print(f"{path.stat().st_size / 1e6:.1f} MB, {args.events:,} foreign events, {args.followups} follow-ups")

        began = time.perf_counter()
        target = IcsFileTarget("ics", {"path": path})
        own = target.list_own()
        listed = time.perf_counter()
        target.create(followup(args.followups + 1))
        target.update(followup(1, "Call"))
        target.delete("k2")
        target.commit()
        done = time.perf_counter()
        after = path.read_bytes().decode()
        kept = all(foreign(n) in after for n in range(0, args.events, max(1, args.events // 500)))
        print(f"list_own: {listed - began:.2f} s ({len(own)} follow-ups)")
        print(f"commit:   {done - listed:.2f} s")
        print(f"run:      {done - began:.2f} s (target < 5 s at 40,000 events)")
        print(f"peak RSS: {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MB; foreign events intact: {kept}")


if __name__ == "__main__":
    main()
