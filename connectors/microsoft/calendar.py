"""Outlook calendar over Microsoft Graph: meetings in (calendarView delta), follow-ups out (tagged events).

Source (resource ``calendar``): ``GET /me/calendarView/delta`` of the PRIMARY calendar
(docs/microsoft-graph.md#calendar). The window (now − ``window_past`` … now + ``window_future``) goes on the first
call only; the links encode it, and ``$select``/``$filter``/``$orderby`` are not supported there, so whole events
come back and are filtered here. The cursor is the ``@odata.nextLink`` mid-round and the ``@odata.deltaLink`` after
it, replayed verbatim (docs/microsoft-graph.md#calendar-delta, docs/microsoft-graph.md#mail-delta). Expiry (410 /
SyncStateNotFound) becomes :class:`CursorExpired`.
Recurrences are bounded on Graph's side: occurrences only within that window, and no series repeats more
often than daily (a recurrence pattern is daily, weekly, monthly or yearly,
https://learn.microsoft.com/graph/api/resources/recurrencepattern), so unlike Google Calendar no thinning is
needed here (see ``connectors.recurrence``).

Target: syncd's follow-ups carry ONE fixed single-value extended property (``syncdKey``, the lowercase key) and a
second fixed one (``syncdMeta``: the planned start, the person, a hash of the description as written), both in
syncd's own property set GUID; never names derived from data, because named properties are a finite per-mailbox
quota (docs/microsoft-graph.md#calendar). Creates first look the key up by a ``$filter`` on the property and send a
``transactionId`` derived from the key (uuid5) against retry duplicates (docs/microsoft-graph.md#idempotency).

Recognising our own follow-ups in the delta (which cannot ``$expand`` properties): every transactionId syncd sends
starts with the fixed group :data:`TRANSACTION_MARK`, and Graph returns ``transactionId`` whenever an app set it
(docs/microsoft-graph.md#calendar). In the default set-up follow-ups live in a dedicated calendar, which the
primary-calendar delta never shows at all; the marker matters for ``followups_calendar_id = "primary"``. Even a
missed one would add no contact: follow-ups have no attendees.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import uuid
from collections.abc import Iterator, Mapping
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import quote
from zoneinfo import ZoneInfo

from connectors.base import (
    Batch,
    ConnectorError,
    CursorExpired,
    Interaction,
    KnownIds,
    Participant,
    Response,
    SecretSlot,
    Skip,
    Source,
)
from connectors.microsoft.graph import DeltaExpired, TokenProvider, account_client
from connectors.throttle import Throttle

RESOURCE = "calendar"
# syncd's own MAPI property set: fixed forever (changing it would orphan every follow-up ever written).
PROPERTY_SET = "{8f3b6a52-1d7c-4c3e-9b15-5e2f0d6a9c41}"
KEY_PROP = f"String {PROPERTY_SET} Name syncdKey"
META_PROP = f"String {PROPERTY_SET} Name syncdMeta"
# On the follow-ups calendar itself: found by it when its id changed after the user renamed it
# (docs/microsoft-graph.md#listing-follow-ups); its value says which ``calendar_name`` it was made for.
CALENDAR_PROP = f"String {PROPERTY_SET} Name syncdCalendar"
# transactionIds are uuid5(key) with this first group, so the delta (no $expand) can tell ours apart.
TRANSACTION_MARK = "5d0c0f0e"
TRANSACTION_NS = uuid.UUID("3c6f2a0e-8d41-5b7a-9e2c-0f1d5a7b9c33")
TEXT_BODY = 'outlook.body-content-type="text"'
# Graph attendee status → RFC 5545 PARTSTAT (lower-case), docs/microsoft-graph.md#event-fields.
RESPONSES: dict[str, Response] = {
    "accepted": "accepted",
    "declined": "declined",
    "tentativelyaccepted": "tentative",
    "none": "needs-action",
    "notresponded": "needs-action",
}


def graph_query(params: Mapping[str, str]) -> str:
    """A query string as Graph's filters need it: spaces as %20 (not "+"), and the colon, slash and quotes of
    a filter encoded too (docs/microsoft-graph.md#idempotency)."""
    return "&".join(f"{quote(k, safe='$')}={quote(v, safe='')}" for k, v in params.items())


def short_digest(text: str) -> str:
    """Sixteen hex digits of SHA-256: a value that needs no quoting in a filter and compares in any case."""
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def transaction_id(key: str, planned: datetime | None = None, calendar: str | None = None) -> str:
    """The transactionId for creating a follow-up: a GUID from the key (and where it is placed, and in which
    calendar), with our mark.

    Deterministic, so every retry of one create carries the same id. The placement is part of it because how
    long Graph remembers a transactionId, and what it answers for one whose event is gone, is undocumented
    (docs/microsoft-graph.md#calendar, docs/README.md#open-questions): a key deleted and created again later on another
    day must not collide with it. The calendar is part of it because whether Graph scopes a transactionId to a
    calendar or to the whole mailbox is undocumented too: follow-ups written again into another calendar (the
    old one lost, or another one configured) must be made there, not answered with the old calendar's events.
    Across runs, the property lookup before each create is what finds an event made before.
    """
    seed = key.lower() + ("|" + iso_z(planned) if planned is not None else "") + ("|" + calendar if calendar else "")
    tail = str(uuid.uuid5(TRANSACTION_NS, seed)).split("-", 1)[1]
    return f"{TRANSACTION_MARK}-{tail}"


def is_own(event: Mapping[str, Any]) -> bool:
    """Whether an event as the delta shows it is one of syncd's follow-ups (see the module docstring)."""
    tx = str(event.get("transactionId") or "").lower()
    if tx.startswith(TRANSACTION_MARK + "-"):
        return True
    return any(p.get("id") == KEY_PROP for p in event.get("singleValueExtendedProperties") or ())


def graph_time(value: Mapping[str, Any] | None) -> datetime | None:
    """A Graph ``dateTimeTimeZone`` as an aware UTC datetime (UTC by default, docs/microsoft-graph.md#event-fields);
    None if unreadable."""
    if not value or not value.get("dateTime"):
        return None
    text = str(value["dateTime"]).rstrip("Z")
    if "." in text:  # Graph writes seven fractional digits; Python reads six
        head, frac = text.split(".", 1)
        text = f"{head}.{frac[:6]}"
    try:
        naive = datetime.fromisoformat(text)
    except ValueError:
        return None
    if naive.tzinfo is not None:
        return naive.astimezone(UTC)
    zone = str(value.get("timeZone") or "UTC")
    tz: Any = UTC
    if zone not in ("UTC", "tzone://Microsoft/Utc", "Etc/UTC", "GMT"):
        with contextlib.suppress(Exception):
            tz = ZoneInfo(zone)  # an IANA name; Windows names are not asked for (no outlook.timezone Prefer)
    return naive.replace(tzinfo=tz).astimezone(UTC)


def graph_stamp(value: datetime) -> dict[str, str]:
    return {"dateTime": value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S"), "timeZone": "UTC"}


def iso_z(value: datetime) -> str:
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


# ---- source --------------------------------------------------------------------------------------------


class OutlookCalendarSource(Source):
    provider = "microsoft"

    def __init__(
        self, name: str, settings: Mapping[str, Any], secret: SecretSlot | None = None, *,
        token: TokenProvider | None = None, throttle: Throttle | None = None,
    ) -> None:
        super().__init__(name, settings, secret)
        self.client = account_client(name, settings, secret, token, throttle)
        self.page_size = int(settings.get("page_size") or 50)
        self.past: timedelta = settings.get("window_past") or timedelta(days=5 * 365)
        self.future: timedelta = settings.get("window_future") or timedelta(days=365)

    def _now(self) -> datetime:
        now: datetime | None = self.settings.get("now")
        return now or datetime.now(UTC)

    def pull(self, cursors: Mapping[str, str], known: KnownIds) -> Iterator[Batch]:
        now = self._now()
        state = _cursor(cursors.get(RESOURCE))
        if state and not str(state["link"]).startswith(self.client.root + "/"):
            # Links from another Graph root (graph_endpoint changed, e.g. to a national cloud) are never followed
            # (docs/microsoft-graph.md#next-links); the new root starts over with a full round instead of failing every
            # pull.
            state = {}
        window_end = state.get("end")
        # The window is fixed when a round starts; once half the look-ahead has passed, start a fresh full
        # round so future meetings beyond the old end are seen (the old links can never widen it).
        stale = window_end is None or datetime.fromisoformat(window_end) < now + self.future / 2
        if state.get("link") and not (stale and not state.get("full")):
            link: str = state["link"]
            full = bool(state.get("full"))
            start = datetime.fromisoformat(state["start"])
            end = datetime.fromisoformat(state["end"])
            params = None
        else:
            start, end, full = now - self.past, now + self.future, True
            link = "me/calendarView/delta"
            params = {"startDateTime": iso_z(start), "endDateTime": iso_z(end)}
        stored = known.known_ids(RESOURCE)
        seen: set[str] = set()
        headers = {"Prefer": f"odata.maxpagesize={self.page_size}"}
        pages = self.client.pages(link, params=params, headers=headers, what="Outlook calendar")
        while True:
            try:
                page = next(pages)
            except StopIteration:
                return
            except DeltaExpired as exc:
                raise CursorExpired(RESOURCE, f"the calendar's delta link expired ({exc})") from None
            next_cursor = json.dumps({
                "link": page.next_link or page.delta_link, "full": full and page.next_link is not None,
                "start": start.isoformat(), "end": end.isoformat(),
            })
            if not (page.next_link or page.delta_link):
                raise ConnectorError("Outlook calendar: a delta page had neither a next nor a delta link")
            batch = Batch(RESOURCE, next_cursor, full=full, complete=full and page.next_link is None)
            for entry in page.value:
                self._take(entry, batch, start, end, stored, seen)
            yield batch

    def _take(
        self, entry: Mapping[str, Any], batch: Batch, start: datetime, end: datetime, stored: set[str],
        seen: set[str],
    ) -> None:
        event_id = str(entry.get("id") or "")
        if not event_id:
            batch.skipped.append(Skip("calendar event without an id", "unreadable entry"))
            return
        gone = event_id in stored or event_id in seen
        if "@removed" in entry:
            # @removed also names events outside the window that were added, changed or deleted
            # (docs/microsoft-graph.md#calendar-delta): only ids this account holds are real deletions; the others were
            # never ours to drop.
            if gone:
                batch.deleted.append(event_id)
                seen.discard(event_id)
            return
        if is_own(entry) or entry.get("type") == "seriesMaster":
            # A follow-up is never a meeting; a series master is the pattern, its occurrences are the meetings.
            if gone:
                batch.deleted.append(event_id)
            return
        interaction = self._interaction(event_id, entry)
        if interaction.timestamp is None:
            batch.skipped.append(Skip(f"calendar event {str(entry.get('subject') or '')[:60]!r}", "no readable start"))
            return
        ends = interaction.end or interaction.timestamp
        if interaction.timestamp > end or ends < start:
            if gone:  # moved out of the window: no longer tracked
                batch.deleted.append(event_id)
                seen.discard(event_id)
            return
        seen.add(event_id)
        batch.interactions.append(interaction)

    def _interaction(self, event_id: str, event: Mapping[str, Any]) -> Interaction:
        start = graph_time(event.get("start"))
        end = graph_time(event.get("end"))
        participants: dict[str, Participant] = {}
        organizer = (event.get("organizer") or {}).get("emailAddress") or {}
        if organizer.get("address"):
            address = str(organizer["address"])
            participants[address.lower()] = Participant(address, str(organizer.get("name") or ""), "organizer")
        for attendee in event.get("attendees") or ():
            if str(attendee.get("type") or "").lower() == "resource":
                continue  # a room or equipment: never a person (attendee types: docs/microsoft-graph.md#event-fields)
            email = attendee.get("emailAddress") or {}
            address = str(email.get("address") or "")
            if not address:
                continue
            response = str((attendee.get("status") or {}).get("response") or "none").lower()
            if response == "organizer":
                participants[address.lower()] = Participant(address, str(email.get("name") or ""), "organizer")
                continue
            if address.lower() in participants and participants[address.lower()].role == "organizer":
                continue  # the organizer listed once more as an attendee: one participant
            participants[address.lower()] = Participant(
                address, str(email.get("name") or ""), "attendee", RESPONSES.get(response, "needs-action"))
        own = str((event.get("responseStatus") or {}).get("response") or "").lower()
        owner_response: Response | None = "accepted" if own == "organizer" else (
            None if own in ("", "none") else RESPONSES.get(own))
        series = event.get("seriesMasterId") if event.get("type") in ("occurrence", "exception") else None
        return Interaction(
            provider_id=event_id,
            kind="event",
            timestamp=start,
            end=max(end, start) if end and start else start,
            participants=list(participants.values()),
            subject=str(event.get("subject") or "").strip()[:200] or None,
            cancelled=bool(event.get("isCancelled")),
            series_id=str(series) if series else None,
            all_day=bool(event.get("isAllDay")),
            link=str(event["webLink"]) if event.get("webLink") else None,
            owner_response=owner_response,
        )


def _cursor(text: str | None) -> dict[str, Any]:
    if not text:
        return {}
    try:
        value = json.loads(text)
    except ValueError:
        return {}
    return value if isinstance(value, dict) and value.get("link") and value.get("end") else {}
