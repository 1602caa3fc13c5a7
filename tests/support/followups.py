"""A follow-up event as the planner hands it to a target."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from connectors.base import FollowupEvent

BERLIN = ZoneInfo("Europe/Berlin")
START = datetime(2026, 3, 3, 9, 30, tzinfo=BERLIN)


def followup(key: str, start: datetime = START, title: str = "Reach out to Ann Berg", reminder: int = 10,
             person: str = "ann.berg@example.org") -> FollowupEvent:
    return FollowupEvent(key, person, start, 15, title, "Last contact: 2026-01-05, meeting\nEvery 30 days",
                         reminder, start)
