"""Who goes first when more follow-ups are due than a day holds (docs/rules.md#placement).

    priority on a day = strength × (1 + lateness)
    lateness          = days past due ÷ the person's rhythm, counted up to three rhythms

So the strongest ties and those most overdue *relative to their own rhythm* come first: a close
colleague seen every two weeks and a week late (lateness 0.5) outranks an occasional contact a month
late on a 180-day rhythm (0.17) of the same strength. A follow-up without a rhythm (a series that
ended) counts its lateness in months. Lapsed relationships (overdue by more than ``lapsed_after``
rhythms) are placed only after everyone else, at most ``followups.lapsed_per_day`` a day; one-offs
you asked for are not ranked at all: they land on their day whatever the queue holds.
"""

from __future__ import annotations

from datetime import date

NO_RHYTHM_DAYS = 30
LATENESS_CAP = 3.0  # beyond this a relationship is lapsed (engine.lapsed_after's default) and queued apart


def lateness(due: date, day: date, every_days: int | None) -> float:
    """How late a follow-up due on ``due`` is on ``day``, in rhythms (0 when not yet due), capped."""
    late = max((day - due).days, 0)
    return min(late / (every_days or NO_RHYTHM_DAYS), LATENESS_CAP)


def priority(strength: float, due: date, day: date, every_days: int | None) -> float:
    return strength * (1 + lateness(due, day, every_days))
