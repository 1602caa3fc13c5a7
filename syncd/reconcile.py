"""Reconciling wanted follow-ups with syncd's own events in the target, honouring what the user did.

The calendar event is also the control (product file, "Follow-up events"):

* contact happened before the event → the cycle changed: the event is removed (an old cycle's event
  already in the past is left as history);
* the user **moved** it (its start is no longer the planned one) → a snooze: never moved back, only
  its text refreshed;
* the user **deleted** it → dismissed for this cycle: the next one is due one cadence after the old
  due date (a new key), or earlier if contact resets the cycle;
* the person became ignored / directory / has a meeting booked → removed.

Crash safety: the ``followups`` records are written *before* the target is touched (``pending``,
``deleting``) and settled after ``commit`` (``active``, ``done``). The next run resolves anything in
flight: pending + present = active, pending + absent = create again (not a dismissal), deleting +
absent = done. Keys are deterministic, so a repeated create finds the event it made before.
"""

from __future__ import annotations

import dataclasses
import json
from collections import Counter
from datetime import date, datetime, timedelta

from connectors.base import CalendarTarget, FollowupEvent
from syncd.config import FollowupsConfig
from syncd.model import DueFollowup
from syncd.planner import followup_key, place, slot_start
from syncd.store import Store, utc_now_iso


@dataclasses.dataclass
class Record:
    key: str
    person: str
    origin: str
    cycle: str
    n: int
    due: date
    state: str  # pending | active | dismissed | deleting | done
    stored: str = ""  # the state as the database has it (``state`` is resolved in memory first)


@dataclasses.dataclass
class Action:
    verb: str  # create | update | delete | dismissed
    key: str
    person: str
    when: datetime | None
    title: str
    why: str
    event: FollowupEvent | None = None
    record: Record | None = None


@dataclasses.dataclass
class ApplyResult:
    actions: list[Action] = dataclasses.field(default_factory=list)
    held_back: list[Action] = dataclasses.field(default_factory=list)
    applied: bool = False

    def count(self, verb: str) -> int:
        return sum(1 for action in self.actions if action.verb == verb)

    def describe(self, dry_run: bool = False) -> list[str]:
        head = "follow-ups (plan, nothing written)" if dry_run else "follow-ups"
        lines = [
            f"{head}: {self.count('create')} to create, {self.count('update')} to update, "
            f"{self.count('delete')} to delete"
            if dry_run
            else f"{head}: {self.count('create')} created, {self.count('update')} updated, "
            f"{self.count('delete')} deleted"
        ]
        if self.count("dismissed"):
            lines[0] += f"; {self.count('dismissed')} dismissed by you"
        for action in self.actions if dry_run else []:
            when = action.when.strftime("%Y-%m-%d %H:%M") if action.when else "-"
            lines.append(f"  {action.verb:<9} {when}  {action.title}  ({action.why})")
        if self.held_back:
            lines.append(
                f"  {len(self.held_back)} more deletions held back (more than followups.max_deletes in one run); "
                "run 'syncd pull --force' if that is what you want"
            )
        return lines


def load_records(store: Store) -> dict[str, Record]:
    records = {}
    for key, person, origin, due, state, detail in store.db.execute(
        "SELECT key, person, origin, due, state, detail FROM followups WHERE state != 'done'"
    ):
        extra = json.loads(detail or "{}")
        cycle, n = extra.get("cycle", ""), extra.get("n", 0)
        records[key] = Record(key, person, origin, cycle, n, date.fromisoformat(due), state, state)
    return records


def _event(item: DueFollowup, key: str, start: datetime, cfg: FollowupsConfig, planned: datetime) -> FollowupEvent:
    return FollowupEvent(
        key=key, person=item.person, start=start, duration_minutes=int(cfg.duration.total_seconds() // 60),
        title=cfg.title.format(name=item.name), description=item.description,
        reminder_minutes=int(cfg.reminder.total_seconds() // 60), planned_start=planned,
    )


def plan(
    due: list[DueFollowup], records: dict[str, Record], existing: list[FollowupEvent], now: datetime,
    cfg: FollowupsConfig,
) -> list[Action]:
    present = {event.key: event for event in existing}
    # Resolve what a crash left in flight (see the module docstring).
    for in_flight in records.values():
        if in_flight.state == "pending":
            in_flight.state = "active" if in_flight.key in present else "new"
        elif in_flight.state == "deleting":
            in_flight.state = "active" if in_flight.key in present else "done"
    by_cycle: dict[tuple[str, str, str], list[Record]] = {}
    for record in records.values():
        by_cycle.setdefault((record.person, record.origin, record.cycle), []).append(record)
    actions: list[Action] = []
    wanted: dict[str, tuple[DueFollowup, int, date, Record | None]] = {}
    for item in due:
        chain = sorted(by_cycle.get((item.person, item.origin, item.cycle), []), key=lambda r: r.n)
        n, effective = 0, item.due
        for link in chain:
            if link.state == "active" and link.key not in present:
                link.state = "dismissed"  # the user deleted it
                actions.append(Action("dismissed", link.key, link.person, None, item.name, "you deleted it",
                                      record=link))
            if link.state == "dismissed":
                if item.origin != "cycle" or not item.every_days:
                    n = -1  # a dismissed one-off is done
                    break
                n, effective = link.n + 1, link.due + timedelta(days=item.every_days)
        if n < 0:
            continue
        key = followup_key(item.person, item.origin, item.cycle, n)
        wanted[key] = (item, n, effective, records.get(key))
    # Days already holding a kept event count toward per_day.
    taken: Counter[date] = Counter()
    needs_day: list[DueFollowup] = []
    for key, (item, _, effective, previous) in wanted.items():
        event = present.get(key)
        if event is not None and _stays(event, previous, effective)[0]:
            taken[event.start.astimezone(cfg.timezone).date()] += 1
        else:
            needs_day.append(dataclasses.replace(item, due=effective))
    days = place(needs_day, taken, now, cfg)
    for key, (item, n, effective, previous) in wanted.items():
        event = present.get(key)
        kept, moved = _stays(event, previous, effective) if event is not None else (False, False)
        new_record = Record(key, item.person, item.origin, item.cycle, n, effective, "active")
        if kept and event is not None:
            fresh = _event(item, key, event.start, cfg, event.planned_start or event.start)
            if (fresh.title, fresh.description, fresh.reminder_minutes, fresh.duration_minutes) != (
                event.title, event.description, event.reminder_minutes, event.duration_minutes
            ):
                why = "text refreshed" + (" (you moved it: kept where you put it)" if moved else "")
                actions.append(Action("update", key, item.person, event.start, fresh.title, why, fresh, new_record))
            elif previous is None or previous.stored != "active":
                # Present as wanted, but the database does not know it yet (a crash after commit).
                actions.append(Action("confirm", key, item.person, event.start, fresh.title, "", None, new_record))
            continue
        day = days.get((item.person, item.origin, item.cycle))
        if day is None:
            continue  # beyond the horizon: a later run writes it
        start = slot_start(day, cfg)
        fresh = _event(item, key, start, cfg, start)
        verb = "update" if event is not None else "create"
        why = f"due {effective.isoformat()}" + (f", {item.origin}" if item.origin != "cycle" else "")
        actions.append(Action(verb, key, item.person, start, fresh.title, why, fresh, new_record))
    # Everything syncd owns that is no longer wanted goes, unless it is already history.
    today = now.astimezone(cfg.timezone).date()
    for key, event in present.items():
        if key in wanted:
            continue
        owned = records.get(key)
        if event.start.astimezone(cfg.timezone).date() < today:
            if owned is not None:
                actions.append(Action("done", key, event.person, event.start, event.title, "in the past", None, owned))
            continue
        actions.append(Action("delete", key, event.person, event.start, event.title, "no longer due", None, owned))
    # Records nobody needs any more are settled; a dismissal stays while its cycle is still wanted.
    wanted_cycles = {(item.person, item.origin, item.cycle) for item in due}
    for key, record in records.items():
        if key in wanted or key in present or record.state == "done":
            continue
        if record.state == "dismissed" and (record.person, record.origin, record.cycle) in wanted_cycles:
            continue
        actions.append(Action("done", key, record.person, None, "", "settled", None, record))
    return actions


def _stays(event: FollowupEvent, previous: Record | None, effective: date) -> tuple[bool, bool]:
    """(the event keeps its day, the user moved it): a snooze always stays; syncd's own placement stays
    while the due date it was placed for is unchanged (no churn when others are re-planned)."""
    moved = event.planned_start is not None and event.start != event.planned_start
    return moved or (previous is not None and previous.due == effective), moved


def _save(store: Store, record: Record, state: str, planned: datetime | None = None) -> None:
    store.db.execute(
        "INSERT INTO followups(key, person, origin, due, planned_start, state, detail, updated) "
        "VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT(key) DO UPDATE SET due = excluded.due, "
        "planned_start = COALESCE(excluded.planned_start, followups.planned_start), state = excluded.state, "
        "updated = excluded.updated",
        (record.key, record.person, record.origin, record.due.isoformat(), planned.isoformat() if planned else None,
         state, json.dumps({"cycle": record.cycle, "n": record.n}), utc_now_iso()),
    )


def apply(
    actions: list[Action], target: CalendarTarget, store: Store, cfg: FollowupsConfig, force: bool
) -> ApplyResult:
    result = ApplyResult()
    deletes = [a for a in actions if a.verb == "delete"]
    allowed = deletes if force else deletes[: cfg.max_deletes]
    result.held_back = [a for a in deletes if a not in allowed]
    result.actions = [a for a in actions if a.verb != "delete" or a in allowed]
    writes = [a for a in result.actions if a.verb in ("create", "update", "delete")]
    with store.transaction():
        for action in result.actions:
            if action.record is None:
                continue
            if action.verb in ("create", "update"):
                _save(store, action.record, "pending", action.event.planned_start if action.event else None)
            elif action.verb == "delete":
                _save(store, action.record, "deleting")
            elif action.verb in ("dismissed", "done"):
                _save(store, action.record, action.verb)
            elif action.verb == "confirm":
                _save(store, action.record, "active")
    for action in writes:
        if action.verb == "create" and action.event is not None:
            target.create(action.event)
        elif action.verb == "update" and action.event is not None:
            target.update(action.event)
        elif action.verb == "delete":
            target.delete(action.key)
    target.commit()
    with store.transaction():
        for action in writes:
            if action.record is not None:
                _save(store, action.record, "done" if action.verb == "delete" else "active")
    result.actions = [a for a in result.actions if a.verb not in ("done", "confirm")]
    result.applied = True
    return result


def reconcile(
    due: list[DueFollowup], store: Store, target: CalendarTarget, now: datetime, cfg: FollowupsConfig,
    *, dry_run: bool = False, force: bool = False,
) -> ApplyResult:
    actions = plan(due, load_records(store), target.list_own(), now, cfg)
    if dry_run:
        return ApplyResult(actions=[a for a in actions if a.verb not in ("done", "confirm")])
    return apply(actions, target, store, cfg, force)
