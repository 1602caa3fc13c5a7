"""Outlook calendar target: syncd's follow-ups tagged with one fixed extended property and a transactionId.

Shared pieces (the property ids, time conversion, the client) are in :mod:`connectors.microsoft.calendar`,
whose docstring explains the choices (docs/microsoft-graph.md#idempotency).

Writes are held until :meth:`OutlookCalendarTarget.commit` and then sent as JSON batches of up to 20
(docs/microsoft-graph.md#json-batching), each answer settled on its own: a 429 or 5xx inside a batch sends
that write again, after its own ``Retry-After``. Which keys exist is known from one listing of the tagged
events (the reconciler's own ``list_own``, or one made at commit): no write needs a lookup first, and a
calendar made in this run holds nothing to look up. Which calendar that is, and finding it again, is
:mod:`connectors.microsoft.followups_calendar`. A create whose answer was lost (the
batch's answer cut off or dropped, or a 5xx that may have come after the event was made) is looked for by
its property before it is sent again; updates and deletes are simply sent again.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
from collections.abc import Iterator, Mapping
from datetime import datetime, timedelta
from typing import Any, Literal
from urllib.parse import quote

from connectors.base import (
    CalendarTarget,
    ConnectorError,
    FollowupEvent,
    PlaceMemory,
    SecretSlot,
)
from connectors.microsoft.calendar import (
    KEY_PROP,
    META_PROP,
    TEXT_BODY,
    graph_query,
    graph_stamp,
    graph_time,
    iso_z,
    short_digest,
    transaction_id,
)
from connectors.microsoft.followups_calendar import FollowupsCalendar
from connectors.microsoft.graph import (
    MAX_BATCH,
    Answer,
    AnswerLost,
    Call,
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
        self.calendar = FollowupsCalendar(self.client, self._once, settings)
        self._ids: dict[str, list[str]] = {}  # key → event ids, as listed or written
        self._listed = False  # ``_ids`` holds every tagged event of the calendar
        self._queue: list[tuple[Verb, str, FollowupEvent | None]] = []

    # ---- where: connectors.microsoft.followups_calendar ----------------------------------------------------

    def use_memory(self, memory: PlaceMemory) -> None:
        super().use_memory(memory)
        self.calendar.memory = memory

    def _path(self, create: bool) -> str | None:
        path, made = self.calendar.path(create)
        if made:
            self._ids, self._listed = {}, True  # made just now: it holds nothing
        return path

    def _listed_calendar(self, create: bool) -> tuple[str | None, list[dict[str, Any]]]:
        """The target calendar's events path and its tagged events (``_ids`` rebuilt from them); no path when
        the dedicated calendar does not exist and ``create`` is false. A remembered calendar that is gone
        (the user deleted it) is forgotten and looked for again, or made, as on a first run: the follow-ups
        written there are then written again, never taken as dismissed (``where`` changes)."""
        path = self._path(create)
        if path is None:
            self._ids, self._listed = {}, True
            return None, []
        try:
            return path, self._listing(path)
        except GraphError as exc:
            self.calendar.gone(exc)
        return self._listed_calendar(create)

    # ---- reading -----------------------------------------------------------------------------------------

    def _tagged(self, path: str) -> Iterator[dict[str, Any]]:
        params = {
            "$filter": f"singleValueExtendedProperties/Any(ep: ep/id eq '{KEY_PROP}')",
            "$expand": f"singleValueExtendedProperties($filter=id eq '{KEY_PROP}' or id eq '{META_PROP}')",
            "$top": str(PAGE_SIZE),
        }
        url = f"{path}?{graph_query(params)}"
        for page in self.client.pages(url, headers={"Prefer": TEXT_BODY}, what="Outlook follow-ups"):
            for event in page.value:
                # Re-checked here: only an event carrying our property with a well-formed value is ours.
                if _prop(event, KEY_PROP) and event.get("id"):
                    yield event

    def _listing(self, path: str) -> list[dict[str, Any]]:
        """Every tagged event, with ``_ids`` rebuilt from them (what exists now, by key)."""
        events = list(self._tagged(path))
        self.calendar.listed()
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
        return self.calendar.events_path

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
        self.calendar.tag_found()
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
        "v": 1, "person": event.person, "planned": iso_z(planned), "desc": short_digest(event.description),
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
            if short_digest(candidate) == written:
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
