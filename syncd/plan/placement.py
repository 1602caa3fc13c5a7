"""Placing follow-ups in time: the due day (or the next working day) at the slot, at most ``per_day`` a day.

Pure functions, no I/O, no clock: "now" is always a parameter. Overdue follow-ups are spread over the
coming working days, most overdue first and then the stronger relationship, never dumped on one day; a
follow-up whose day falls beyond the horizon waits for a later run.
"""

from __future__ import annotations

import dataclasses
from collections import Counter
from collections.abc import Iterable
from datetime import UTC, date, datetime, timedelta

from syncd.config import FollowupsConfig


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
