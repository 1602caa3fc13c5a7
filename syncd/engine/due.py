"""Which follow-ups are wanted now: relationship cycles, one-off reminders, ended meeting series.

The engine's standing of each person becomes :class:`DueFollowup` objects here — the whole contract between
the engine, which knows people and time, and the planner, which knows calendars; where and when they land
in a calendar is the planner's business (:mod:`syncd.plan`).
"""

from __future__ import annotations

import dataclasses
from datetime import UTC, date, datetime, timedelta
from typing import Literal

from syncd.config import Config
from syncd.engine.persons import Persons
from syncd.engine.status import PersonStatus
from syncd.store import Store

Origin = Literal["cycle", "reminder", "series"]
# A cycle follow-up due this close to a "series ended" one, or to a one-off, is folded into it.
SAME_OCCASION = timedelta(days=14)
# A "series ended" follow-up older than this is history, not a reminder.
SERIES_LOOKBACK = timedelta(days=30)


@dataclasses.dataclass(frozen=True, slots=True)
class DueFollowup:
    """One follow-up the engine wants in the calendar (before placement by the planner).

    ``cycle`` identifies the occasion: for ``origin="cycle"`` the ISO timestamp of the last contact the
    cycle counts from (a new contact starts a new cycle), for ``"reminder"`` the reminder's id, for
    ``"series"`` the recurring series' id. Dismissing (deleting) a cycle follow-up moves the next one
    ``every_days`` after the dismissed due date.
    """

    person: str
    name: str
    origin: Origin
    cycle: str
    due: date
    every_days: int | None
    strength: float  # 0..1 (syncd.engine.strength): with how overdue they are, orders who goes first
    description: str
    lapsed: bool = False  # placed after everyone else, at most followups.lapsed_per_day a day


def describe(status: PersonStatus) -> str:
    """The follow-up's description: last contact, the rhythm and why, the person's note."""
    lines = []
    last = status.last_contact
    if last is not None:
        subject = f' — "{last.subject}"' if last.subject else ""
        lines.append(f"Last contact: {last.at.date().isoformat()} ({last.kind}){subject}")
        if last.link:
            lines.append(f"Thread: {last.link}")
    if status.every_days:
        lines.append(f"Rhythm: every {status.every_days} days ({status.cadence_rule})")
    if status.note:
        lines.append(f"Note: {status.note}")
    lines.append(f"Addresses: {', '.join(status.addresses)}")
    return "\n".join(lines)


def due_followups(statuses: list[PersonStatus], store: Store, config: Config, now: datetime) -> list[DueFollowup]:
    by_key = {status.key: status for status in statuses}
    wanted: list[DueFollowup] = []
    for status in statuses:
        # A cycle counts from the last contact; for someone known only from the address book, from when
        # their card was first read (a first contact starts a new cycle).
        basis = status.last_contact.at if status.last_contact is not None else status.known_since
        if status.remind and status.due is not None and basis is not None:
            wanted.append(
                DueFollowup(
                    person=status.key, name=status.name, origin="cycle",
                    cycle=basis.isoformat() if status.last_contact else f"card:{basis.isoformat()}", due=status.due,
                    every_days=status.every_days, strength=status.strength, description=describe(status),
                    lapsed=status.lapsed,
                )
            )
    persons = Persons(store, config)
    one_offs: list[DueFollowup] = []
    for reminder in store.decisions.reminders():
        key = persons.key(reminder.person)
        known = by_key.get(key)
        note = reminder.note
        text = (f"Note: {note}\n" if note else "") + (describe(known) if known else f"Addresses: {key}")
        one_offs.append(
            DueFollowup(
                person=key, name=known.name if known else key, origin="reminder", cycle=str(reminder.id),
                due=reminder.on, every_days=None, strength=known.strength if known else 0.0, description=text,
            )
        )
    series = _series_ended(by_key, store, config, now, persons)
    # One nudge, not two: a project that just wrapped up is the occasion for the regular check-in too,
    # and so is a one-off you asked for within SAME_OCCASION of when the regular one would come (an
    # overdue one comes today): docs/rules.md#one-off-follow-ups.
    ending = {item.person: item.due for item in series}
    asked: dict[str, list[date]] = {}
    for item in one_offs:
        asked.setdefault(item.person, []).append(item.due)
    today = now.date()
    wanted = [
        item for item in wanted
        if not (item.person in ending and item.due <= ending[item.person] + SAME_OCCASION)
        and not any(abs((max(item.due, today) - on).days) <= SAME_OCCASION.days for on in asked.get(item.person, ()))
    ]
    return wanted + one_offs + series


def _series_ended(
    by_key: dict[str, PersonStatus], store: Store, config: Config, now: datetime, persons: Persons
) -> list[DueFollowup]:
    """A recurring series with the person whose last occurrence is past and none is left: the project
    wrapped up, so follow up ``after_series_end`` later — unless you have been in touch since."""
    cutoff = int(now.timestamp())
    out: dict[tuple[str, str], DueFollowup] = {}
    for address, series_id, last_ts, subject in store.contacts.ended_series(cutoff):
        status = by_key.get(persons.key(address))
        if status is None or not status.relationship or status.ignored:
            continue
        ended = datetime.fromtimestamp(last_ts, UTC)
        due = (ended + config.engine.after_series_end).date()
        if due < (now - SERIES_LOOKBACK).date():
            continue  # long over: history, not a reminder
        if status.last_contact is not None and status.last_contact.at.date() > ended.date():
            continue  # in touch since the series ended
        text = f'The recurring meeting "{subject or series_id}" ended on {ended.date().isoformat()}.\n'
        out[(status.key, series_id)] = DueFollowup(
            person=status.key, name=status.name, origin="series", cycle=series_id, due=due, every_days=None,
            strength=status.strength, description=text + describe(status),
        )
    return list(out.values())
