"""Keeping every person's standing current: ``refresh`` (incremental), ``recompute`` (everything), ``people``.

Two stages. Interactions become qualifying contacts (:mod:`syncd.engine.qualifying`, once per
interaction, kept in the store); then addresses are grouped into persons and their contacts aggregated
into a :class:`syncd.engine.status.PersonStatus` (:mod:`syncd.engine.standing`). ``refresh`` derives
contacts only for new interactions and recomputes only persons they touched, persons whose decisions
changed, and persons whose standing changes by itself with time (``valid_until``: a booked meeting that
has started, a relationship turning dormant). ``recompute`` does everything and gives the same result.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from collections import defaultdict
from collections.abc import Iterable, Mapping
from datetime import datetime

from syncd.config import Config
from syncd.engine import owners, qualifying, strength
from syncd.engine.persons import Persons
from syncd.engine.standing import Aggregate, aggregate, details, standing
from syncd.engine.status import OneOff, PersonStatus, from_text, to_text
from syncd.store import Store
from syncd.store.contacts import DeriveStats
from syncd.store.decisions import Settings
from syncd.store.standings import HIDDEN


@dataclasses.dataclass
class RefreshStats:
    full: bool = False
    interactions: int = 0
    persons: int = 0
    implausible: int = 0
    bulk: int = 0
    over_cap: int = 0
    ignored_addresses: int = 0  # distinct role or blocklisted addresses seen (never people)
    invalid_addresses: int = 0  # To/Cc entries that were no address (X.500 paths, "undisclosed-recipients:;")
    undated: int = 0  # interactions without a usable date (counted apart from implausible ones)
    owner_variants: dict[str, str] = dataclasses.field(default_factory=dict)  # newly found: address -> why
    kept_contacts: bool = False  # full: every person recomputed from the contacts already derived

    def describe(self) -> str:
        persons = f"{self.persons:,} person{'' if self.persons == 1 else 's'}"
        if self.full and self.kept_contacts:
            text = f"engine: settings changed, {persons} recomputed"
            if self.interactions:
                text += f" ({self.interactions:,} new interaction{'' if self.interactions == 1 else 's'})"
        elif self.full:
            text = f"engine: full recompute of {self.interactions:,} interactions, {persons}"
        elif self.interactions:
            text = f"engine: {self.interactions:,} new interactions, {persons} updated"
        else:
            text = f"engine: {persons} updated"
        if self.implausible:
            text += f"; {self.implausible:,} with implausible dates (before 1990 or in the future) not counted"
        if self.undated:
            text += f"; {self.undated:,} without a date (no or an unreadable Date header) not counted"
        if self.ignored_addresses:
            text += f"; {self.ignored_addresses:,} role or blocklisted addresses ignored"
        if self.invalid_addresses:
            text += f"; {self.invalid_addresses:,} recipients that were no email address ignored"
        for address, why in sorted(self.owner_variants.items()):
            text += f"\n  counted as you from now on: {address} ({why})"
        return text

    @classmethod
    def of(cls, full: bool, updated: int, derived: DeriveStats | None) -> RefreshStats:
        if derived is None:
            return cls(full, 0, updated)
        return cls(
            full, derived.interactions, updated, derived.implausible, derived.bulk, derived.over_cap,
            derived.ignored_addresses, derived.invalid_addresses, derived.undated,
        )


def _added(
    config: Config, persons: Persons, settings: Mapping[str, Settings], one_offs: Mapping[str, tuple[OneOff, ...]]
) -> set[str]:
    """Keys of the persons the user added (a decision, a one-off or a [[people]] entry): listed even
    without contact."""
    return {persons.key(k) for k in settings} | {persons.key(p.addresses[0]) for p in config.people} | set(one_offs)


def _one_offs(store: Store, persons: Persons) -> dict[str, tuple[OneOff, ...]]:
    """Each person's one-off reminders (``syncd remind``), by person key, in date order."""
    found: dict[str, list[OneOff]] = defaultdict(list)
    for reminder in sorted(store.decisions.reminders(), key=lambda r: (r.on, r.id)):
        found[persons.key(reminder.person)].append(OneOff(reminder.id, reminder.on, reminder.note))
    return {key: tuple(items) for key, items in found.items()}


def _fingerprint(you: owners.Owners, config: Config) -> str:
    parts = [qualifying.RULES_VERSION, sorted(you.addresses), repr(config.engine), repr(config.tiers),
             repr(config.people)]
    return hashlib.sha256(json.dumps(parts, default=str).encode()).hexdigest()


def _contacts_fingerprint(you: owners.Owners, config: Config) -> str:
    """What the derived contacts depend on (syncd.engine.qualifying): the rules' version, the owner's addresses,
    the caps and the blocklist. Tiers, people, rhythms and the other settings change standings, not contacts."""
    engine = config.engine
    parts = [qualifying.RULES_VERSION, sorted(you.addresses), engine.max_recipients, engine.max_attendees,
             list(engine.blocklist)]
    return hashlib.sha256(json.dumps(parts).encode()).hexdigest()


def _derive(store: Store, config: Config, now: datetime, you: owners.Owners, interaction_ids: Iterable[int] | None
            ) -> tuple[set[str], DeriveStats]:
    return qualifying.derive(store, you.addresses, config.engine, now, interaction_ids)


Result = tuple[str, PersonStatus | None, int | None]  # key, standing (None: not listed yet), valid until


def _compute(
    store: Store, config: Config, now: datetime, addresses: Iterable[str] | None, you: owners.Owners,
    with_future: bool = True,
) -> list[Result]:
    persons = Persons(store, config, you)
    settings = store.decisions.settings()
    one_offs = _one_offs(store, persons)
    added = _added(config, persons, settings, one_offs)
    aggregates = aggregate(store, persons, int(now.timestamp()), addresses, with_future, you.addresses)
    if addresses is None:  # people the user added with no contacts yet still exist
        for key in added:
            aggregates.setdefault(key, Aggregate())
    results: list[Result] = []
    found = details(store, aggregates.values())
    for key, agg in aggregates.items():
        status, until = standing(config, key, agg, settings, found, now, one_offs.get(key, ()))
        # Someone known only from mail dated in the future is nobody yet (an implausible date): the row
        # is kept, unlisted, only so the incremental refresh looks at them again when that date comes.
        hidden = not agg.last and agg.next_meeting is None and not agg.cards and key not in added
        results.append((key, None if hidden else status, until))
    return results


def _save(store: Store, results: list[Result]) -> None:
    store.standings.save((key, until, HIDDEN if s is None else to_text(s)) for key, s, until in results)


def recompute(
    store: Store, config: Config, now: datetime, you: owners.Owners | None = None, keep_contacts: bool = False
) -> RefreshStats:
    """Every person's standing computed afresh. ``keep_contacts``: from the contacts already derived (only
    those of new interactions derived), for when nothing they depend on changed; otherwise derived anew."""
    you = you or owners.find(store, config)
    with store.transaction():
        if keep_contacts:
            pending = store.contacts.pending()
            derived = _derive(store, config, now, you, pending)[1] if pending else None
        else:
            derived = _derive(store, config, now, you, None)[1]
        store.contacts.clear_queues()
        store.standings.clear()
        results = _compute(store, config, now, None, you)
        _save(store, results)
        store.standings.set_fingerprint(_fingerprint(you, config))
        store.standings.set_contacts_fingerprint(_contacts_fingerprint(you, config))
        persons = Persons(store, config, you)
        store.standings.set_person_map(persons.belonging(store, config))
        # Owner variants found in the mail are said once, in the summary of the recompute that found them.
        known = store.standings.owner_variants()
        store.standings.set_owner_variants(you.variants)
    stats = RefreshStats.of(True, sum(1 for r in results if r[1] is not None), derived)
    stats.kept_contacts = keep_contacts
    stats.owner_variants = {a: why for a, why in you.variants.items() if a not in known}
    return stats


def refresh(store: Store, config: Config, now: datetime) -> RefreshStats:
    you = owners.find(store, config)
    if store.standings.fingerprint() != _fingerprint(you, config):
        # A changed tier, person entry or rhythm setting recomputes everyone, but the contacts of a million
        # interactions are derived again only when what they depend on changed (docs/rules.md#qualifying-contact).
        kept = store.standings.contacts_fingerprint() == _contacts_fingerprint(you, config)
        return recompute(store, config, now, you, keep_contacts=kept)
    with store.transaction():
        pending = store.contacts.pending()
        touched, derived = _derive(store, config, now, you, pending) if pending else (set(), None)
        touched |= store.contacts.touched()
        expired = store.standings.expired(now)
        store.contacts.clear_queues()
        persons = Persons(store, config, you)
        # Addresses that changed person (a merge, an unmerge, an equivalence): both the person they
        # left and the one they joined are recomputed.
        before = store.standings.person_map()
        after = persons.belonging(store, config)
        moved = {a for a in before.keys() | after.keys() if before.get(a, a) != after.get(a, a)}
        touched |= moved
        keys = {persons.key(a) for a in touched} | {before.get(a, a) for a in touched} | set(expired)
        results: list[Result] = []
        for key in [k for k in keys if persons.key(k) != k]:  # merged away: no row of its own
            keys.discard(key)
            store.standings.delete(key)
        if keys:
            members = touched | keys | {a for a, k in after.items() if k in keys}
            results = [r for r in _compute(store, config, now, members, you) if r[0] in keys]
            settings = store.decisions.settings()
            one_offs = _one_offs(store, persons)
            added = _added(config, persons, settings, one_offs)
            for key in keys - {r[0] for r in results}:
                if key in added:
                    alone = standing(config, key, Aggregate(), settings, {}, now, one_offs.get(key, ()))
                    results.append((key, *alone))
                else:
                    store.standings.delete(key)
            _save(store, results)
        if moved:
            store.standings.set_person_map(after)
    return RefreshStats.of(False, sum(1 for r in results if r[1] is not None), derived)


def people(store: Store, config: Config, now: datetime, historical: bool = False) -> list[PersonStatus]:
    """Everyone syncd knows, with their standing at ``now``.

    ``historical=False`` reads the standing ``refresh`` keeps; ``historical=True`` computes it afresh as if
    today were ``now``, ignoring every interaction after it (booked meetings included).
    """
    if historical:
        you = owners.find(store, config)
        found = [status for _, status, _ in _compute(store, config, now, None, you, with_future=False)]
        return sorted((s for s in found if s is not None), key=lambda s: s.key)
    statuses = [from_text(text) for text in store.standings.listed()]
    for status in statuses:  # recency moves with the clock: strength is the reader's "now"
        status.strength = strength.score(status.parts, now)
    return statuses
