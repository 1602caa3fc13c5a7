"""An in-memory calendar with a real target's semantics, for reconciler tests.

It holds syncd's tagged events next to the user's own (foreign) events, exactly as a shared calendar
does; ``list_own`` and the write methods see tagged events only. Tests play the user (move, delete,
restore, add or edit their own events) and inject faults.

Two durability modes, like the real targets:

* ``staged=True`` (a file target): writes are visible to this instance at once but reach the calendar
  only on ``commit``; a crash loses everything not committed.
* ``staged=False`` (a network target): every write lands immediately; ``commit`` does nothing.

Faults: ``fail_after`` writes succeed and the next raises; ``fail_on_commit`` raises instead of
committing; ``fail_after_commit`` commits and then raises (the process dying before the records are
settled). ``keeps_planned=False`` models a target that cannot store where syncd placed an event.
"""

from __future__ import annotations

import copy
import dataclasses
from datetime import datetime, timedelta

from connectors.base import CalendarTarget, ConnectorError, FollowupEvent


class TargetCrash(ConnectorError):
    """The injected fault (a ConnectorError, as a real target's failure would be)."""


@dataclasses.dataclass(frozen=True)
class ForeignEvent:
    """A user's own event: no syncd tag."""

    uid: str
    title: str
    start: datetime | None = None


class MemTarget(CalendarTarget):
    provider = "memory"

    def __init__(self, *, staged: bool = True, keeps_planned: bool = True) -> None:
        super().__init__("memory", {})
        self.staged = staged
        self.keeps_planned = keeps_planned
        self.events: dict[str, FollowupEvent] = {}  # what the calendar holds now (committed)
        self.foreign: dict[str, ForeignEvent] = {}
        self._work: dict[str, FollowupEvent] | None = None  # staged changes, file-target style
        self.fail_after: int | None = None
        self.fail_on_commit = False
        self.fail_after_commit = False
        self.writes = 0  # successful create / update / delete calls, ever
        self.commits = 0  # commits that changed something
        self.listed_twice: set[str] = set()  # keys list_own reports twice (a misbehaving provider)
        self.name_of_calendar: str | None = "memory"  # None: the calendar is gone (where() says so)

    # ---- CalendarTarget ---------------------------------------------------------------------------

    def _view(self) -> dict[str, FollowupEvent]:
        return self._work if self._work is not None else self.events

    def list_own(self) -> list[FollowupEvent]:
        out = []
        for event in sorted(self._view().values(), key=lambda e: (e.start, e.key)):
            copied = copy.deepcopy(event)
            if not self.keeps_planned:
                copied.planned_start = None
            out.extend([copied] * (2 if event.key in self.listed_twice else 1))
        return out

    def where(self) -> str | None:
        return self.name_of_calendar

    def _writable(self) -> dict[str, FollowupEvent]:
        if self.fail_after is not None and self.writes >= self.fail_after:
            self._work = None  # nothing staged survives the crash
            raise TargetCrash("the calendar went away mid-run")
        self.writes += 1
        if self.name_of_calendar is None:
            self.name_of_calendar = "memory, made again"  # like the online targets: the first write makes it
        if not self.staged:
            return self.events
        if self._work is None:
            self._work = copy.deepcopy(self.events)
        return self._work

    def create(self, event: FollowupEvent) -> None:
        # Create-as-update: a retried create of the same key never makes a second event.
        self._writable()[event.key] = copy.deepcopy(event)

    def update(self, event: FollowupEvent) -> None:
        self._writable()[event.key] = copy.deepcopy(event)

    def delete(self, key: str) -> None:
        self._writable().pop(key, None)  # deleting what is already gone is not an error

    def commit(self) -> None:
        if self.fail_on_commit:
            self._work = None
            raise TargetCrash("the calendar went away before commit")
        if self._work is not None:
            if self._work != self.events:
                self.commits += 1
            self.events, self._work = self._work, None
        if self.fail_after_commit:
            raise TargetCrash("the process died right after commit")

    # ---- the user ---------------------------------------------------------------------------------

    def user_moves(self, key: str, by: timedelta) -> None:
        self.events[key].start += by

    def user_deletes(self, key: str) -> FollowupEvent:
        return self.events.pop(key)

    def user_restores(self, event: FollowupEvent) -> None:
        self.events[event.key] = copy.deepcopy(event)

    def user_edits_foreign(self, uid: str, title: str, start: datetime | None = None) -> None:
        self.foreign[uid] = ForeignEvent(uid, title, start)

    def snapshot(self) -> dict[str, tuple[datetime, str, str, int, int, datetime | None]]:
        """Everything a user can see of syncd's events, for before/after comparisons."""
        return {
            k: (e.start, e.title, e.description, e.reminder_minutes, e.duration_minutes, e.planned_start)
            for k, e in self.events.items()
        }
