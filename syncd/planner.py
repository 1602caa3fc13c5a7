"""Placing follow-ups in time: the due day (or the next working day) at the slot, at most ``per_day`` a day.

Pure functions, no I/O. Overdue follow-ups are spread over the coming working days, most overdue and
strongest relationships first, never dumped on one day; a follow-up whose day is beyond the horizon
waits for a later run.
"""

from __future__ import annotations

import base64
import hashlib
from collections import Counter
from collections.abc import Iterable
from datetime import date, datetime, timedelta

from syncd.config import FollowupsConfig
from syncd.model import DueFollowup


def followup_key(person: str, origin: str, cycle: str, n: int) -> str:
    """Deterministic, and valid as a Google Calendar event id (base32hex: a-v and 0-9, 5–1024 chars)."""
    digest = hashlib.sha256(f"{person}|{origin}|{cycle}|{n}".encode()).digest()
    return base64.b32hexencode(digest).decode("ascii").lower().rstrip("=")[:26]


def first_day(now: datetime, cfg: FollowupsConfig) -> date:
    """The first day a new follow-up can land on: today if its slot is still ahead, else tomorrow."""
    local = now.astimezone(cfg.timezone)
    today = local.date()
    return today if local.time() < cfg.slot else today + timedelta(days=1)


def next_working_day(day: date, cfg: FollowupsConfig) -> date:
    for _ in range(7):
        if day.weekday() in cfg.working_days:
            return day
        day += timedelta(days=1)
    return day  # unreachable with at least one working day (the config requires one)


def slot_start(day: date, cfg: FollowupsConfig) -> datetime:
    # zoneinfo resolves the slot on a DST-change day to the right UTC offset.
    return datetime.combine(day, cfg.slot, cfg.timezone)


def place(
    wanted: Iterable[DueFollowup], taken: Counter[date], now: datetime, cfg: FollowupsConfig
) -> dict[tuple[str, str, str], date]:
    """Days for follow-ups that need one, given how many follow-ups each day holds already.

    Returns (person, origin, cycle) → day for those within the horizon; the rest wait.
    """
    earliest = next_working_day(first_day(now, cfg), cfg)
    last = (now.astimezone(cfg.timezone) + cfg.horizon).date()
    load = Counter(taken)
    placed: dict[tuple[str, str, str], date] = {}
    for item in sorted(wanted, key=lambda w: (w.due, -w.strength, w.name, w.person)):
        day = next_working_day(max(item.due, earliest), cfg)
        while load[day] >= cfg.per_day:
            day = next_working_day(day + timedelta(days=1), cfg)
        if day > last:
            continue
        load[day] += 1
        placed[(item.person, item.origin, item.cycle)] = day
    return placed
