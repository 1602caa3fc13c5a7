"""What a reconciliation decides: the calendar writes (:class:`Action`), the bookkeeping changes
(:class:`Settle`), the whole :class:`Plan`, and what applying it did (:class:`ApplyResult`)."""

from __future__ import annotations

import dataclasses
from datetime import datetime, tzinfo
from typing import Literal

from connectors.base import FollowupEvent
from syncd.plan.occasions import Want
from syncd.store.followups import Record

Verb = Literal["create", "update", "delete"]


@dataclasses.dataclass(frozen=True, slots=True)
class Action:
    """One write to the target. ``record`` is the record as it stands once the write is durable."""

    verb: Verb
    key: str
    person: str
    title: str
    start: datetime | None
    reason: str
    event: FollowupEvent | None = None  # create / update: what to write
    record: Record | None = None  # None: a tagged event syncd has no record of


@dataclasses.dataclass(frozen=True, slots=True)
class Settle:
    """A bookkeeping change with no calendar write (a dismissal noticed, a crash resolved, ...)."""

    record: Record  # with its new state
    reason: str


@dataclasses.dataclass
class Plan:
    actions: list[Action]  # creates and updates by start, then deletes soonest first
    settles: list[Settle]
    waiting: int  # wanted follow-ups whose day is beyond the horizon
    max_deletes: int
    zone: tzinfo
    notes: list[str] = dataclasses.field(default_factory=list)
    wanted: dict[str, Want] = dataclasses.field(default_factory=dict)  # key -> the follow-up it is for
    later: list[str] = dataclasses.field(default_factory=list)  # wanted keys that got no day this run

    @property
    def dismissed(self) -> list[Settle]:
        return [s for s in self.settles if s.record.state == "dismissed"]

    def lines(self) -> list[str]:
        """One line per calendar write, for ``syncd plan`` and ``pull --dry-run``."""
        out = []
        for action in self.actions:
            when = action.start.astimezone(self.zone).strftime("%a %Y-%m-%d %H:%M") if action.start else "-"
            out.append(f"  {action.verb:<6} {when}  {action.title}  <{action.person}>  ({action.reason})")
        out.extend(f"  dismissed by you: {s.record.person}, due {s.record.due}" for s in self.dismissed)
        return out


@dataclasses.dataclass
class ApplyResult:
    plan: Plan
    applied: bool  # False for a dry run: the counts are what would happen
    created: int = 0
    updated: int = 0
    deleted: int = 0
    held_back_deletes: list[Action] = dataclasses.field(default_factory=list)
    messages: list[str] = dataclasses.field(default_factory=list)

    @property
    def dismissed(self) -> int:
        return len(self.plan.dismissed)

    def count(self, verb: str) -> int:
        return {"create": self.created, "update": self.updated, "delete": self.deleted,
                "dismissed": self.dismissed}.get(verb, 0)

    def describe(self, dry_run: bool = False) -> list[str]:
        if dry_run:
            head = (f"follow-ups (plan, nothing written): {self.created} to create, {self.updated} to update, "
                    f"{self.deleted} to delete")
        else:
            head = f"follow-ups: {self.created} created, {self.updated} updated, {self.deleted} deleted"
        if self.dismissed:
            head += f"; {self.dismissed} dismissed by you"
        if self.plan.waiting:
            head += f"; {self.plan.waiting} due later than the horizon"
        return [head, *(self.plan.lines() if dry_run else []), *(f"  {m}" for m in self.messages)]
