"""Placing follow-ups in time: the due day (or the next working day) at the slot, at most ``per_day`` a day.

Pure functions, no I/O, no clock: "now" is always a parameter. Overdue follow-ups are spread over the
coming working days, most overdue first and then the stronger relationship, never dumped on one day; a
follow-up whose day falls beyond the horizon waits for a later run.

Also here, because it decides *when* a follow-up is for: each occasion's key and due date, read from the
records and the calendar (a dismissal moves the occasion to key ``n + 1``, one cadence later).
"""

from __future__ import annotations

import base64
import dataclasses
import hashlib
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, date, datetime, timedelta, tzinfo

from connectors.base import FollowupEvent
from syncd.config import FollowupsConfig
from syncd.engine.standing import DueFollowup

# Google Calendar event ids must be base32hex (a-v, 0-9), 5..1024 characters. 26 characters are 130 bits
# of sha256: collisions are not a concern, and the same key serves every target.
KEY_LENGTH = 26
Occasion = tuple[str, str, str]  # (person, origin, cycle): one event at most per occasion


def followup_key(person: str, origin: str, cycle: str, n: int) -> str:
    """The tag of one follow-up: deterministic, so a create retried after a crash finds its own event.

    ``n`` counts the user's dismissals within the same occasion (person, origin, cycle).
    """
    digest = hashlib.sha256(f"{person}\x1f{origin}\x1f{cycle}\x1f{n}".encode()).digest()
    return base64.b32hexencode(digest).decode("ascii").lower()[:KEY_LENGTH]


def slot_start(day: date, cfg: FollowupsConfig) -> datetime:
    """The slot on ``day`` in the configured zone.

    zoneinfo picks the right UTC offset on DST-change days; the round trip through UTC turns a slot that
    falls into a spring-forward gap into the wall time that really exists (02:30 -> 03:30).
    """
    return datetime.combine(day, cfg.slot, cfg.timezone).astimezone(UTC).astimezone(cfg.timezone)


def local_today(now: datetime, cfg: FollowupsConfig) -> date:
    return now.astimezone(cfg.timezone).date()


def next_working_day(day: date, cfg: FollowupsConfig) -> date:
    """``day`` itself if it is a working day, else the next one."""
    for _ in range(7):
        if day.weekday() in cfg.working_days:
            return day
        day += timedelta(days=1)
    return day  # no working day at all: the config refuses that, so any day will do


def first_day(now: datetime, cfg: FollowupsConfig) -> date:
    """The first day a newly placed follow-up can land on: today while today's slot is still ahead
    (compared as instants, so it holds on DST days too), else the next working day."""
    today = local_today(now, cfg)
    day = today if now < slot_start(today, cfg) else today + timedelta(days=1)
    return next_working_day(day, cfg)


def horizon_end(now: datetime, cfg: FollowupsConfig) -> date:
    """The last day follow-ups are written for; later ones wait for a later run."""
    return (now.astimezone(cfg.timezone) + cfg.horizon).date()


@dataclasses.dataclass(frozen=True, slots=True)
class Request:
    """One follow-up that needs a day. ``tiebreak`` only keeps the order deterministic."""

    key: str
    due: date
    strength: int = 0
    tiebreak: str = ""


def place(
    requests: Iterable[Request], taken: Counter[date], now: datetime, cfg: FollowupsConfig
) -> dict[str, date]:
    """Days for ``requests``, given how many follow-ups each day already holds (``taken``).

    Most overdue first (earliest due), then the stronger relationship; each goes to its due day or the
    next working day with room, never before :func:`first_day`. Returns key -> day for those that land
    within the horizon; the others are left out and wait.
    """
    earliest = first_day(now, cfg)
    last = horizon_end(now, cfg)
    load = Counter(taken)
    placed: dict[str, date] = {}
    for request in sorted(requests, key=lambda r: (r.due, -r.strength, r.tiebreak, r.key)):
        day = next_working_day(max(request.due, earliest), cfg)
        while load[day] >= cfg.per_day and day <= last:
            day = next_working_day(day + timedelta(days=1), cfg)
        if day > last:
            continue  # waits for a run whose horizon reaches its day
        load[day] += 1
        placed[request.key] = day
    return placed


# ---- occasions: the key and due date each follow-up is wanted under ----------------------------------
#
# A person's occasion gets one event. The user deleting it moves the occasion on to the next key
# (``n + 1``) one cadence later; these functions read that history from the records and the calendar.


@dataclasses.dataclass(frozen=True, slots=True)
class Record:
    """One row of the ``followups`` table: what syncd wrote and what became of it."""

    key: str
    person: str
    origin: str
    cycle: str
    n: int  # dismissals before this one within the occasion
    due: date  # the date this follow-up is for (after dismissals: one cadence later)
    state: str  # pending | active | dismissed | deleting | done
    planned_start: datetime | None = None

    @property
    def occasion(self) -> Occasion:
        return (self.person, self.origin, self.cycle)


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
