"""Microsoft Graph's calendar, faked with state: calendars, events, extended properties, calendarView delta.

Modelled on docs/microsoft-graph.md#calendar, docs/microsoft-graph.md#mail (delta): absolute ``@odata.nextLink``/``@odata.deltaLink`` pointing at
this fake; a delta round is a frozen snapshot paged by ``Prefer: odata.maxpagesize``; later rounds return
what changed since, with ``@removed`` for deletions and for any change OUTSIDE the round's window (as
Graph does); 410 ``SyncStateNotFound`` for tokens issued before :meth:`expire_delta`; ``replay_next_round``
sends every item of the next round twice. The delta tracks the primary calendar only; series masters
are listed in it next to their occurrences (the source must skip them).

JSON batches (``POST /v1.0/$batch``) are served by :mod:`tests.fakes.graph_batch`, each request through
the routes below. Events: ``POST`` dedups on ``transactionId`` (answering the existing event), ``GET`` understands the
``singleValueExtendedProperties/Any(...)`` ``$filter`` and ``$expand`` (and nothing else: an unknown
filter is a 400), ``PATCH``, ``DELETE`` (204, then 404). Bodies come back as HTML unless the request
prefers text, and text with CRLF line ends, as Outlook does. ``POST /me/calendars`` answers 409 for a
name that exists. Calendars keep the extended properties a ``POST`` or ``PATCH /me/calendars/{id}`` gives them,
and ``GET /me/calendars`` understands the same ``Any(...)`` ``$filter`` (anything else is a 400); the
properties themselves are never shown (the listing cannot ``$expand`` them, docs/microsoft-graph.md#listing-follow-ups).

Tests play the user with :meth:`add_meeting`, :meth:`user_move`, :meth:`user_delete`, :meth:`add_event`,
:meth:`user_rename_calendar`, :meth:`user_delete_calendar`, and play the service with :meth:`change_calendar_id`
(Graph gives a calendar another id: the old one answers 404 ErrorItemNotFound); ``max_page`` caps the pages of events served below
what ``$top`` asks, as Graph may;
:meth:`drop_after` makes a request take effect and then lose its answer (a reset after the server acted, an
answer cut off, or a 5xx after all).
"""

from __future__ import annotations

import base64
import copy
import dataclasses
import html
import itertools
import json
import re
from collections.abc import Callable, Iterable
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import quote, unquote

from tests.fakes.graph_batch import serve_batches
from tests.fakes.server import DROP, FakeServer, Request, Response

PRIMARY = "AAMkPrimaryCalendar="
_ANY = re.compile(r"^singleValueExtendedProperties/Any\(ep: ep/id eq '([^']+)'(?: and ep/value eq '([^']*)')?\)$")
_EXPAND = re.compile(r"^singleValueExtendedProperties\(\$filter=(.+)\)$")
_EXPAND_ID = re.compile(r"^id eq '([^']+)'$")


def stamp(value: datetime) -> dict[str, str]:
    return {"dateTime": value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.0000000"), "timeZone": "UTC"}


def parse_stamp(value: dict[str, str]) -> datetime:
    text = value["dateTime"].split(".")[0]
    naive = datetime.fromisoformat(text)
    zone = value.get("timeZone", "UTC")
    if zone != "UTC":
        from zoneinfo import ZoneInfo

        return naive.replace(tzinfo=ZoneInfo(zone)).astimezone(UTC)
    return naive.replace(tzinfo=UTC)


def _property_filter(request: Request) -> tuple[str, str | None] | Response | None:
    """The property id (and value) an ``Any(...)`` ``$filter`` asks for; None without one; a 400 for another."""
    raw_filter = request.arg("$filter")
    if raw_filter is None:
        return None
    match = _ANY.match(raw_filter)
    if match is None:
        return error(400, "ErrorInvalidUrlQueryFilter", "The query filter contains one or more invalid nodes.")
    return match.group(1), match.group(2)


def _has(props: dict[str, str], prop_id: str, value: str | None) -> bool:
    """Whether ``props`` match an ``Any(ep: ep/id eq … [and ep/value eq …])`` filter."""
    if prop_id not in props:
        return False
    # Filtering the value is case-insensitive (the English doc, docs/microsoft-graph.md#calendar).
    return value is None or props[prop_id].lower() == value.lower()


def error(status: int, code: str, message: str) -> Response:
    return Response(status, {"error": {"code": code, "message": message}})


def not_found() -> Response:
    """What Graph answers for an Outlook item (event, calendar) that does not exist."""
    return error(404, "ErrorItemNotFound", "The specified object was not found in the store.")


@dataclasses.dataclass
class Stored:
    data: dict[str, Any]  # the event's JSON as Graph shows it (without properties)
    calendar: str
    props: dict[str, str] = dataclasses.field(default_factory=dict)
    seq: int = 0  # the change counter when it was last written
    deleted: bool = False

    def window_hit(self, start: datetime, end: datetime) -> bool:
        return parse_stamp(self.data["start"]) < end and parse_stamp(self.data["end"]) >= start


class GraphCalendarFake:
    def __init__(self, server: FakeServer, owner: str = "sam@example.com", owner_name: str = "Sam") -> None:
        self.server = server
        self.owner = owner
        self.owner_name = owner_name
        self.calendars: dict[str, dict[str, Any]] = {
            PRIMARY: {"id": PRIMARY, "name": "Calendar", "isDefaultCalendar": True, "canEdit": True},
        }
        self.events: dict[str, Stored] = {}
        self.calendar_props: dict[str, dict[str, str]] = {}  # calendar id → its extended properties
        self.seq = 0
        self.generation = 1  # delta tokens of an older generation are gone (410)
        self.rounds: dict[str, list[dict[str, Any]]] = {}
        self.rounds_meta: dict[str, tuple[int, str, str]] = {}  # round → (seq it covers, window start, end)
        self.replay = False
        self.drops: list[tuple[Callable[[Request], bool], int, Response]] = []
        self.creates = 0  # successful event POSTs that made a new event
        # The largest page of events served, whatever ``$top`` asks: Graph may serve fewer than asked.
        self.max_page: int | None = None
        self._ids = itertools.count(1)
        v = "/v1.0/me"
        server.route("GET", rf"{v}/calendars")(self._list_calendars)
        server.route("POST", rf"{v}/calendars")(self._create_calendar)
        server.route("PATCH", rf"{v}/calendars/(?P<cal>[^/]+)")(self._patch_calendar)
        for prefix in (rf"{v}/events", rf"{v}/calendars/(?P<cal>[^/]+)/events"):
            server.route("GET", prefix)(self._list_events)
            server.route("POST", prefix)(self._create_event)
            server.route("PATCH", prefix + r"/(?P<id>[^/]+)")(self._patch_event)
            server.route("DELETE", prefix + r"/(?P<id>[^/]+)")(self._delete_event)
        server.route("GET", rf"{v}/calendarView/delta")(self._delta)
        serve_batches(server)

    # ---- what tests arrange (the user, the service) ------------------------------------------------------

    def bearer_guard(self, token: str = "t") -> None:
        """Refuse (401) any request without ``Authorization: Bearer <token>``."""

        def guard(request: Request) -> Response | None:
            if request.headers.get("authorization") != f"Bearer {token}":
                return error(401, "InvalidAuthenticationToken", "Access token is empty or invalid.")
            return None

        self.server.guards.append(guard)

    def _new_id(self) -> str:
        return f"AAMkEv{next(self._ids):04d}-_x="

    def _touch(self, stored: Stored) -> None:
        self.seq += 1
        stored.seq = self.seq

    def add_meeting(
        self, subject: str, start: datetime, minutes: int = 30, *, attendees: Iterable[tuple[str, str]] = (),
        organizer: str | None = None, response: str = "accepted", cancelled: bool = False,
        type: str = "singleInstance", series_master_id: str | None = None, all_day: bool = False,
        calendar: str = PRIMARY, transaction_id: str | None = None, event_id: str | None = None,
        resources: Iterable[str] = (),
    ) -> str:
        """A meeting in the owner's calendar; ``attendees`` are (address, Graph response) pairs."""
        with self.server.lock:
            event_id = event_id or self._new_id()
            organizer = organizer or self.owner
            end = start + (timedelta(days=1) if all_day else timedelta(minutes=minutes))
            data: dict[str, Any] = {
                "id": event_id, "subject": subject, "start": stamp(start), "end": stamp(end),
                "isAllDay": all_day, "isCancelled": cancelled, "type": type, "seriesMasterId": series_master_id,
                "isOrganizer": organizer == self.owner,
                "organizer": {"emailAddress": {"name": organizer.split("@")[0].title(), "address": organizer}},
                "responseStatus": {"response": "organizer" if organizer == self.owner else response,
                                   "time": "0001-01-01T00:00:00Z"},
                "attendees": [
                    {"type": "required", "emailAddress": {"name": a.split("@")[0].title(), "address": a},
                     "status": {"response": r, "time": "0001-01-01T00:00:00Z"}}
                    for a, r in attendees
                ] + [{"type": "resource", "emailAddress": {"name": "Room", "address": room},
                      "status": {"response": "accepted"}} for room in resources],
                "webLink": f"https://outlook.example/owa/?itemid={quote(event_id)}",
                "showAs": "busy", "isReminderOn": True, "reminderMinutesBeforeStart": 15,
                "body": {"contentType": "html", "content": "<html><body>agenda</body></html>"},
            }
            if transaction_id:
                data["transactionId"] = transaction_id
            stored = Stored(data, calendar)
            self._touch(stored)
            self.events[event_id] = stored
            return event_id

    def add_event(self, subject: str, start: datetime, calendar: str = PRIMARY, **props: str) -> str:
        """The user's own appointment (no attendees), optionally with extended properties of other apps."""
        event_id = self.add_meeting(subject, start, calendar=calendar)
        with self.server.lock:
            self.events[event_id].props.update(props)
        return event_id

    def user_move(self, event_id: str, by: timedelta) -> None:
        with self.server.lock:
            stored = self.events[event_id]
            for field in ("start", "end"):
                stored.data[field] = stamp(parse_stamp(stored.data[field]) + by)
            self._touch(stored)

    def user_update(self, event_id: str, **fields: Any) -> None:
        with self.server.lock:
            stored = self.events[event_id]
            stored.data.update(fields)
            self._touch(stored)

    def user_delete(self, event_id: str) -> None:
        with self.server.lock:
            stored = self.events[event_id]
            stored.deleted = True
            self._touch(stored)

    def user_rename_calendar(self, calendar_id: str, name: str) -> None:
        with self.server.lock:
            self.calendars[calendar_id]["name"] = name

    def change_calendar_id(self, calendar_id: str, new_id: str) -> None:
        """Graph gives the calendar another id (reported: microsoftgraph/microsoft-graph-docs-contrib#6672);
        its events, name and properties stay, and the old id answers 404 ErrorItemNotFound from now on."""
        with self.server.lock:
            calendar = self.calendars.pop(calendar_id)
            calendar["id"] = new_id
            self.calendars[new_id] = calendar
            self.calendar_props[new_id] = self.calendar_props.pop(calendar_id, {})
            for stored in self.events.values():
                if stored.calendar == calendar_id:
                    stored.calendar = new_id

    def user_delete_calendar(self, calendar_id: str) -> None:
        """The calendar and its events are gone; its id answers 404 from now on."""
        with self.server.lock:
            del self.calendars[calendar_id]
            for stored in self.events.values():
                if stored.calendar == calendar_id and not stored.deleted:
                    stored.deleted = True
                    self._touch(stored)

    def expire_delta(self) -> None:
        """Every delta and next link issued so far answers 410 SyncStateNotFound from now on."""
        with self.server.lock:
            self.generation += 1

    def replay_next_round(self) -> None:
        self.replay = True

    def drop_after(self, when: Callable[[Request], bool], times: int = 1, answer: Response = DROP) -> None:
        """The next ``times`` matching requests take effect, then the connection drops before the answer (or the
        answer is ``answer``: TRUNCATE cuts it off mid-body, a 5xx says the server failed after all)."""
        with self.server.lock:
            self.drops.append((when, times, answer))

    def live(self, calendar: str | None = None) -> list[Stored]:
        with self.server.lock:
            return [s for s in self.events.values() if not s.deleted and (calendar is None or s.calendar == calendar)]

    def by_key(self, key: str, prop: str) -> list[Stored]:
        return [s for s in self.live() if s.props.get(prop, "").lower() == key.lower()]

    def calendar_named(self, name: str) -> list[dict[str, Any]]:
        return [c for c in self.calendars.values() if c["name"] == name]

    # ---- serving ----------------------------------------------------------------------------------------

    def _answer(self, request: Request, response: Response) -> Response:
        with self.server.lock:
            for at, (when, times, answer) in enumerate(self.drops):
                if times > 0 and when(request):
                    self.drops[at] = (when, times - 1, answer)
                    return answer
        return response

    def _link(self, path: str, **query: str) -> str:
        return f"{self.server.base_url}/v1.0/{path}?" + "&".join(f"{k}={quote(v, safe='')}" for k, v in query.items())

    def _list_calendars(self, request: Request) -> Response:
        if any(k.startswith("$") and k != "$filter" for k in request.query):
            return error(400, "BadRequest", "Parsing OData Select and Expand failed.")
        wanted = _property_filter(request)
        if isinstance(wanted, Response):
            return wanted
        with self.server.lock:
            found = [c for c in self.calendars.values()
                     if wanted is None or _has(self.calendar_props.get(c["id"], {}), *wanted)]
            return Response(200, {"value": copy.deepcopy(found)})

    def _patch_calendar(self, request: Request) -> Response:
        body = request.json() or {}
        with self.server.lock:
            calendar = self._calendar_of(request)
            if calendar is None:
                return not_found()
            if "name" in body:
                self.calendars[calendar]["name"] = str(body["name"])
            for prop in body.get("singleValueExtendedProperties") or ():
                self.calendar_props.setdefault(calendar, {})[prop["id"]] = prop["value"]
            return self._answer(request, Response(200, copy.deepcopy(self.calendars[calendar])))

    def _create_calendar(self, request: Request) -> Response:
        body = request.json() or {}
        name = str(body.get("name") or "")
        with self.server.lock:
            if not name:
                return error(400, "ErrorInvalidRequest", "name is required")
            if any(c["name"].casefold() == name.casefold() for c in self.calendars.values()):
                return error(409, "ErrorFolderExists", "A folder with the specified name already exists.")
            calendar_id = f"AAMkCal{next(self._ids):04d}="
            self.calendars[calendar_id] = {"id": calendar_id, "name": name, "isDefaultCalendar": False, "canEdit": True}
            self.calendar_props[calendar_id] = {p["id"]: p["value"] for p in body.get("singleValueExtendedProperties") or ()}
            return self._answer(request, Response(201, copy.deepcopy(self.calendars[calendar_id])))

    def _calendar_of(self, request: Request) -> str | None:
        cal = request.match.groupdict().get("cal") if request.match else None
        cal = unquote(cal) if cal else PRIMARY
        return cal if cal in self.calendars else None

    def _render(self, stored: Stored, request: Request, expand: set[str] | None) -> dict[str, Any]:
        data = copy.deepcopy(stored.data)
        body = data.get("body") or {"contentType": "text", "content": ""}
        wants_text = 'outlook.body-content-type="text"' in request.headers.get("prefer", "")
        if body.get("contentType") == "text" and not wants_text:
            content = html.escape(body.get("content", "")).replace("\n", "<br>")
            data["body"] = {"contentType": "html", "content": f"<html><body>{content}</body></html>"}
        elif body.get("contentType") == "text":
            data["body"] = {"contentType": "text", "content": body.get("content", "").replace("\n", "\r\n")}
        if expand is not None:
            props = [{"id": k, "value": v} for k, v in stored.props.items() if k in expand]
            if props:
                data["singleValueExtendedProperties"] = props
        return data

    def _list_events(self, request: Request) -> Response:
        with self.server.lock:
            calendar = self._calendar_of(request)
            if calendar is None:
                return not_found()
            wanted_prop = _property_filter(request)
            if isinstance(wanted_prop, Response):
                return wanted_prop
            expand: set[str] | None = None
            raw_expand = request.arg("$expand")
            if raw_expand is not None:
                match = _EXPAND.match(raw_expand)
                if match is None:
                    return error(400, "BadRequest", "Parsing OData Select and Expand failed.")
                expand = set()
                for part in match.group(1).split(" or "):
                    one = _EXPAND_ID.match(part.strip())
                    if one is None:
                        return error(400, "BadRequest", "Parsing OData Select and Expand failed.")
                    expand.add(one.group(1))
            found = []
            for stored in self.live(calendar):
                if stored.data.get("type") in ("occurrence", "exception"):
                    continue  # /events lists masters and single instances, not occurrences (docs/microsoft-graph.md#calendar)
                if wanted_prop is not None and not _has(stored.props, *wanted_prop):
                    continue
                found.append(stored)
            top = int(request.arg("$top") or 10)
            top = min(top, self.max_page or top)
            skip = int(request.arg("$skip") or 0)
            page = [self._render(s, request, expand) for s in found[skip:skip + top]]
            body: dict[str, Any] = {"value": page}
            if skip + top < len(found):
                query = {k: v[0] for k, v in request.query.items()}
                query["$skip"] = str(skip + top)
                body["@odata.nextLink"] = self._link(request.path.removeprefix("/v1.0/"), **query)
            return Response(200, body)

    def _apply(self, stored: Stored, body: dict[str, Any]) -> None:
        for field in ("subject", "body", "showAs", "isReminderOn", "reminderMinutesBeforeStart", "isAllDay",
                      "attendees", "categories"):
            if field in body:
                stored.data[field] = body[field]
        for field in ("start", "end"):
            if field in body:
                stored.data[field] = stamp(parse_stamp(body[field]))
        for prop in body.get("singleValueExtendedProperties") or ():
            stored.props[prop["id"]] = prop["value"]
        self._touch(stored)

    def _create_event(self, request: Request) -> Response:
        body = request.json() or {}
        with self.server.lock:
            calendar = self._calendar_of(request)
            if calendar is None:
                return not_found()
            tx = body.get("transactionId")
            if tx:
                for stored in self.live():
                    if stored.data.get("transactionId") == tx:
                        # A retried POST: the event made the first time, not a second one (docs/microsoft-graph.md#idempotency).
                        return self._answer(request, Response(201, self._render(stored, request, None)))
            event_id = self._new_id()
            data: dict[str, Any] = {
                "id": event_id, "type": "singleInstance", "seriesMasterId": None, "isCancelled": False,
                "isAllDay": False, "isOrganizer": True, "attendees": [], "showAs": "busy",
                "organizer": {"emailAddress": {"name": self.owner_name, "address": self.owner}},
                "responseStatus": {"response": "organizer", "time": "0001-01-01T00:00:00Z"},
                "webLink": f"https://outlook.example/owa/?itemid={quote(event_id)}",
                "isReminderOn": True, "reminderMinutesBeforeStart": 15,
            }
            if tx:
                data["transactionId"] = tx
            stored = Stored(data, calendar)
            self._apply(stored, body)
            self.events[event_id] = stored
            self.creates += 1
            return self._answer(request, Response(201, self._render(stored, request, None)))

    def _target(self, request: Request) -> Stored | None:
        assert request.match is not None
        stored = self.events.get(unquote(request.match.group("id")))
        calendar = self._calendar_of(request)
        if stored is None or stored.deleted or calendar is None:
            return None
        if request.match.groupdict().get("cal") and stored.calendar != calendar:
            return None
        return stored

    def _patch_event(self, request: Request) -> Response:
        body = request.json() or {}
        with self.server.lock:
            stored = self._target(request)
            if stored is None:
                return not_found()
            if "transactionId" in body:
                return error(400, "ErrorInvalidPropertyUpdate", "transactionId cannot be changed.")
            self._apply(stored, body)
            return self._answer(request, Response(200, self._render(stored, request, None)))

    def _delete_event(self, request: Request) -> Response:
        with self.server.lock:
            stored = self._target(request)
            if stored is None:
                return not_found()
            stored.deleted = True
            self._touch(stored)
            return self._answer(request, Response(204))

    # ---- calendarView delta -----------------------------------------------------------------------------

    def _token(self, **values: Any) -> str:
        return base64.urlsafe_b64encode(json.dumps(values).encode()).decode().rstrip("=")

    def _read_token(self, text: str) -> dict[str, Any] | None:
        try:
            value = json.loads(base64.urlsafe_b64decode(text + "=" * (-len(text) % 4)))
        except ValueError:
            return None
        return value if isinstance(value, dict) else None

    def _gone(self) -> Response:
        return error(410, "SyncStateNotFound", "The sync state generation is not found; generation=0")

    def _delta(self, request: Request) -> Response:
        prefer = request.headers.get("prefer", "")
        size_match = re.search(r"odata\.maxpagesize=(\d+)", prefer)
        size = int(size_match.group(1)) if size_match else 10
        with self.server.lock:
            skip_token, delta_token = request.arg("$skiptoken"), request.arg("$deltatoken")
            if skip_token is not None:
                state = self._read_token(skip_token)
                if state is None or state.get("gen") != self.generation or state.get("round") not in self.rounds:
                    return self._gone()
                round_id, offset = state["round"], int(state["offset"])
            else:
                if any(k.startswith("$") and k not in ("$deltatoken",) for k in request.query):
                    # docs/microsoft-graph.md#calendar-delta: $select, $expand, $filter, $orderby, $search are not supported on calendarView delta.
                    return error(400, "ErrorInvalidUrlQuery", "The following parameters are not supported with change tracking")
                if delta_token is not None:
                    state = self._read_token(delta_token)
                    if state is None or state.get("gen") != self.generation:
                        return self._gone()
                    since, start, end = int(state["since"]), state["start"], state["end"]
                else:
                    start, end = request.arg("startDateTime"), request.arg("endDateTime")
                    if not start or not end:
                        return error(400, "ErrorInvalidParameter", "startDateTime and endDateTime are required")
                    since = 0
                round_id = self._round(since, start, end)
                offset = 0
            items = self.rounds[round_id]
            page = items[offset:offset + size]
            body: dict[str, Any] = {"value": copy.deepcopy(page)}
            if offset + size < len(items):
                token = self._token(gen=self.generation, round=round_id, offset=offset + size)
                body["@odata.nextLink"] = self._link("me/calendarView/delta", **{"$skiptoken": token})
            else:
                meta = self.rounds_meta[round_id]
                token = self._token(gen=self.generation, since=meta[0], start=meta[1], end=meta[2])
                body["@odata.deltaLink"] = self._link("me/calendarView/delta", **{"$deltatoken": token})
            return Response(200, body)

    def _round(self, since: int, start_text: str, end_text: str) -> str:
        """Freeze what this round returns (so paging is stable while the calendar changes)."""
        start = datetime.fromisoformat(start_text.replace("Z", "+00:00"))
        end = datetime.fromisoformat(end_text.replace("Z", "+00:00"))
        items: list[dict[str, Any]] = []
        for stored in sorted(self.events.values(), key=lambda s: s.seq):
            if stored.calendar != PRIMARY or stored.seq <= since:
                continue
            inside = stored.window_hit(start, end)
            if stored.deleted or not inside:
                if since:  # the first round lists what exists in the window; later ones report changes
                    items.append({"id": stored.data["id"], "@removed": {"reason": "deleted"}})
                continue
            data = copy.deepcopy(stored.data)
            data.pop("body", None)  # no body in this fake's delta: the source never needs one
            items.append(data)
        if self.replay:
            self.replay = False
            items = items + copy.deepcopy(items)  # replays happen (docs/microsoft-graph.md#mail): the same item twice in a round
        round_id = str(len(self.rounds) + 1)
        self.rounds[round_id] = items
        self.rounds_meta[round_id] = (self.seq, start_text, end_text)
        return round_id
