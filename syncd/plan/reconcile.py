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

``plan`` is pure (records, the target's listing and "now" in, a :class:`~syncd.plan.actions.Plan` out);
:mod:`syncd.plan.apply` writes it; ``reconcile`` does both.
"""

from __future__ import annotations

import dataclasses
from collections import Counter
from collections.abc import Mapping, Sequence
from datetime import date, datetime

from connectors.base import CalendarTarget, FollowupEvent
from syncd.config import FollowupsConfig
from syncd.engine.due import DueFollowup
from syncd.plan.actions import Action, ApplyResult, Plan, Settle, Verb
from syncd.plan.apply import apply, preview
from syncd.plan.occasions import Want, locate, planned_of, resolve, survivors_of, wanted_keys
from syncd.plan.placement import Request, local_today, place, slot_start
from syncd.store import Store
from syncd.store.followups import Record


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


def _title(cfg: FollowupsConfig, item: DueFollowup) -> str:
    template, fallback = ((cfg.birthday_title, "Wish {name} a happy birthday") if item.origin == "birthday"
                          else (cfg.title, "Reach out to {name}"))
    try:
        return template.format(name=item.name)
    except (KeyError, IndexError, ValueError):
        return fallback.format(name=item.name)  # a template with other fields must not stop the run


def _event(want: Want, key: str, start: datetime, planned: datetime, cfg: FollowupsConfig) -> FollowupEvent:
    return FollowupEvent(
        key=key, person=want.item.person, start=start, duration_minutes=int(cfg.duration.total_seconds() // 60),
        title=_title(cfg, want.item), description=want.item.description,
        reminder_minutes=int(cfg.reminder.total_seconds() // 60), planned_start=planned,
    )


def _text(event: FollowupEvent) -> tuple[str, str, int, int]:
    return (event.title, event.description, event.reminder_minutes, event.duration_minutes)


def _record(want: Want, key: str, state: str, planned: datetime | None) -> Record:
    item = want.item
    return Record(key, item.person, item.origin, item.cycle, want.n, want.due, state, planned)


def _why_due(want: Want, state: str | None, today: date) -> str:
    kind = {"cycle": "", "reminder": "reminder, ", "series": "series ended, ", "birthday": "birthday, "}.get(
        want.item.origin, "")
    why = f"{kind}due {want.due.isoformat()}"
    if want.n:
        why += " (one cadence after the one you dismissed)"
    elif want.due < today:
        late = (today - want.due).days
        why += f" ({late} day{'' if late == 1 else 's'} overdue)"
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
    deletions. Pure: nothing is read or written here. In phases: read the calendar, work out the situation
    (what each record means now, the key each due occasion is wanted under), find days for what needs one,
    then decide for the wanted events, for the unwanted ones, and for records with no event at all."""
    result = Plan([], [], 0, cfg.max_deletes, cfg.timezone)
    present = _read_calendar(existing, result.notes)
    situation = _situation(due, records, present, cfg)
    result.wanted = dict(situation.wants)
    days = _days(situation, now, cfg)
    writes, deletes = _wanted(situation, days, now, cfg, result)
    deletes += _unwanted(situation, due, now, result)
    result.settles += _without_events(situation)
    writes.sort(key=lambda a: (a.start or now, a.key))
    deletes.sort(key=lambda a: (a.start or now, a.key))
    result.actions = writes + deletes
    return result


@dataclasses.dataclass(frozen=True)
class _Situation:
    """What the plan is decided from: the calendar's events by key, the records and what each means now,
    the key each due occasion is wanted under, and the events that duplicate another of the same occasion."""

    present: Mapping[str, FollowupEvent]
    records: Mapping[str, Record]
    states: Mapping[str, str]
    wants: Mapping[str, Want]
    duplicates: set[str]


def _read_calendar(existing: Sequence[FollowupEvent], notes: list[str]) -> dict[str, FollowupEvent]:
    """The target's events by key; a key listed twice is used once, and said."""
    present: dict[str, FollowupEvent] = {}
    for listed in existing:
        if listed.key in present:
            notes.append(f"the calendar lists follow-up {listed.key} twice; the first one is used")
        present.setdefault(listed.key, listed)
    return present


def _situation(due: Sequence[DueFollowup], records: Mapping[str, Record], present: Mapping[str, FollowupEvent],
               cfg: FollowupsConfig) -> _Situation:
    wanted_occasions = {(d.person, d.origin, d.cycle) for d in due}
    states = {key: resolve(r, key in present, r.occasion in wanted_occasions) for key, r in records.items()}
    located = locate(due, records, present)
    survivors = survivors_of(located, present, records)
    wants = wanted_keys(due, records, states, survivors, located, cfg.timezone)
    return _Situation(present, records, states, wants, set(located) - set(survivors.values()))


def _days(situation: _Situation, now: datetime, cfg: FollowupsConfig) -> dict[str, date | None]:
    """The day of each wanted follow-up that needs placing (None: beyond the horizon, it waits). Events that
    keep their day are not in it: they hold their day and count toward its per-day cap."""
    taken: Counter[date] = Counter()
    taken_lapsed: Counter[date] = Counter()
    requests: list[Request] = []
    for key, want in situation.wants.items():
        current = situation.present.get(key)
        item = want.item
        if current is not None and _keeps_day(current, situation.records.get(key), situation.states.get(key), want.due):
            taken[current.start.astimezone(cfg.timezone).date()] += 1
            taken_lapsed[current.start.astimezone(cfg.timezone).date()] += item.lapsed
        else:
            requests.append(Request(
                key, want.due, item.strength, f"{item.name}\x1f{item.person}\x1f{item.origin}", item.every_days,
                lapsed=item.lapsed, pinned=item.origin == "reminder",  # a one-off lands on its day, whatever
                on_the_day=item.on_the_day,
            ))
    placed = place(requests, taken, now, cfg, lapsed_taken=taken_lapsed)
    return {request.key: placed.get(request.key) for request in requests}


def _wanted(situation: _Situation, days: Mapping[str, date | None], now: datetime, cfg: FollowupsConfig,
            result: Plan) -> tuple[list[Action], list[Action]]:
    """Writes and deletions for the wanted follow-ups: a kept event gets its text refreshed, a placed one
    is created or moved to its day, one now beyond the horizon leaves the calendar until its day comes near."""
    writes: list[Action] = []
    deletes: list[Action] = []
    today = local_today(now, cfg)
    for key, want in situation.wants.items():
        event, record, state = situation.present.get(key), situation.records.get(key), situation.states.get(key)
        if key not in days:
            assert event is not None  # only events already in the calendar keep their day
            writes += _refresh(key, want, event, record, cfg, result)
            continue
        day = days[key]
        if day is None:
            result.later.append(key)
            if event is not None:
                # Its due date moved past the horizon: out for now, back when its day comes near.
                deletes.append(Action("delete", key, event.person, event.title, event.start,
                                      f"now due {want.due.isoformat()}, beyond the horizon", None,
                                      _record(want, key, "done", record.planned_start if record else None)))
            elif not (want.item.on_the_day and want.due < today):  # a day gone by is not waiting for anything
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
    return writes, deletes


def _refresh(key: str, want: Want, event: FollowupEvent, record: Record | None, cfg: FollowupsConfig,
             result: Plan) -> list[Action]:
    """An event that keeps its day (a snooze, or syncd's own placement): only its text may change."""
    planned = planned_of(event, record) or event.start
    fresh = _event(want, key, event.start, planned, cfg)
    settled = _record(want, key, "active", planned)
    if _text(fresh) != _text(event):
        why = "text refreshed" + ("; stays where you moved it" if event.start != planned else "")
        return [Action("update", key, want.item.person, fresh.title, event.start, why, fresh, settled)]
    if record is None or record != settled:
        result.settles.append(Settle(settled, "already in the calendar"))
    return []


def _unwanted(situation: _Situation, due: Sequence[DueFollowup], now: datetime, result: Plan) -> list[Action]:
    """Deletions of the calendar's events that are no longer wanted; past ones stay as history."""
    by_person: dict[str, list[DueFollowup]] = {}
    for item in due:
        by_person.setdefault(item.person, []).append(item)
    deletes: list[Action] = []
    for key, event in situation.present.items():
        if key in situation.wants:
            continue
        record, state = situation.records.get(key), situation.states.get(key)
        done = dataclasses.replace(record, state="done") if record is not None else None
        if state == "deleting":
            why = "finishing a deletion an earlier run began"
        elif key in situation.duplicates:
            why = "a second event for the same follow-up"  # one event per person and occasion, always
        elif event.start <= now:
            if record is not None and record.state != "done":
                result.settles.append(Settle(dataclasses.replace(record, state="done"), "past: left as history"))
            continue
        else:
            why = _why_unwanted(record, by_person)
        deletes.append(Action("delete", key, event.person, event.title, event.start, why, None, done))
    return deletes


def _without_events(situation: _Situation) -> list[Settle]:
    """Records with neither a wanted key nor an event: dismissals stay while their occasion is due."""
    settles = []
    for key, record in situation.records.items():
        if key in situation.wants or key in situation.present:
            continue
        state = "dismissed" if situation.states[key] == "dismissed" else "done"
        if state != record.state:
            why = "you deleted it" if state == "dismissed" else "settled"
            settles.append(Settle(dataclasses.replace(record, state=state), why))
    return settles


def reconcile(
    due: Sequence[DueFollowup], store: Store, target: CalendarTarget, now: datetime, cfg: FollowupsConfig,
    *, dry_run: bool = False, force: bool = False,
) -> ApplyResult:
    """List the target, plan against the records, and apply (or only preview, for a dry run)."""
    target.use_memory(store.places.of(target.name, read_only=dry_run))  # a dry run changes nothing, even there
    listed = target.list_own()
    records, moved = relocated(store.followups.load(event.key for event in listed), target.where())
    planned = plan(due, records, listed, now, cfg)
    if moved:
        planned.notes.append(
            f"the follow-ups calendar is not the one {moved} follow-ups were written to (it is gone, or another "
            "was configured): they are written again, not taken as dismissed"
        )
    return preview(planned, force) if dry_run else apply(planned, target, store, force)


def relocated(records: Mapping[str, Record], here: str | None) -> tuple[dict[str, Record], int]:
    """The records, with those whose event was written to another calendar than ``here`` (or to one that is
    gone: ``here`` is None) pending again, and how many: a missing event there is a lost calendar, not a
    deletion by the user (docs/rules.md#user-edits). Records written before syncd kept the
    calendar (``calendar`` None) are taken to be here while there is a calendar."""
    out, moved = dict(records), 0
    for key, record in records.items():
        if record.state == "active" and (here is None or record.calendar not in (None, here)):
            out[key] = dataclasses.replace(record, state="pending")
            moved += 1
    return out, moved
