"""Calendar exports (.ics: Google, Outlook, Apple, Thunderbird) as a source of meetings.

RESOURCE = one .ics file (relative to the account path). PROVIDER ID = ``UID`` for a single event,
``UID/RECURRENCE-ID`` (UTC) for an occurrence of a recurring one. Recurring events are expanded over
the window [now - window_past, now + window_future] with recurring-ical-events (RRULE, RDATE, EXDATE,
RECURRENCE-ID overrides, RFC 5545 §3.8.5), so the engine also sees future occurrences: that is how a
series that still runs is told from one that ended.

CURSOR = the file's size and mtime. An unchanged file is not opened; a changed one is read whole as a
FULL SYNC of its resource (an export has no change log), so occurrences that disappeared are removed.
Each series is expanded on its own, so one broken event (a bad RRULE, a date that does not parse) is
skipped and named while the rest of the file is read.
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Iterator, Mapping
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import icalendar
import recurring_ical_events
import x_wr_timezone

from connectors.base import Batch, Interaction, KnownIds, Participant, Response, Skip, Source, SourceUnavailable

FOLLOWUP_TAG = "X-SYNCD-KEY"  # syncd's own follow-ups carry it; they are never read as meetings
PARTSTATS: dict[str, Response] = {
    "ACCEPTED": "accepted", "DECLINED": "declined", "TENTATIVE": "tentative",
    "NEEDS-ACTION": "needs-action", "DELEGATED": "delegated",
}
BATCH_SIZE = 2000


def _utc(value: date | datetime) -> tuple[datetime, bool]:
    """A DTSTART/DTEND value in UTC, and whether it was an all-day DATE.

    A floating time (no TZID, RFC 5545 §3.3.5 form #1) is taken as UTC: an export gives no better hint.
    An all-day date counts from 00:00 UTC of that day.
    """
    if isinstance(value, datetime):
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC), False
        return value.astimezone(UTC), False
    return datetime(value.year, value.month, value.day, tzinfo=UTC), True


def _address(value: object) -> str:
    text = str(value).strip()
    return text[7:] if text.lower().startswith("mailto:") else text


class IcsSource(Source):
    provider = "ics"

    def __init__(self, name: str, settings: Mapping[str, Any]) -> None:
        super().__init__(name, settings)
        self.root = Path(settings["path"])
        self.me = {str(a).lower() for a in settings.get("me") or ()}
        now = settings.get("now") or datetime.now(UTC)
        self.window = (
            now - (settings.get("window_past") or timedelta(days=5 * 365)),
            now + (settings.get("window_future") or timedelta(days=365)),
        )

    def _files(self) -> list[tuple[str, Path]]:
        if self.root.is_file():
            return [(self.root.name, self.root)]
        return [(p.relative_to(self.root).as_posix(), p) for p in sorted(self.root.rglob("*.ics")) if p.is_file()]

    def pull(self, cursors: Mapping[str, str], known: KnownIds) -> Iterator[Batch]:
        if not self.root.exists():
            raise SourceUnavailable(f"accounts.{self.name}.path: {self.root} does not exist")
        files = self._files()
        for resource, path in files:
            try:
                stat = path.stat()
            except OSError as exc:
                yield Batch(resource, cursors.get(resource), skipped=[Skip(resource, f"unreadable file: {exc}")])
                continue
            cursor = json.dumps({"size": stat.st_size, "mtime_ns": stat.st_mtime_ns})
            if cursors.get(resource) == cursor:
                continue
            yield from self._pull_file(resource, path, cursor, cursors.get(resource))
        for resource in sorted(set(cursors) - {r for r, _ in files}):
            yield Batch(resource, None, full=True, complete=True)  # the file is gone: so are its events

    def _pull_file(self, resource: str, path: Path, cursor: str, previous: str | None) -> Iterator[Batch]:
        try:
            calendar = icalendar.Calendar.from_ical(path.read_bytes())
        except OSError as exc:
            yield Batch(resource, previous, skipped=[Skip(resource, f"unreadable file: {exc.strerror or exc}")])
            return
        except Exception as exc:  # icalendar raises ValueError and friends on broken files
            yield Batch(resource, previous, skipped=[Skip(resource, f"not a valid .ics file: {exc}")])
            return
        if isinstance(calendar, list):  # several VCALENDARs concatenated in one file
            calendar = calendar[0]
        try:
            # Google exports name their zone in X-WR-TIMEZONE and write UTC times: make them standard.
            calendar = x_wr_timezone.to_standard(calendar)
        except Exception as exc:
            yield Batch(resource, previous, skipped=[Skip(resource, f"not a valid .ics file: {exc}")])
            return
        batch = Batch(resource, None, full=True)
        for interaction_or_skip in self._occurrences(calendar):
            if isinstance(interaction_or_skip, Skip):
                batch.skipped.append(interaction_or_skip)
            else:
                batch.interactions.append(interaction_or_skip)
            if len(batch.interactions) >= BATCH_SIZE:
                yield batch
                batch = Batch(resource, None, full=True)
        batch.cursor, batch.complete = cursor, True
        yield batch

    def _occurrences(self, calendar: icalendar.Calendar) -> Iterator[Interaction | Skip]:
        timezones = [c for c in calendar.walk("VTIMEZONE")]
        series: dict[str, list[icalendar.cal.Component]] = defaultdict(list)
        for event in calendar.walk("VEVENT"):
            if FOLLOWUP_TAG in event:
                continue
            series[str(event.get("UID", "")) or f"no-uid-{len(series)}"].append(event)
        for uid, events in series.items():
            recurring = any("RRULE" in e or "RDATE" in e or "RECURRENCE-ID" in e for e in events)
            try:
                if recurring:
                    single = icalendar.Calendar()
                    for component in [*timezones, *events]:
                        single.add_component(component)
                    occurrences = list(recurring_ical_events.of(single).between(*self.window))
                else:
                    occurrences = events
                for occurrence in occurrences:
                    yield self._interaction(uid, occurrence, recurring)
            except Exception as exc:  # a broken RRULE or date: skip this series, keep the file
                summary = str(events[0].get("SUMMARY", ""))[:60]
                yield Skip(f"{uid} ({summary})", f"broken event: {type(exc).__name__}: {exc}")

    def _interaction(self, uid: str, event: icalendar.cal.Component, recurring: bool) -> Interaction:
        start, all_day = _utc(event.decoded("DTSTART"))
        if "DTEND" in event:
            end, _ = _utc(event.decoded("DTEND"))
        elif "DURATION" in event:
            end = start + event.decoded("DURATION")
        else:
            end = start + (timedelta(days=1) if all_day else timedelta(0))
        participants: list[Participant] = []
        organizer = event.get("ORGANIZER")
        if organizer is not None:
            participants.append(Participant(_address(organizer), str(organizer.params.get("CN", "")), "organizer"))
        owner_response: Response | None = None
        attendees = event.get("ATTENDEE", [])
        for attendee in attendees if isinstance(attendees, list) else [attendees]:
            response = PARTSTATS.get(str(attendee.params.get("PARTSTAT", "NEEDS-ACTION")).upper(), "needs-action")
            address = _address(attendee)
            participants.append(Participant(address, str(attendee.params.get("CN", "")), "attendee", response))
            if address.lower() in self.me:
                owner_response = response
        provider_id = f"{uid}/{start.strftime('%Y%m%dT%H%M%SZ')}" if recurring else uid
        if recurring and "RECURRENCE-ID" in event:
            recurrence_id, _ = _utc(event.decoded("RECURRENCE-ID"))
            provider_id = f"{uid}/{recurrence_id.strftime('%Y%m%dT%H%M%SZ')}"
        return Interaction(
            provider_id=provider_id,
            kind="event",
            timestamp=start,
            end=end,
            participants=participants,
            subject=str(event.get("SUMMARY", ""))[:200] or None,
            cancelled=str(event.get("STATUS", "")).upper() == "CANCELLED",
            series_id=uid if recurring else None,
            all_day=all_day,
            owner_response=owner_response,
        )
