"""An in-memory calendar with a real target's semantics, for reconciler tests.

It holds syncd's tagged events and the user's own (foreign) events; tests play the user by moving or
deleting events, and can make the target fail after a number of writes to simulate a crash.
"""

from __future__ import annotations

import copy
import dataclasses

from connectors.base import CalendarTarget, ConnectorError, FollowupEvent


class TargetCrash(ConnectorError):
    pass


@dataclasses.dataclass
class ForeignEvent:
    uid: str
    title: str


class FakeTarget(CalendarTarget):
    provider = "fake"

    def __init__(self) -> None:
        self.events: dict[str, FollowupEvent] = {}  # committed state
        self.foreign: dict[str, ForeignEvent] = {}
        self._staged: dict[str, FollowupEvent] | None = None
        self.fail_after: int | None = None  # raise on the (n+1)-th write
        self.fail_on_commit = False
        self.writes = 0

    def _work(self) -> dict[str, FollowupEvent]:
        if self._staged is None:
            self._staged = copy.deepcopy(self.events)
        return self._staged

    def _write(self) -> None:
        if self.fail_after is not None and self.writes >= self.fail_after:
            self._staged = None  # nothing staged survives a crash
            raise TargetCrash("target went away")
        self.writes += 1

    def list_own(self) -> list[FollowupEvent]:
        return [copy.deepcopy(event) for event in self.events.values()]

    def create(self, event: FollowupEvent) -> None:
        self._write()
        self._work()[event.key] = copy.deepcopy(event)

    def update(self, event: FollowupEvent) -> None:
        self._write()
        self._work()[event.key] = copy.deepcopy(event)

    def delete(self, key: str) -> None:
        self._write()
        self._work().pop(key, None)

    def commit(self) -> None:
        if self.fail_on_commit:
            self._staged = None
            raise TargetCrash("target went away before commit")
        if self._staged is not None:
            self.events = self._staged
            self._staged = None

    # ---- the user --------------------------------------------------------------------------------

    def user_moves(self, key: str, days: int) -> None:
        from datetime import timedelta

        self.events[key].start = self.events[key].start + timedelta(days=days)

    def user_deletes(self, key: str) -> None:
        del self.events[key]
