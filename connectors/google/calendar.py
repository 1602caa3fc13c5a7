"""Google Calendar: the selected calendars' meetings in (a Source), syncd's follow-ups out (a CalendarTarget).

Both speak Calendar v3 through google-api-python-client on the account's credentials
(:mod:`connectors.google.auth`), every request through one :class:`connectors.throttle.Throttle` (the
per-user budget of ``calendar_quota`` requests a minute, backoff on 429/403 rateLimitExceeded/5xx; the
library's own retries ignore Retry-After, docs/gmail.md#client-library-retries).

SOURCE. RESOURCE = ``calendar:<id>`` per configured calendar. PROVIDER ID = ``<calendar id>/<event id>``:
with ``singleEvents=true`` every occurrence of a series has its own event id (``<series>_<start>``), and
one meeting has the same id on every calendar it appears on, while the store keys sightings per account,
so the calendar goes into the id. CURSOR = ``{"sync": nextSyncToken, "at": when that full sync began}``.

* A FULL SYNC lists with ``timeMin`` = now - ``window_past`` and nothing the sync token forbids later
  (docs/google-calendar.md#listing-events); ``nextSyncToken`` comes on the last page only. Pages before it carry a
  cursor without a token, so an interrupted full sync starts over (the store's generations make that safe).
* An INCREMENTAL pull sends the token and nothing else that could differ (``singleEvents``,
  ``maxResults`` as at first; no ``showDeleted``: deletions always come, and false is refused). Changes
  to events outside [now - window_past, now + window_future] come too and are filtered here: such an event
  is treated as gone. Pages before the last carry the old cursor, which covers less, so a repeat is
  harmless. 410 ``fullSyncRequired`` raises :class:`CursorExpired`; a full resync is also made once the
  last one is ``resync_every`` old, so the moving window and far-future instances stay right.
* ``status=cancelled`` (a deleted event, or a cancelled occurrence of a series) is only guaranteed to have its id
  (docs/google-calendar.md#cancelled-events): it becomes ``Batch.deleted``. Google has no "cancelled but shown"
  meeting state.
* syncd's own follow-ups (private property ``syncd=1``) are never meetings; rooms and other resource
  attendees are no people; non-``default`` event types (working location, out of office, focus time,
  birthdays, from Gmail) are no meetings.

TARGET. Follow-ups live in ``followups_calendar_id`` when set, else in a dedicated calendar syncd creates (summary
``calendar_name``) and finds again in ``calendarList`` by a marker in its description, so a renamed calendar is
still found and a user's own "Follow-ups" calendar is never taken. Each event's id is derived from the follow-up key
(the base32hex recipe of docs/google-calendar.md#event-ids), so a create retried after a lost answer meets 409 and
finds the event it made; the tag is the private extended property ``syncd=1`` plus ``syncd_key`` (keys ≤ 44
characters, docs/google-calendar.md#extended-properties), and an event is ours only when both are there AND its id
is the one derived from that key, checked here rather than trusting the server-side filter
(docs/google-calendar.md#extended-properties: its semantics are contested). Events carry no attendees, are written
with ``sendUpdates=none``, are ``transparent`` and have one popup reminder. A cancelled tombstone keeps its id: a
create meeting one revives it (``status=confirmed``); an update or delete meeting one leaves it, the user deleted
it.
"""

from __future__ import annotations

import base64
import hashlib
import json
from collections.abc import Iterator, Mapping
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from connectors.base import (
    AuthRequired,
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
from connectors.google import auth as google_auth
from connectors.recurrence import OncePerDay
from connectors.throttle import Retry, Throttle

DEFAULT_ENDPOINT = "https://www.googleapis.com/calendar/v3/"
# the maximum (docs/google-calendar.md#listing-events); Google may still send fewer, so pages are followed regardless
PAGE_SIZE = 2500
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
    """The event id of follow-up ``key``: base32hex of its SHA-256, 52 characters, valid for Google
    (docs/google-calendar.md#event-ids)."""
    return base64.b32hexencode(hashlib.sha256(key.encode()).digest()).decode().lower().rstrip("=")


def never_retry(exc: BaseException) -> Retry | None:
    return None


class CalendarClient:
    """The service and the throttle of one account, and the error mapping every call shares."""

    def __init__(self, name: str, settings: Mapping[str, Any], secret: SecretSlot | None,
                 throttle: Throttle | None) -> None:
        self.name = name
        credentials = google_auth.load_credentials(name, settings, secret)
        http = google_auth.authorized_http(credentials)
        self.service = google_auth.build_service(
            "calendar", "v3", settings.get("calendar_endpoint") or DEFAULT_ENDPOINT, http)
        quota = int(settings.get("calendar_quota") or 600)
        endpoint = settings.get("calendar_endpoint") or DEFAULT_ENDPOINT
        self.throttle = throttle or google_auth.account_throttle(name, "calendar", endpoint, quota)

    def call(self, request: Any, what: str, *, expect: tuple[int, ...] = (), retry: bool = True) -> Any:
        """Execute ``request`` within the budget; HTTP statuses in ``expect`` propagate as HttpError, others
        become one sentence (never a token)."""
        from googleapiclient.errors import HttpError

        try:
            answer = self.throttle.call(request.execute, classify=google_auth.classify if retry else never_retry,
                                        units=1, what=what)
            return google_auth.api_answer(what, answer)
        except HttpError as exc:
            status = google_auth.status_of(exc)
            if status in expect:
                raise
            if status == 401:  # still refused after google-auth's refresh: the login no longer works
                raise AuthRequired(self.name, "Google refused the login") from None
            raise google_auth.describe_error(what, exc) from None
        except ConnectorError:
            raise
        except Exception as exc:  # a transport or refresh failure classify did not retry: one sentence
            raise google_auth.describe_error(what, exc) from None


def instant(value: Mapping[str, Any] | None) -> tuple[datetime, bool] | None:
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


def rfc3339(value: datetime) -> str:
    # the offset is mandatory (docs/google-calendar.md#listing-events)
    return value.astimezone(UTC).isoformat().replace("+00:00", "Z")


def _person(address: str) -> bool:
    return "@" in address and not address.lower().endswith(NOT_PEOPLE)


def private_properties(event: Mapping[str, Any]) -> dict[str, Any]:
    props = event.get("extendedProperties") or {}
    private = props.get("private") if isinstance(props, dict) else None
    return private if isinstance(private, dict) else {}


def _is_followup(event: Mapping[str, Any]) -> bool:
    return private_properties(event).get(TAG) == "1"


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
        client = CalendarClient(self.name, self.settings, self.secret, self.throttle)
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

    def _calendar(self, client: CalendarClient, calendar_id: str, previous: str | None, known: KnownIds,
                  now: datetime, window: tuple[datetime, datetime]) -> Iterator[Batch]:
        resource = f"calendar:{calendar_id}"
        token, started = self._resume(previous, now)
        full = not token
        params: dict[str, Any] = {"calendarId": calendar_id, "singleEvents": True, "maxResults": PAGE_SIZE}
        if full:
            # Only what a syncToken request may differ in (docs/google-calendar.md#sync-tokens): the window's lower
            # end, nothing else.
            params["timeMin"] = rfc3339(window[0])
            started = rfc3339(now)
        else:
            params["syncToken"] = token
        known_ids = None if full else known.known_ids(resource)
        prefix = f"{calendar_id}/"
        owners: set[str] = set(self.me)
        if "@" in calendar_id and _person(calendar_id):
            owners.add(calendar_id.lower())
        page: str | None = None
        thinning = OncePerDay()
        while True:
            response = self._list_page(client, params, page, resource, full)
            if isinstance(response, Skip):
                yield Batch(resource, previous, skipped=[response])  # the cursor stays; the others go on
                return
            batch = Batch(resource, None, full=full)
            for event in response.get("items") or []:
                self._take(event, prefix, window, batch, owners, known_ids, thinning)
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

    def _resume(self, previous: str | None, now: datetime) -> tuple[str | None, str | None]:
        """The sync token to go on from and when its full sync began; no token when a full sync is due."""
        state: dict[str, Any] = {}
        if previous:
            try:
                loaded = json.loads(previous)
                state = loaded if isinstance(loaded, dict) else {}
            except ValueError:
                state = {}
        token, started = state.get("sync"), state.get("at")
        if token and started:
            try:
                if now - datetime.fromisoformat(str(started)) > (self.settings.get("resync_every") or RESYNC_EVERY):
                    token = None  # the window moved a lot since: a full sync sweeps what fell out of it
            except (TypeError, ValueError):
                token = None
        return token, started

    def _list_page(self, client: CalendarClient, params: dict[str, Any], page: str | None, resource: str,
                   full: bool) -> dict[str, Any] | Skip:
        """One page of the listing, or why this calendar is skipped (gone, or no longer shared)."""
        from googleapiclient.errors import HttpError

        what = f"Google Calendar {params['calendarId']}"
        try:
            answer: dict[str, Any] = client.call(client.service.events().list(**params, pageToken=page), what,
                                                 expect=(403, 404, 410))
            return answer
        except HttpError as exc:
            status, reason = google_auth.status_of(exc), google_auth.http_error_reason(exc)
            if status == 410 and not full:
                raise CursorExpired(resource, "Google asked for a full sync (the sync token expired)") from None
            if status == 403 and reason in ("dailyLimitExceeded", "quotaExceeded"):
                raise google_auth.describe_error(what, exc) from None  # the whole account waits, not a skip
            if status == 404:
                return Skip(resource, "calendar not found (deleted, or no longer shared with you)")
            if status == 403:
                return Skip(resource, f"calendar access refused ({reason or 'forbidden'})")
            raise google_auth.describe_error(what, exc) from None

    def _take(self, event: Mapping[str, Any], prefix: str, window: tuple[datetime, datetime], batch: Batch,
              owners: set[str], known_ids: set[str] | None, thinning: OncePerDay) -> None:
        provider_id = prefix + str(event.get("id", ""))
        if event.get("status") == "cancelled":
            # Only the id is guaranteed (docs/google-calendar.md#cancelled-events). Named only when stored, so the
            # pull's summary counts real removals, not deletions of events syncd never kept (its own follow-ups,
            # far-away ones).
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
            # A change outside the window (incremental lists every change, docs/google-calendar.md#sync-tokens): as good
            # as gone.
            if known_ids is not None and provider_id in known_ids:
                batch.deleted.append(provider_id)
            return
        if interaction.series_id is not None:
            # Google expands any RFC 5545 rule, FREQ=MINUTELY too: one a day is kept (connectors.recurrence).
            note = thinning.admit(interaction.series_id, interaction.timestamp)
            if note is not None:
                if note:
                    batch.skipped.append(Skip(f"{prefix}{interaction.series_id}", note))
                return
        batch.interactions.append(interaction)

    def _interaction(self, event: Mapping[str, Any], provider_id: str, owners: set[str]) -> Interaction:
        start = instant(event.get("start"))
        if start is None:
            raise ValueError("no start")
        end = instant(event.get("end"))
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
                # docs/google-calendar.md#attendees: the self entry is this calendar's own answer
                owner_response = response
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
