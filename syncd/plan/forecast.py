"""What the plan does for one person, in words: ``syncd why`` tells the truth about the calendar.

The same planning as a pull (``syncd.engine.due`` → ``syncd.plan.reconcile.plan``), run against
syncd's own record of what it wrote instead of listing the calendar (so ``why`` needs no network): a
follow-up in the calendar is where syncd put it (a move of yours is seen at the next pull), one placed
now is where the next pull puts it, and one left without a day is either beyond the horizon (written
once its day comes within it) or waiting for room.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from connectors.base import FollowupEvent
from syncd.config import Config
from syncd.engine.due import SAME_OCCASION, due_followups
from syncd.engine.status import PersonStatus
from syncd.plan.actions import Plan
from syncd.plan.occasions import Want
from syncd.plan.placement import horizon_end, local_today
from syncd.plan.reconcile import plan
from syncd.store import Store
from syncd.store.followups import Record


def _listed(records: dict[str, Record], config: Config) -> list[FollowupEvent]:
    """The calendar as syncd's records know it: every active follow-up at the start it was given."""
    minutes = int(config.followups.duration.total_seconds() // 60)
    return [
        FollowupEvent(r.key, r.person, r.planned_start, minutes, "", "", 0, r.planned_start)
        for r in records.values() if r.state == "active" and r.planned_start is not None
    ]


def _when(start: datetime, config: Config) -> str:
    return start.astimezone(config.followups.timezone).strftime("%a %Y-%m-%d %H:%M")


def lines(store: Store, config: Config, status: PersonStatus, statuses: list[PersonStatus], now: datetime) -> list[str]:
    """One line per follow-up syncd wants for the person (regular, one-off, series, birthday), and per
    dismissal."""
    due = due_followups(statuses, store, config, now)
    records = store.followups.load()
    result = plan(due, records, _listed(records, config), now, config.followups)
    out: list[str] = []
    for key, want in result.wanted.items():
        item = want.item
        if item.person != status.key:
            continue
        kind = {"cycle": "follow-up", "reminder": "one-off", "series": "series follow-up",
                "birthday": "birthday follow-up"}[item.origin]
        out.append(f"  {kind} due {want.due.isoformat()}: {_fate(key, want, result, records, now, config)}")
    for record in records.values():
        if record.person == status.key and record.state == "dismissed":
            over = {"cycle": "", "birthday": " (that year's birthday: next year's comes)"}
            out.append(f"  you dismissed the follow-up due {record.due.isoformat()}"
                       + over.get(record.origin, " (a one-off: it is over)"))
    if status.remind and status.due is not None and not any(
        w.item.person == status.key and w.item.origin == "cycle" for w in result.wanted.values()
    ):
        folded = [o.on for o in status.one_offs if abs((max(status.due, now.date()) - o.on).days)
                  <= SAME_OCCASION.days]
        birthdays = [w.item.due for w in result.wanted.values()
                     if w.item.person == status.key and w.item.origin == "birthday"]
        if folded:
            out.append(f"  the regular follow-up due {status.due.isoformat()} is folded into your one-off on "
                       f"{folded[0].isoformat()}")
        elif birthdays:
            out.append(f"  the regular follow-up due {status.due.isoformat()} is folded into the birthday "
                       f"follow-up on {birthdays[0].isoformat()}")
    return out


def _fate(key: str, want: Want, result: Plan, records: dict[str, Record], now: datetime, config: Config) -> str:
    due = want.due
    action = next((a for a in result.actions if a.key == key), None)
    if action is not None and action.verb == "create" and action.start is not None:
        return f"the next pull puts it in the calendar for {_when(action.start, config)}"
    if key in result.later:
        end = horizon_end(now, config.followups)
        if want.item.on_the_day and due < local_today(now, config.followups):
            return "its day has passed: a birthday is not written late"
        if due > end:
            written = max(due - config.followups.horizon, local_today(now, config.followups) + timedelta(days=1))
            return (f"beyond the {config.followups.horizon.days}-day horizon: it is written on the first pull "
                    f"from {written.isoformat()} on")
        if want.item.lapsed:
            return (f"waiting: lapsed relationships get {config.followups.lapsed_per_day} a day at most "
                    "(followups.lapsed_per_day), after everyone else, the strongest first")
        return (f"waiting for room: every day up to {end.isoformat()} holds its {config.followups.per_day} "
                "(followups.per_day), stronger or more overdue ones first")
    record = records.get(key)
    start = action.start if action is not None else record.planned_start if record is not None else None
    if start is not None:
        return f"in the calendar for {_when(start, config)} (where syncd put it; a move of yours stays)"
    return "in the calendar"
