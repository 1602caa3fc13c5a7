"""Which Outlook calendar holds syncd's follow-ups, and finding it again (docs/microsoft-graph.md#listing-follow-ups).

The calendar is ``followups_calendar_id`` when set ("primary": the default calendar); otherwise a calendar of
its own, named ``calendar_name``. That one is looked for by name once (or made), then remembered by its id
(the store's :class:`connectors.base.PlaceMemory`), so a pull goes straight to its events. Followed by id, the
calendar stays syncd's when the user renames it in Outlook; a changed ``calendar_name`` looks for (or makes)
the calendar of the new name.

The calendar also carries syncd's property (value: which ``calendar_name`` it is for), set when syncd makes it
and added to one found by name with the first writes (a dry run changes nothing in Outlook). Graph may give a
calendar another id later, the old one answering 404 ErrorItemNotFound: a calendar the user renamed is then
found by this property, not by its name, so follow-ups never move to a second calendar made of the configured
name. A calendar remembered before calendars carried the property (under the older key) is still gone to
straight, and tagged with the next writes.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any
from urllib.parse import quote

from connectors.base import AuthRequired, ConnectorError, PlaceMemory
from connectors.microsoft.calendar import CALENDAR_PROP, graph_query, short_digest
from connectors.microsoft.graph import DeltaExpired, GraphClient, GraphError


class FollowupsCalendar:
    """Where the follow-ups are: ``path`` finds (or makes) the calendar, ``gone`` handles a remembered one that
    answered 404, ``tag_found`` marks one found by name before the first writes."""

    def __init__(self, client: GraphClient, once: GraphClient, settings: Mapping[str, Any]) -> None:
        self.client = client
        self._once = once  # one attempt per POST: a lost create is settled by looking for what it made
        self.setting: str | None = settings.get("followups_calendar_id")
        self.name = str(settings.get("calendar_name") or "Follow-ups")
        self.memory: PlaceMemory | None = None
        self.events_path: str | None = None
        self._absent = False  # the dedicated calendar was looked for in this run and is not there
        self._recalled = False  # ``events_path`` is the calendar an earlier run found, not yet listed in this one
        self._forgot = False  # the remembered calendar was found gone in this run (a dry run cannot forget it)
        self._untagged: str | None = None  # found by name in this run: tagged (then remembered) with the writes

    def path(self, create: bool) -> tuple[str | None, bool]:
        """The events collection of the target calendar (None when the dedicated one does not exist and
        ``create`` is false), and whether it was made just now (it then holds nothing)."""
        if self.events_path is not None:
            return self.events_path, False
        made = False
        if self.setting == "primary":
            self.events_path = "me/events"
        elif self.setting:
            self.events_path = f"me/calendars/{quote(self.setting, safe='=')}/events"
        else:
            calendar_id = self._recall()
            self._recalled = calendar_id is not None
            if calendar_id is None:
                calendar_id = None if self._absent else self._locate()
                if calendar_id is None and not create:
                    self._absent = True
                    return None, False
                if calendar_id is None:
                    calendar_id, made = self._create(), True
                if self._untagged is None:
                    self._remember(calendar_id)
            self.events_path = f"me/calendars/{quote(calendar_id, safe='=')}/events"
        return self.events_path, made

    def listed(self) -> None:
        """The calendar's events were listed: it is there."""
        self._recalled = False

    def gone(self, exc: GraphError) -> None:
        """A listing failed with ``exc``: when it says the remembered calendar is gone, forget it, so the next
        ``path`` looks for it (by its property, then by name) or makes it; otherwise raise."""
        if not self._recalled or exc.status != 404:
            raise exc
        if exc.code != "ErrorItemNotFound":
            # Only that code says the calendar is gone; another 404 is kept, lest follow-ups move to a second.
            raise ConnectorError(
                f"listing the Outlook follow-ups calendar: Microsoft Graph answered HTTP 404 {exc.code} instead "
                "of ErrorItemNotFound, so syncd keeps the calendar it knows and writes nothing; try again later"
            ) from None
        self._remember(None)
        self.events_path, self._recalled, self._forgot, self._untagged = None, False, True, None

    def tag_found(self) -> None:
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
                f"marking the Outlook calendar '{self.name}' as syncd's follow-ups calendar: "
                f"{str(exc).rstrip('.')}; nothing was written: let syncd edit that calendar, or set "
                "followups.calendar_name to another"
            ) from None
        self._remember(self._untagged)
        self._untagged = None

    # ---- remembered across runs ------------------------------------------------------------------------

    def _memory_key(self) -> str:
        return f"tagged calendar {self.client.root} {self.name.casefold()}"

    def _untagged_key(self) -> str:
        return f"calendar {self.client.root} {self.name.casefold()}"

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

    # ---- looked for, or made -----------------------------------------------------------------------------

    def _tag(self) -> dict[str, Any]:
        return {"id": CALENDAR_PROP, "value": short_digest(f"calendar {self.name.casefold()}")}

    def _locate(self) -> str | None:
        """The existing follow-ups calendar: after the remembered one was found gone, the one carrying the
        property first (renamed, under a new id); else the one of the configured name."""
        if self._forgot:
            tagged = self._calendars("me/calendars?" + graph_query({
                "$filter": f"singleValueExtendedProperties/Any(ep: ep/id eq '{CALENDAR_PROP}' "
                           f"and ep/value eq '{self._tag()['value']}')",
            }), lambda calendar: True)
            if tagged is not None:
                return tagged
        return self._find()

    def _find(self) -> str | None:
        """The calendar of the configured name, to be tagged with the writes (a dry run changes nothing)."""
        wanted = self.name.casefold()
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

    def _create(self) -> str:
        body = {"name": self.name, "singleValueExtendedProperties": [self._tag()]}
        made = self._post_settled("me/calendars", body, self._find, what="creating the Outlook follow-ups calendar")
        if made is None:
            raise ConnectorError(f"Outlook did not say which calendar it made for '{self.name}'")
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
