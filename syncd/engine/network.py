"""Kept warm, small network, lapsed: who gets follow-ups by default.

The rules are docs/rules.md#kept-warm-and-small-network and docs/rules.md#lapsed.

The *big network* is kept warm by regular low-key contact; the *small network* is kept findable and
needs no upkeep. Someone written to once is the small network until shown otherwise. A relationship is
kept warm by default only with evidence of a two-way tie:

* contact both ways (you wrote, they wrote back) on at least ``engine.warm_min_days`` distinct days
  (default 2; 0 keeps every relationship warm, as before there was a small network), or
* a meeting, or
* a decision of yours: a rhythm (``syncd set --every``), a tier, a ``[[people]]`` entry, a one-off.

A warm relationship overdue by more than ``engine.lapsed_after`` rhythms (default 3) has *lapsed*: it
is listed by ``syncd people --lapsed`` for you to revive or let go, and gets at most
``followups.lapsed_per_day`` follow-ups a day, after everyone else, instead of flooding the calendar.
"""

from __future__ import annotations

from datetime import date, timedelta

from syncd.engine.strength import Parts

PROMOTE = "syncd set {key} --every 60d"
CROWD = 10  # "many": at least this many other recipients or attendees besides the address itself


def kept_warm(parts: Parts, decided: bool, warm_min_days: int) -> bool:
    """Whether a relationship gets follow-ups by default (before ignore, tier, dormancy, ...)."""
    if decided or warm_min_days == 0 or parts.meeting_days > 0:
        return True
    return parts.they_wrote and parts.you_wrote and parts.contact_days >= warm_min_days


def only_in_crowds(fewest_others: int | None, wrote_to_you: bool) -> bool:
    """The second sign of a list or desk (docs/rules.md#groups-and-desks; the first, its local part, is
    ``connectors.addresses.is_group_address``): it never wrote to you, and never had a contact with
    fewer than :data:`CROWD` other people in it."""
    return not wrote_to_you and fewest_others is not None and fewest_others >= CROWD


def small_network_reason(key: str, parts: Parts, warm_min_days: int) -> str:
    if parts.they_wrote and parts.you_wrote:
        days = f"{parts.contact_days} day{'s' if parts.contact_days != 1 else ''}"
        evidence = f"contact both ways on {days}, warm from {warm_min_days} (engine.warm_min_days)"
    elif parts.contact_days == 1:
        evidence = "one contact, never answered"
    else:
        evidence = f"{parts.contact_days} contact days, never answered"
    return f"small network ({evidence}): not reminded; to keep in touch: '{PROMOTE.format(key=key)}' or a tier"


def lapsed(due: date | None, every_days: int | None, today: date, lapsed_after: int) -> bool:
    """Overdue by more than ``lapsed_after`` rhythms."""
    if due is None or not every_days:
        return False
    return (today - due).days > lapsed_after * every_days


def lapsed_since(due: date, every_days: int, lapsed_after: int) -> date:
    """The first day on which a relationship due on ``due`` counts as lapsed."""
    return due + timedelta(days=lapsed_after * every_days + 1)
