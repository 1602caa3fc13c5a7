"""Relationship strength: one number in [0, 1] from the evidence syncd already keeps (docs/rules.md#strength).

    strength = 0.35 · days + 0.20 · both ways + 0.15 · direct + 0.20 · recency + 0.10 · meetings

with each part in [0, 1]:

* days      = d / (d + 5)        d: distinct days with a qualifying contact (1 → 0.17, 5 → 0.5, 20 → 0.8)
* both ways = 1 if they wrote to you and you wrote to them, or you met; else 0
* direct    = t / (t + 3)        t: distinct days on which they were in To (not only Cc), or you in To
                                 of their mail, or you met
* recency   = 0.5 ^ (a / 180)    a: days since the last contact (a half-life of six months)
* meetings  = m / (m + 2)        m: distinct days you met

Every part only grows with more evidence at the same "now", so another contact never lowers anyone's
strength; only time does, through recency. The parts are counted in SQL at recompute (no pass over
contacts in Python); the score is computed when it is read, for the "now" it is read at.
"""

from __future__ import annotations

import dataclasses
from datetime import datetime
from typing import Any

WEIGHTS = {"days": 0.35, "both_ways": 0.20, "direct": 0.15, "recency": 0.20, "meetings": 0.10}
HALF_LIFE_DAYS = 180.0


@dataclasses.dataclass(frozen=True, slots=True)
class Parts:
    """The evidence, as counts (what ``syncd why`` shows)."""

    contact_days: int = 0
    direct_days: int = 0
    meeting_days: int = 0
    they_wrote: bool = False  # an inbound qualifying contact
    you_wrote: bool = False  # an outbound qualifying contact
    last_contact: int | None = None  # unix seconds

    @property
    def both_ways(self) -> bool:
        return (self.they_wrote and self.you_wrote) or self.meeting_days > 0

    def as_json(self) -> dict[str, Any]:
        # By hand: dataclasses.asdict deep-copies, and this runs once per person in a full recompute.
        return {"contact_days": self.contact_days, "direct_days": self.direct_days, "meeting_days": self.meeting_days,
                "they_wrote": self.they_wrote, "you_wrote": self.you_wrote, "last_contact": self.last_contact}


def terms(parts: Parts, now: datetime) -> dict[str, float]:
    """Each part of the score, in [0, 1]."""
    age = None if parts.last_contact is None else max(now.timestamp() - parts.last_contact, 0) / 86400
    return {
        "days": parts.contact_days / (parts.contact_days + 5),
        "both_ways": 1.0 if parts.both_ways else 0.0,
        "direct": parts.direct_days / (parts.direct_days + 3),
        "recency": 0.0 if age is None else 0.5 ** (age / HALF_LIFE_DAYS),
        "meetings": parts.meeting_days / (parts.meeting_days + 2),
    }


def score(parts: Parts, now: datetime) -> float:
    """The strength at ``now``, rounded to three places (so listings and ties are stable)."""
    return round(sum(WEIGHTS[name] * value for name, value in terms(parts, now).items()), 3)


def explain(parts: Parts, now: datetime) -> str:
    """The parts in words, for ``syncd why``."""
    values = terms(parts, now)
    ways = ("you wrote and they wrote back" if parts.they_wrote and parts.you_wrote
            else "you met" if parts.meeting_days else "one way only")
    return (
        f"{parts.contact_days} contact days ({values['days']:.2f}), {ways} ({values['both_ways']:.0f}), "
        f"{parts.direct_days} days direct rather than cc ({values['direct']:.2f}), "
        f"recency {values['recency']:.2f}, {parts.meeting_days} meeting days ({values['meetings']:.2f})"
    )
