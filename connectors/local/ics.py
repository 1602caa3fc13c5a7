"""Calendar exports (.ics: Google, Outlook, Apple, Thunderbird) as a source of meetings.

RESOURCE = one .ics file, named relative to the account path (its file name when the path is a file).
PROVIDER ID = ``UID`` for a single event, ``UID/RECURRENCE-ID`` (UTC, ``YYYYMMDDTHHMMSSZ``) for an
occurrence of a recurring one. Recurring events are expanded over [now - window_past, now +
window_future] with recurring-ical-events (RRULE, RDATE, EXDATE, RECURRENCE-ID overrides: RFC 5545
§3.8.5, §3.8.4.4), so the engine also sees future occurrences: that is how a series that still runs is
told from one that ended. Single events are kept whatever their date: one row each, and an old meeting
is still a last contact.

CURSOR = the file's ``{mtime_ns, size}``. An unchanged file is not opened; a changed one is read whole as
a FULL SYNC of its resource (an export has no change log), so occurrences that disappeared are removed.
A file that could not be read gets a cursor that matches no file, so the next pull reads it again.
Each series is expanded on its own, so one broken event (a bad RRULE, a date that does not parse) is
skipped and named while the rest of the file is read; when the file as a whole does not parse, its
components are parsed one by one, so one broken VEVENT or VTIMEZONE costs only itself. Recurrences are
expanded with bounds (:mod:`connectors.recurrence`): at most once a day, at most ``max_occurrences``
per series, the nearest today first; what was thinned or cut is counted. CalDAV calendars are read by
the same :class:`MeetingReader`, bounds included.

Time zones: a TZID is resolved by icalendar (IANA names, Outlook's Windows names, a VTIMEZONE in the
file); Google's ``X-WR-TIMEZONE`` is applied with ``x_wr_timezone``. A time that stays without a zone
(a floating time, RFC 5545 §3.3.5 form #1, or a TZID nobody knows) is read as UTC: the export gives no
better hint, and a few hours do not change who was met on which day. The event is kept, not skipped.
A VTIMEZONE that cannot be read (an offset like ``+5328``) is left out with a warning, so its times are
read as UTC too, instead of costing the file (docs/icalendar.md#time-zones).
An all-day event (a DATE, §3.3.4) starts at 00:00 UTC of its date, so its day stays the day written.
"""

from __future__ import annotations

import contextlib
import json
import re
import warnings
from collections import defaultdict
from collections.abc import Iterable, Iterator, Mapping
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import icalendar
import x_wr_timezone

from connectors.base import (
    Batch,
    Interaction,
    KnownIds,
    Participant,
    Response,
    SecretSlot,
    Skip,
    Source,
    SourceUnavailable,
)
from connectors.local.files import (
    NotAFile,
    changed_files,
    export_files,
    gone_files,
    listing_batch,
    open_regular,
    what_it_is,
)
from connectors.local.ics_target import TAG
from connectors.recurrence import MAX_OCCURRENCES, expand, fast_forward, never_occurs, thin

PARTSTATS: dict[str, Response] = {
    "ACCEPTED": "accepted", "DECLINED": "declined", "TENTATIVE": "tentative",
    "NEEDS-ACTION": "needs-action", "DELEGATED": "delegated",
}
BATCH_SIZE = 2000
# The cursor of a batch in the middle of a full sync: it matches no file, so an interrupted sync is
# redone from the start, yet the resource has a cursor, so a file that vanishes meanwhile is cleaned up.
PARTIAL = json.dumps({"partial": True})


def _utc(value: object, what: str) -> tuple[datetime, bool]:
    """A DTSTART/DTEND/RECURRENCE-ID value in UTC, and whether it was an all-day DATE."""
    if isinstance(value, datetime):
        if value.tzinfo is None:  # floating, or a TZID nobody knows: see the module docstring
            return value.replace(tzinfo=UTC), False
        return value.astimezone(UTC), False
    if isinstance(value, date):
        return datetime(value.year, value.month, value.day, tzinfo=UTC), True
    # icalendar keeps a value it cannot parse as text instead of raising.
    raise ValueError(f"{what} is not a date: {value!r}")


@contextlib.contextmanager
def _quiet() -> Iterator[None]:
    """Silence icalendar's warning when it guesses a vendor-prefixed TZID (/mozilla.org/.../Europe/Berlin):
    the guess is what we want. Kept clear of the pull's own yields: the warnings filter is process-wide."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        yield


_BEGIN_CALENDAR = re.compile(rb"^BEGIN:VCALENDAR[ \t]*\r?$", re.IGNORECASE | re.MULTILINE)


def _parse(resource: str, data: bytes) -> tuple[list[icalendar.Calendar], list[Skip]]:
    """The file's calendars, and skips for what of it could not be read.

    When the file does not parse as a whole, each top-level component is parsed on its own, so a broken
    VEVENT costs itself only, and a broken VTIMEZONE only its zone (its times are then read as UTC).
    """
    with _quiet():
        try:
            calendars = [c for c in icalendar.Calendar.from_ical(data, multiple=True)
                         if isinstance(c, icalendar.Calendar)]
        except Exception as exc:  # icalendar raises ValueError and friends on broken files
            whole = str(exc).splitlines()[0][:120] if str(exc) else type(exc).__name__
        else:
            # icalendar drops a last VCALENDAR that is never closed (a file cut short) without a word: read
            # it component by component below instead, so its events are not lost in silence.
            if calendars and len(calendars) == len(_BEGIN_CALENDAR.findall(data)):
                return calendars, []
            whole = "no complete VCALENDAR"
        calendars, skips = [], []
        for head, components in _components(data):
            try:
                calendar = icalendar.Calendar.from_ical(head + b"END:VCALENDAR\r\n")
            except Exception:
                calendar = icalendar.Calendar()
            for kind, block in components:
                try:
                    calendar.add_component(icalendar.Component.from_ical(block))
                except Exception as exc:
                    skips.append(_broken(resource, kind, block, exc))
            calendars.append(calendar)
    if not any(calendar.subcomponents for calendar in calendars):
        return [], [Skip(resource, f"not a valid .ics file: {whole}")]
    return calendars, skips


def _components(data: bytes) -> list[tuple[bytes, list[tuple[str, bytes]]]]:
    """Each VCALENDAR of ``data`` as (its own property lines, [(kind, text) of each top-level component])."""
    found: list[tuple[bytes, list[tuple[str, bytes]]]] = []
    head: list[bytes] = []
    block: list[bytes] = []
    kind = ""
    depth = 0
    for line in data.splitlines(keepends=True):
        word = line.strip().upper()
        if word == b"BEGIN:VCALENDAR" and depth == 0:
            depth, head = 1, [line]
            found.append((b"", []))
            continue
        if depth == 0:
            continue
        if word.startswith(b"BEGIN:"):
            depth += 1
            if depth == 2:
                kind, block = word[6:].decode("ascii", "replace"), []
        if depth >= 2:
            block.append(line)
        elif word != b"END:VCALENDAR":
            head.append(line)
        if word.startswith(b"END:"):
            depth -= 1
            if depth == 1:
                found[-1][1].append((kind, b"".join(block)))
            elif depth == 0:
                found[-1] = (b"".join(head), found[-1][1])
    if found and depth:
        found[-1] = (b"".join(head), found[-1][1])  # an unterminated last calendar: what it had so far
    return found


def _broken(resource: str, kind: str, block: bytes, exc: Exception) -> Skip:
    def value(name: bytes) -> str:
        for line in block.splitlines():
            if line.upper().startswith(name + b":") or line.upper().startswith(name + b";"):
                return line.split(b":", 1)[-1].strip().decode("utf-8", "replace")[:80]
        return "?"

    reason = " ".join(str(exc).split())[:160] or type(exc).__name__
    if kind == "VTIMEZONE":
        zone = value(b"TZID")
        return Skip(f"{resource}: time zone {zone}", f"broken time zone: {reason}; its times are read as UTC")
    return Skip(f"{resource}: {value(b'UID')}", f"broken {kind.lower() or 'component'}: {reason}")


def _address(value: object) -> str:
    text = str(value).strip()
    return text[7:].strip() if text.lower().startswith("mailto:") else text


def _stamp(value: datetime) -> str:
    return value.strftime("%Y%m%dT%H%M%SZ")


def _latest(events: list[icalendar.cal.Component]) -> icalendar.cal.Component:
    """Of several copies of one non-recurring UID, the newest (RFC 5545 §3.8.7.4 SEQUENCE; last wins ties)."""

    def sequence(event: icalendar.cal.Component) -> int:
        try:
            return int(event.get("SEQUENCE", 0))
        except (TypeError, ValueError):
            return 0

    return max(reversed(events), key=sequence)


def reading_window(settings: Mapping[str, Any]) -> tuple[datetime, datetime]:
    """[now - window_past, now + window_future]: where recurring events are expanded."""
    now: datetime = settings.get("now") or datetime.now(UTC)
    return (
        now - (settings.get("window_past") or timedelta(days=5 * 365)),
        now + (settings.get("window_future") or timedelta(days=365)),
    )


def reader_of(settings: Mapping[str, Any], me: Iterable[str] = ()) -> MeetingReader:
    """The reader an account's settings ask for: its ``me``, window, and cap on occurrences per series."""
    return MeetingReader([*(settings.get("me") or ()), *me], reading_window(settings),
                         cap=settings.get("max_occurrences"), now=settings.get("now"))


class MeetingReader:
    """Meetings of parsed VCALENDARs, by the rules above: every source of iCalendar data reads them here
    (.ics exports, CalDAV calendars), so they all expand recurrences and leave syncd's follow-ups out alike."""

    def __init__(self, me: Iterable[str], window: tuple[datetime, datetime], *, cap: int | None = None,
                 now: datetime | None = None) -> None:
        self.me = {_address(a).lower() for a in me}
        self.window = window
        self.cap = cap or MAX_OCCURRENCES  # per series, the occurrences nearest ``now`` (connectors.recurrence)
        self.now = now or datetime.now(UTC)

    def occurrences(self, resource: str, calendars: list[icalendar.Calendar]) -> Iterator[Interaction | Skip]:
        timezones: list[icalendar.cal.Component] = []
        series: dict[str, list[icalendar.cal.Component]] = defaultdict(list)
        for calendar in calendars:
            # Google names its zone in X-WR-TIMEZONE and writes UTC times; recurrences then follow
            # that zone's DST. An unknown zone name leaves the (still correct) UTC times as they are.
            with _quiet(), contextlib.suppress(Exception):
                calendar = x_wr_timezone.to_standard(calendar)
            timezones.extend(calendar.walk("VTIMEZONE"))
            for event in calendar.walk("VEVENT"):
                if TAG in event:
                    continue  # syncd's own follow-up: never a meeting
                series[str(event.get("UID", "")).strip() or f"no-uid-{len(series)}"].append(event)
        for uid, events in series.items():
            summary = str(events[0].get("SUMMARY", "")).strip()[:60]
            what = f"{resource}: {uid}" + (f" ({summary})" if summary else "")
            try:
                with _quiet():
                    # Built whole before yielding: a series that breaks half-way is skipped as a whole.
                    found, notes = self._series(uid, events, timezones)
            except Exception as exc:  # a broken RRULE or date: skip this series, keep the file
                yield Skip(what, f"broken event: {type(exc).__name__}: {str(exc)[:160]}")
                continue
            yield from (Skip(what, note) for note in notes)
            yield from found

    def _series(
        self, uid: str, events: list[icalendar.cal.Component], timezones: list[icalendar.cal.Component]
    ) -> tuple[list[Interaction], list[str]]:
        """The series' interactions, and notes on what its expansion thinned or cut."""
        if not any(p in e for e in events for p in ("RRULE", "RDATE", "RECURRENCE-ID")):
            return [self._interaction(uid, _latest(events), recurring=False)], []
        notes = [note for note in (thin(event) for event in events) if note]
        for event in events:
            fast_forward(event, self.window[0])
        if not any("RECURRENCE-ID" in event for event in events) and all(never_occurs(e) for e in events):
            return [], notes  # e.g. every February 30th: dateutil would search until the year 9999
        single = icalendar.Calendar()
        for component in [*timezones, *events]:
            single.add_component(component)
        occurrences, cut = expand(single, self.window, self.now, self.cap)
        if cut:
            notes.append(f"recurrence cut: over {self.cap:,} occurrences in the window; the {self.cap:,} "
                         "nearest today are kept")
        return [self._interaction(uid, occurrence, recurring=True) for occurrence in occurrences], notes

    def _interaction(self, uid: str, event: icalendar.cal.Component, recurring: bool) -> Interaction:
        start, all_day = _utc(event.decoded("DTSTART"), "DTSTART")
        if "DTEND" in event:
            end = _utc(event.decoded("DTEND"), "DTEND")[0]
        elif "DURATION" in event:
            end = start + event.decoded("DURATION")
        else:  # RFC 5545 §3.6.1: a DATE lasts one day, a DATE-TIME no time at all
            end = start + (timedelta(days=1) if all_day else timedelta(0))
        participants: list[Participant] = []
        organizer = event.get("ORGANIZER")
        if organizer is not None and _address(organizer):
            participants.append(Participant(_address(organizer), str(organizer.params.get("CN", "")), "organizer"))
        owner_response: Response | None = None
        attendees = event.get("ATTENDEE", [])
        for attendee in attendees if isinstance(attendees, list) else [attendees]:
            address = _address(attendee)
            if not address:
                continue
            # RFC 5545 §3.2.12: PARTSTAT defaults to NEEDS-ACTION; an x-name counts as no answer.
            response = PARTSTATS.get(str(attendee.params.get("PARTSTAT", "NEEDS-ACTION")).upper(), "needs-action")
            participants.append(Participant(address, str(attendee.params.get("CN", "")), "attendee", response))
            if address.lower() in self.me:
                owner_response = response
        provider_id = uid
        if recurring:
            # recurring-ical-events gives every occurrence its RECURRENCE-ID (an override keeps its own),
            # the stable identity of an occurrence even when it is moved (§3.8.4.4).
            anchor = event.decoded("RECURRENCE-ID") if "RECURRENCE-ID" in event else event.decoded("DTSTART")
            provider_id = f"{uid}/{_stamp(_utc(anchor, 'RECURRENCE-ID')[0])}"
        return Interaction(
            provider_id=provider_id,
            kind="event",
            timestamp=start,
            end=max(end, start),
            participants=participants,
            subject=str(event.get("SUMMARY", "")).strip()[:200] or None,
            cancelled=str(event.get("STATUS", "")).strip().upper() == "CANCELLED",
            series_id=uid if recurring else None,
            all_day=all_day,
            owner_response=owner_response,
        )


class IcsSource(Source):
    provider = "ics"

    def __init__(self, name: str, settings: Mapping[str, Any], secret: SecretSlot | None = None) -> None:
        super().__init__(name, settings, secret)  # None: a local file needs no login
        self.root = Path(settings["path"])
        self.reader = reader_of(settings)

    def pull(self, cursors: Mapping[str, str], known: KnownIds) -> Iterator[Batch]:
        if not self.root.exists():
            raise SourceUnavailable(f"accounts.{self.name}.path: {self.root} does not exist")
        files, strangers = export_files(self.root, self.name, (".ics",))
        yield from listing_batch(strangers, cursors)
        for changed in changed_files(files, cursors):
            if changed.cursor is None:
                skip = Skip(changed.resource, str(changed.error))
                yield Batch(changed.resource, PARTIAL if changed.previous else None, skipped=[skip])
                continue
            yield from self._pull_file(changed.resource, changed.path, changed.cursor, changed.previous)
        for resource in gone_files(files, cursors):
            # The file is gone, so are its events. Named explicitly: an interrupted full sync may have
            # left rows that a generation sweep alone would keep.
            yield Batch(resource, None, deleted=sorted(known.known_ids(resource)), full=True, complete=True)

    def _pull_file(self, resource: str, path: Path, cursor: str, previous: str | None) -> Iterator[Batch]:
        try:
            with open_regular(path) as handle:
                data = handle.read()
        except NotAFile:
            yield Batch(resource, previous, skipped=[Skip(resource, what_it_is(path))])
            return
        except OSError as exc:
            # A cursor that matches no file: once it can be read, the next pull reads it (a chmod leaves
            # its size and mtime as they were).
            why = f"unreadable file: {exc.strerror or exc}"
            yield Batch(resource, PARTIAL if previous else None, skipped=[Skip(resource, why)])
            return
        calendars, damage = _parse(resource, data)
        if not calendars:
            # The cursor does not move: a fixed file is read on the next pull.
            yield Batch(resource, previous, skipped=damage)
            return
        batch = Batch(resource, PARTIAL, full=True, skipped=damage)
        for item in self.reader.occurrences(resource, calendars):
            if isinstance(item, Skip):
                batch.skipped.append(item)
                continue
            batch.interactions.append(item)
            if len(batch.interactions) >= BATCH_SIZE:
                yield batch
                batch = Batch(resource, PARTIAL, full=True)
        batch.cursor, batch.complete = cursor, True
        yield batch
