"""Follow-ups in a CalDAV calendar: one resource per follow-up, written only with conditions (RFC 4791 §5.3.4,
RFC 9110 §13.1), so an edit the user made meanwhile in any client is never overwritten.

WHERE: a calendar syncd makes in the user's home (docs/caldav.md#mkcalendar: MKCALENDAR at
``<home>/syncd-followups/``, shown as ``followups.calendar_name``), or one the user names with
``followups_calendar`` (its display name, path or URL), which syncd never creates. Each follow-up is
``<calendar>/<key>.ics``: one VCALENDAR holding the VEVENT the .ics target writes (UID, X-SYNCD-KEY tag,
X-SYNCD-PLANNED, transparent, a DISPLAY alarm, no attendees) and the VTIMEZONE of its start. Objects without
syncd's tag are never touched.

WRITES (docs/caldav.md#conditional-requests, #errors-on-write): create with ``If-None-Match: *``, update and
delete with ``If-Match`` on the ETag listed. A 412 means the resource changed since: syncd reads it again and
follows the reconcile rules of every target. Gone meanwhile: the user deleted it, a dismissal, so nothing is
written (the next run records it). Moved meanwhile: a snooze, so its time stays the user's and only syncd's
text is refreshed. Found on a create: an earlier try landed (its answer was lost), so it is updated, never
doubled. A text-only refresh keeps the start and length the user gave it (made all-day, say). 507 (no space
left) and any other refusal stop the run's writes with one sentence; the records let the next run finish them.
"""

from __future__ import annotations

import contextlib
import warnings
from collections.abc import Mapping
from typing import Any
from urllib.parse import quote, unquote, urlsplit
from xml.etree import ElementTree

import icalendar

from connectors.base import CalendarTarget, ConnectorError, FollowupEvent, SecretSlot
from connectors.caldav.account import DavAccount, check_status
from connectors.caldav.collection import is_multistatus
from connectors.caldav.discovery import CALDAV, DAV, FOLLOWUPS, Calendar, Home, discover, xml_body
from connectors.local.ics_target import PRODID, TAG, followup_of, vevent
from connectors.throttle import Throttle

ICS = {"Content-Type": "text/calendar; charset=utf-8"}
MARKER = "Follow-ups written by syncd."
TIME_PROPERTIES = ("DTSTART", "DTEND", "DURATION")


class _Own:
    """One of syncd's resources as listed: where, its ETag, the parsed object, and the follow-up it holds."""

    def __init__(self, href: str, etag: str | None, calendar: icalendar.Calendar, followup: FollowupEvent) -> None:
        self.href = href
        self.etag = etag
        self.calendar = calendar
        self.followup = followup


class CalDavTarget(CalendarTarget):
    provider = "caldav"

    def __init__(self, name: str, settings: Mapping[str, Any], secret: SecretSlot | None = None, *,
                 throttle: Throttle | None = None) -> None:
        self.name = name
        self.settings = settings
        self.account = DavAccount(name, settings, secret, throttle=throttle)
        self.calendar_name = str(settings.get("calendar_name") or "Follow-ups")
        self.chosen = settings.get("followups_calendar") or None
        self._url: str | None = None
        self._home: Home | None = None  # found once a run: listing, then creating, need no second discovery
        self._seen: dict[str, _Own] = {}

    # ---- the calendar -----------------------------------------------------------------------------------

    def _calendar(self, create: bool) -> str | None:
        if self._url is not None:
            return self._url
        home = self._home = self._home or discover(self.account)
        if self.chosen:
            wanted = str(self.chosen)
            path = unquote(urlsplit(wanted).path).rstrip("/")
            found = next((c for c in home.calendars if wanted in (c.name, c.url) or c.path.rstrip("/") == path), None)
            if found is None:
                raise ConnectorError(f"account '{self.name}': there is no calendar '{wanted}' (followups_calendar); "
                                     f"calendars found: {', '.join(c.name for c in home.calendars) or 'none'}")
            self._url = found.url
        else:
            own: Calendar | None = next((c for c in home.calendars if c.followups), None)
            if own is not None:
                self._url = own.url
            elif create:
                if home.url is None:
                    raise ConnectorError(f"account '{self.name}': the account is one calendar ({self.account.url}); "
                                         "set followups_calendar to hold the follow-ups in it")
                self._url = self._make(home.url)
        return self._url

    def _make(self, home: str) -> str:
        url = self.account.absolute(home.rstrip("/") + f"/{FOLLOWUPS}/")
        response = self.account.xml("MKCALENDAR", url, _mkcalendar_body(self.calendar_name), None,
                                    what="creating the follow-ups calendar")
        # 405: it exists already (an earlier try whose answer was lost).
        check_status(response, self.name, url, "creating the follow-ups calendar", ok=(200, 201, 405))
        return url

    # ---- reading ----------------------------------------------------------------------------------------

    def list_own(self) -> list[FollowupEvent]:
        url = self._calendar(create=False)
        self._seen = {}
        if url is None:
            return []  # made on the first create, never by a listing
        response = self.account.xml("REPORT", url, _query_body(), 1, what="listing follow-ups")
        check_status(response, self.name, url, "listing follow-ups")
        try:
            if not is_multistatus(response):
                raise ValueError("no multistatus")
            results = response.parse_calendar_query()
        except Exception:
            raise ConnectorError(f"account '{self.name}': the server's listing of the follow-ups calendar is not "
                                 "valid CalDAV") from None
        for result in results:
            if result.calendar_data is None:
                continue
            own = self._own(self.account.absolute(result.href), result.etag, result.calendar_data)
            if own is not None and own.followup.key not in self._seen:
                self._seen[own.followup.key] = own
        return sorted((o.followup for o in self._seen.values()), key=lambda e: (e.start, e.key))

    def where(self) -> str | None:
        return self._url

    def _own(self, href: str, etag: str | None, data: str | bytes) -> _Own | None:
        """The follow-up in one resource, or None when the resource is not syncd's (or not readable)."""
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                calendar = icalendar.Calendar.from_ical(data)
            event = next((e for e in calendar.walk("VEVENT") if TAG in e), None)
            return _Own(href, etag, calendar, followup_of(event)) if event is not None else None
        except Exception:  # an object someone else broke is not syncd's to judge or touch
            return None

    def _get(self, href: str) -> _Own | None:
        response = self.account.request("GET", href, what="reading a follow-up again")
        if response.status == 404:
            return None
        check_status(response, self.name, href, "reading a follow-up again", ok=(200,))
        return self._own(href, response.headers.get("ETag"), response.raw)

    # ---- writing ----------------------------------------------------------------------------------------

    def _href(self, key: str) -> str:
        url = self._calendar(create=True)
        assert url is not None
        return url + quote(key, safe="") + ".ics"

    def create(self, event: FollowupEvent) -> None:
        href = self._href(event.key)
        status = self._put(href, _object(event, None, 0), {"If-None-Match": "*"}, event.key, "creating a follow-up")
        if status == 412:  # it exists: an earlier try landed; never a second one
            current = self._get(href)
            if current is None:
                raise ConnectorError(f"account '{self.name}': follow-up {event.key} exists and cannot be read; "
                                     "tried again next run")
            self._seen[event.key] = current
            self._rewrite(current, event, keep_time=current.followup.start != current.followup.planned_start)

    def update(self, event: FollowupEvent) -> None:
        current = self._seen.get(event.key)
        if current is None:
            current = self._get(self._href(event.key))
            if current is None:
                return  # deleted by the user: respected (a dismissal, recorded next run)
        self._rewrite(current, event, keep_time=event.start == current.followup.start)

    def _rewrite(self, current: _Own, event: FollowupEvent, keep_time: bool) -> None:
        """PUT ``event`` over ``current`` if it is unchanged since read; after a 412, read it again once."""
        for attempt in range(2):
            body = _object(event, current.calendar if keep_time else None, _sequence(current.calendar) + 1)
            status = self._put(current.href, body, _if_match(current.etag), event.key,
                               "updating a follow-up")
            if status != 412 or attempt:
                return
            fresh = self._get(current.href)
            if fresh is None:
                self._seen.pop(event.key, None)
                return  # deleted meanwhile: a dismissal
            moved = fresh.followup.start != current.followup.start
            current, keep_time = fresh, keep_time or moved  # moved meanwhile: a snooze, its time stays
            self._seen[event.key] = fresh

    def delete(self, key: str) -> None:
        url = self._calendar(create=False)
        if url is None:
            return
        current = self._seen.pop(key, None) or self._get(self._href(key))
        for _ in range(2):
            if current is None:
                return  # gone already: what was wanted
            response = self.account.request("DELETE", current.href, headers=_if_match(current.etag),
                                            what="deleting a follow-up")
            if response.status != 412:
                check_status(response, self.name, current.href, "deleting a follow-up", ok=(200, 204, 404))
                return
            current = self._get(current.href)  # changed meanwhile: still syncd's, still to go

    def _put(self, href: str, body: bytes, condition: dict[str, str], key: str, what: str) -> int:
        response = self.account.request("PUT", href, body, {**ICS, **condition}, what=what)
        status = int(response.status)
        if status == 412:
            return status
        check_status(response, self.name, href, what, ok=(200, 201, 204))
        etag = response.headers.get("ETag")
        if etag:
            own = self._own(href, etag, body)
            if own is not None:
                self._seen[key] = own
        else:
            self._seen.pop(key, None)  # the server changed what it stored: read it again when needed
        return status


def _if_match(etag: str | None) -> dict[str, str]:
    """The condition of an update or delete. A weak ETag (``W/"..."``) never matches, and a server that sent none
    changed what it stored (docs/caldav.md#conditional-requests): then only "it still exists" can be asked."""
    return {"If-Match": etag if etag and not etag.startswith("W/") else "*"}


def _sequence(calendar: icalendar.Calendar) -> int:
    for event in calendar.walk("VEVENT"):
        with contextlib.suppress(TypeError, ValueError):
            return int(event.get("SEQUENCE", 0))
    return 0


def _object(event: FollowupEvent, keep_time_of: icalendar.Calendar | None, sequence: int) -> bytes:
    """The resource for ``event``: syncd's VEVENT (RFC 5545), with the time of ``keep_time_of`` when given."""
    calendar = icalendar.Calendar()
    calendar.add("PRODID", PRODID)
    calendar.add("VERSION", "2.0")
    fresh = vevent(event, sequence)
    zones = []
    if keep_time_of is not None:
        old = next((e for e in keep_time_of.walk("VEVENT") if TAG in e), None)
        if old is not None:
            for name in TIME_PROPERTIES:
                fresh.pop(name, None)
                if name in old:
                    fresh[name] = old[name]
            zones = list(keep_time_of.walk("VTIMEZONE"))
    tzid = fresh["DTSTART"].params.get("TZID")
    if tzid and not any(str(z.get("TZID")) == str(tzid) for z in zones):
        zones.append(icalendar.Timezone.from_tzid(str(tzid)))
    for zone in zones:
        calendar.add_component(zone)
    calendar.add_component(fresh)
    data: bytes = calendar.to_ical()
    return data


def _query_body() -> bytes:
    """calendar-query for every VEVENT with its ETag and data (RFC 4791 §7.8)."""
    root = ElementTree.Element(f"{CALDAV}calendar-query")
    prop = ElementTree.SubElement(root, f"{DAV}prop")
    ElementTree.SubElement(prop, f"{DAV}getetag")
    ElementTree.SubElement(prop, f"{CALDAV}calendar-data")
    calendar = ElementTree.SubElement(ElementTree.SubElement(root, f"{CALDAV}filter"), f"{CALDAV}comp-filter",
                                      name="VCALENDAR")
    ElementTree.SubElement(calendar, f"{CALDAV}comp-filter", name="VEVENT")
    return xml_body(root)


def _mkcalendar_body(name: str) -> bytes:
    """MKCALENDAR with a display name, syncd's description and events only (RFC 4791 §5.3.1)."""
    root = ElementTree.Element(f"{CALDAV}mkcalendar")
    prop = ElementTree.SubElement(ElementTree.SubElement(root, f"{DAV}set"), f"{DAV}prop")
    ElementTree.SubElement(prop, f"{DAV}displayname").text = name
    ElementTree.SubElement(prop, f"{CALDAV}calendar-description").text = MARKER
    components = ElementTree.SubElement(prop, f"{CALDAV}supported-calendar-component-set")
    ElementTree.SubElement(components, f"{CALDAV}comp", name="VEVENT")
    return xml_body(root)
