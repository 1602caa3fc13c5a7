"""Outlook calendar target: syncd's follow-ups tagged with one fixed extended property and a transactionId.

Shared pieces (the property ids, time conversion, the client) are in :mod:`connectors.microsoft.calendar`,
whose docstring explains the choices (docs/microsoft-graph.md#calendar).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
from collections.abc import Callable, Iterator, Mapping
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import quote

from connectors.base import (
    AuthRequired,
    CalendarTarget,
    ConnectorError,
    FollowupEvent,
    SecretSlot,
)
from connectors.microsoft.calendar import (
    KEY_PROP,
    META_PROP,
    PAGE_SIZE,
    TEXT_BODY,
    graph_stamp,
    graph_time,
    iso_z,
    transaction_id,
)
from connectors.microsoft.graph import DeltaExpired, GraphClient, GraphError, TokenProvider, account_client
from connectors.throttle import RetryPolicy, Throttle


def _digest(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def _query(params: Mapping[str, str]) -> str:
    # Encoded by hand: spaces as %20 (not "+"), and the colon, slash and quotes of the filter too
    # (docs/microsoft-graph.md#creating-events).
    return "&".join(f"{quote(k, safe='$')}={quote(v, safe='')}" for k, v in params.items())


class OutlookCalendarTarget(CalendarTarget):
    provider = "microsoft"

    def __init__(
        self, name: str, settings: Mapping[str, Any], secret: SecretSlot | None = None, *,
        token: TokenProvider | None = None, throttle: Throttle | None = None,
    ) -> None:
        super().__init__(name, settings, secret)
        self.client = account_client(name, settings, secret, token, throttle, writes=True)
        # One attempt per POST: a create whose answer was lost is settled by looking for what it made, never by sending
        # it blindly again (what Graph does with a repeated transactionId is undocumented,
        # docs/microsoft-graph.md#idempotency).
        self._once = GraphClient(
            self.client.root, self.client.token, account=name,
            throttle=Throttle(self.client.throttle.budget, RetryPolicy(attempts=1), sleep=self.client.throttle.sleep),
        )
        self._once.session = self.client.session
        self.calendar_setting: str | None = settings.get("followups_calendar_id")
        self.calendar_name = str(settings.get("calendar_name") or "Follow-ups")
        self._events_path: str | None = None
        self._ids: dict[str, list[str]] = {}  # key → event ids, as last listed or written

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
            calendar_id = self._find_calendar() or (self._create_calendar() if create else None)
            if calendar_id is None:
                return None
            self._events_path = f"me/calendars/{quote(calendar_id, safe='=')}/events"
        return self._events_path

    def _find_calendar(self) -> str | None:
        wanted = self.calendar_name.casefold()
        found = [
            calendar for page in self.client.pages("me/calendars", what="Outlook calendars") for calendar in page.value
            if str(calendar.get("name") or "").casefold() == wanted and calendar.get("id")
            and calendar.get("canEdit", True)  # a calendar shared with the user under that name is not ours
        ]
        # Should two exist (made by hand), the first listed is used every time, so follow-ups never split.
        return str(found[0]["id"]) if found else None

    def _create_calendar(self) -> str:
        made = self._post_settled("me/calendars", {"name": self.calendar_name}, self._find_calendar,
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

    def _tagged(self, path: str, key: str | None = None) -> Iterator[dict[str, Any]]:
        condition = f"ep/id eq '{KEY_PROP}'" + (f" and ep/value eq '{key}'" if key is not None else "")
        params = {
            "$filter": f"singleValueExtendedProperties/Any(ep: {condition})",
            "$expand": f"singleValueExtendedProperties($filter=id eq '{KEY_PROP}' or id eq '{META_PROP}')",
            "$top": str(PAGE_SIZE),
        }
        url = f"{path}?{_query(params)}"
        for page in self.client.pages(url, headers={"Prefer": TEXT_BODY}, what="Outlook follow-ups"):
            for event in page.value:
                # Re-checked here: only an event carrying our property with a well-formed value is ours.
                value = _prop(event, KEY_PROP)
                if value and (key is None or value == key) and event.get("id"):
                    yield event

    def list_own(self) -> list[FollowupEvent]:
        path = self._path(create=False)
        if path is None:
            return []
        self._ids = {}
        out = []
        for event in self._tagged(path):
            followup = _followup(event)
            if followup is None:
                continue
            self._ids.setdefault(followup.key, []).append(str(event["id"]))
            out.append(followup)
        return sorted(out, key=lambda e: (e.start, e.key))

    def _lookup(self, key: str, path: str) -> list[str]:
        if key not in self._ids:
            self._ids[key] = [str(event["id"]) for event in self._tagged(path, key)]
        return self._ids[key]

    # ---- writing -----------------------------------------------------------------------------------------

    def create(self, event: FollowupEvent) -> None:
        path = self._path(create=True)
        assert path is not None
        key = event.key.lower()
        ids = self._lookup(key, path)
        if ids:
            self._patch(path, ids[0], event)  # it exists (an earlier run's create landed): no second event
            return
        body = {
            **_fields(event),
            "showAs": "free",  # a follow-up never blocks time
            "transactionId": transaction_id(key, event.planned_start or event.start),
            # No attendees, ever: a calendar with attendees emails them.
        }
        made = self._post_settled(path, body, lambda: next((str(e["id"]) for e in self._tagged(path, key)), None),
                                  what="creating an Outlook follow-up")
        if made is not None:
            self._ids[key] = [made]
        else:
            self._ids.pop(key, None)

    def update(self, event: FollowupEvent) -> None:
        path = self._path(create=True)
        assert path is not None
        known = event.key.lower() in self._ids
        ids = self._lookup(event.key.lower(), path)
        if not ids:
            if not known:
                self.create(event)  # like the file target: an update of a key not there writes it
            return  # listed before but gone now: the user deleted it meanwhile, which is theirs to decide
        self._patch(path, ids[0], event)

    def _patch(self, path: str, event_id: str, event: FollowupEvent) -> None:
        try:
            self.client.request("PATCH", f"{path}/{quote(event_id, safe='=')}", json=_fields(event),
                                what="updating an Outlook follow-up")
        except GraphError as exc:
            if exc.status != 404:
                raise
            self._ids.pop(event.key.lower(), None)  # deleted by the user since listing: left deleted

    def delete(self, key: str) -> None:
        path = self._path(create=False)
        if path is None:
            return
        key = key.lower()
        for event_id in self._lookup(key, path):
            try:
                self.client.request("DELETE", f"{path}/{quote(event_id, safe='=')}",
                                    what="deleting an Outlook follow-up")
            except GraphError as exc:
                if exc.status != 404:  # already gone: done
                    raise
        self._ids[key] = []


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
