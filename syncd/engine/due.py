"""Which follow-ups are wanted now: relationship cycles, one-off reminders, ended meeting series, birthdays.

The engine's standing of each person becomes :class:`DueFollowup` objects here — the whole contract between
the engine, which knows people and time, and the planner, which knows calendars; where and when they land
in a calendar is the planner's business (:mod:`syncd.plan`).
"""

from __future__ import annotations

import calendar
import dataclasses
from datetime import UTC, date, datetime, timedelta
from typing import Literal

from connectors.base import Birthday
from syncd.config import Config
from syncd.engine.persons import Persons
from syncd.engine.status import PersonStatus
from syncd.store import Store

Origin = Literal["cycle", "reminder", "series", "birthday"]
# A cycle follow-up due this close to a "series ended" one, to a one-off or to a birthday, is folded into it.
SAME_OCCASION = timedelta(days=14)
# A "series ended" follow-up older than this is history, not a reminder.
SERIES_LOOKBACK = timedelta(days=30)


@dataclasses.dataclass(frozen=True, slots=True)
class DueFollowup:
    """One follow-up the engine wants in the calendar (before placement by the planner).

    ``cycle`` identifies the occasion: for ``origin="cycle"`` the ISO timestamp of the last contact the
    cycle counts from (a new contact starts a new cycle), for ``"reminder"`` the reminder's id, for
    ``"series"`` the recurring series' id, for ``"birthday"`` the year. Dismissing (deleting) a cycle
    follow-up moves the next one ``every_days`` after the dismissed due date; a dismissed one-off, series
    or birthday is over (a birthday until next year's).
    ``on_the_day``: it lands on ``due`` itself, working day or not, ahead of the per-day cap (a birthday).
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
    on_the_day: bool = False  # on ``due`` itself, working day or not, ahead of the per-day cap (a birthday)


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
    birthdays = _birthdays(statuses, config, now)
    # A birthday to come is the occasion for a check-in due around it, too.
    # (An overdue check-in comes today, so it is near a birthday within SAME_OCCASION of today.)
    near = {item.person: item.due for item in birthdays if item.due >= today}
    wanted = [
        item for item in wanted
        if not (item.person in near and abs(max(item.due, today) - near[item.person]) <= SAME_OCCASION)
    ]
    return wanted + one_offs + series + birthdays


def next_birthday(birthday: Birthday, today: date) -> date:
    """The birthday's next day on or after ``today``; 29 February is kept on 28 February in other years."""
    for year in (today.year, today.year + 1):
        day = birthday.day if birthday.month != 2 or birthday.day != 29 or calendar.isleap(year) else 28
        found = date(year, birthday.month, day)
        if found >= today:
            return found
    raise AssertionError("unreachable: next year's birthday is after today")


def _birthdays(statuses: list[PersonStatus], config: Config, now: datetime) -> list[DueFollowup]:
    """With ``followups.birthdays`` on: each birthday from the address books of everyone reminded (a
    relationship, not ignored, not dormant, not in a ``remind = false`` tier), on the day itself."""
    if not config.followups.birthdays:
        return []
    today = now.astimezone(config.followups.timezone).date()
    quiet = {tier.name for tier in config.tiers if not tier.remind}
    found: list[DueFollowup] = []
    for status in statuses:
        if (not status.birthday or not status.relationship or status.ignored or status.dormant or status.group
                or not status.kept_warm or status.tier in quiet):
            continue
        try:
            birthday = Birthday.from_text(status.birthday)
        except ValueError:
            continue  # not a day (never stored so, but a birthday is not worth stopping a run for)
        # This year's birthday stays the occasion for a while after its day, so a birthday follow-up you
        # moved a few days on (a snooze) is not taken for stale; it is not placed once its day has passed.
        day = next_birthday(birthday, today - SAME_OCCASION)
        turns = f" (turns {day.year - birthday.year})" if birthday.year else ""
        found.append(DueFollowup(
            person=status.key, name=status.name, origin="birthday", cycle=str(day.year), due=day, every_days=None,
            strength=status.strength, description=f"Birthday: {day.isoformat()}{turns}\n" + describe(status),
            on_the_day=True,
        ))
    return found


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
