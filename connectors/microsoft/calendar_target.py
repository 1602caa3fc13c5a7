"""Outlook calendar target: syncd's follow-ups tagged with one fixed extended property and a transactionId.

Shared pieces (the property ids, time conversion, the client) are in :mod:`connectors.microsoft.calendar`,
whose docstring explains the choices (docs/microsoft-graph.md#idempotency).

Writes are held until :meth:`OutlookCalendarTarget.commit` and then sent as JSON batches of up to 20
(docs/microsoft-graph.md#json-batching), each answer settled on its own: a 429 or 5xx inside a batch sends
that write again, after its own ``Retry-After``. Which keys exist is known from one listing of the tagged
events (the reconciler's own ``list_own``, or one made at commit): no write needs a lookup first, and a
calendar made in this run holds nothing to look up. The calendar itself is looked for by name once, then
remembered by its id, and carries a property of its own so that it is found again should Graph change that id
after the user renamed it (docs/microsoft-graph.md#listing-follow-ups). A create whose answer was lost (the
batch's answer cut off or dropped, or a 5xx that may have come after the event was made) is looked for by
its property before it is sent again; updates and deletes are simply sent again.
"""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import json
from collections.abc import Callable, Iterator, Mapping
from datetime import datetime, timedelta
from typing import Any, Literal
from urllib.parse import quote

from connectors.base import (
    AuthRequired,
    CalendarTarget,
    ConnectorError,
    FollowupEvent,
    SecretSlot,
)
from connectors.microsoft.calendar import (
    CALENDAR_PROP,
    KEY_PROP,
    META_PROP,
    TEXT_BODY,
    graph_stamp,
    graph_time,
    iso_z,
    transaction_id,
)
from connectors.microsoft.graph import (
    MAX_BATCH,
    Answer,
    AnswerLost,
    Call,
    DeltaExpired,
    GraphClient,
    GraphError,
    TokenProvider,
    account_client,
)
from connectors.throttle import RetryPolicy, Throttle

Verb = Literal["create", "update", "delete"]
# The page size asked for when listing the follow-ups: Graph's default is 10, and it documents no maximum for
# events; 1,000 is Outlook's largest page for messages. A server may serve smaller pages than asked: every
# ``@odata.nextLink`` is followed as given (docs/microsoft-graph.md#listing-follow-ups).
PAGE_SIZE = 1000


def _digest(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def _query(params: Mapping[str, str]) -> str:
    # Encoded by hand: spaces as %20 (not "+"), and the colon, slash and quotes of the filter too
    # (docs/microsoft-graph.md#idempotency).
    return "&".join(f"{quote(k, safe='$')}={quote(v, safe='')}" for k, v in params.items())


@dataclasses.dataclass
class _Write:
    """One request for the calendar: what it does to which key, and how it is sent."""

    verb: Verb
    key: str
    method: str
    path: str
    body: dict[str, Any] | None = None


class OutlookCalendarTarget(CalendarTarget):
    provider = "microsoft"

    def __init__(
        self, name: str, settings: Mapping[str, Any], secret: SecretSlot | None = None, *,
        token: TokenProvider | None = None, throttle: Throttle | None = None,
    ) -> None:
        super().__init__(name, settings, secret)
        self.client = account_client(name, settings, secret, token, throttle, writes=True)
        # One attempt per POST: a create whose answer was lost is settled by looking for what it made, never
        # by sending it blindly again (what Graph does with a repeated transactionId is undocumented).
        self._once = GraphClient(
            self.client.root, self.client.token, account=name,
            throttle=Throttle(self.client.throttle.budget, RetryPolicy(attempts=1), sleep=self.client.throttle.sleep),
        )
        self._once.session = self.client.session
        self.calendar_setting: str | None = settings.get("followups_calendar_id")
        self.calendar_name = str(settings.get("calendar_name") or "Follow-ups")
        self._events_path: str | None = None
        self._absent = False  # the dedicated calendar was looked for in this run and is not there
        self._recalled = False  # ``_events_path`` is the calendar an earlier run found, not yet listed in this one
        self._forgot = False  # the remembered calendar was found gone in this run (a dry run cannot forget it)
        self._untagged: str | None = None  # found by name in this run: tagged (then remembered) with the writes
        self._ids: dict[str, list[str]] = {}  # key → event ids, as listed or written
        self._listed = False  # ``_ids`` holds every tagged event of the calendar
        self._queue: list[tuple[Verb, str, FollowupEvent | None]] = []

    # ---- where -------------------------------------------------------------------------------------------

    def _path(self, create: bool) -> str | None:
        """The events collection of the target calendar; None when the dedicated one does not exist yet."""
        if self._events_path is not None:
            return self._events_path
        setting = self.calendar_setting
        if setting == "primary":
            self._events_path = "me/events"
        elif setting:
            self._events_path = f"me/calendars/{quote(setting, safe='=')}/events"
        else:
            calendar_id = self._recall()
            self._recalled = calendar_id is not None
            if calendar_id is None:
                calendar_id = None if self._absent else self._locate()
                if calendar_id is None and not create:
                    self._absent = True
                    return None
                if calendar_id is None:
                    calendar_id = self._create_calendar()
                    self._ids, self._listed = {}, True  # made just now: it holds nothing
                if self._untagged is None:
                    self._remember(calendar_id)
            self._events_path = f"me/calendars/{quote(calendar_id, safe='=')}/events"
        return self._events_path

    # The follow-ups calendar an earlier run found or made is remembered (by the store, handed in as
    # ``memory``) for this endpoint and calendar name, so a pull goes straight to its events instead of
    # listing every calendar. Followed by id, the calendar stays syncd's when the user renames it in Outlook;
    # a changed ``calendar_name`` setting looks for (or makes) the calendar of the new name. A calendar is
    # remembered once it carries syncd's property; one remembered before calendars carried it (under the
    # older key) is still gone to straight, and tagged with the next writes.

    def _memory_key(self) -> str:
        return f"tagged calendar {self.client.root} {self.calendar_name.casefold()}"

    def _untagged_key(self) -> str:
        return f"calendar {self.client.root} {self.calendar_name.casefold()}"

    def _recall(self) -> str | None:
        if self.memory is None or self._absent or self._forgot:
            return None
        found = self.memory.recall(self._memory_key())
        if found is None:
            found = self._untagged = self.memory.recall(self._untagged_key())
        return found

    def _remember(self, calendar_id: str | None) -> None:
        if self.memory is not None:
            self.memory.remember(self._memory_key(), calendar_id)
            if self.memory.recall(self._untagged_key()) is not None:
                self.memory.remember(self._untagged_key(), None)

    def _listed_calendar(self, create: bool) -> tuple[str | None, list[dict[str, Any]]]:
        """The target calendar's events path and its tagged events (``_ids`` rebuilt from them); no path when
        the dedicated calendar does not exist and ``create`` is false. A remembered calendar that is gone
        (the user deleted it) is forgotten and looked for by name, or made, as on a first run: the
        follow-ups written there are then written again, never taken as dismissed (``where`` changes)."""
        path = self._path(create)
        if path is None:
            self._ids, self._listed = {}, True
            return None, []
        try:
            return path, self._listing(path)
        except GraphError as exc:
            if not self._recalled or exc.status != 404:
                raise
            if exc.code != "ErrorItemNotFound":
                # Only that code says the calendar is gone; another 404 is kept, lest follow-ups move to a second.
                raise ConnectorError(
                    f"listing the Outlook follow-ups calendar: Microsoft Graph answered HTTP 404 {exc.code} instead "
                    "of ErrorItemNotFound, so syncd keeps the calendar it knows and writes nothing; try again later"
                ) from None
        self._remember(None)
        self._events_path, self._recalled, self._forgot, self._untagged = None, False, True, None
        return self._listed_calendar(create)

    # The calendar carries syncd's property (value: which ``calendar_name`` it is for), set when syncd makes it
    # and added to one found by name. Graph may give a calendar another id later (the old one then answers 404
    # ErrorItemNotFound); a calendar the user renamed is then found by this property, not by its name, so
    # follow-ups never move to a second calendar made of the configured name
    # (docs/microsoft-graph.md#listing-follow-ups).

    def _tag(self) -> dict[str, Any]:
        return {"id": CALENDAR_PROP, "value": _digest(f"calendar {self.calendar_name.casefold()}")}

    def _locate(self) -> str | None:
        """The existing follow-ups calendar: after the remembered one was found gone, the one carrying the
        property first (renamed, under a new id); else the one of the configured name."""
        if self._forgot:
            tagged = self._calendars("me/calendars?" + _query({
                "$filter": f"singleValueExtendedProperties/Any(ep: ep/id eq '{CALENDAR_PROP}' "
                           f"and ep/value eq '{self._tag()['value']}')",
            }), lambda calendar: True)
            if tagged is not None:
                return tagged
        return self._find_calendar()

    def _find_calendar(self) -> str | None:
        """The calendar of the configured name, to be tagged with the writes (a dry run changes nothing)."""
        wanted = self.calendar_name.casefold()
        found = self._calendars("me/calendars", lambda calendar: str(calendar.get("name") or "").casefold() == wanted)
        self._untagged = found
        return found

    def _calendars(self, url: str, wanted: Callable[[Mapping[str, Any]], bool]) -> str | None:
        found = [
            calendar for page in self.client.pages(url, what="Outlook calendars") for calendar in page.value
            if wanted(calendar) and calendar.get("id")
            and calendar.get("canEdit", True)  # a calendar shared with the user under that name is not ours
        ]
        # Should two exist (made by hand), the first listed is used every time, so follow-ups never split.
        return str(found[0]["id"]) if found else None

    def _tag_found(self) -> None:
        """Tag the calendar found by name in this run (one PATCH), then remember it: sent with the first
        writes, so a dry run leaves Outlook as it was; until then the next run looks for it by name again."""
        if self._untagged is None:
            return
        try:
            self.client.request("PATCH", f"me/calendars/{quote(self._untagged, safe='=')}",
                                json={"singleValueExtendedProperties": [self._tag()]},
                                what="marking the Outlook follow-ups calendar as syncd's")
        except GraphError as exc:
            raise ConnectorError(
                f"marking the Outlook calendar '{self.calendar_name}' as syncd's follow-ups calendar: "
                f"{str(exc).rstrip('.')}; nothing was written: let syncd edit that calendar, or set "
                "followups.calendar_name to another"
            ) from None
        self._remember(self._untagged)
        self._untagged = None

    def _create_calendar(self) -> str:
        body = {"name": self.calendar_name, "singleValueExtendedProperties": [self._tag()]}
        made = self._post_settled("me/calendars", body, self._find_calendar,
                                  what="creating the Outlook follow-ups calendar")
        if made is None:
            raise ConnectorError(f"Outlook did not say which calendar it made for '{self.calendar_name}'")
        return made

    def _post_settled(self, path: str, body: dict[str, Any], existing: Callable[[], str | None], *, what: str
                      ) -> str | None:
        """POST once; after a failure that may have landed (no answer, 5xx, 429), look for the result first
        and send again only when it is not there, waiting as the shared policy says. Returns the new id."""
        throttle = self.client.throttle
        last: Exception | None = None
        for attempt in range(throttle.policy.attempts):
            try:
                made = self._once.request("POST", path, json=body, what=what) or {}
                return str(made["id"]) if made.get("id") else None
            except (AuthRequired, DeltaExpired):
                raise
            except GraphError as exc:
                if exc.status != 409:  # 409: a calendar of that name exists (perhaps our lost create)
                    raise
                found = existing()
                if found is not None:
                    return found
                # Outlook answered, and waiting will not change it: a calendar of that name syncd cannot use.
                raise ConnectorError(
                    f"{what}: Outlook has a calendar of that name that syncd cannot write to; rename it, or set "
                    "followups.calendar_name (or followups_calendar_id) to another calendar"
                ) from None
            except ConnectorError as exc:
                last = exc
                throttle.sleep(throttle.policy.delay(attempt, getattr(exc.__cause__, "after", None)))
            found = existing()
            if found is not None:
                return found
        raise ConnectorError(f"{what}: no answer after {throttle.policy.attempts} tries ({last}); try again later")

    # ---- reading -----------------------------------------------------------------------------------------

    def _tagged(self, path: str) -> Iterator[dict[str, Any]]:
        params = {
            "$filter": f"singleValueExtendedProperties/Any(ep: ep/id eq '{KEY_PROP}')",
            "$expand": f"singleValueExtendedProperties($filter=id eq '{KEY_PROP}' or id eq '{META_PROP}')",
            "$top": str(PAGE_SIZE),
        }
        url = f"{path}?{_query(params)}"
        for page in self.client.pages(url, headers={"Prefer": TEXT_BODY}, what="Outlook follow-ups"):
            for event in page.value:
                # Re-checked here: only an event carrying our property with a well-formed value is ours.
                if _prop(event, KEY_PROP) and event.get("id"):
                    yield event

    def _listing(self, path: str) -> list[dict[str, Any]]:
        """Every tagged event, with ``_ids`` rebuilt from them (what exists now, by key)."""
        events = list(self._tagged(path))
        self._recalled = False  # it is there
        self._ids = {}
        for event in events:
            self._ids.setdefault(str(_prop(event, KEY_PROP)), []).append(str(event["id"]))
        self._listed = True
        return events

    def list_own(self) -> list[FollowupEvent]:
        self._flush()  # a listing shows what was written
        _, events = self._listed_calendar(create=False)
        out = [followup for followup in map(_followup, events) if followup is not None]
        return sorted(out, key=lambda e: (e.start, e.key))

    def where(self) -> str | None:
        return self._events_path

    # ---- writing -----------------------------------------------------------------------------------------

    def create(self, event: FollowupEvent) -> None:
        self._hold("create", event.key, event)

    def update(self, event: FollowupEvent) -> None:
        self._hold("update", event.key, event)

    def delete(self, key: str) -> None:
        self._hold("delete", key, None)

    def _hold(self, verb: Verb, key: str, event: FollowupEvent | None) -> None:
        key = key.lower()
        if any(queued == key for _, queued, _ in self._queue):
            self._flush()  # one write per key in a round: the order of a batch's requests is Graph's
        self._queue.append((verb, key, event))

    def commit(self) -> None:
        """Send the writes held, in batches; raise (one sentence) if any could not be made."""
        self._flush()

    def _flush(self) -> None:
        if not self._queue:
            return
        queue, self._queue = self._queue, []
        create = any(verb != "delete" for verb, _, _ in queue)
        path = self._path(create)
        if path is not None and not self._listed:
            path, _ = self._listed_calendar(create)  # which may find a remembered calendar gone
        if path is None:
            return  # only deletions, and no calendar: nothing of ours exists
        self._tag_found()
        writes = [write for verb, key, event in queue for write in self._requests(path, verb, key, event)]
        self._send(path, writes)

    def _requests(self, path: str, verb: Verb, key: str, event: FollowupEvent | None) -> list[_Write]:
        """The requests one write takes, given what exists (``_ids``)."""
        ids = self._ids.get(key)
        if verb == "delete":
            self._ids[key] = []
            return [_Write("delete", key, "DELETE", f"{path}/{quote(i, safe='=')}") for i in ids or []]
        assert event is not None
        if ids:  # it exists (an earlier run's create landed, or it is being updated): patched, never doubled
            return [_Write("update", key, "PATCH", f"{path}/{quote(ids[0], safe='=')}", _fields(event))]
        if verb == "update" and ids is not None:
            return []  # listed before but gone now: the user deleted it meanwhile, which is theirs to decide
        body = {
            **_fields(event),
            "showAs": "free",  # a follow-up never blocks time
            "transactionId": transaction_id(key, event.planned_start or event.start, path),
            # No attendees, ever: a calendar with attendees emails them.
        }
        return [_Write("create", key, "POST", path, body)]  # as in the file target, updating a missing key writes it

    def _send(self, path: str, writes: list[_Write]) -> None:
        """Every write, in batches, each answer settled on its own; the ones to try again go in the next round."""
        policy, throttle = self.client.throttle.policy, self.client.throttle
        failures: list[str] = []
        why = ""
        for attempt in range(policy.attempts):
            again: list[_Write] = []
            unsure: list[_Write] = []
            waits: list[float] = []
            for start in range(0, len(writes), MAX_BATCH):
                chunk = writes[start : start + MAX_BATCH]
                calls = [Call(str(n), w.method, w.path, w.body) for n, w in enumerate(chunk)]
                try:
                    answers = self.client.batch(calls, what="writing Outlook follow-ups")
                except AnswerLost as lost:
                    answers = {call.id: Answer(0, str(lost)) for call in calls}
                for call, write in zip(calls, chunk, strict=True):
                    answer = answers[call.id]
                    outcome = self._settle(write, answer)
                    if outcome in ("again", "unsure"):
                        (again if outcome == "again" else unsure).append(write)
                        why = f"HTTP {answer.status} {answer.error[0]}".strip() if answer.status else "answer lost"
                        if answer.retry_after is not None:
                            waits.append(answer.retry_after)
                    elif outcome != "done":
                        failures.append(outcome)
            if unsure:
                # Answers lost after the server may have acted: look before sending any create again.
                self._listing(path)
                again += [write for write in unsure if not self._ids.get(write.key)]
            if not again:
                break
            if attempt + 1 >= policy.attempts:
                failures.append(f"writing {len(again)} Outlook follow-ups: no answer after {policy.attempts} tries "
                                f"({why}); try again later")
                break
            throttle.retries += 1
            throttle.sleep(policy.delay(attempt, max(waits) if waits else None))  # each item's own Retry-After
            writes = again
        if failures:
            more = f" (and {len(failures) - 1} more)" if len(failures) > 1 else ""
            raise ConnectorError(failures[0] + more)

    def _settle(self, write: _Write, answer: Answer) -> str:
        """What one answer means: "done", "again" (send it again), "unsure" (look first), or why it failed."""
        status = answer.status
        if 200 <= status < 300:
            if write.verb == "create":
                made = answer.body.get("id") if isinstance(answer.body, dict) else None
                if made:
                    self._ids[write.key] = [str(made)]
                else:
                    self._ids.pop(write.key, None)
                    self._listed = False  # made, but unnamed: the next write lists again to find it
            return "done"
        if status == 404 and write.verb != "create":
            if write.verb == "update":
                self._ids.pop(write.key, None)  # deleted by the user since listing: left deleted
            return "done"  # a delete of what is gone is done
        if status == 429:
            return "again"  # throttled: Graph did nothing with it
        if status == 0 or status >= 500:
            return "unsure" if write.verb == "create" else "again"
        code, message = answer.error
        doing = {"create": "creating", "update": "updating", "delete": "deleting"}[write.verb]
        return f"{doing} an Outlook follow-up: Microsoft Graph answered HTTP {status} {code}: {message}".strip()


def _prop(event: Mapping[str, Any], prop: str) -> str | None:
    for item in event.get("singleValueExtendedProperties") or ():
        if item.get("id") == prop and isinstance(item.get("value"), str):
            value: str = item["value"]
            return value
    return None


def _meta(event: FollowupEvent) -> str:
    planned = event.planned_start or event.start
    return json.dumps({
        "v": 1, "person": event.person, "planned": iso_z(planned), "desc": _digest(event.description),
    }, separators=(",", ":"))


def _fields(event: FollowupEvent) -> dict[str, Any]:
    return {
        "subject": event.title,
        "body": {"contentType": "text", "content": event.description},
        "start": graph_stamp(event.start),
        "end": graph_stamp(event.start + timedelta(minutes=event.duration_minutes)),
        "isReminderOn": True,
        "reminderMinutesBeforeStart": int(event.reminder_minutes),
        "singleValueExtendedProperties": [
            {"id": KEY_PROP, "value": event.key.lower()},
            {"id": META_PROP, "value": _meta(event)},
        ],
    }


def _description(body: Mapping[str, Any] | None, written: str | None) -> str:
    """The body as text. Outlook may hand back what we wrote with CRLFs or a trailing newline changed; when a
    plain normalisation gives back the text we wrote (its hash is in syncdMeta), that text is reported, so an
    unchanged follow-up never looks changed to the reconciler."""
    content = str((body or {}).get("content") or "")
    if str((body or {}).get("contentType") or "text").lower() == "html":
        import html
        import re

        content = html.unescape(re.sub(r"<[^>]+>", "", content))
    unix = content.replace("\r\n", "\n")
    candidates = [content, unix, unix.rstrip("\n"), unix.rstrip("\n") + "\n", unix.strip()]
    if written:
        for candidate in candidates:
            if _digest(candidate) == written:
                return candidate
    return unix.rstrip()


def _followup(event: Mapping[str, Any]) -> FollowupEvent | None:
    key = _prop(event, KEY_PROP)
    start = graph_time(event.get("start"))
    if not key or start is None:
        return None
    end = graph_time(event.get("end")) or start
    meta: dict[str, Any] = {}
    with contextlib.suppress(ValueError, TypeError):
        loaded = json.loads(_prop(event, META_PROP) or "{}")
        meta = loaded if isinstance(loaded, dict) else {}
    planned: datetime | None = None
    with contextlib.suppress(ValueError, TypeError):
        planned = datetime.fromisoformat(str(meta["planned"]).replace("Z", "+00:00")) if meta.get("planned") else None
    return FollowupEvent(
        key=key,
        person=str(meta.get("person") or ""),
        start=start,
        duration_minutes=round((end - start).total_seconds() / 60),
        title=str(event.get("subject") or ""),
        description=_description(event.get("body"), meta.get("desc")),
        reminder_minutes=int(event.get("reminderMinutesBeforeStart") or 0) if event.get("isReminderOn") else 0,
        planned_start=planned,
    )
