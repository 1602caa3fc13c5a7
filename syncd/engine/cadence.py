"""How often to be in touch with a person, and whether a follow-up is wanted (docs/rules.md#cadence,
docs/rules.md#due).

Cadence, first match wins: per-person setting (``syncd set --every``, then ``[[people]] every``) > tier
(the tier set by ``syncd set --tier`` or ``[[people]] tier``, else the first config tier whose ``match``
fits one of the person's addresses) > learned rhythm (≥ 3 distinct contact days: median gap × 1.5,
clamped to [min_every, max_every]) > ``default_every``.

Due = last contact + cadence, as a UTC date; for someone known only from the address book whom a tier or a
decision brings into reminders, when their card was first read + cadence. No follow-up when: not a
relationship, ignored, directory tier (``remind = false``), a list or desk, the small network
(``syncd.engine.network``), dormant (last contact older than ``forget_after``), or a meeting is booked before
due + ``meeting_grace``. A reminded relationship far past its due date is marked lapsed.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable
from datetime import UTC, date, datetime, time, timedelta

from connectors.addresses import matches_any
from syncd.config import Config, TierConfig
from syncd.engine import network
from syncd.engine.status import PersonStatus


def tier_for(
    addresses: Iterable[str], tiers: tuple[TierConfig, ...], chosen: str | None, groups: Iterable[str] = ()
) -> TierConfig | None:
    """The tier the user chose by name, else the first config tier (in config order) matching an address
    (``match``) or one of the person's address-book groups (``groups``, compared without regard to case).

    A chosen name no config tier defines (the tier was removed from the config) falls back to matching:
    the person keeps a sensible rhythm instead of silently losing one. A group renamed or deleted in the
    address book simply stops matching.
    """
    if chosen:
        named = next((t for t in tiers if t.name == chosen), None)
        if named is not None:
            return named
    addresses = tuple(addresses)
    groups = tuple(groups)
    for tier in tiers:
        if any(matches_any(address, tier.match) for address in addresses) or by_group(tier, groups):
            return tier
    return None


def by_group(tier: TierConfig | None, groups: Iterable[str]) -> bool:
    """Whether ``tier`` names one of ``groups`` (how a tier holds people of an address-book group)."""
    if tier is None or not tier.groups:
        return False
    named = {name.casefold() for name in tier.groups}
    return any(group.casefold() in named for group in groups)


def learned(days: Iterable[int], config: Config) -> tuple[int, str] | None:
    """With ≥ 3 distinct contact days: the median gap × 1.5 (rounded to whole days), clamped."""
    ordered = sorted(set(days))
    if len(ordered) < 3:
        return None
    gaps = [b - a for a, b in itertools.pairwise(ordered)]
    gaps.sort()  # statistics.median, without its copy and generator: this runs for every person
    middle = len(gaps) // 2
    gap = gaps[middle] if len(gaps) % 2 else (gaps[middle - 1] + gaps[middle]) / 2
    low, high = config.engine.min_every.days, config.engine.max_every.days
    every = int(min(max(round(gap * 1.5), low), high))
    return every, (
        f"learned rhythm: median gap {gap:g} d over {len(ordered)} contact days × 1.5, kept in [{low}, {high}] d"
    )


def choose(
    setting_every: int | None,
    configured_every: timedelta | None,
    tier: TierConfig | None,
    days: Iterable[int],
    config: Config,
) -> tuple[int, str]:
    """The cadence in days and the rule that set it, in words (shown by ``people`` and ``why``)."""
    if setting_every:
        return int(setting_every), "per-person setting (syncd set --every)"
    if configured_every:
        return configured_every.days, "per-person setting ([[people]] in the config)"
    if tier is not None and tier.every is not None:
        return tier.every.days, f"tier '{tier.name}'"
    rhythm = learned(days, config)
    if rhythm is not None:
        return rhythm
    return config.engine.default_every.days, "default rhythm (engine.default_every)"


def midnight(day: date) -> int:
    return int(datetime.combine(day, time(0), tzinfo=UTC).timestamp())


def decide(status: PersonStatus, tier: TierConfig | None, config: Config, now: datetime) -> int | None:
    """Fill in ``due``, ``remind``, ``reason`` and ``dormant``; return when the verdict can change by
    itself with time alone (unix seconds after ``now``, or None), so the incremental refresh knows when
    to look at this person again."""
    last = status.last_contact
    today = now.astimezone(UTC).date()
    changes: list[int] = []
    if last is not None:
        dormant_at = last.at + config.engine.forget_after
        status.dormant = dormant_at <= now
        if not status.dormant:
            changes.append(int(dormant_at.timestamp()))
        if status.every_days:
            status.due = (last.at + timedelta(days=status.every_days)).date()
    elif status.known_since is not None and status.every_days:
        # Someone only in the address book whom a tier or a decision of yours brings into reminders has no
        # contact to count from: the first cycle counts from when syncd first read their card.
        status.due = (status.known_since + timedelta(days=status.every_days)).date()
    if status.due is not None and status.due > today:
        changes.append(midnight(status.due))  # the day it falls due (the brief: "due date passed")
    grace = config.engine.meeting_grace
    booked = False
    if status.due is not None and status.next_meeting is not None:
        # Overdue people are reminded today, so "before due + grace" counts from today for them; the
        # verdict therefore flips on the day the meeting comes within grace of today.
        booked = status.next_meeting.date() <= max(status.due, today) + grace
        flips = status.next_meeting.date() - grace
        if not booked and flips > today:
            changes.append(midnight(flips))
    lapsed = network.lapsed(status.due, status.every_days, today, config.engine.lapsed_after)
    if status.due is not None and status.every_days and not lapsed:
        changes.append(midnight(network.lapsed_since(status.due, status.every_days, config.engine.lapsed_after)))
    if not status.relationship and status.last_inbound is None and status.known_since is not None:
        status.reason = ("only in your address book: no mail or meeting yet (a tier naming one of their groups, "
                         "or syncd set, brings them into reminders)")
    elif not status.relationship:
        status.reason = "not a relationship: they wrote to you, but you never wrote to or met them"
    elif status.ignored:
        status.reason = "ignored (syncd set PERSON --unignore to undo)"
    elif tier is not None and not tier.remind:
        status.reason = f"tier '{tier.name}': kept in the directory, never reminded"
    elif status.group:
        status.reason = (
            "a list, desk or shared address (its name, or only ever one recipient among many): never reminded; "
            f"'syncd set {status.key} --every 60d' if it is a person"
        )
    elif last is None and (status.known_since is None or status.due is None):
        status.reason = "no qualifying contact yet"
    elif not status.kept_warm:
        status.reason = network.small_network_reason(status.key, status.parts, config.engine.warm_min_days)
    elif status.dormant and last is not None:
        status.reason = f"dormant: last contact {last.at.date()}, longer ago than engine.forget_after"
    elif booked and status.next_meeting is not None:
        status.reason = f"meeting already booked on {status.next_meeting.date()}"
    elif last is None and status.known_since is not None:
        status.remind = True
        status.reason = (f"no contact yet: their card was first read {status.known_since.date()} "
                         f"+ {status.every_days} d ({status.cadence_rule})")
    else:
        assert last is not None
        status.remind = True
        status.lapsed = lapsed
        status.reason = f"last contact {last.at.date()} ({last.kind}) + {status.every_days} d ({status.cadence_rule})"
        if lapsed:
            status.reason = (
                f"lapsed: due {status.due}, more than {config.engine.lapsed_after} rhythms of {status.every_days} d "
                f"ago; after everyone else, {config.followups.lapsed_per_day} a day at most (revive: syncd remind; "
                "let go: syncd set --ignore)"
            )
    never = last is None and status.known_since is None
    if (not status.relationship or status.ignored or (tier is not None and not tier.remind) or never
            or status.group or not status.kept_warm):
        # Nothing will ever be due for them: no date to show (dormant and booked people keep theirs,
        # so `people` can say when they would have been due).
        status.due = None
    future = [c for c in changes if c > int(now.timestamp())]
    return min(future) if future else None
