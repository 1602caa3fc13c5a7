"""Meetings from CalDAV calendars (RFC 4791), incrementally (RFC 6578), by the same rules as .ics exports.

Protocol facts: docs/caldav.md#reading-events, #sync-collection (tokens, truncation, the statuses servers use
for a forgotten token) and #ctag.

RESOURCE = one calendar, by its path on the server. Default: every calendar in the user's home that holds
events and that the user may write (read-only subscriptions such as public holidays are no meetings), except
syncd's own follow-ups calendar; ``calendars`` names others (display names, paths or URLs).
PROVIDER ID = ``<calendar path>#UID`` for a single event, ``...#UID/RECURRENCE-ID`` for an occurrence: the
ids of connectors.local.ics, qualified by the calendar, so one UID in two calendars is two sightings.

Each calendar object is parsed with icalendar and read by :class:`connectors.local.ics.MeetingReader`: recurrences
expanded over the same window, the same meeting rules, syncd's follow-ups left out, a broken series skipped
and named. An object that does not parse is skipped and named; what was read of it before is kept.

CURSOR (per calendar, JSON): the calendar's DAV:sync-token and CTag, each object's href → [ETag, UID] (to
know which rows an object held when it changes or goes), the calendar home (so the next pull needs no
discovery) and the day recurrences were last expanded. A pull lists the home once (one PROPFIND for all
calendars); a calendar whose sync-token (or, without one, CTag) is unchanged costs nothing more. A changed
one is asked ``sync-collection`` with its token (the hrefs changed and removed since), or, on a server
without it, a depth-1 PROPFIND of ETags compared with the cursor's; then one ``calendar-multiget`` per 200
changed objects. Every ``REFRESH_DAYS`` a calendar is read whole again, so series keep being expanded into
the future as time passes. A token the server forgot (403/412 valid-sync-token) means reading it whole.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import warnings
from collections.abc import Iterator, Mapping
from datetime import UTC, date, datetime, timedelta
from typing import Any
from xml.etree import ElementTree

import icalendar

from connectors.base import Batch, Interaction, KnownIds, SecretSlot, Skip, Source
from connectors.caldav.account import DavAccount
from connectors.caldav.collection import Changes, Collection, changes, choose, href_path, multiget
from connectors.caldav.discovery import CALDAV, Calendar, Home, discover
from connectors.local.ics import MeetingReader, reader_of
from connectors.throttle import Throttle

MULTIGET_REPORT = (f"{CALDAV}calendar-multiget", f"{CALDAV}calendar-data")
BATCH_SIZE = 2000
REFRESH_DAYS = 7


@dataclasses.dataclass
class CalendarState:
    token: str | None = None
    ctag: str | None = None
    objects: dict[str, list[str | None]] = dataclasses.field(default_factory=dict)  # href → [etag, uid]
    home: str | None = None
    expanded: str | None = None  # ISO day of the last whole read

    @classmethod
    def load(cls, text: str | None) -> CalendarState | None:
        if not text:
            return None
        try:
            data = json.loads(text)
            if data.get("partial"):
                return None
            return cls(**{f.name: data[f.name] for f in dataclasses.fields(cls) if f.name in data})
        except (ValueError, TypeError, AttributeError):
            return None

    def dump(self) -> str:
        return json.dumps(dataclasses.asdict(self), sort_keys=True)

    def stale(self, today: date) -> bool:
        try:
            return self.expanded is None or date.fromisoformat(self.expanded) <= today - timedelta(days=REFRESH_DAYS)
        except ValueError:
            return True


class CalDavSource(Source):
    provider = "caldav"

    def __init__(self, name: str, settings: Mapping[str, Any], secret: SecretSlot | None = None, *,
                 throttle: Throttle | None = None) -> None:
        super().__init__(name, settings, secret)
        self.account = DavAccount(name, settings, secret, throttle=throttle)
        self.today = (settings.get("now") or datetime.now(UTC)).date()

    def pull(self, cursors: Mapping[str, str], known: KnownIds) -> Iterator[Batch]:
        states = {resource: CalendarState.load(text) for resource, text in cursors.items()}
        cached = next((s.home for s in states.values() if s is not None and s.home), None)
        home = discover(self.account, cached)
        reader = reader_of(self.settings, home.addresses)
        chosen, missing = self._choose(home)
        for wanted in missing:
            why = f"not on the server (renamed or deleted?); check accounts.{self.name}.calendars"
            yield Batch(wanted, cursors.get(wanted), skipped=[Skip(wanted, f"calendar missing: {why}")])
        first = True
        for calendar in chosen:
            for batch in self._calendar(calendar, home, states.get(calendar.path), cursors.get(calendar.path),
                                        known, reader):
                if first and home.addresses:
                    batch.owner_addresses, first = list(home.addresses), False
                yield batch
        for resource in sorted(set(cursors) - {c.path for c in chosen} - set(missing)):
            yield Batch(resource, None, deleted=sorted(known.known_ids(resource)))

    def _choose(self, home: Home) -> tuple[list[Calendar], list[str]]:
        named = tuple(self.settings.get("calendars") or ())
        if not named:
            return [c for c in home.calendars if c.events and not c.followups and c.writable is not False], []
        return choose(home.calendars, named)

    # ---- one calendar ------------------------------------------------------------------------------------

    def _calendar(self, calendar: Calendar, home: Home, state: CalendarState | None, previous: str | None,
                  known: KnownIds, reader: MeetingReader) -> Iterator[Batch]:
        resource = calendar.path
        whole = state is None or state.stale(self.today)
        if state is not None and not whole and (
                (calendar.sync_token and calendar.sync_token == state.token)
                or (not calendar.sync_token and calendar.ctag and calendar.ctag == state.ctag)):
            return  # the home listing was this calendar's whole pull
        changes = self._changes(calendar, None if whole or state is None else state)
        objects = dict(state.objects) if state is not None and not changes.whole else {}
        old = state.objects if state is not None else {}
        ids = _ids_by_uid(known.known_ids(resource), resource)
        partial = json.dumps({"partial": True})
        batch = Batch(resource, partial if changes.whole else previous, full=changes.whole)
        for href in sorted(changes.removed):
            uid = (old.get(href) or [None, None])[1]
            batch.deleted.extend(sorted(ids.get(uid, set())) if uid else [])
            objects.pop(href, None)
        for href, data, etag in self._fetch(calendar, sorted(changes.changed)):
            previous_uid = (old.get(href) or [None, None])[1]
            if data is None:  # gone between the listing and the multiget
                batch.deleted.extend(sorted(ids.get(previous_uid, set())) if previous_uid else [])
                objects.pop(href, None)
                continue
            uid, items = self._read(resource, href, data, reader)
            if uid is None:  # does not parse: named; what it held before is kept
                batch.skipped.extend(i for i in items if isinstance(i, Skip))
                batch.seen.extend(sorted(ids.get(previous_uid, set())) if previous_uid else [])
                objects[href] = [etag, previous_uid]
                continue
            objects[href] = [etag, uid]
            fresh = {i.provider_id for i in items if isinstance(i, Interaction)}
            for item in items:
                if isinstance(item, Interaction):
                    batch.interactions.append(item)
                else:
                    batch.skipped.append(item)
            stale = (ids.get(uid, set()) | (ids.get(previous_uid, set()) if previous_uid else set())) - fresh
            if not changes.whole:
                batch.deleted.extend(sorted(stale))
            if len(batch.interactions) >= BATCH_SIZE:
                yield batch
                batch = Batch(resource, batch.cursor, full=changes.whole)
        if not changes.whole:
            batch.deleted = sorted(set(batch.deleted))
        batch.complete = changes.whole
        batch.cursor = CalendarState(
            token=changes.token, ctag=calendar.ctag, objects=objects, home=home.url,
            expanded=self.today.isoformat() if changes.whole else (state.expanded if state else None),
        ).dump()
        yield batch

    def _changes(self, calendar: Calendar, state: CalendarState | None) -> Changes:
        """What changed since ``state`` (None: list everything)."""
        collection = Collection(calendar.url, calendar.name, calendar.sync_token)
        etags = {href: (found or [None])[0] for href, found in state.objects.items()} if state else None
        return changes(self.account, collection, state.token if state else None, etags)

    def _fetch(self, calendar: Calendar, hrefs: list[str]) -> Iterator[tuple[str, str | None, str | None]]:
        """(href, calendar data or None when gone, etag) for each href, by calendar-multiget (RFC 4791 §7.9)."""
        collection = Collection(calendar.url, calendar.name, calendar.sync_token)
        for href, result in multiget(self.account, collection, MULTIGET_REPORT, hrefs):
            if result is None or result.status == 404 or result.calendar_data is None:
                yield href, None, None
            else:
                yield href, result.calendar_data, result.etag

    def _href(self, href: str) -> str:
        return href_path(self.account, href)

    def _read(self, resource: str, href: str, data: str, reader: MeetingReader
              ) -> tuple[str | None, list[Interaction | Skip]]:
        """One calendar object: its UID and what it holds, ids qualified by the calendar."""
        name = href.rsplit("/", 1)[-1]
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                parsed = icalendar.Calendar.from_ical(data)
            uid = next((str(e.get("UID")).strip() for e in parsed.walk("VEVENT") if e.get("UID")), None)
        except Exception as exc:  # icalendar raises ValueError and friends on broken objects
            first = str(exc).splitlines()[0][:120] if str(exc) else type(exc).__name__
            return None, [Skip(f"{resource}{name}", f"unparseable calendar object: {first}")]
        if uid is None:
            if not list(parsed.walk("VEVENT")):
                return "", []  # a task or journal: no meetings in it
            return None, [Skip(f"{resource}{name}", "unparseable calendar object: an event without UID")]
        items: list[Interaction | Skip] = []
        for item in reader.occurrences(f"{resource}{name}", [parsed]):
            if isinstance(item, Interaction):
                item.provider_id = f"{resource}#{item.provider_id}"
            items.append(item)
        return uid, items


def _ids_by_uid(known: set[str], resource: str) -> dict[str, set[str]]:
    """The stored ids of a calendar by the UID they belong to (``path#UID`` or ``path#UID/RECURRENCE-ID``)."""
    out: dict[str, set[str]] = {}
    prefix = f"{resource}#"
    for pid in known:
        if pid.startswith(prefix):
            rest = pid[len(prefix):]
            uid = rest.rsplit("/", 1)[0] if rest.rsplit("/", 1)[-1].endswith("Z") and "/" in rest else rest
            out.setdefault(uid, set()).add(pid)
    return out


with contextlib.suppress(Exception):  # a readable default prefix in the XML the server logs
    ElementTree.register_namespace("D", "DAV:")
    ElementTree.register_namespace("C", "urn:ietf:params:xml:ns:caldav")
