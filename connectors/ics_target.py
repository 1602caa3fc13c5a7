"""An .ics file as the follow-ups calendar: one VCALENDAR any calendar app can import or subscribe to.

Each follow-up is a VEVENT with a stable ``UID`` (``KEY@syncd``) and syncd's TAG ``X-SYNCD-KEY``; where
syncd placed it is kept in ``X-SYNCD-PLANNED``, so an event the user moved (its DTSTART no longer the
planned one) is recognised as a snooze. Events without the tag are someone else's: they are kept as
they are and never touched. The file is read as it is now on every run ("the user moved/deleted it"
is what the file says) and written atomically on ``commit`` (temp file + fsync + rename), only if
something changed.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from datetime import UTC, datetime, timedelta
from pathlib import Path

import icalendar

from connectors.base import CalendarTarget, ConnectorError, FollowupEvent

TAG = "X-SYNCD-KEY"
PERSON = "X-SYNCD-PERSON"
PLANNED = "X-SYNCD-PLANNED"
PRODID = "-//syncd//follow-ups//EN"


def _stamp(value: datetime) -> str:
    return value.astimezone(UTC).strftime("%Y%m%dT%H%M%SZ")


def _parse_stamp(text: str) -> datetime | None:
    try:
        return datetime.strptime(text, "%Y%m%dT%H%M%SZ").replace(tzinfo=UTC)
    except ValueError:
        return None


class IcsFileTarget(CalendarTarget):
    provider = "ics"

    def __init__(self, path: Path, calendar_name: str = "Follow-ups") -> None:
        self.path = Path(path)
        self.calendar_name = calendar_name
        self._calendar: icalendar.Calendar | None = None
        self._dirty = False

    # ---- reading ----------------------------------------------------------------------------------

    def _load(self) -> icalendar.Calendar:
        if self._calendar is not None:
            return self._calendar
        try:
            data = self.path.read_bytes()
        except FileNotFoundError:
            data = b""
        except OSError as exc:
            raise ConnectorError(f"cannot read the follow-ups file {self.path}: {exc.strerror or exc}") from None
        if data.strip():
            try:
                calendar = icalendar.Calendar.from_ical(data)
            except Exception as exc:
                # Never overwrite what we cannot read: it may hold the user's edits.
                raise ConnectorError(
                    f"the follow-ups file {self.path} is not valid iCalendar ({exc}); fix or move it away"
                ) from None
        else:
            calendar = icalendar.Calendar()
            calendar.add("PRODID", PRODID)
            calendar.add("VERSION", "2.0")
            calendar.add("X-WR-CALNAME", self.calendar_name)
        self._calendar = calendar
        return calendar

    def _own(self) -> dict[str, icalendar.cal.Component]:
        return {str(e[TAG]): e for e in self._load().walk("VEVENT") if TAG in e}

    def list_own(self) -> list[FollowupEvent]:
        events = []
        for key, event in self._own().items():
            start = event.decoded("DTSTART")
            if not isinstance(start, datetime):
                start = datetime(start.year, start.month, start.day, tzinfo=UTC)
            elif start.tzinfo is None:
                start = start.replace(tzinfo=UTC)
            if "DTEND" in event:
                duration = event.decoded("DTEND") - event.decoded("DTSTART")
            elif "DURATION" in event:
                duration = event.decoded("DURATION")
            else:
                duration = timedelta(0)
            reminder = 0
            for alarm in event.walk("VALARM"):
                trigger = alarm.decoded("TRIGGER")
                if isinstance(trigger, timedelta):
                    reminder = int(-trigger.total_seconds() // 60)
            events.append(
                FollowupEvent(
                    key=key,
                    person=str(event.get(PERSON, "")),
                    start=start,
                    duration_minutes=int(duration.total_seconds() // 60),
                    title=str(event.get("SUMMARY", "")),
                    description=str(event.get("DESCRIPTION", "")),
                    reminder_minutes=reminder,
                    planned_start=_parse_stamp(str(event.get(PLANNED, ""))),
                )
            )
        return sorted(events, key=lambda e: (e.start, e.key))

    # ---- writing ----------------------------------------------------------------------------------

    def _event(self, followup: FollowupEvent, sequence: int) -> icalendar.Event:
        event = icalendar.Event()
        event.add("UID", f"{followup.key}@syncd")
        event.add("DTSTAMP", datetime.now(UTC))
        event.add("DTSTART", followup.start)
        event.add("DURATION", timedelta(minutes=followup.duration_minutes))
        event.add("SUMMARY", followup.title)
        event.add("DESCRIPTION", followup.description)
        event.add("TRANSP", "TRANSPARENT")  # a follow-up never blocks time
        event.add("SEQUENCE", sequence)
        event.add(TAG, followup.key)
        event.add(PERSON, followup.person)
        if followup.planned_start is not None:
            event.add(PLANNED, _stamp(followup.planned_start))
        alarm = icalendar.Alarm()
        alarm.add("ACTION", "DISPLAY")
        alarm.add("DESCRIPTION", followup.title)
        alarm.add("TRIGGER", timedelta(minutes=-followup.reminder_minutes))
        event.add_component(alarm)
        return event

    def create(self, event: FollowupEvent) -> None:
        if event.key in self._own():
            self.update(event)  # a retried create must not make a second event
            return
        self._load().add_component(self._event(event, 0))
        self._dirty = True

    def update(self, event: FollowupEvent) -> None:
        calendar = self._load()
        old = self._own().get(event.key)
        sequence = int(old.get("SEQUENCE", 0)) + 1 if old is not None else 0
        if old is not None:
            calendar.subcomponents.remove(old)
        calendar.add_component(self._event(event, sequence))
        self._dirty = True

    def delete(self, key: str) -> None:
        old = self._own().get(key)
        if old is not None:
            self._load().subcomponents.remove(old)
            self._dirty = True

    def commit(self) -> None:
        if not self._dirty or self._calendar is None:
            return
        calendar = self._calendar
        with contextlib.suppress(Exception):
            calendar.add_missing_timezones()  # VTIMEZONEs for every TZID used (RFC 5545 §3.6.5)
        data = calendar.to_ical()
        self.path.parent.mkdir(parents=True, exist_ok=True)
        mode = self.path.stat().st_mode & 0o777 if self.path.exists() else 0o600
        fd, temp = tempfile.mkstemp(prefix=f".{self.path.name}.", dir=self.path.parent)
        try:
            with os.fdopen(fd, "wb") as handle:
                handle.write(data)
                handle.flush()
                os.fsync(handle.fileno())
            os.chmod(temp, mode)
            os.replace(temp, self.path)
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(temp)
            raise
        self._dirty = False
