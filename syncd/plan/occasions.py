"""Occasions: the key and due date each follow-up is wanted under, read from the records and the calendar.

An occasion is (person, origin, cycle) and gets one event at most. The user deleting it moves the occasion
on to the next key (``n + 1``), one cadence later; a restored or duplicated event is recognised by its key.
Pure functions: records, the calendar's listing and the engine's due follow-ups in, keys and states out.
"""

from __future__ import annotations

import base64
import dataclasses
import hashlib
from collections.abc import Mapping, Sequence
from datetime import date, datetime, timedelta, tzinfo

from connectors.base import FollowupEvent
from syncd.engine.due import DueFollowup
from syncd.store.followups import Occasion, Record

# Google Calendar event ids must be base32hex (a-v, 0-9), 5..1024 characters. 26 characters are 130 bits
# of sha256: collisions are not a concern, and the same key serves every target.
KEY_LENGTH = 26


def followup_key(person: str, origin: str, cycle: str, n: int) -> str:
    """The tag of one follow-up: deterministic, so a create retried after a crash finds its own event.

    ``n`` counts the user's dismissals within the same occasion (person, origin, cycle).
    """
    digest = hashlib.sha256(f"{person}\x1f{origin}\x1f{cycle}\x1f{n}".encode()).digest()
    return base64.b32hexencode(digest).decode("ascii").lower()[:KEY_LENGTH]


@dataclasses.dataclass(frozen=True, slots=True)
class Want:
    item: DueFollowup
    n: int
    due: date  # effective: after dismissals, one cadence later


def resolve(record: Record, present: bool, occasion_wanted: bool) -> str:
    """What a record means now, given whether its event is listed (the rules: ``syncd.plan.reconcile``)."""
    state = record.state
    if state == "pending":
        return "active" if present else "unwritten"
    if state == "deleting":
        return "deleting" if present else "gone"
    if state == "active" and not present:
        return "dismissed" if occasion_wanted else "gone"
    if state == "dismissed":
        if present:
            return "active"  # the user restored it (undo): it is theirs again, not dismissed
        return "dismissed" if occasion_wanted else "gone"
    return state


def locate(due: Sequence[DueFollowup], records: Mapping[str, Record],
           present: Mapping[str, FollowupEvent]) -> dict[str, tuple[Occasion, int]]:
    """key -> (occasion, n) of each listed event whose occasion is known: from its record or, where the
    records were lost, by recomputing the keys a due occasion can have."""
    known = {key: (record.occasion, record.n) for key, record in records.items()}
    top: dict[Occasion, int] = {}
    for record in records.values():
        top[record.occasion] = max(top.get(record.occasion, 0), record.n)
    for item in due:
        occasion = (item.person, item.origin, item.cycle)
        for n in range(top.get(occasion, 0) + 2):
            known.setdefault(followup_key(*occasion, n), (occasion, n))
    return {key: known[key] for key in present if key in known}


def survivors_of(located: Mapping[str, tuple[Occasion, int]], present: Mapping[str, FollowupEvent],
                 records: Mapping[str, Record]) -> dict[Occasion, str]:
    """The one event each occasion keeps when the calendar holds several (an undo, a provider glitch):
    the one the user moved, else the newest in the chain. The others are duplicates."""
    best: dict[Occasion, tuple[bool, int, str]] = {}
    for key, (occasion, n) in located.items():
        planned = planned_of(present[key], records.get(key))
        rank = (planned is not None and present[key].start != planned, n, key)
        best[occasion] = max(best.get(occasion, rank), rank)
    return {occasion: rank[2] for occasion, rank in best.items()}


def wanted_keys(due: Sequence[DueFollowup], records: Mapping[str, Record], states: Mapping[str, str],
                survivors: Mapping[Occasion, str], located: Mapping[str, tuple[Occasion, int]],
                zone: tzinfo) -> dict[str, Want]:
    """The key each due occasion is wanted under: the event it already has in the calendar, else
    ``n`` = dismissals so far, each moving it a cadence on."""
    chains: dict[Occasion, list[Record]] = {}
    for record in records.values():
        if states[record.key] == "dismissed":
            chains.setdefault(record.occasion, []).append(record)
    wants: dict[str, Want] = {}
    seen: set[Occasion] = set()
    for item in due:
        occasion = (item.person, item.origin, item.cycle)
        if occasion in seen:
            continue  # the engine listed an occasion twice: one event is all it gets
        seen.add(occasion)
        if occasion in survivors:
            key = survivors[occasion]
            n, known = located[key][1], records.get(key)
            wants[key] = Want(item, n, known.due if n and known is not None else item.due)
            continue
        n, effective = 0, item.due
        if occasion in chains:
            if item.origin != "cycle" or not item.every_days:
                continue  # a dismissed one-off is over
            last = max(chains[occasion], key=lambda r: r.n)
            # Counted from when it was shown, not only from its due date: dismissing a long-overdue
            # follow-up must not bring the next one back at once.
            shown = last.planned_start.astimezone(zone).date() if last.planned_start else last.due
            n, effective = last.n + 1, max(last.due, shown) + timedelta(days=item.every_days)
        wants[followup_key(item.person, item.origin, item.cycle, n)] = Want(item, n, effective)
    return wants


def planned_of(event: FollowupEvent, record: Record | None) -> datetime | None:
    # A target that cannot store where syncd placed the event falls back to the record.
    return event.planned_start or (record.planned_start if record is not None else None)
