"""Google Calendar target: syncd's follow-ups in a dedicated (or the chosen) calendar, tagged and idempotent.

Shared pieces (the client wrapper, tags, time helpers) are in :mod:`connectors.google.calendar`; the module
docstring there explains the tag, the deterministic ids and the 409/410 handling
(docs/google-calendar.md#writing-events).
"""

from __future__ import annotations

import contextlib
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from connectors.base import (
    CalendarTarget,
    ConnectorError,
    FollowupEvent,
    SecretSlot,
)
from connectors.google import auth as google_auth
from connectors.google.calendar import (
    KEY,
    MARKER,
    MINUTES,
    PAGE_SIZE,
    PERSON,
    PLANNED,
    TAG,
    CalendarClient,
    event_id,
    instant,
    never_retry,
    private_properties,
    rfc3339,
)
from connectors.throttle import Throttle


class GoogleCalendarTarget(CalendarTarget):
    provider = "google"

    def __init__(self, name: str, settings: Mapping[str, Any], secret: SecretSlot | None = None, *,
                 throttle: Throttle | None = None) -> None:
        super().__init__(name, settings, secret)
        self.throttle = throttle
        self.calendar_name = str(settings.get("calendar_name") or "Follow-ups")
        self._client: CalendarClient | None = None
        self._calendar_id: str | None = settings.get("followups_calendar_id") or None
        # Our live events as list_own saw them (key → event): update/delete then need no extra get.
        self._seen: dict[str, dict[str, Any]] = {}

    @property
    def client(self) -> CalendarClient:
        if self._client is None:
            self._client = CalendarClient(self.name, self.settings, self.secret, self.throttle)
        return self._client

    # ---- the calendar ---------------------------------------------------------------------------------

    def _marked(self) -> list[str]:
        """Ids of the calendars syncd made, by the marker in their description (the name may be changed)."""
        found, page = [], None
        while True:
            response = self._list_calendars(page)
            for entry in response.get("items") or []:
                if MARKER in str(entry.get("description") or "") and entry.get("accessRole") == "owner":
                    found.append(str(entry["id"]))
            page = response.get("nextPageToken")
            if not page:
                return sorted(found)

    def _find_calendar(self) -> str | None:
        marked = self._marked()
        # Several only after a create whose answer was lost: always the same one is used (see _settle).
        return marked[0] if marked else None

    def _list_calendars(self, page: str | None) -> dict[str, Any]:
        from googleapiclient.errors import HttpError

        client = self.client
        try:
            result: dict[str, Any] = client.call(client.service.calendarList().list(pageToken=page, maxResults=250),
                                                 "Google Calendar list of calendars", expect=(403,))
        except HttpError as exc:
            # calendarList.list takes none of calendar.app.created / calendar.events* (discovery document,
            # docs/google-calendar.md#calendar-list, docs/google-calendar.md#scopes): the login needs a calendar-list
            # scope to find the dedicated calendar.
            raise ConnectorError(
                f"account '{self.name}': Google refused to list your calendars "
                f"({google_auth.http_error_reason(exc) or 'forbidden'}), so syncd cannot find its follow-ups "
                "calendar; log in again to grant calendar-list access, or set followups_calendar_id"
            ) from None
        return result

    def _calendar(self, create: bool) -> str | None:
        if self._calendar_id is None:
            self._calendar_id = self._find_calendar()
        if self._calendar_id is None and create:
            self._calendar_id = self._create_calendar()
        return self._calendar_id

    def _create_calendar(self) -> str:
        """calendars.insert is not idempotent, so it is never blindly retried: after a failure syncd looks
        before trying again (a lost answer may have created it), and after a success it settles duplicates."""
        from googleapiclient.errors import HttpError

        client = self.client
        what = "Google Calendar: creating the follow-ups calendar"
        body = {"summary": self.calendar_name,
                "description": f"Follow-ups written by syncd. syncd finds this calendar by this tag: {MARKER}"}
        policy = client.throttle.policy
        for attempt in range(policy.attempts):
            try:
                created = client.throttle.call(client.service.calendars().insert(body=body).execute,
                                               classify=never_retry, units=1, what=what)
                return self._settle(str(created["id"]))
            except Exception as exc:  # classify decides, as Throttle.call would
                retry = google_auth.classify(exc)
                if retry is None:
                    if isinstance(exc, HttpError):
                        raise google_auth.describe_error(what, exc) from None
                    raise
                if attempt + 1 >= policy.attempts:
                    raise ConnectorError(f"{what}: Google kept failing ({retry.why}); try again later") from None
                client.throttle.sleep(policy.delay(attempt, retry.after))
            found = self._find_calendar()
            if found is not None:
                return self._settle(found)  # both sends may have landed: one calendar is kept
        raise AssertionError("unreachable")  # pragma: no cover

    def _settle(self, created: str) -> str:
        """One dedicated calendar, even when a create was sent twice: httplib2 itself resends a request whose
        connection dropped before the answer, POSTs included, so a landed first try can hide behind a
        successful second one. The first marked calendar by id is kept; other marked ones that are still
        empty (they were only just made) are removed."""
        from googleapiclient.errors import HttpError

        marked = self._marked()
        if created not in marked:
            marked = sorted([*marked, created])  # the list may lag behind the insert
        chosen, client = marked[0], self.client
        for other in marked[1:]:
            try:
                listing = client.call(client.service.events().list(calendarId=other, showDeleted=True, maxResults=1),
                                      "Google Calendar: checking a duplicate follow-ups calendar", expect=(403, 404))
            except HttpError:
                continue  # gone already, or not ours to read: left alone
            if listing.get("items"):
                continue  # holds events: never removed
            with contextlib.suppress(HttpError):
                client.call(client.service.calendars().delete(calendarId=other),
                            "Google Calendar: removing a duplicate follow-ups calendar", expect=(403, 404))
        return chosen

    # ---- events ---------------------------------------------------------------------------------------

    @staticmethod
    def _ours(event: Mapping[str, Any], key: str | None = None) -> bool:
        """syncd's tag, its key, and the id derived from that key: a copy, a lookalike id or a spoofed
        property alone is not enough."""
        private = private_properties(event)
        own_key = private.get(KEY)
        return (private.get(TAG) == "1" and isinstance(own_key, str) and bool(own_key)
                and (key is None or own_key == key) and event.get("id") == event_id(own_key))

    def _body(self, event: FollowupEvent) -> dict[str, Any]:
        def when(moment: datetime) -> dict[str, str]:
            value = {"dateTime": moment.isoformat()}
            if isinstance(moment.tzinfo, ZoneInfo):
                value["timeZone"] = moment.tzinfo.key  # shown in the user's zone, DST-correct
            return value

        end = event.start + timedelta(minutes=event.duration_minutes)
        return {
            "summary": event.title,
            "description": event.description,
            "start": when(event.start),
            "end": when(end),
            "transparency": "transparent",  # never blocks time
            "reminders": {"useDefault": False,
                          "overrides": [{"method": "popup", "minutes": max(0, min(event.reminder_minutes, 40320))}]},
            "extendedProperties": {"private": {
                TAG: "1", KEY: event.key, PERSON: event.person[:1024],
                PLANNED: rfc3339(event.planned_start) if event.planned_start is not None else None,
                MINUTES: str(event.duration_minutes),
            }},
            # No attendees, ever: a calendar with attendees emails them.
        }

    @staticmethod
    def _followup(event: Mapping[str, Any]) -> FollowupEvent | None:
        private = private_properties(event)
        start, end = instant(event.get("start")), instant(event.get("end"))
        if start is None:
            return None
        reminder = 0
        for override in (event.get("reminders") or {}).get("overrides") or []:
            if override.get("method") == "popup":
                reminder = int(override.get("minutes") or 0)
                break
        planned = None
        if private.get(PLANNED):
            try:
                planned = datetime.fromisoformat(str(private[PLANNED]).replace("Z", "+00:00")).astimezone(UTC)
            except ValueError:
                planned = None
        minutes = round((end[0] - start[0]).total_seconds() / 60) if end is not None else 0
        if start[1] and str(private.get(MINUTES, "")).isdigit():
            # The user made it all-day (a snooze to that day): its length is syncd's, or every run would see
            # the text changed and rewrite it.
            minutes = int(private[MINUTES])
        return FollowupEvent(
            key=str(private[KEY]), person=str(private.get(PERSON) or ""), start=start[0],
            duration_minutes=minutes, title=str(event.get("summary") or ""),
            description=str(event.get("description") or ""), reminder_minutes=reminder, planned_start=planned,
        )

    def _same(self, existing: Mapping[str, Any], event: FollowupEvent) -> bool:
        current = self._followup(existing)
        return (current is not None and existing.get("status") != "cancelled"
                and existing.get("transparency") == "transparent"
                and (current.start, current.duration_minutes, current.title, current.description,
                     current.reminder_minutes, current.planned_start)
                == (event.start, event.duration_minutes, event.title, event.description,
                    event.reminder_minutes, event.planned_start))

    def _get(self, calendar: str, key: str) -> dict[str, Any] | None:
        client = self.client
        from googleapiclient.errors import HttpError

        try:
            found: dict[str, Any] = client.call(
                client.service.events().get(calendarId=calendar, eventId=event_id(key)),
                "Google Calendar: reading a follow-up", expect=(404, 410))
        except HttpError:
            return None
        return found

    def where(self) -> str | None:
        return self._calendar_id

    def list_own(self) -> list[FollowupEvent]:
        calendar = self._calendar(create=False)
        self._seen = {}
        if calendar is None:
            return []  # the dedicated calendar is made on the first create, never by a listing
        client, page, own = self.client, None, []
        while True:
            # One constraint only, re-checked below: repeated constraints' semantics are contested
            # (docs/google-calendar.md#extended-properties).
            response = client.call(
                client.service.events().list(calendarId=calendar, privateExtendedProperty=f"{TAG}=1",
                                             maxResults=PAGE_SIZE, pageToken=page),
                "Google Calendar: listing follow-ups")
            for event in response.get("items") or []:
                if event.get("status") == "cancelled" or not self._ours(event):
                    continue
                followup = self._followup(event)
                if followup is not None and followup.key not in self._seen:
                    self._seen[followup.key] = event
                    own.append(followup)
            page = response.get("nextPageToken")
            if not page:
                break
        return sorted(own, key=lambda e: (e.start, e.key))

    def create(self, event: FollowupEvent) -> None:
        from googleapiclient.errors import HttpError

        calendar = self._calendar(create=True)
        assert calendar is not None
        client, body = self.client, self._body(event)
        insert = {**body, "id": event_id(event.key)}
        insert["extendedProperties"] = {"private": {k: v for k, v in body["extendedProperties"]["private"].items()
                                                    if v is not None}}
        try:
            # A timeout is retried as is: the deterministic id turns a landed first try into a 409
            # (docs/google-calendar.md#duplicates-and-tombstones).
            self._seen[event.key] = client.call(
                client.service.events().insert(calendarId=calendar, body=insert, sendUpdates="none"),
                "Google Calendar: creating a follow-up", expect=(409,))
            return
        except HttpError:
            pass
        existing = self._get(calendar, event.key)
        if existing is None:
            raise ConnectorError(f"Google Calendar: follow-up {event.key} exists yet cannot be read; trying next run")
        if not self._ours(existing, event.key):
            raise ConnectorError(f"Google Calendar: an event syncd did not make holds the id of follow-up {event.key}; "
                                 "it is left alone")
        if self._same(existing, event):
            self._seen[event.key] = existing
            return
        # Ours already: an earlier try landed, or our own tombstone (deleted events keep their id,
        # docs/google-calendar.md#duplicates-and-tombstones).
        self._patch(calendar, event.key, {**body, "status": "confirmed"})

    def _patch(self, calendar: str, key: str, body: dict[str, Any]) -> None:
        from googleapiclient.errors import HttpError

        client = self.client
        try:
            self._seen[key] = client.call(
                client.service.events().patch(calendarId=calendar, eventId=event_id(key), body=body,
                                              sendUpdates="none"),
                "Google Calendar: updating a follow-up", expect=(403, 404, 410))
        except HttpError as exc:
            if google_auth.status_of(exc) == 403 and google_auth.http_error_reason(exc) not in ("", "forbidden"):
                raise google_auth.describe_error("Google Calendar: updating a follow-up", exc) from None
            # Gone meanwhile (404/410), or refused as deleted in the web UI (403,
            # docs/google-calendar.md#duplicates-and-tombstones): the user deleted it, which is respected; the next run
            # sees it absent.
            self._seen.pop(key, None)

    def update(self, event: FollowupEvent) -> None:
        calendar = self._calendar(create=False)
        if calendar is None:
            return
        existing = self._seen.get(event.key) or self._get(calendar, event.key)
        if existing is None or existing.get("status") == "cancelled" or not self._ours(existing, event.key):
            return  # deleted by the user (respected), or not ours (never touched)
        body = self._body(event)
        if "date" in (existing.get("start") or {}):
            del body["start"], body["end"]  # all-day by the user's hand: only the text is refreshed
        self._patch(calendar, event.key, body)

    def delete(self, key: str) -> None:
        from googleapiclient.errors import HttpError

        calendar = self._calendar(create=False)
        if calendar is None:
            return
        existing = self._seen.pop(key, None) or self._get(calendar, key)
        if existing is None or existing.get("status") == "cancelled" or not self._ours(existing, key):
            return  # already gone, or not ours
        client = self.client
        # 410 deleted / 404: already gone, which is what was wanted (docs/google-calendar.md#duplicates-and-tombstones).
        with contextlib.suppress(HttpError):
            client.call(client.service.events().delete(calendarId=calendar, eventId=event_id(key), sendUpdates="none"),
                        "Google Calendar: deleting a follow-up", expect=(404, 410))


