"""Placing follow-ups in time: the due day (or the next working day) at the slot, at most ``per_day`` a day.

Pure functions, no I/O, no clock: "now" is always a parameter. One-offs you asked for land on their
day, ahead of the cap. Overdue follow-ups are spread over the coming working days, the strongest and most
overdue relative to their own rhythm first (``syncd.plan.priority``), lapsed relationships after everyone
else and only a few a day, never dumped on one day; a follow-up whose day falls beyond the horizon waits
for a later run. A birthday lands on its very day, working day or not, ahead of the cap, and is not
placed once its day has passed (docs/rules.md#placement).
"""

from __future__ import annotations

import dataclasses
import heapq
from collections import Counter
from collections.abc import Iterable
from datetime import UTC, date, datetime, timedelta

from syncd.config import FollowupsConfig
from syncd.plan.priority import priority


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


def landing(day: date, now: datetime, cfg: FollowupsConfig) -> str:
    """Where a one-off for ``day`` lands, in words (said when it is asked for)."""
    lands = next_working_day(max(day, first_day(now, cfg)), cfg)
    when = slot_start(lands, cfg).strftime("%a %Y-%m-%d %H:%M")
    if lands <= horizon_end(now, cfg):
        return f"the next pull puts it in the calendar for {when}"
    return f"it goes into the calendar for {when} with the first pull from {(lands - cfg.horizon).isoformat()} on"


@dataclasses.dataclass(frozen=True, slots=True)
class Request:
    """One follow-up that needs a day. ``tiebreak`` only keeps the order deterministic."""

    key: str
    due: date
    strength: float = 0.0
    tiebreak: str = ""
    every_days: int | None = None
    lapsed: bool = False  # after everyone else, at most ``lapsed_per_day`` a day
    pinned: bool = False  # a one-off you asked for: on its day, whatever the day holds
    on_the_day: bool = False  # ``due`` or nothing, whatever the day holds: a birthday


def place(
    requests: Iterable[Request], taken: Counter[date], now: datetime, cfg: FollowupsConfig,
    lapsed_taken: Counter[date] | None = None,
) -> dict[str, date]:
    """Days for ``requests``, given how many follow-ups each day already holds (``taken``, of them
    ``lapsed_taken`` for lapsed relationships).

    Birthdays first, each on its very day; one-offs next, each on its day (or the next working day), both
    ahead of the per-day cap. Then day by
    day from :func:`first_day`: of the follow-ups due by that day, the highest priority
    (:mod:`syncd.plan.priority`) fill the day's free places, lapsed ones only after the others and at most
    ``lapsed_per_day``. Returns key -> day for those that land within the horizon; the others wait.
    """
    earliest = first_day(now, cfg)
    last = horizon_end(now, cfg)
    today = local_today(now, cfg)
    load = Counter(taken)
    lapsed_load = Counter(lapsed_taken or {})
    placed: dict[str, date] = {}
    ordered = sorted(requests, key=lambda r: (r.due, r.tiebreak, r.key))
    for request in (r for r in ordered if r.on_the_day):
        if today <= request.due <= last:  # today's even when its slot has passed: the day is what counts
            load[request.due] += 1
            placed[request.key] = request.due
    for request in (r for r in ordered if r.pinned and not r.on_the_day):
        day = next_working_day(max(request.due, earliest), cfg)
        if day <= last:
            load[day] += 1
            placed[request.key] = day
    regular = [r for r in ordered if not r.pinned and not r.on_the_day and not r.lapsed]
    lapsed = [r for r in ordered if not r.pinned and not r.on_the_day and r.lapsed]
    day = next_working_day(earliest, cfg)
    while (regular or lapsed) and day <= last:
        room = cfg.per_day - load[day]
        if room > 0:
            chosen = _best(regular, day, room)
            spare = min(room - len(chosen), cfg.lapsed_per_day - lapsed_load[day])
            chosen_lapsed = _best(lapsed, day, spare) if spare > 0 else []
            lapsed_load[day] += len(chosen_lapsed)
            for request in chosen + chosen_lapsed:
                placed[request.key] = day
                load[day] += 1
            if chosen:
                regular = [r for r in regular if r.key not in placed]
            if chosen_lapsed:
                lapsed = [r for r in lapsed if r.key not in placed]
        day = next_working_day(day + timedelta(days=1), cfg)
    return placed


def _best(requests: list[Request], day: date, room: int) -> list[Request]:
    """The ``room`` requests due by ``day`` with the highest priority on it (ties: earlier due, then name)."""
    ready = [r for r in requests if r.due <= day]
    return heapq.nsmallest(
        room, ready, key=lambda r: (-priority(r.strength, r.due, day, r.every_days), r.due, r.tiebreak, r.key)
    )
