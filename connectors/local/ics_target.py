"""An .ics file as the follow-ups calendar: one VCALENDAR any calendar app can import or subscribe to.

Each follow-up is a VEVENT with a stable ``UID`` (``KEY@syncd``) and syncd's TAG ``X-SYNCD-KEY``; where
syncd placed it is kept in ``X-SYNCD-PLANNED``, so an event the user moved (its DTSTART no longer the
planned one) is recognised as a snooze. Events without the tag are someone else's.

The file is the truth: ``list_own`` reads it as it is now, and ``create``/``update``/``delete`` are only
buffered. ``commit`` reads the file again, splices the buffered follow-ups into its text and writes it
atomically (temp file + fsync + rename). Splicing text rather than re-serialising a parsed calendar
keeps every line that is not one of our VEVENTs byte for byte: icalendar does not round-trip everything
it reads (it re-escapes an unquoted Outlook TZID, reorders properties), and the user's own events must
never change because syncd wrote next to them. Re-reading at commit keeps edits the user made while a
run was planning. A file that cannot be read is never written: it may hold the user's edits.

Only syncd's own VEVENTs are ever parsed. The rest of the file — which may be the user's whole calendar,
40,000 events — is checked for its structure alone (one VCALENDAR, components closed in order, every
line a content line, RFC 5545 §3.1 and §3.4), which is what a splice needs to keep it readable; parsing
it with icalendar would take seconds per pass (docs/icalendar.md#structure). A temporary file left by a
write that was killed is removed by the next commit (which runs under the state's writer lock, so it is
no other run's). A write that fails (a full disk, a read-only folder) leaves the file as it was and says so.
"""

from __future__ import annotations

import contextlib
import glob
import os
import re
import tempfile
import warnings
from collections.abc import Mapping
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import icalendar

from connectors.base import CalendarTarget, ConnectorError, FollowupEvent, SecretSlot

TAG = "X-SYNCD-KEY"
PERSON = "X-SYNCD-PERSON"
PLANNED = "X-SYNCD-PLANNED"
PRODID = "-//syncd//follow-ups//EN"

# Content lines start at the beginning of a physical line; folded continuations start with a blank
# (RFC 5545 §3.1), so these never match inside a folded value.
_OWN_LINE = re.compile(rb"^X-SYNCD-KEY[;:]", re.IGNORECASE | re.MULTILINE)
_COMPONENT_LINE = re.compile(rb"^BEGIN:(?!VCALENDAR\b)", re.IGNORECASE | re.MULTILINE)
_END_CALENDAR = re.compile(rb"^END:VCALENDAR[ \t]*\r?$", re.IGNORECASE | re.MULTILINE)
# RFC 5545 §3.1: name (iana-token / x-name), parameters (quoted values may hold ":" and ";"), then ":".
_CONTENT_LINE = re.compile(rb'^[A-Za-z0-9-]+(?:;(?:[^":\r\n]|"[^"\r\n]*")*)?:')


def _stamp(value: datetime) -> str:
    return value.astimezone(UTC).strftime("%Y%m%dT%H%M%SZ")


def _parse_stamp(text: str) -> datetime | None:
    try:
        return datetime.strptime(text.strip(), "%Y%m%dT%H%M%SZ").replace(tzinfo=UTC)
    except ValueError:
        return None


def _aware(value: object) -> datetime:
    """DTSTART as an aware datetime, whatever a calendar app wrote back.

    A DATE (the user made it all-day) starts at 00:00 UTC; a time without a known zone is read as UTC.
    """
    if isinstance(value, datetime):
        return value if value.tzinfo is not None else value.replace(tzinfo=UTC)
    if isinstance(value, date):
        return datetime(value.year, value.month, value.day, tzinfo=UTC)
    raise ValueError(f"not a date: {value!r}")


def _zoned(start: datetime) -> datetime:
    """The start as written: in its IANA zone (a TZID with a VTIMEZONE), else in UTC.

    A fixed-offset tzinfo has no name a calendar app can resolve (icalendar would write TZID=UTC+02:00).
    """
    if isinstance(start.tzinfo, ZoneInfo) and start.tzinfo.key not in ("UTC", "Etc/UTC"):
        return start
    return start.astimezone(UTC)


def _invalid(path: Path, why: str) -> ConnectorError:
    return ConnectorError(
        f"the follow-ups file {path} is not valid iCalendar ({why}); fix or move it away, "
        "syncd does not overwrite a file it cannot read"
    )


def _check(data: bytes, path: Path) -> None:
    """Raise unless ``data`` is one VCALENDAR whose components open and close in order and whose every
    line is a content line ``NAME[;PARAMS]:VALUE`` or a folded continuation (RFC 5545 §3.1, §3.4)."""
    open_components: list[bytes] = []
    calendars = 0
    for number, line in enumerate(data.splitlines(), start=1):
        if not line.strip() or line[:1] in (b" ", b"\t"):
            continue  # blank, or the continuation of a folded line
        if not _CONTENT_LINE.match(line):
            raise _invalid(path, f"line {number} is no content line: {line[:40].decode('utf-8', 'replace')!r}")
        word, _, value = line.partition(b":")
        word = word.upper()
        name = value.strip().upper()
        if word == b"BEGIN":
            if not open_components and name != b"VCALENDAR":
                raise _invalid(path, f"line {number}: {name.decode('ascii', 'replace')} outside a VCALENDAR")
            calendars += not open_components
            open_components.append(name)
        elif word == b"END":
            if not open_components or open_components[-1] != name:
                raise _invalid(path, f"line {number}: END:{name.decode('ascii', 'replace')} closes nothing open")
            open_components.pop()
    if open_components:
        raise _invalid(path, f"{open_components[-1].decode('ascii', 'replace')} is never closed")
    if calendars != 1:
        raise ConnectorError(f"the follow-ups file {path} holds {calendars or 'no'} VCALENDARs; "
                             "fix or move it away")


def _own_event(block: bytes, path: Path) -> icalendar.cal.Component:
    """One of syncd's VEVENTs, parsed."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # guessed vendor TZIDs: the guess is what we want
        try:
            return icalendar.Event.from_ical(block)
        except Exception as exc:
            first = str(exc).splitlines()[0][:120] if str(exc) else type(exc).__name__
            raise _invalid(path, f"a follow-up of syncd's: {first}") from None


def _zone_ids(data: bytes) -> set[str]:
    """TZIDs of the file's VTIMEZONEs, read from the text."""
    found: set[str] = set()
    inside = False
    for line in data.splitlines():
        word = line.strip().upper()
        if word == b"BEGIN:VTIMEZONE":
            inside = True
        elif word == b"END:VTIMEZONE":
            inside = False
        elif inside and (word.startswith(b"TZID:") or word.startswith(b"TZID;")):
            found.add(line.split(b":", 1)[1].strip().decode("utf-8", "replace"))
    return found


def followup_of(event: icalendar.cal.Component) -> FollowupEvent:
    """One of syncd's VEVENTs (it carries TAG) as a follow-up; raises ValueError for an unreadable date."""
    start = _aware(event.decoded("DTSTART"))
    if "DURATION" in event:
        duration = event.decoded("DURATION")
    elif "DTEND" in event:
        duration = _aware(event.decoded("DTEND")) - start
    else:
        duration = timedelta(0)
    reminder = 0
    for alarm in event.walk("VALARM"):
        trigger = alarm.decoded("TRIGGER") if "TRIGGER" in alarm else None
        if isinstance(trigger, timedelta):  # relative to the start; an absolute trigger has no minutes
            reminder = round(-trigger.total_seconds() / 60)
            break
    return FollowupEvent(
        key=str(event[TAG]),
        person=str(event.get(PERSON, "")),
        start=start,
        duration_minutes=round(duration.total_seconds() / 60) if isinstance(duration, timedelta) else 0,
        title=str(event.get("SUMMARY", "")),
        description=str(event.get("DESCRIPTION", "")),
        reminder_minutes=reminder,
        planned_start=_parse_stamp(str(event.get(PLANNED, ""))),
    )


def vevent(followup: FollowupEvent, sequence: int) -> icalendar.Event:
    """A follow-up as the VEVENT syncd writes (into the .ics file, or one per CalDAV resource)."""
    event = icalendar.Event()
    event.add("UID", f"{followup.key}@syncd")
    event.add("DTSTAMP", datetime.now(UTC))
    event.add("DTSTART", _zoned(followup.start))
    event.add("DURATION", timedelta(minutes=followup.duration_minutes))
    event.add("SUMMARY", followup.title)
    event.add("DESCRIPTION", followup.description)
    event.add("TRANSP", "TRANSPARENT")  # §3.8.2.7: a follow-up never blocks time
    event.add("SEQUENCE", sequence)  # §3.8.7.4: apps take the higher one as the newer version
    event.add(TAG, followup.key)
    event.add(PERSON, followup.person)
    if followup.planned_start is not None:
        event.add(PLANNED, _stamp(followup.planned_start))
    alarm = icalendar.Alarm()  # §3.6.6: a DISPLAY alarm needs DESCRIPTION and TRIGGER
    alarm.add("ACTION", "DISPLAY")
    alarm.add("DESCRIPTION", followup.title)
    alarm.add("TRIGGER", timedelta(minutes=-followup.reminder_minutes))
    event.add_component(alarm)
    # No ATTENDEE, ever: a calendar with attendees emails them.
    return event


def _vevent_blocks(data: bytes) -> list[tuple[bytes, bool]]:
    """The file cut into runs of physical lines: (text, whether it is one top-level VEVENT)."""
    parts: list[tuple[bytes, bool]] = []
    current: list[bytes] = []
    in_event = False
    for line in data.splitlines(keepends=True):
        word = line.strip().upper()
        if not in_event and word == b"BEGIN:VEVENT":
            if current:
                parts.append((b"".join(current), False))
            current, in_event = [], True
        current.append(line)
        if in_event and word == b"END:VEVENT":  # a VALARM inside ends with END:VALARM, not this
            parts.append((b"".join(current), True))
            current, in_event = [], False
    if current:
        parts.append((b"".join(current), in_event))
    return parts


class IcsFileTarget(CalendarTarget):
    provider = "ics"

    def __init__(self, name: str, settings: Mapping[str, Any], secret: SecretSlot | None = None) -> None:
        super().__init__(name, settings, secret)  # None: a local file needs no login
        self.path = Path(settings["path"])
        self.calendar_name = str(settings.get("calendar_name") or "Follow-ups")
        # key -> the event to write, or None to delete it; applied to the file as it is at commit.
        self._pending: dict[str, FollowupEvent | None] = {}

    # ---- reading ----------------------------------------------------------------------------------

    def _read(self) -> bytes:
        """The file as it is now (b"" when there is none yet), checked to parse."""
        try:
            data = self.path.read_bytes()
        except FileNotFoundError:
            return b""
        except OSError as exc:
            raise ConnectorError(f"cannot read the follow-ups file {self.path}: {exc.strerror or exc}") from None
        if data.strip():
            _check(data, self.path)
        return data

    def list_own(self) -> list[FollowupEvent]:
        data = self._render(self._read())  # what the file says, with this run's changes so far
        own: dict[str, FollowupEvent] = {}
        for block, is_event in _vevent_blocks(data):
            if not is_event or not _OWN_LINE.search(block):
                continue
            event = _own_event(block, self.path)
            if TAG not in event or str(event[TAG]) in own:
                continue
            try:
                own[str(event[TAG])] = followup_of(event)
            except Exception as exc:  # the user broke DTSTART of one of ours: say which
                raise ConnectorError(f"follow-up {event[TAG]} in {self.path} has an unreadable date ({exc})") from None
        return sorted(own.values(), key=lambda e: (e.start, e.key))

    def where(self) -> str | None:
        # A file that is not there holds none of the follow-ups written before (deleted, or a new ics_path).
        return str(self.path.absolute()) if self.path.exists() else None

    # ---- writing ----------------------------------------------------------------------------------

    def create(self, event: FollowupEvent) -> None:
        self._pending[event.key] = event  # an existing key is replaced in place: no second event

    def update(self, event: FollowupEvent) -> None:
        self._pending[event.key] = event

    def delete(self, key: str) -> None:
        self._pending[key] = None  # applied only if the key is there at commit: a missing key is no error

    def commit(self) -> None:
        self._remove_strays()
        if not self._pending:
            return
        old = self._read()
        new = self._render(old)
        if new != old:
            _check(new, self.path)  # never write what we could not read back
            try:
                self._write(new)
            except OSError as exc:
                raise ConnectorError(
                    f"cannot write the follow-ups file {self.path}: {exc.strerror or exc}; it is unchanged"
                ) from None
        self._pending.clear()

    def _remove_strays(self) -> None:
        """Temporary files of writes that were killed before their rename (see ``_write``)."""
        target = Path(os.path.realpath(self.path))
        with contextlib.suppress(OSError):
            for stray in target.parent.glob(f".{glob.escape(target.name)}.*.tmp"):
                with contextlib.suppress(OSError):
                    stray.unlink()

    def _empty(self) -> bytes:
        calendar = icalendar.Calendar()
        calendar.add("PRODID", PRODID)
        calendar.add("VERSION", "2.0")
        calendar.add("X-WR-CALNAME", self.calendar_name)  # the name apps show on import/subscribe
        data: bytes = calendar.to_ical()
        return data

    def _render(self, data: bytes) -> bytes:
        """``data`` with the buffered follow-ups spliced in; every other line is kept as it is."""
        if not self._pending:
            return data
        if not data.strip():
            data = self._empty()
        newline = b"\r\n" if data.split(b"\n", 1)[0].endswith(b"\r") else b"\n"
        zones: set[str] = set()
        result, placed = self._replaced(data, newline, zones)
        added = [self._text(vevent(wanted, 0), newline, zones)
                 for key, wanted in self._pending.items() if wanted is not None and key not in placed]
        if added:
            ends = list(_END_CALENDAR.finditer(result))
            at = ends[-1].start() if ends else len(result)
            result = result[:at] + b"".join(added) + result[at:]
        return self._with_timezones(result, data, zones, newline)

    def _replaced(self, data: bytes, newline: bytes, zones: set[str]) -> tuple[bytes, set[str]]:
        """``data`` with each of our events that has a pending change replaced (or dropped); the keys handled."""
        out: list[bytes] = []
        placed: set[str] = set()
        for block, is_event in _vevent_blocks(data):
            if not is_event or not _OWN_LINE.search(block):
                out.append(block)
                continue
            old = _own_event(block, self.path)
            key = str(old[TAG])
            if key not in self._pending:
                out.append(block)
                continue
            wanted = self._pending[key]
            if key in placed or wanted is None:
                placed.add(key)
                continue  # deleted, or a second copy of one key: one event per key
            placed.add(key)
            try:
                sequence = int(old.get("SEQUENCE", 0)) + 1
            except (TypeError, ValueError):
                sequence = 1
            out.append(self._text(vevent(wanted, sequence), newline, zones))
        return b"".join(out), placed

    def _text(self, event: icalendar.Event, newline: bytes, zones: set[str]) -> bytes:
        """The event as the file writes it (its line ends), noting the time zones it uses."""
        zones |= self._zone_ids(event)
        raw: bytes = event.to_ical()
        return raw.replace(b"\r\n", b"\n").replace(b"\n", newline)

    def _with_timezones(self, result: bytes, data: bytes, zones: set[str], newline: bytes) -> bytes:
        """RFC 5545 §3.6.5: every TZID used needs its VTIMEZONE. Missing ones go before the first component,
        where every reader has them before the events that refer to them."""
        have = _zone_ids(data) if zones else set()
        missing = sorted(zones - have)
        if not missing:
            return result
        timezones = b"".join(
            icalendar.Timezone.from_tzid(tzid).to_ical().replace(b"\r\n", b"\n").replace(b"\n", newline)
            for tzid in missing
        )
        first = _COMPONENT_LINE.search(result)
        at = first.start() if first else len(result)
        return result[:at] + timezones + result[at:]

    @staticmethod
    def _zone_ids(event: icalendar.Event) -> set[str]:
        tzid = event["DTSTART"].params.get("TZID")
        return {str(tzid)} if tzid else set()

    def _write(self, data: bytes) -> None:
        # Through a symlink to the real file, so a link into a synced folder stays a link.
        target = Path(os.path.realpath(self.path))
        target.parent.mkdir(parents=True, exist_ok=True)
        try:
            mode = target.stat().st_mode & 0o7777
        except FileNotFoundError:
            mode = 0o600  # follow-ups name people: readable by the owner only
        fd, temp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
        try:
            with os.fdopen(fd, "wb") as handle:
                handle.write(data)
                handle.flush()
                os.fsync(handle.fileno())
            os.chmod(temp, mode)
            os.replace(temp, target)  # atomic: a reader sees the old file or the new one, never half
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(temp)
            raise
        with contextlib.suppress(OSError):  # the rename itself durable (not every OS opens directories)
            directory = os.open(target.parent, os.O_RDONLY)
            try:
                os.fsync(directory)
            finally:
                os.close(directory)
