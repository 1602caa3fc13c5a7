"""Reconciling wanted follow-ups with syncd's own events in the target, honouring what the user did.

The calendar event is also the control (docs/rules.md#user-edits):

* contact happened before the event → the cycle changed: the event is removed (an old cycle's event
  already in the past is left as history; it did its job);
* the user **moved** it (its start is no longer the planned one) → a snooze: never moved back, only
  its text refreshed;
* the user **deleted** it → dismissed for this cycle: the next one (a new key, ``n + 1``) is due one
  cadence after the dismissed one, or earlier if contact resets the cycle; a dismissed one-off is over;
* the person became ignored / directory / has a meeting booked → removed.

Crash safety: the ``followups`` records are written *before* the target is touched (``pending``,
``deleting``) and settled after ``commit`` (``active``, ``done``). The next run resolves anything in
flight: pending + present = active, pending + absent = create again (not a dismissal), deleting +
absent = done, deleting + present = delete again. Keys are deterministic and targets treat a create of
an existing key as an update, so a repeated create finds the event it made before.

``plan`` is pure (records, the target's listing and "now" in, a :class:`Plan` out); ``apply`` writes it.
"""

from __future__ import annotations

import dataclasses
from collections import Counter
from collections.abc import Mapping, Sequence
from datetime import date, datetime, tzinfo
from typing import Literal

from connectors.base import CalendarTarget, FollowupEvent
from syncd.config import FollowupsConfig
from syncd.engine.due import DueFollowup
from syncd.plan.occasions import Want, locate, planned_of, resolve, survivors_of, wanted_keys
from syncd.plan.placement import Request, local_today, place, slot_start
from syncd.store import Store
from syncd.store.followups import Record

Verb = Literal["create", "update", "delete"]
FORCE_HINT = "syncd pull --force"


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


# ---- planning (pure) ----------------------------------------------------------------------------------


def _keeps_day(event: FollowupEvent, record: Record | None, state: str | None, due: date) -> bool:
    """Whether a wanted event stays where it is: a snooze always does; syncd's own placement does while
    the due date it was placed for is unchanged, so re-planning others never churns it."""
    planned = planned_of(event, record)
    if planned is not None and event.start != planned:
        return True
    if record is None:
        return True  # ours (tagged, right key) but unrecorded: leave it where it is
    if state == "deleting" or record.due != due:
        return False
    # A placement the records know of but the event does not carry was interrupted: place it again.
    return record.planned_start is None or event.planned_start is None or record.planned_start == event.planned_start


def _title(cfg: FollowupsConfig, name: str) -> str:
    try:
        return cfg.title.format(name=name)
    except (KeyError, IndexError, ValueError):
        return f"Reach out to {name}"  # a template with other fields must not stop the run


def _event(want: Want, key: str, start: datetime, planned: datetime, cfg: FollowupsConfig) -> FollowupEvent:
    return FollowupEvent(
        key=key, person=want.item.person, start=start, duration_minutes=int(cfg.duration.total_seconds() // 60),
        title=_title(cfg, want.item.name), description=want.item.description,
        reminder_minutes=int(cfg.reminder.total_seconds() // 60), planned_start=planned,
    )


def _text(event: FollowupEvent) -> tuple[str, str, int, int]:
    return (event.title, event.description, event.reminder_minutes, event.duration_minutes)


def _record(want: Want, key: str, state: str, planned: datetime | None) -> Record:
    item = want.item
    return Record(key, item.person, item.origin, item.cycle, want.n, want.due, state, planned)


def _why_due(want: Want, state: str | None, today: date) -> str:
    kind = {"cycle": "", "reminder": "reminder, ", "series": "series ended, "}.get(want.item.origin, "")
    why = f"{kind}due {want.due.isoformat()}"
    if want.n:
        why += " (one cadence after the one you dismissed)"
    elif want.due < today:
        why += f" ({(today - want.due).days} days overdue)"
    if state == "unwritten":
        why += "; written again after an interrupted run"
    return why


def _why_unwanted(record: Record | None, by_person: Mapping[str, list[DueFollowup]]) -> str:
    if record is None:
        return "no record of it and not due"
    others = by_person.get(record.person, [])
    if record.origin == "cycle" and any(d.origin == "cycle" for d in others):
        return "contact since: the cycle restarted"
    if not others:
        return "no longer due (ignored, directory tier, dormant, or a meeting is booked)"
    return "no longer due"


def plan(
    due: Sequence[DueFollowup], records: Mapping[str, Record], existing: Sequence[FollowupEvent], now: datetime,
    cfg: FollowupsConfig,
) -> Plan:
    """What to write so the target holds exactly the wanted follow-ups, honouring the user's moves and
    deletions. Pure: nothing is read or written here."""
    result = Plan([], [], 0, cfg.max_deletes, cfg.timezone)
    present: dict[str, FollowupEvent] = {}
    for listed in existing:
        if listed.key in present:
            result.notes.append(f"the calendar lists follow-up {listed.key} twice; the first one is used")
        present.setdefault(listed.key, listed)
    wanted_occasions = {(d.person, d.origin, d.cycle) for d in due}
    states = {key: resolve(r, key in present, r.occasion in wanted_occasions) for key, r in records.items()}
    located = locate(due, records, present)
    survivors = survivors_of(located, present, records)
    duplicates = set(located) - set(survivors.values())
    wants = wanted_keys(due, records, states, survivors, located, cfg.timezone)
    today = local_today(now, cfg)

    # Kept events hold their day and count toward its per-day cap; the rest get a day.
    taken: Counter[date] = Counter()
    requests: list[Request] = []
    for key, want in wants.items():
        current = present.get(key)
        if current is not None and _keeps_day(current, records.get(key), states.get(key), want.due):
            taken[current.start.astimezone(cfg.timezone).date()] += 1
        else:
            item = want.item
            requests.append(Request(key, want.due, item.strength, f"{item.name}\x1f{item.person}\x1f{item.origin}"))
    days = place(requests, taken, now, cfg)
    placing = {request.key for request in requests}

    writes: list[Action] = []
    deletes: list[Action] = []
    for key, want in wants.items():
        event, record, state = present.get(key), records.get(key), states.get(key)
        if event is not None and key not in placing:
            planned = planned_of(event, record) or event.start
            fresh = _event(want, key, event.start, planned, cfg)
            settled = _record(want, key, "active", planned)
            if _text(fresh) != _text(event):
                why = "text refreshed" + ("; stays where you moved it" if event.start != planned else "")
                writes.append(Action("update", key, want.item.person, fresh.title, event.start, why, fresh, settled))
            elif record is None or record != settled:
                result.settles.append(Settle(settled, "already in the calendar"))
            continue
        day = days.get(key)
        if day is None:
            if event is not None:
                # Its due date moved past the horizon: out for now, back when its day comes near.
                deletes.append(Action("delete", key, event.person, event.title, event.start,
                                      f"now due {want.due.isoformat()}, beyond the horizon", None,
                                      _record(want, key, "done", record.planned_start if record else None)))
            else:
                result.waiting += 1
            continue
        start = slot_start(day, cfg)
        fresh, settled = _event(want, key, start, start, cfg), _record(want, key, "active", start)
        if event is not None and event.start == start == event.planned_start and _text(event) == _text(fresh):
            result.settles.append(Settle(settled, "already where it belongs"))  # an interrupted run's write landed
            continue
        verb: Verb = "create" if event is None else "update"
        why = _why_due(want, state, today) if verb == "create" else f"placed again: due {want.due.isoformat()}"
        writes.append(Action(verb, key, want.item.person, fresh.title, start, why, fresh, settled))

    by_person: dict[str, list[DueFollowup]] = {}
    for item in due:
        by_person.setdefault(item.person, []).append(item)
    for key, event in present.items():
        if key in wants:
            continue
        record, state = records.get(key), states.get(key)
        done = dataclasses.replace(record, state="done") if record is not None else None
        if state == "deleting":
            why = "finishing a deletion an earlier run began"
        elif key in duplicates:
            why = "a second event for the same follow-up"  # one event per person and occasion, always
        elif event.start <= now:
            if record is not None and record.state != "done":
                result.settles.append(Settle(dataclasses.replace(record, state="done"), "past: left as history"))
            continue
        else:
            why = _why_unwanted(record, by_person)
        deletes.append(Action("delete", key, event.person, event.title, event.start, why, None, done))

    # Records with neither a wanted key nor an event: dismissals stay while their occasion is due.
    for key, record in records.items():
        if key in wants or key in present:
            continue
        state = "dismissed" if states[key] == "dismissed" else "done"
        if state != record.state:
            why = "you deleted it" if state == "dismissed" else "settled"
            result.settles.append(Settle(dataclasses.replace(record, state=state), why))

    writes.sort(key=lambda a: (a.start or now, a.key))
    deletes.sort(key=lambda a: (a.start or now, a.key))
    result.actions = writes + deletes
    return result


# ---- applying -----------------------------------------------------------------------------------------


def _split(plan: Plan, force: bool) -> tuple[list[Action], list[Action], list[str]]:
    """(the writes to make, the deletions held back, messages): at most ``max_deletes`` unless forced."""
    deletes = [a for a in plan.actions if a.verb == "delete"]
    allowed = len(deletes) if force else min(len(deletes), plan.max_deletes)
    held = deletes[allowed:]
    writes = deletes[:allowed] + [a for a in plan.actions if a.verb != "delete"]
    messages = list(plan.notes)
    if held:
        messages.append(
            f"{len(held)} more deletions held back (followups.max_deletes is {plan.max_deletes} a run); "
            f"run '{FORCE_HINT}' if that is what you want"
        )
    return writes, held, messages


def preview(plan: Plan, force: bool = False) -> ApplyResult:
    """What :func:`apply` would do, without writing (``--dry-run``, ``syncd plan``)."""
    writes, held, messages = _split(plan, force)
    count = Counter(a.verb for a in writes)
    return ApplyResult(plan, False, count["create"], count["update"], count["delete"], held, messages)


def apply(plan: Plan, target: CalendarTarget, store: Store, force: bool = False) -> ApplyResult:
    """Write ``plan``: records first (pending / deleting), then the target, commit, then the records
    settled. A crash anywhere leaves states the next :func:`plan` resolves without duplicates or
    false dismissals."""
    result = preview(plan, force)
    writes = _split(plan, force)[0]
    if plan.settles or writes:
        store.followups.save([
            *(settle.record for settle in plan.settles),
            *(dataclasses.replace(action.record, state="deleting" if action.verb == "delete" else "pending")
              for action in writes if action.record is not None),
        ])
    if writes:
        for action in writes:
            if action.verb == "delete":
                target.delete(action.key)
            elif action.event is not None:
                (target.create if action.verb == "create" else target.update)(action.event)
        target.commit()
        store.followups.save(action.record for action in writes if action.record is not None)
    result.applied = True
    return result


def reconcile(
    due: Sequence[DueFollowup], store: Store, target: CalendarTarget, now: datetime, cfg: FollowupsConfig,
    *, dry_run: bool = False, force: bool = False,
) -> ApplyResult:
    """List the target, plan against the records, and apply (or only preview, for a dry run)."""
    listed = target.list_own()
    planned = plan(due, store.followups.load(event.key for event in listed), listed, now, cfg)
    return preview(planned, force) if dry_run else apply(planned, target, store, force)
