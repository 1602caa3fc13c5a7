"""Google Calendar v3, faked statefully on a :class:`FakeServer` (docs/google-calendar.md, docs/testing.md).

What it reproduces, because the connectors depend on it:

* calendars (``calendars.insert/get``) and the user's ``calendarList``, with "primary" as an alias of the
  owner's calendar; ``calendarList`` needs a calendar-list scope (the discovery document lists none of
  ``calendar.app.created``/``calendar.events*`` for it, docs/google-calendar.md#calendar-list, docs/google-calendar.md#scopes) when the token's scopes are known;
* events with Google's id rules: base32hex ``[a-v0-9]``, 5–1024 characters, else 400; an id that exists,
  a cancelled tombstone included, answers 409 ``duplicate``; deleting a deleted event answers 410
  ``deleted``; ``get`` still returns tombstones (docs/google-calendar.md#duplicates-and-tombstones);
* ``events.list``: ``timeMin`` (exclusive, on the END, offset mandatory) / ``timeMax`` (on the start),
  ``showDeleted``, ``privateExtendedProperty`` (every constraint must match), ``q``, ``iCalUID``,
  ``updatedMin``, ``orderBy``, ``maxResults`` pages with ``nextPageToken``, and ``syncToken``: 400
  ``syncTokenWithRequestRestrictions`` with a forbidden parameter, 400 for ``showDeleted=false``, 410
  ``fullSyncRequired`` for a token the fake forgot (:meth:`expire_sync_tokens`); deletions always come
  back then, as stubs holding only the id (plus ``recurringEventId``/``originalStartTime`` for instances);
  ``nextSyncToken`` only on the last page (docs/google-calendar.md#listing-events);
* extended properties: keys over 44 characters silently dropped, values cut at 1024; patch merges them
  key by key and a null removes one; at most 5 reminder overrides, never with ``useDefault`` (docs/google-calendar.md#reminders);
* 401 for a bearer token the OAuth fake did not issue (its guard), 403/429 ``rateLimitExceeded`` on
  demand (:meth:`rate_limit`).

Simplification: recurring series are stored as their instances (each with ``recurringEventId`` and
``originalStartTime``, ids ``<series>_<YYYYMMDDTHHMMSSZ>`` as Google makes them), i.e. what
``singleEvents=true`` returns; the fake answers the same whatever ``singleEvents`` says.
"""

from __future__ import annotations

import copy
import itertools
import json
import re
import secrets
from collections.abc import Callable, Iterable
from datetime import UTC, date, datetime, timedelta
from typing import Any
from urllib.parse import unquote

from tests.fakes.google_oauth import GoogleOAuthFake
from tests.fakes.server import DROP, FakeServer, Request, Response

PREFIX = "/calendar/v3"
OWNER = "sam@example.com"
ID = re.compile(r"[a-v0-9]{5,1024}\Z")
SYNC_FORBIDDEN = ("iCalUID", "orderBy", "privateExtendedProperty", "q", "sharedExtendedProperty", "timeMin",
                  "timeMax", "updatedMin")
LIST_SCOPES = {"https://www.googleapis.com/auth/calendar", "https://www.googleapis.com/auth/calendar.readonly",
               "https://www.googleapis.com/auth/calendar.calendarlist",
               "https://www.googleapis.com/auth/calendar.calendarlist.readonly"}


def error(status: int, reason: str, message: str, **extra: str) -> Response:
    item = {"domain": "global", "reason": reason, "message": message, **extra}
    return Response(status, {"error": {"errors": [item], "code": status, "message": message}})


def _rfc3339(value: str) -> datetime | None:
    """A timeMin/timeMax value; None when it lacks the mandatory offset or does not parse (docs/google-calendar.md#listing-events)."""
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed if parsed.tzinfo is not None else None


def _when(value: dict[str, Any]) -> datetime:
    """An event's start/end as an instant (an all-day date starts at 00:00 UTC, good enough for a fake)."""
    if "dateTime" in value:
        return datetime.fromisoformat(str(value["dateTime"]).replace("Z", "+00:00")).astimezone(UTC)
    day = date.fromisoformat(str(value["date"]))
    return datetime(day.year, day.month, day.day, tzinfo=UTC)


def _stamp(value: datetime) -> str:
    return value.astimezone(UTC).strftime("%Y%m%dT%H%M%SZ")


def _iso(value: datetime) -> str:
    return value.astimezone(UTC).isoformat().replace("+00:00", "Z")


class CalendarData:
    def __init__(self, calendar_id: str, summary: str, *, primary: bool = False, description: str = "",
                 access_role: str = "owner", time_zone: str = "UTC") -> None:
        self.id = calendar_id
        self.summary = summary
        self.description = description
        self.primary = primary
        self.access_role = access_role
        self.time_zone = time_zone
        self.app_created = False  # made by the app through calendars.insert: calendar.app.created may write it
        self.events: dict[str, dict[str, Any]] = {}  # id → the resource, with "_seq" (its change number)

    def resource(self) -> dict[str, Any]:
        return {"kind": "calendar#calendar", "id": self.id, "summary": self.summary,
                "description": self.description, "timeZone": self.time_zone, "etag": f'"{self.id}"'}

    def entry(self) -> dict[str, Any]:
        entry = {**self.resource(), "kind": "calendar#calendarListEntry", "accessRole": self.access_role,
                 "selected": True}
        if self.primary:
            entry["primary"] = True
        return entry


class GoogleCalendarFake:
    def __init__(self, server: FakeServer, oauth: GoogleOAuthFake | None = None, owner: str = OWNER) -> None:
        self.server = server
        self.oauth = oauth
        self.owner = owner
        self.calendars: dict[str, CalendarData] = {owner: CalendarData(owner, owner, primary=True)}
        self.seq = 0  # change counter: every write bumps it; sync tokens remember where they were
        self.tokens: dict[str, tuple[str, int]] = {}  # live sync token → (calendar id, seq it covers)
        self.pages: dict[str, tuple[list[dict[str, Any]], str | None]] = {}  # page token → (rest, sync token)
        self.page_size: int | None = None  # a smaller page than maxResults asks for (Google may send fewer)
        self.list_calls: list[dict[str, list[str]]] = []
        self._ids = itertools.count(1)
        if oauth is not None:
            server.guards.append(self._guard)
        routes: list[tuple[str, str, Callable[[Request], Response]]] = [
            ("GET", r"/users/me/calendarList", self._calendar_list),
            ("POST", r"/calendars", self._insert_calendar),
            ("GET", r"/calendars/([^/]+)", self._get_calendar),
            ("DELETE", r"/calendars/([^/]+)", self._delete_calendar),
            ("GET", r"/calendars/([^/]+)/events", self._list),
            ("POST", r"/calendars/([^/]+)/events", self._insert),
            ("GET", r"/calendars/([^/]+)/events/([^/]+)", self._get),
            ("PATCH", r"/calendars/([^/]+)/events/([^/]+)", self._patch),
            ("PUT", r"/calendars/([^/]+)/events/([^/]+)", self._put),
            ("DELETE", r"/calendars/([^/]+)/events/([^/]+)", self._delete),
        ]
        for method, pattern, handler in routes:
            server.route(method, PREFIX + pattern)(self._locked(handler))

    @property
    def endpoint(self) -> str:
        return self.server.base_url + PREFIX + "/"

    def _locked(self, handler: Callable[[Request], Response]) -> Callable[[Request], Response]:
        def run(request: Request) -> Response:
            with self.server.lock:
                return handler(request)

        return run

    def _guard(self, request: Request) -> Response | None:
        if not request.path.startswith(PREFIX) or self.oauth is None:
            return None
        return self.oauth.guard(request)

    # ---- what tests arrange (playing Google, other people, and the user) ----------------------------------

    def add_calendar(self, calendar_id: str, summary: str, **kw: Any) -> CalendarData:
        self.calendars[calendar_id] = CalendarData(calendar_id, summary, **kw)
        return self.calendars[calendar_id]

    def calendar(self, calendar_id: str) -> CalendarData:
        return self.calendars[self.owner if calendar_id == "primary" else calendar_id]

    def add_meeting(
        self, calendar_id: str = "primary", *, summary: str = "Meeting", start: datetime | date,
        minutes: int = 30, attendees: Iterable[tuple[str, str]] = (), organizer: str | None = None,
        event_id: str | None = None, recurring_event_id: str | None = None, status: str = "confirmed",
        private: dict[str, str] | None = None, names: dict[str, str] | None = None, **fields: Any,
    ) -> dict[str, Any]:
        """One event (or one instance of a series) as Google holds it; ``attendees`` are (email, responseStatus).

        The calendar's own address is the ``self`` attendee; ``organizer`` defaults to it.
        """
        calendar = self.calendar(calendar_id)
        me = calendar.id
        names = names or {}
        organizer = organizer or me
        if isinstance(start, datetime):
            when = {"dateTime": _iso(start)}
            end = {"dateTime": _iso(start + timedelta(minutes=minutes))}
        else:
            when, end = {"date": start.isoformat()}, {"date": (start + timedelta(days=1)).isoformat()}
        if event_id is None:
            event_id = f"m{next(self._ids):05d}"
            if recurring_event_id is not None:
                event_id = f"{recurring_event_id}_{_stamp(_when(when))}"
        event: dict[str, Any] = {
            "kind": "calendar#event", "id": event_id, "status": status, "summary": summary,
            "htmlLink": f"https://www.google.com/calendar/event?eid={event_id}",
            "start": when, "end": end, "iCalUID": f"{recurring_event_id or event_id}@google.com",
            "organizer": {"email": organizer, **({"displayName": names[organizer]} if organizer in names else {}),
                          **({"self": True} if organizer == me else {})},
            "creator": {"email": organizer},
            "eventType": "default",
        }
        people = []
        for email, response in attendees:
            person: dict[str, Any] = {"email": email, "responseStatus": response}
            if email in names:
                person["displayName"] = names[email]
            if email == me:
                person["self"] = True
            if email == organizer:
                person["organizer"] = True
            people.append(person)
        if people:
            event["attendees"] = people
        if recurring_event_id is not None:
            event["recurringEventId"] = recurring_event_id
            event["originalStartTime"] = dict(when)
        if private:
            event["extendedProperties"] = {"private": dict(private)}
        event.update(fields)
        self._store(calendar, event)
        return self._public(event)

    def add_series(self, calendar_id: str = "primary", *, series_id: str, starts: Iterable[datetime],
                   **kw: Any) -> list[dict[str, Any]]:
        """A recurring series, as its instances (what singleEvents=true lists)."""
        return [self.add_meeting(calendar_id, start=start, recurring_event_id=series_id, **kw) for start in starts]

    def user_edits(self, calendar_id: str, event_id: str, **fields: Any) -> None:
        with self.server.lock:
            calendar = self.calendar(calendar_id)
            event = calendar.events[event_id]
            event.update(copy.deepcopy(fields))
            self._store(calendar, event)

    def user_moves(self, calendar_id: str, event_id: str, by: timedelta) -> None:
        """The user drags the event in the web UI: both ends move, nothing else changes."""
        with self.server.lock:
            calendar = self.calendar(calendar_id)
            event = calendar.events[event_id]
            for side in ("start", "end"):
                event[side] = {**event[side], "dateTime": _iso(_when(event[side]) + by)}
            self._store(calendar, event)

    def user_deletes(self, calendar_id: str, event_id: str) -> None:
        """Deleted in the UI (or cancelled by its organizer): a tombstone that keeps its id (docs/google-calendar.md#duplicates-and-tombstones)."""
        with self.server.lock:
            calendar = self.calendar(calendar_id)
            event = calendar.events[event_id]
            event["status"] = "cancelled"
            self._store(calendar, event)

    def event(self, calendar_id: str, event_id: str) -> dict[str, Any]:
        return self._public(self.calendar(calendar_id).events[event_id])

    def live(self, calendar_id: str) -> list[dict[str, Any]]:
        """Events of a calendar the user sees (not cancelled)."""
        events = self.calendar(calendar_id).events.values()
        return [self._public(e) for e in events if e.get("status") != "cancelled"]

    def expire_sync_tokens(self) -> None:
        """Google forgets every sync token: the next incremental list answers 410 fullSyncRequired."""
        with self.server.lock:
            self.tokens.clear()

    def rate_limit(self, times: int, status: int = 429, retry_after: str | None = None,
                   when: Callable[[Request], bool] | None = None) -> None:
        """The next ``times`` Calendar requests answer rateLimitExceeded (403 or 429, docs/google-calendar.md#quota-and-errors)."""
        headers = {"Retry-After": retry_after} if retry_after is not None else {}
        response = error(status, "rateLimitExceeded", "Rate Limit Exceeded")
        response.headers.update(headers)
        self.server.inject(when or (lambda r: r.path.startswith(PREFIX)), response, times)

    def lose_answer(self, method: str, path: str, times: int = 1) -> None:
        """The next ``times`` matching requests are carried out, then the connection drops before the
        answer: the client cannot tell a landed write from a lost one (a timeout, a reset)."""

        def carried_out(request: Request) -> bool:
            if request.method != method or not re.search(path, request.path):
                return False
            for route_method, pattern, handler in self.server.routes:
                match = pattern.match(request.path)
                if match and route_method == method:
                    request.match = match
                    handler(request)
                    return True
            return False

        self.server.inject(carried_out, DROP, times)

    def writes(self, event_id: str | None = None) -> list[Request]:
        """Logged requests that would change events (optionally of one id)."""
        found = []
        for request in self.server.log:
            if (request.method in ("POST", "PATCH", "PUT", "DELETE") and "/events" in request.path
                    and (event_id is None or request.path.endswith("/" + event_id))):
                found.append(request)
        return found

    # ---- internals ----------------------------------------------------------------------------------------

    def _store(self, calendar: CalendarData, event: dict[str, Any]) -> None:
        self.seq += 1
        event["_seq"] = self.seq
        event["updated"] = _iso(datetime.now(UTC))
        event["etag"] = f'"{self.seq}"'
        event.setdefault("sequence", 0)
        calendar.events[event["id"]] = event

    @staticmethod
    def _public(event: dict[str, Any]) -> dict[str, Any]:
        return {k: copy.deepcopy(v) for k, v in event.items() if not k.startswith("_")}

    @staticmethod
    def _stub(event: dict[str, Any]) -> dict[str, Any]:
        """What an incremental sync returns for a deleted event: only the id is guaranteed (docs/google-calendar.md#cancelled-events)."""
        stub = {"kind": "calendar#event", "id": event["id"], "status": "cancelled", "etag": event.get("etag")}
        for key in ("recurringEventId", "originalStartTime"):
            if key in event:
                stub[key] = copy.deepcopy(event[key])
        return stub

    def _find(self, request: Request) -> CalendarData | None:
        assert request.match is not None
        calendar_id = unquote(request.match.group(1))
        if calendar_id == "primary":
            calendar_id = self.owner
        return self.calendars.get(calendar_id)

    def _scopes(self, request: Request) -> list[str] | None:
        if self.oauth is None:
            return None
        token = request.headers.get("authorization", "")[7:]
        refresh = self.oauth.access.get(token)
        granted = self.oauth.refresh_tokens.get(refresh or "")
        return granted or None  # unknown or empty: not enforced

    def _writable_event(
        self, request: Request,
    ) -> tuple[CalendarData | None, dict[str, Any] | None, Response | None]:
        """The event a write names, or the answer refusing it (404 when it is not there, 403 by scope)."""
        calendar, event = self._event(request)
        if calendar is None or event is None:
            return None, None, error(404, "notFound", "Not Found")
        return calendar, event, self._may_write(request, calendar)

    def _may_write(self, request: Request, calendar: CalendarData | None) -> Response | None:
        """The scope rules of calendar.v3.json for writes: calendar / calendar.events anywhere,
        calendar.events.owned on owned calendars, calendar.app.created only on calendars the app made."""
        granted = self._scopes(request)
        if granted is None:
            return None
        names = {scope.rsplit("/", 1)[-1] for scope in granted}
        if calendar is None:  # calendars.insert
            allowed = bool(names & {"calendar", "calendar.app.created", "calendar.calendars"})
        else:
            allowed = bool(names & {"calendar", "calendar.events"}) or (
                "calendar.events.owned" in names and calendar.access_role == "owner") or (
                "calendar.app.created" in names and calendar.app_created)
        if allowed:
            return None
        return error(403, "insufficientPermissions", "Request had insufficient authentication scopes.")

    def _calendar_list(self, request: Request) -> Response:
        granted = self._scopes(request)
        if granted is not None and not LIST_SCOPES & set(granted):
            return error(403, "insufficientPermissions", "Request had insufficient authentication scopes.")
        items = [c.entry() for c in self.calendars.values()]
        return self._paged(request, items, "calendar#calendarList", None)

    def _insert_calendar(self, request: Request) -> Response:
        body = request.json() or {}
        if not body.get("summary"):
            return error(400, "required", "Missing title.")
        refused = self._may_write(request, None)
        if refused is not None:
            return refused
        calendar_id = f"{secrets.token_hex(12)}@group.calendar.google.com"
        calendar = self.add_calendar(calendar_id, str(body["summary"]), description=str(body.get("description", "")))
        calendar.app_created = True
        return Response(200, calendar.resource())

    def _get_calendar(self, request: Request) -> Response:
        calendar = self._find(request)
        if calendar is None:
            return error(404, "notFound", "Not Found")
        return Response(200, calendar.resource())

    def _delete_calendar(self, request: Request) -> Response:
        calendar = self._find(request)
        if calendar is None:
            return error(404, "notFound", "Not Found")
        if calendar.primary:
            return error(400, "cannotDeletePrimaryCalendar", "The primary calendar cannot be deleted.")
        del self.calendars[calendar.id]
        return Response(204, b"")

    def _paged(self, request: Request, items: list[dict[str, Any]], kind: str, sync: str | None,
               extra: dict[str, Any] | None = None) -> Response:
        token = request.arg("pageToken")
        if token is not None:
            if token not in self.pages:
                return error(400, "invalid", "Invalid page token value.")
            items, sync = self.pages.pop(token)
        size = int(request.arg("maxResults") or 250)
        if self.page_size is not None:
            size = min(size, self.page_size)
        page, rest = items[:size], items[size:]
        body: dict[str, Any] = {"kind": kind, "items": page, **(extra or {})}
        if rest:
            next_token = secrets.token_urlsafe(12)
            self.pages[next_token] = (rest, sync)
            body["nextPageToken"] = next_token
        elif sync is not None:
            body["nextSyncToken"] = sync  # only on the last page (docs/google-calendar.md#listing-events)
        return Response(200, body)

    def _issue_token(self, calendar: CalendarData) -> str:
        token = "sync-" + secrets.token_urlsafe(12)
        self.tokens[token] = (calendar.id, self.seq)
        return token

    def _list(self, request: Request) -> Response:
        calendar = self._find(request)
        if calendar is None:
            return error(404, "notFound", "Not Found")
        self.list_calls.append(dict(request.query))
        extra = {"summary": calendar.summary, "timeZone": calendar.time_zone}
        if request.arg("pageToken") is not None:
            return self._paged(request, [], "calendar#events", None, extra)
        sync = request.arg("syncToken")
        events = sorted(calendar.events.values(), key=lambda e: (e["_seq"], e["id"]))
        if sync is not None:
            if any(name in request.query for name in SYNC_FORBIDDEN):
                return error(400, "invalid", "Sync token cannot be used with other request restrictions.",
                             locationType="parameter", location="syncToken")
            if request.arg("showDeleted") == "false":
                return error(400, "invalid", "showDeleted cannot be false with a sync token.")
            known = self.tokens.get(sync)
            if known is None or known[0] != calendar.id:
                return error(410, "fullSyncRequired", "Sync token is no longer valid, a full sync is required.",
                             locationType="parameter", location="syncToken")
            changed = [e for e in events if e["_seq"] > known[1]]
            items = [self._stub(e) if e.get("status") == "cancelled" else self._public(e) for e in changed]
            return self._paged(request, items, "calendar#events", self._issue_token(calendar), extra)
        bounds: list[datetime | None] = []
        for name in ("timeMin", "timeMax"):
            value = request.arg(name)
            parsed = _rfc3339(value) if value is not None else None
            if value is not None and parsed is None:
                return error(400, "badRequest", f"Bad Request: {name} needs an RFC3339 time with an offset")
            bounds.append(parsed)
        low, high = bounds
        if low is not None and high is not None and high <= low:
            return error(400, "timeRangeEmpty", "The specified time range is empty.")
        if request.arg("orderBy") == "startTime" and request.arg("singleEvents") != "true":
            return error(400, "badRequest", "The requested ordering is not available for the particular query.")
        updated_min = request.arg("updatedMin")
        show_deleted = request.arg("showDeleted") == "true" or updated_min is not None
        constraints = [c.partition("=") for c in request.query.get("privateExtendedProperty", [])]
        shared = [c.partition("=") for c in request.query.get("sharedExtendedProperty", [])]
        query, ical = request.arg("q"), request.arg("iCalUID")
        items = []
        for event in events:
            cancelled = event.get("status") == "cancelled"
            if cancelled and not show_deleted:
                continue
            if low is not None and _when(event["end"]) <= low:
                continue
            if high is not None and _when(event["start"]) >= high:
                continue
            props = event.get("extendedProperties") or {}
            if any((props.get("private") or {}).get(name) != value for name, _, value in constraints):
                continue
            if any((props.get("shared") or {}).get(name) != value for name, _, value in shared):
                continue
            if query is not None and query.lower() not in str(event.get("summary", "")).lower():
                continue
            if ical is not None and event.get("iCalUID") != ical:
                continue
            items.append(self._public(event))
        if request.arg("orderBy") == "startTime":
            items.sort(key=lambda e: _when(e["start"]))
        return self._paged(request, items, "calendar#events", self._issue_token(calendar), extra)

    def _validate(self, body: dict[str, Any]) -> Response | None:
        if not isinstance(body.get("start"), dict) or not isinstance(body.get("end"), dict):
            return error(400, "required", "Missing end time.")
        reminders = body.get("reminders")
        if isinstance(reminders, dict):
            overrides = reminders.get("overrides") or []
            if len(overrides) > 5:
                return error(400, "invalid", "Too many reminders specified.")  # docs/google-calendar.md#reminders: at most 5
            if overrides and reminders.get("useDefault"):
                return error(400, "cannotUseDefaultRemindersAndSpecifyOverride",
                             "Cannot specify both default reminders and overrides at the same time.")
            for override in overrides:
                if not 0 <= int(override.get("minutes", -1)) <= 40320:
                    return error(400, "invalid", "Invalid reminder minutes.")
        return None

    @staticmethod
    def _properties(old: dict[str, Any] | None, new: dict[str, Any] | None) -> dict[str, Any]:
        """Patch semantics for extendedProperties: merged key by key, null removes; limits applied (docs/google-calendar.md#extended-properties)."""
        merged: dict[str, Any] = copy.deepcopy(old or {})
        for scope in ("private", "shared"):
            values = (new or {}).get(scope)
            if not isinstance(values, dict):
                continue
            target = merged.setdefault(scope, {})
            for key, value in values.items():
                if len(key) > 44:
                    continue  # silently dropped
                if value is None:
                    target.pop(key, None)
                else:
                    target[key] = str(value)[:1024]  # silently truncated
        return merged

    def _insert(self, request: Request) -> Response:
        calendar = self._find(request)
        if calendar is None:
            return error(404, "notFound", "Not Found")
        refused = self._may_write(request, calendar)
        if refused is not None:
            return refused
        body = request.json() or {}
        event_id = body.get("id")
        if event_id is None:
            event_id = secrets.token_hex(13)  # hex digits are base32hex too
        elif not ID.match(str(event_id)):
            return error(400, "invalid", "Invalid resource id value.")
        if event_id in calendar.events:  # tombstones included (docs/google-calendar.md#duplicates-and-tombstones)
            return error(409, "duplicate", "The requested identifier already exists.")
        invalid = self._validate(body)
        if invalid is not None:
            return invalid
        event = {k: copy.deepcopy(v) for k, v in body.items() if k != "extendedProperties"}
        event.update({
            "kind": "calendar#event", "id": event_id, "status": body.get("status", "confirmed"),
            "htmlLink": f"https://www.google.com/calendar/event?eid={event_id}",
            "iCalUID": f"{event_id}@google.com", "created": _iso(datetime.now(UTC)),
            "organizer": {"email": calendar.id, "self": True}, "creator": {"email": self.owner, "self": True},
            "eventType": body.get("eventType", "default"),
        })
        if "extendedProperties" in body:
            event["extendedProperties"] = self._properties(None, body["extendedProperties"])
        self._store(calendar, event)
        return Response(200, self._public(event))

    def _event(self, request: Request) -> tuple[CalendarData | None, dict[str, Any] | None]:
        calendar = self._find(request)
        assert request.match is not None
        event_id = unquote(request.match.group(2))
        return calendar, calendar.events.get(event_id) if calendar is not None else None

    def _get(self, request: Request) -> Response:
        _, event = self._event(request)
        if event is None:
            return error(404, "notFound", "Not Found")
        return Response(200, self._public(event))  # tombstones too (docs/google-calendar.md#cancelled-events)

    def _patch(self, request: Request) -> Response:
        calendar, event, refused = self._writable_event(request)
        if refused is not None:
            return refused
        assert calendar is not None and event is not None
        body = request.json() or {}
        merged = {**event, **{k: copy.deepcopy(v) for k, v in body.items() if k not in ("id", "extendedProperties")}}
        invalid = self._validate(merged)
        if invalid is not None:
            return invalid
        if "extendedProperties" in body:
            merged["extendedProperties"] = self._properties(event.get("extendedProperties"),
                                                            body["extendedProperties"])
        merged["sequence"] = int(event.get("sequence", 0)) + 1
        self._store(calendar, merged)
        return Response(200, self._public(merged))

    def _put(self, request: Request) -> Response:
        calendar, event, refused = self._writable_event(request)
        if refused is not None:
            return refused
        assert calendar is not None and event is not None
        body = request.json() or {}
        invalid = self._validate(body)
        if invalid is not None:
            return invalid
        kept = {k: event[k] for k in ("kind", "id", "htmlLink", "iCalUID", "created", "organizer", "creator",
                                      "eventType") if k in event}
        replaced = {**{k: copy.deepcopy(v) for k, v in body.items() if k != "extendedProperties"}, **kept}
        replaced.setdefault("status", "confirmed")
        if "extendedProperties" in body:
            replaced["extendedProperties"] = self._properties(None, body["extendedProperties"])
        replaced["sequence"] = int(event.get("sequence", 0)) + 1
        self._store(calendar, replaced)
        return Response(200, self._public(replaced))

    def _delete(self, request: Request) -> Response:
        calendar, event, refused = self._writable_event(request)
        if refused is not None:
            return refused
        assert calendar is not None and event is not None
        if event.get("status") == "cancelled":
            return error(410, "deleted", "Resource has been deleted")  # docs/google-calendar.md#duplicates-and-tombstones
        event["status"] = "cancelled"
        self._store(calendar, event)
        return Response(204, b"")


def dumps(event: dict[str, Any]) -> str:
    """For assertion messages."""
    return json.dumps(event, sort_keys=True, default=str)
