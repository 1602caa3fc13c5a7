"""Google Calendar: the selected calendars' meetings in (a Source), syncd's follow-ups out (a CalendarTarget).

Both speak Calendar v3 through google-api-python-client on the account's credentials
(:mod:`connectors.google_auth`), every request through one :class:`connectors.throttle.Throttle` (the
per-user budget of ``calendar_quota`` requests a minute, backoff on 429/403 rateLimitExceeded/5xx; the
library's own retries ignore Retry-After, apis.md §10.3).

SOURCE. RESOURCE = ``calendar:<id>`` per configured calendar. PROVIDER ID = ``<calendar id>/<event id>``:
with ``singleEvents=true`` every occurrence of a series has its own event id (``<series>_<start>``), and
one meeting has the same id on every calendar it appears on, while the store keys sightings per account,
so the calendar goes into the id. CURSOR = ``{"sync": nextSyncToken, "at": when that full sync began}``.

* A FULL SYNC lists with ``timeMin`` = now - ``window_past`` and nothing the sync token forbids later
  (apis.md §2.1); ``nextSyncToken`` comes on the last page only. Pages before it carry a cursor without a
  token, so an interrupted full sync starts over (the store's generations make that safe).
* An INCREMENTAL pull sends the token and nothing else that could differ (``singleEvents``,
  ``maxResults`` as at first; no ``showDeleted``: deletions always come, and false is refused). Changes
  to events outside [now - window_past, now + window_future] come too and are filtered here: such an event
  is treated as gone. Pages before the last carry the old cursor, which covers less, so a repeat is
  harmless. 410 ``fullSyncRequired`` raises :class:`CursorExpired`; a full resync is also made once the
  last one is ``resync_every`` old, so the moving window and far-future instances stay right.
* ``status=cancelled`` (a deleted event, or a cancelled occurrence of a series) is only guaranteed to have
  its id (§2.1): it becomes ``Batch.deleted``. Google has no "cancelled but shown" meeting state.
* syncd's own follow-ups (private property ``syncd=1``) are never meetings; rooms and other resource
  attendees are no people; non-``default`` event types (working location, out of office, focus time,
  birthdays, from Gmail) are no meetings.

TARGET. Follow-ups live in ``followups_calendar_id`` when set, else in a dedicated calendar syncd creates
(summary ``calendar_name``) and finds again in ``calendarList`` by a marker in its description, so a
renamed calendar is still found and a user's own "Follow-ups" calendar is never taken. Each event's id is
derived from the follow-up key (the base32hex recipe of §2.3), so a create retried after a lost answer
meets 409 and finds the event it made; the tag is the private extended property ``syncd=1`` plus
``syncd_key`` (keys ≤ 44 characters, §2.3), and an event is ours only when both are there AND its id is
the one derived from that key, checked here rather than trusting the server-side filter (§2.3: its
semantics are contested). Events carry no attendees, are written with ``sendUpdates=none``, are
``transparent`` and have one popup reminder. A cancelled tombstone keeps its id: a create meeting one
revives it (``status=confirmed``); an update or delete meeting one leaves it, the user deleted it.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import json
from collections.abc import Iterator, Mapping
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from connectors import google_auth
from connectors.base import (
    AuthRequired,
    Batch,
    CalendarTarget,
    ConnectorError,
    CursorExpired,
    FollowupEvent,
    Interaction,
    KnownIds,
    Participant,
    Response,
    SecretSlot,
    Skip,
    Source,
)
from connectors.throttle import RateBudget, Retry, RetryPolicy, Throttle

DEFAULT_ENDPOINT = "https://www.googleapis.com/calendar/v3/"
PAGE_SIZE = 2500  # the maximum (§2.1); Google may still send fewer, so pages are followed regardless
WINDOW_PAST = timedelta(days=5 * 365)
WINDOW_FUTURE = timedelta(days=365)
RESYNC_EVERY = timedelta(days=30)
RESPONSES: dict[str, Response] = {
    "accepted": "accepted", "declined": "declined", "tentative": "tentative", "needsAction": "needs-action",
}
MEETING_TYPES = {None, "default"}
# Calendars, rooms and groups have addresses in these domains: never a person, never the owner.
NOT_PEOPLE = ("calendar.google.com",)

TAG = "syncd"  # private extended property: "1" on every follow-up syncd writes
KEY = "syncd_key"
PERSON = "syncd_person"
PLANNED = "syncd_planned"
MINUTES = "syncd_minutes"  # the length syncd gave it: an event the user made all-day keeps reporting it
MARKER = "[syncd:followups]"  # in the dedicated calendar's description: how syncd finds it again


def event_id(key: str) -> str:
    """The event id of follow-up ``key``: base32hex of its SHA-256, 52 characters, valid for Google (§2.3)."""
    return base64.b32hexencode(hashlib.sha256(key.encode()).digest()).decode().lower().rstrip("=")


def _never(exc: BaseException) -> Retry | None:
    return None


class _Calendar:
    """The service and the throttle of one account, and the error mapping every call shares."""

    def __init__(self, name: str, settings: Mapping[str, Any], secret: SecretSlot | None,
                 throttle: Throttle | None) -> None:
        self.name = name
        credentials = google_auth.load_credentials(name, settings, secret)
        http = google_auth.authorized_http(credentials)
        self.service = google_auth.build_service(
            "calendar", "v3", settings.get("calendar_endpoint") or DEFAULT_ENDPOINT, http)
        self.throttle = throttle or Throttle(
            RateBudget(int(settings.get("calendar_quota") or 600), 60), RetryPolicy())

    def call(self, request: Any, what: str, *, expect: tuple[int, ...] = (), retry: bool = True) -> Any:
        """Execute ``request`` within the budget; HTTP statuses in ``expect`` propagate as HttpError, others
        become one sentence (never a token)."""
        from googleapiclient.errors import HttpError

        try:
            return self.throttle.call(request.execute, classify=google_auth.classify if retry else _never,
                                      units=1, what=what)
        except HttpError as exc:
            status = google_auth.status_of(exc)
            if status in expect:
                raise
            if status == 401:  # still refused after google-auth's refresh: the login no longer works
                raise AuthRequired(self.name, "Google refused the login") from None
            raise google_auth.describe_error(what, exc) from None


def _instant(value: Mapping[str, Any] | None) -> tuple[datetime, bool] | None:
    """An event's start/end in UTC and whether it is all-day (a ``date``: 00:00 UTC of that day, like ics)."""
    if not value:
        return None
    if value.get("dateTime"):
        parsed = datetime.fromisoformat(str(value["dateTime"]).replace("Z", "+00:00"))
        if parsed.tzinfo is None:
            parsed = parsed.replace(tzinfo=ZoneInfo(value["timeZone"]) if value.get("timeZone") else UTC)
        return parsed.astimezone(UTC), False
    if value.get("date"):
        day = date.fromisoformat(str(value["date"]))
        return datetime(day.year, day.month, day.day, tzinfo=UTC), True
    return None


def _rfc3339(value: datetime) -> str:
    return value.astimezone(UTC).isoformat().replace("+00:00", "Z")  # the offset is mandatory (§2.1)


def _person(address: str) -> bool:
    return "@" in address and not address.lower().endswith(NOT_PEOPLE)


def _private(event: Mapping[str, Any]) -> dict[str, Any]:
    props = event.get("extendedProperties") or {}
    private = props.get("private") if isinstance(props, dict) else None
    return private if isinstance(private, dict) else {}


def _is_followup(event: Mapping[str, Any]) -> bool:
    return _private(event).get(TAG) == "1"


# ---- source ---------------------------------------------------------------------------------------------


class GoogleCalendarSource(Source):
    provider = "google"

    def __init__(self, name: str, settings: Mapping[str, Any], secret: SecretSlot | None = None, *,
                 throttle: Throttle | None = None) -> None:
        super().__init__(name, settings, secret)
        self.throttle = throttle
        self.me = {str(a).lower() for a in settings.get("me") or ()}

    def pull(self, cursors: Mapping[str, str], known: KnownIds) -> Iterator[Batch]:
        calendars = self.settings.get("calendars", ("primary",))
        if not calendars:
            return
        client = _Calendar(self.name, self.settings, self.secret, self.throttle)
        now: datetime = self.settings.get("now") or datetime.now(UTC)
        window = (now - (self.settings.get("window_past") or WINDOW_PAST),
                  now + (self.settings.get("window_future") or WINDOW_FUTURE))
        for calendar_id in calendars:
            yield from self._calendar(client, str(calendar_id), cursors.get(f"calendar:{calendar_id}"), known,
                                      now, window)
        selected = {f"calendar:{calendar_id}" for calendar_id in calendars}
        for resource in sorted(r for r in cursors if r.startswith("calendar:") and r not in selected):
            # A calendar no longer selected: its meetings are no longer read, so they go (as ics does for a
            # file that is gone); the cursor is cleared, so this happens once.
            yield Batch(resource, None, deleted=sorted(known.known_ids(resource)), full=True, complete=True)

    def _calendar(self, client: _Calendar, calendar_id: str, previous: str | None, known: KnownIds,
                  now: datetime, window: tuple[datetime, datetime]) -> Iterator[Batch]:
        from googleapiclient.errors import HttpError

        resource = f"calendar:{calendar_id}"
        state: dict[str, Any] = {}
        if previous:
            try:
                loaded = json.loads(previous)
                state = loaded if isinstance(loaded, dict) else {}
            except ValueError:
                state = {}
        token = state.get("sync")
        started = state.get("at")
        if token and started:
            try:
                if now - datetime.fromisoformat(str(started)) > (self.settings.get("resync_every") or RESYNC_EVERY):
                    token = None  # the window moved a lot since: a full sync sweeps what fell out of it
            except (TypeError, ValueError):
                token = None
        full = not token
        params: dict[str, Any] = {"calendarId": calendar_id, "singleEvents": True, "maxResults": PAGE_SIZE}
        if full:
            # Only what a syncToken request may differ in (§2.1): the window's lower end, nothing else.
            params["timeMin"] = _rfc3339(window[0])
            started = _rfc3339(now)
        else:
            params["syncToken"] = token
        known_ids = None if full else known.known_ids(resource)
        prefix = f"{calendar_id}/"
        owners: set[str] = set(self.me)
        if "@" in calendar_id and _person(calendar_id):
            owners.add(calendar_id.lower())
        page: str | None = None
        while True:
            what = f"Google Calendar {calendar_id}"
            try:
                response = client.call(client.service.events().list(**params, pageToken=page), what,
                                       expect=(403, 404, 410))
            except HttpError as exc:
                status, reason = google_auth.status_of(exc), google_auth.http_error_reason(exc)
                if status == 410 and not full:
                    raise CursorExpired(resource, "Google asked for a full sync (the sync token expired)") from None
                if status in (403, 404):
                    # One calendar gone or no longer shared: skip it and keep the others; the cursor stays.
                    why = "not found (deleted, or no longer shared with you)" if status == 404 else (
                        f"access refused ({reason or 'forbidden'})")
                    yield Batch(resource, previous, skipped=[Skip(resource, f"calendar {why}")])
                    return
                raise google_auth.describe_error(what, exc) from None
            batch = Batch(resource, None, full=full)
            for event in response.get("items") or []:
                self._take(event, prefix, window, batch, owners, known_ids)
            page = response.get("nextPageToken")
            if page:
                # Mid-listing: a full sync's page resumes nothing (no token yet); an incremental one keeps the
                # old token, which covers less than what was yielded (a repeat is harmless).
                batch.cursor = json.dumps({"partial": True}) if full else previous
                yield batch
                continue
            sync = response.get("nextSyncToken")
            batch.cursor = json.dumps({"sync": sync, "at": started}) if sync else json.dumps({"partial": True})
            batch.complete = full
            batch.owner_addresses = sorted(owners)
            if full or batch.interactions or batch.deleted or batch.skipped or batch.cursor != previous:
                yield batch
            return

    def _take(self, event: Mapping[str, Any], prefix: str, window: tuple[datetime, datetime], batch: Batch,
              owners: set[str], known_ids: set[str] | None) -> None:
        provider_id = prefix + str(event.get("id", ""))
        if event.get("status") == "cancelled":
            # Only the id is guaranteed (§2.1). Named only when stored, so the pull's summary counts real
            # removals, not deletions of events syncd never kept (its own follow-ups, far-away ones).
            if known_ids is None or provider_id in known_ids:
                batch.deleted.append(provider_id)
            return
        if _is_followup(event) or event.get("eventType") not in MEETING_TYPES:
            return  # syncd's own follow-up, or no meeting at all: never a contact
        try:
            interaction = self._interaction(event, provider_id, owners)
        except (ValueError, TypeError, KeyError) as exc:
            batch.skipped.append(Skip(provider_id, f"unreadable event: {type(exc).__name__}: {str(exc)[:120]}"))
            return
        assert interaction.timestamp is not None and interaction.end is not None
        if interaction.end <= window[0] or interaction.timestamp >= window[1]:
            # A change outside the window (incremental lists every change, §2.1): as good as gone.
            if known_ids is not None and provider_id in known_ids:
                batch.deleted.append(provider_id)
            return
        batch.interactions.append(interaction)

    def _interaction(self, event: Mapping[str, Any], provider_id: str, owners: set[str]) -> Interaction:
        start = _instant(event.get("start"))
        if start is None:
            raise ValueError("no start")
        end = _instant(event.get("end"))
        all_day = start[1]
        finish = end[0] if end is not None else start[0] + (timedelta(days=1) if all_day else timedelta(0))
        participants: list[Participant] = []
        organizer = event.get("organizer") or {}
        organizer_address = str(organizer.get("email") or "").strip()
        if organizer.get("self") and _person(organizer_address):
            owners.add(organizer_address.lower())
        if _person(organizer_address):
            participants.append(Participant(organizer_address, str(organizer.get("displayName") or ""), "organizer"))
        owner_response: Response | None = None
        for attendee in event.get("attendees") or []:
            address = str(attendee.get("email") or "").strip()
            response = RESPONSES.get(str(attendee.get("responseStatus")), "needs-action")
            if attendee.get("self"):
                owner_response = response  # §2.2: the self entry is this calendar's own answer
                if _person(address):
                    owners.add(address.lower())
            if attendee.get("resource") or not _person(address):
                continue  # a room or a calendar, not a person
            participants.append(Participant(address, str(attendee.get("displayName") or ""), "attendee", response))
        if owner_response is None and self.me:
            for participant in participants:
                if participant.role == "attendee" and participant.address.lower() in self.me:
                    owner_response = participant.response
        return Interaction(
            provider_id=provider_id,
            kind="event",
            timestamp=start[0],
            end=max(finish, start[0]),
            participants=participants,
            subject=str(event.get("summary") or "").strip()[:200] or None,
            series_id=str(event["recurringEventId"]) if event.get("recurringEventId") else None,
            all_day=all_day,
            link=str(event["htmlLink"]) if event.get("htmlLink") else None,
            owner_response=owner_response,
        )


# ---- target ---------------------------------------------------------------------------------------------


class GoogleCalendarTarget(CalendarTarget):
    provider = "google"

    def __init__(self, name: str, settings: Mapping[str, Any], secret: SecretSlot | None = None, *,
                 throttle: Throttle | None = None) -> None:
        self.name = name
        self.settings = settings
        self.secret = secret
        self.throttle = throttle
        self.calendar_name = str(settings.get("calendar_name") or "Follow-ups")
        self._client: _Calendar | None = None
        self._calendar_id: str | None = settings.get("followups_calendar_id") or None
        # Our live events as list_own saw them (key → event): update/delete then need no extra get.
        self._seen: dict[str, dict[str, Any]] = {}

    @property
    def client(self) -> _Calendar:
        if self._client is None:
            self._client = _Calendar(self.name, self.settings, self.secret, self.throttle)
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
            # apis.md §2.4/§2.5): the login needs a calendar-list scope to find the dedicated calendar.
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
                                               classify=_never, units=1, what=what)
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
                return found
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
            listing = client.call(client.service.events().list(calendarId=other, showDeleted=True, maxResults=1),
                                  "Google Calendar: checking a duplicate follow-ups calendar", expect=(403, 404))
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
        private = _private(event)
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
                PLANNED: _rfc3339(event.planned_start) if event.planned_start is not None else None,
                MINUTES: str(event.duration_minutes),
            }},
            # No attendees, ever: a calendar with attendees emails them.
        }

    @staticmethod
    def _followup(event: Mapping[str, Any]) -> FollowupEvent | None:
        private = _private(event)
        start, end = _instant(event.get("start")), _instant(event.get("end"))
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

    def list_own(self) -> list[FollowupEvent]:
        calendar = self._calendar(create=False)
        self._seen = {}
        if calendar is None:
            return []  # the dedicated calendar is made on the first create, never by a listing
        client, page, own = self.client, None, []
        while True:
            # One constraint only, re-checked below: repeated constraints' semantics are contested (§2.3).
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
            # A timeout is retried as is: the deterministic id turns a landed first try into a 409 (§2.3).
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
        # Ours already: an earlier try landed, or our own tombstone (deleted events keep their id, §2.3).
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
            # Gone meanwhile (404/410), or refused as deleted in the web UI (403, §2.3): the user deleted
            # it, which is respected; the next run sees it absent.
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
        # 410 deleted / 404: already gone, which is what was wanted (§2.3).
        with contextlib.suppress(HttpError):
            client.call(client.service.events().delete(calendarId=calendar, eventId=event_id(key), sendUpdates="none"),
                        "Google Calendar: deleting a follow-up", expect=(404, 410))


__all__ = ["GoogleCalendarSource", "GoogleCalendarTarget", "event_id"]
