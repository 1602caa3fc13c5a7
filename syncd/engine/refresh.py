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
from collections.abc import Iterable, Mapping
from datetime import datetime

from syncd.config import Config
from syncd.engine import qualifying
from syncd.engine.persons import Persons, owner_addresses
from syncd.engine.standing import Aggregate, aggregate, details, standing
from syncd.engine.status import PersonStatus, from_text, to_text
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

    def describe(self) -> str:
        kind = "full recompute" if self.full else "recomputed"
        text = f"engine: {kind}: {self.interactions:,} new interactions, {self.persons:,} persons updated"
        if self.implausible:
            text += f"; {self.implausible:,} with implausible dates (before 1990 or in the future) not counted"
        if self.undated:
            text += f"; {self.undated:,} without a date (no or an unreadable Date header) not counted"
        if self.ignored_addresses:
            text += f"; {self.ignored_addresses:,} role or blocklisted addresses ignored"
        if self.invalid_addresses:
            text += f"; {self.invalid_addresses:,} recipients that were no email address ignored"
        return text

    @classmethod
    def of(cls, full: bool, updated: int, derived: DeriveStats | None) -> RefreshStats:
        if derived is None:
            return cls(full, 0, updated)
        return cls(
            full, derived.interactions, updated, derived.implausible, derived.bulk, derived.over_cap,
            derived.ignored_addresses, derived.invalid_addresses, derived.undated,
        )


def _added(config: Config, persons: Persons, settings: Mapping[str, Settings]) -> set[str]:
    """Keys of the persons the user added (a decision or a [[people]] entry): listed even without contact."""
    return {persons.key(k) for k in settings} | {persons.key(p.addresses[0]) for p in config.people}


def _fingerprint(store: Store, config: Config) -> str:
    parts = [
        sorted(owner_addresses(store, config)),
        repr(config.engine), repr(config.tiers), repr(config.people),
    ]
    return hashlib.sha256(json.dumps(parts, default=str).encode()).hexdigest()


def _derive(store: Store, config: Config, now: datetime, interaction_ids: Iterable[int] | None
            ) -> tuple[set[str], DeriveStats]:
    owners = frozenset(owner_addresses(store, config))
    return qualifying.derive(store, owners, config.engine, now, interaction_ids)


Result = tuple[str, PersonStatus | None, int | None]  # key, standing (None: not listed yet), valid until


def _compute(
    store: Store, config: Config, now: datetime, addresses: Iterable[str] | None, with_future: bool = True
) -> list[Result]:
    persons = Persons(store, config)
    settings = store.decisions.settings()
    added = _added(config, persons, settings)
    aggregates = aggregate(store, persons, int(now.timestamp()), addresses, with_future)
    if addresses is None:  # people the user added with no contacts yet still exist
        for key in added:
            aggregates.setdefault(key, Aggregate())
    results: list[Result] = []
    found = details(store, aggregates.values())
    for key, agg in aggregates.items():
        status, until = standing(config, key, agg, settings, found, now)
        # Someone known only from mail dated in the future is nobody yet (an implausible date): the row
        # is kept, unlisted, only so the incremental refresh looks at them again when that date comes.
        hidden = not agg.last and agg.next_meeting is None and key not in added
        results.append((key, None if hidden else status, until))
    return results


def _save(store: Store, results: list[Result]) -> None:
    store.standings.save((key, until, HIDDEN if s is None else to_text(s)) for key, s, until in results)


def recompute(store: Store, config: Config, now: datetime) -> RefreshStats:
    with store.transaction():
        _, derived = _derive(store, config, now, None)
        store.contacts.clear_queues()
        store.standings.clear()
        results = _compute(store, config, now, None)
        _save(store, results)
        store.standings.set_fingerprint(_fingerprint(store, config))
        persons = Persons(store, config)
        store.standings.set_person_map(persons.belonging(store, config))
    return RefreshStats.of(True, sum(1 for r in results if r[1] is not None), derived)


def refresh(store: Store, config: Config, now: datetime) -> RefreshStats:
    if store.standings.fingerprint() != _fingerprint(store, config):
        return recompute(store, config, now)
    with store.transaction():
        pending = store.contacts.pending()
        touched, derived = _derive(store, config, now, pending) if pending else (set(), None)
        touched |= store.contacts.touched()
        expired = store.standings.expired(now)
        store.contacts.clear_queues()
        persons = Persons(store, config)
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
            results = [r for r in _compute(store, config, now, members) if r[0] in keys]
            settings = store.decisions.settings()
            added = _added(config, persons, settings)
            for key in keys - {r[0] for r in results}:
                if key in added:
                    results.append((key, *standing(config, key, Aggregate(), settings, {}, now)))
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
        found = [status for _, status, _ in _compute(store, config, now, None, with_future=False)]
        return sorted((s for s in found if s is not None), key=lambda s: s.key)
    return [from_text(text) for text in store.standings.listed()]
