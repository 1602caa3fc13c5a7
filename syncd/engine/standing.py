"""A person's standing: their contacts grouped from all their addresses, then last contact, rhythm and due.

``aggregate`` folds the store's per-address contact rows into one :class:`Aggregate` per person (in one
pass over each query, for every person at once or for a selection); ``standing`` turns one aggregate,
the person's decisions and the configuration into a :class:`syncd.engine.status.PersonStatus`.
"""

from __future__ import annotations

import dataclasses
from array import array
from collections import defaultdict
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from typing import Any

from connectors.addresses import is_group_address
from syncd.config import Config
from syncd.engine import cadence, names, network, strength
from syncd.engine.names import NameCounts
from syncd.engine.persons import Persons
from syncd.engine.status import Evidence, OneOff, PersonStatus
from syncd.store import Store
from syncd.store.cards import CardFacts
from syncd.store.decisions import Settings

DAY = 86400

Details = dict[int, tuple[str | None, str | None]]  # interaction id -> (subject, link)


@dataclasses.dataclass
class Aggregate:
    last: dict[str, tuple[int, int]] = dataclasses.field(default_factory=dict)  # kind -> (ts, interaction)
    # The contact days of each address, distinct and sorted, as machine integers: a million contact days
    # as Python ints in sets were a third of a full recompute's peak memory. ``days()`` joins them.
    day_runs: list[array[int]] = dataclasses.field(default_factory=list)
    next_meeting: int | None = None  # the earliest booked (future) meeting
    next_contact: int | None = None  # the earliest future contact of any kind
    names: NameCounts = dataclasses.field(default_factory=dict)
    addresses: set[str] = dataclasses.field(default_factory=set)
    direct_days: int = 0
    meeting_days: int = 0
    fewest_others: int | None = None  # the fewest other people in any of their contacts

    def days(self) -> list[int]:
        """The person's distinct contact days, in order (a day with contact on two addresses is one)."""
        if len(self.day_runs) == 1:
            return self.day_runs[0].tolist()
        return sorted({day for run in self.day_runs for day in run})

    def parts(self, days: list[int] | None = None) -> strength.Parts:
        last = max((ts for ts, _ in self.last.values()), default=None)
        return strength.Parts(
            contact_days=len(self.days() if days is None else days), direct_days=self.direct_days,
            meeting_days=self.meeting_days,
            they_wrote="inbound" in self.last, you_wrote="outbound" in self.last, last_contact=last,
        )
    cards: list[CardFacts] = dataclasses.field(default_factory=list)  # the earliest-read card first


def aggregate(
    store: Store, persons: Persons, cutoff: int, addresses: Iterable[str] | None, with_future: bool,
    owners: Iterable[str] = (),
) -> dict[str, Aggregate]:
    """Each person's contacts up to ``cutoff`` (and, ``with_future``, their first ones after it)."""
    selection = store.select(addresses)
    out: dict[str, Aggregate] = defaultdict(Aggregate)
    key_of: dict[str, str] = {}

    def person(address: str) -> Aggregate:
        key = key_of.get(address)
        if key is None:
            key = key_of[address] = persons.key(address)
        agg = out[key]
        agg.addresses.add(address)
        return agg

    for address, kind, ts, iid in store.contacts.latest(cutoff, selection):
        agg = person(address)
        if kind not in agg.last or ts > agg.last[kind][0]:
            agg.last[kind] = (ts, iid)
    # Contact days and the other parts of strength (docs/rules.md#strength), counted by the store per address.
    for row in store.contacts.days(cutoff, selection, DAY):
        agg = person(row.address)
        agg.day_runs.append(array("l", sorted(set(row.days))))
        agg.direct_days += row.direct_days
        agg.meeting_days += row.meeting_days
        fewest = row.fewest_others
        agg.fewest_others = fewest if agg.fewest_others is None else min(agg.fewest_others, fewest)
    for agg in out.values():  # a day with contact on two of one person's addresses is one day
        if len(agg.addresses) > 1:
            agg.direct_days, agg.meeting_days = store.contacts.direct_and_meeting_days(agg.addresses, cutoff, DAY)
    if with_future:
        # Contacts after "now": booked meetings, and mail dated ahead of the clock. Neither is a last
        # contact yet; both become one when their time comes (the person's ``valid_until``).
        for address, kind, ts in store.contacts.upcoming(cutoff, selection):
            agg = person(address)
            agg.next_contact = ts if agg.next_contact is None else min(agg.next_contact, ts)
            if kind == "meeting":
                agg.next_meeting = ts if agg.next_meeting is None else min(agg.next_meeting, ts)
    # Everyone in the address books is somebody, in mail or not (listed with --all until a tier says more).
    for address, facts in store.cards.facts(selection):
        if persons.is_person(address):
            person(address).cards.append(facts)
    # Display names only of the addresses being computed (the selection, or everyone), with how often
    # the owner wrote each one (docs/rules.md#display-names).
    for address, name, by_you, by_all in store.synced.names(selection, owners):
        found = out.get(key_of.get(address) or persons.key(address))
        if found is not None:
            counts = found.names.setdefault(name, [0, 0])
            counts[0] += by_you
            counts[1] += by_all
    return out


def details(store: Store, aggregates: Iterable[Aggregate]) -> Details:
    """Subject and link of every interaction that set someone's last contact, fetched together rather
    than three per person (a full recompute of 20,000 people otherwise spends most of its Python time here)."""
    return store.synced.details({iid for agg in aggregates for _, iid in agg.last.values()})


def _evidence(found: Details, kind: str, pair: tuple[int, int] | None) -> Evidence | None:
    if pair is None:
        return None
    ts, iid = pair
    subject, link = found.get(iid, (None, None))
    return Evidence(iid, datetime.fromtimestamp(ts, UTC), kind, subject, link)


@dataclasses.dataclass(frozen=True)
class AddressBookEntry:
    """What a person's cards say, together: the earliest-read card's name first, every group of every card."""

    name: str | None = None
    organisation: str | None = None
    groups: tuple[str, ...] = ()
    birthday: str | None = None
    known_since: datetime | None = None

    @classmethod
    def of(cls, facts: Iterable[CardFacts]) -> AddressBookEntry:
        cards = list({(f.account, f.card): f for f in facts}.values())  # one per card, in the order given
        if not cards:
            return cls()
        groups = {g.casefold(): g for card in reversed(cards) for g in card.groups}  # the earliest spelling
        return cls(
            name=next((c.name for c in cards if c.name), None),
            organisation=next((c.organisation for c in cards if c.organisation), None),
            groups=tuple(sorted(groups.values(), key=str.casefold)),
            birthday=next((c.birthday for c in cards if c.birthday), None),
            known_since=min(datetime.fromisoformat(c.first_seen) for c in cards),
        )


def merged(settings: Mapping[str, Settings], key: str, addresses: Iterable[str]) -> dict[str, Any]:
    """The person's decisions: their key's, then (for what that leaves open) those stored under another of
    their addresses — a decision made before a config merge or an equivalence joined the addresses
    would otherwise be silently lost (``syncd merge`` moves them itself)."""
    out = dict(settings.get(key, {}))
    for address in sorted(set(addresses) - {key}):
        for name, value in settings.get(address, {}).items():
            if not out.get(name):
                out[name] = value
    return out


def standing(
    config: Config, key: str, agg: Aggregate, every_setting: Mapping[str, Settings], found: Details, now: datetime,
    one_offs: tuple[OneOff, ...] = (),
) -> tuple[PersonStatus, int | None]:
    """A person's status at ``now``, and when it will change by itself (unix seconds, or None)."""
    configured = next((p for p in config.people if p.addresses[0] == key), None)
    settings = merged(every_setting, key, agg.addresses)
    # Sorted, so the listing is stable; the key says which one is primary.
    addresses = tuple(sorted(agg.addresses | set(configured.addresses if configured else ()) | {key}))
    last_out = _evidence(found, "outbound", agg.last.get("outbound"))
    last_in = _evidence(found, "inbound", agg.last.get("inbound"))
    last_meet = _evidence(found, "meeting", agg.last.get("meeting"))
    candidates = [e for e in (last_out, last_in, last_meet) if e is not None]
    # Ties (one interaction both ways is impossible, but two at the same second are not): the
    # outbound one wins, being the stronger evidence of a relationship.
    last = max(candidates, key=lambda e: e.at) if candidates else None
    book = AddressBookEntry.of(agg.cards)
    # Your own naming wins: syncd set --name, a [[people]] name, then your address book, then mail headers.
    name = (settings.get("name") or (configured.name if configured else None) or book.name
            or names.choose(agg.names) or key)
    chosen = settings.get("tier") or (configured.tier if configured else None)
    tier = cadence.tier_for(addresses, config.tiers, chosen, book.groups)
    # "Unless the user adds them": an explicit rhythm or tier, a [[people]] entry, a one-off or a tier naming
    # one of their address-book groups makes a relationship, keeps it warm and makes a person of a group
    # address (docs/rules.md#kept-warm-and-small-network, docs/rules.md#groups-as-tiers).
    user_added = bool(settings.get("every_days") or settings.get("tier") or configured or one_offs
                      or cadence.by_group(tier, book.groups))
    relationship = last_out is not None or last_meet is not None or user_added
    days = agg.days()
    every, rule = cadence.choose(
        settings.get("every_days"), configured.every if configured else None, tier, days, config
    )
    parts = agg.parts(days)
    group = not user_added and (
        all(is_group_address(a) for a in addresses) or network.only_in_crowds(agg.fewest_others, parts.they_wrote)
    )
    decided = user_added or (tier is not None and tier.remind)
    next_meeting = datetime.fromtimestamp(agg.next_meeting, UTC) if agg.next_meeting else None
    status = PersonStatus(
        key=key, name=name, addresses=addresses, relationship=relationship, tier=tier.name if tier else None,
        every_days=every, cadence_rule=rule, last_contact=last, last_outbound=last_out, last_inbound=last_in,
        last_meeting=last_meet, contact_days=len(days), due=None, remind=False, reason="",
        note=settings.get("note") or (configured.note if configured else None), next_meeting=next_meeting,
        ignored=bool(settings.get("ignored")), parts=parts, strength=strength.score(parts, now),
        kept_warm=network.kept_warm(parts, decided, config.engine.warm_min_days), group=group, one_offs=one_offs,
        organisation=book.organisation, groups=book.groups, birthday=book.birthday, known_since=book.known_since,
    )
    changes = cadence.decide(status, tier, config, now)
    # A future contact (a booked meeting starting, mail dated ahead of the clock) becomes a contact then.
    pending = [t for t in (changes, agg.next_contact) if t is not None]
    return status, (min(pending) if pending else None)
