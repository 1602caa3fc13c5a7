"""What the engine hands the planner and the CLI: a person's standing, and the follow-ups that are due.

The engine knows people and time; the planner knows calendars. These two types are the whole contract
between them.
"""

from __future__ import annotations

import dataclasses
from datetime import date, datetime
from typing import Literal

Origin = Literal["cycle", "reminder", "series"]


@dataclasses.dataclass(slots=True)
class Evidence:
    """The interaction that set one of a person's last-contact times (shown by ``syncd why``)."""

    interaction_id: int
    at: datetime
    kind: str  # outbound | inbound | meeting
    subject: str | None = None
    link: str | None = None


@dataclasses.dataclass(slots=True)
class PersonStatus:
    key: str  # the person's primary address; stable id used by decisions and follow-ups
    name: str
    addresses: tuple[str, ...]
    relationship: bool  # reciprocity met (an outbound contact or a meeting), or added by the user
    tier: str | None
    every_days: int | None  # the cadence; None when the person is never reminded
    cadence_rule: str  # which rule set the cadence, in words ("tier 'inner'", "learned rhythm: ...")
    last_contact: Evidence | None
    last_outbound: Evidence | None
    last_inbound: Evidence | None
    last_meeting: Evidence | None
    contact_days: int  # distinct days with a qualifying contact
    due: date | None  # last contact + cadence; None when no reminder applies
    remind: bool  # False for directory tier, ignored, dormant, meeting booked, not a relationship
    reason: str  # why due, or why not, in words
    note: str | None = None
    next_meeting: datetime | None = None
    ignored: bool = False
    dormant: bool = False


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
    strength: int  # higher = stronger relationship (distinct contact days); breaks ties when spreading
    description: str
