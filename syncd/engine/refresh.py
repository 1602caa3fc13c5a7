"""The relationship engine: persons, last contact, cadence, due — the rules of the product file.

Two stages. ``syncd.engine.qualifying`` turns interactions into qualifying contacts (once per interaction, kept
in the ``contacts`` table). This module groups addresses into persons and aggregates their contacts
(in SQL) into a :class:`syncd.engine.standing.PersonStatus`. ``refresh`` is incremental: it derives contacts only
for new interactions and recomputes only persons they touched, persons whose decisions changed, and
persons whose standing changes by itself with time (``valid_until``: a booked meeting that has started,
a relationship turning dormant). ``recompute`` does everything and gives the same result.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from collections import defaultdict
from collections.abc import Iterable
from datetime import UTC, date, datetime, timedelta
from typing import Any

from connectors.addresses import normalise, provider_equivalent
from syncd.config import Config
from syncd.engine import cadence, qualifying
from syncd.engine.standing import Evidence, PersonStatus
from syncd.store import Store

DAY = 86400
# A "series ended" follow-up older than this is history, not a reminder.
SERIES_LOOKBACK = timedelta(days=30)


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

    def describe(self) -> str:
        kind = "full recompute" if self.full else "recomputed"
        text = f"engine: {kind}: {self.interactions:,} new interactions, {self.persons:,} persons updated"
        if self.implausible:
            text += f"; {self.implausible:,} with implausible dates (before 1990 or in the future) not counted"
        if self.ignored_addresses:
            text += f"; {self.ignored_addresses:,} role or blocklisted addresses ignored"
        if self.invalid_addresses:
            text += f"; {self.invalid_addresses:,} recipients that were no email address ignored"
        return text

    @classmethod
    def of(cls, full: bool, persons: int, derived: qualifying.DeriveStats | None) -> RefreshStats:
        if derived is None:
            return cls(full, 0, persons)
        return cls(
            full, derived.interactions, persons, derived.implausible, derived.bulk, derived.over_cap,
            derived.ignored_addresses, derived.invalid_addresses,
        )


# ---- owners, persons ------------------------------------------------------------------------------


def owner_addresses(store: Store, config: Config) -> set[str]:
    owners = {a for account in config.accounts.values() for a in account.me}
    for row in store.db.execute("SELECT owner_addresses FROM accounts WHERE owner_addresses IS NOT NULL"):
        owners.update(json.loads(row[0]))
    return {a for a in (normalise(x) for x in owners) if a}


def _rules(store: Store, config: Config) -> qualifying.Rules:
    return qualifying.Rules(
        owners=frozenset(owner_addresses(store, config)),
        max_recipients=config.engine.max_recipients,
        max_attendees=config.engine.max_attendees,
        blocklist=config.engine.blocklist,
    )


class Persons:
    """Address → person key: user merges first, then ``[[people]]`` in the config, then equivalences."""

    def __init__(self, store: Store, config: Config) -> None:
        self.links = dict(store.db.execute("SELECT address, person FROM person_links").fetchall())
        self.configured: dict[str, str] = {}
        for person in config.people:
            for address in person.addresses:
                self.configured.setdefault(address, person.addresses[0])
        self.equivalences = config.engine.provider_equivalences

    def key(self, address: str) -> str:
        seen = set()
        key = address
        while key not in seen:  # follow merge chains (A merged into B merged into C)
            seen.add(key)
            nxt = self.links.get(key) or self.configured.get(key)
            if nxt is None and self.equivalences:
                nxt = provider_equivalent(key)
            if nxt is None or nxt == key:
                break
            key = nxt
        return key


# ---- aggregation ----------------------------------------------------------------------------------


@dataclasses.dataclass
class _Aggregate:
    last: dict[str, tuple[int, int]] = dataclasses.field(default_factory=dict)  # kind -> (ts, interaction)
    days: set[int] = dataclasses.field(default_factory=set)
    next_meeting: int | None = None  # the earliest booked (future) meeting
    next_contact: int | None = None  # the earliest future contact of any kind
    names: dict[str, int] = dataclasses.field(default_factory=dict)
    addresses: set[str] = dataclasses.field(default_factory=set)


def _select(db: Any, addresses: Iterable[str] | None) -> str:
    if addresses is None:
        return ""
    db.execute("CREATE TEMP TABLE IF NOT EXISTS engine_sel (address TEXT PRIMARY KEY)")
    db.execute("DELETE FROM engine_sel")
    db.executemany("INSERT OR IGNORE INTO engine_sel VALUES (?)", ((a,) for a in addresses))
    return "AND address IN (SELECT address FROM engine_sel)"


def _aggregate(
    store: Store, persons: Persons, cutoff: int, addresses: Iterable[str] | None, with_future: bool
) -> dict[str, _Aggregate]:
    db = store.db
    where = _select(db, addresses)
    out: dict[str, _Aggregate] = defaultdict(_Aggregate)
    key_of: dict[str, str] = {}

    def person(address: str) -> _Aggregate:
        key = key_of.get(address)
        if key is None:
            key = key_of[address] = persons.key(address)
        agg = out[key]
        agg.addresses.add(address)
        return agg

    # SQLite: with MAX(), bare columns come from the row holding the maximum (documented behaviour).
    for address, kind, ts, iid in db.execute(
        f"SELECT address, kind, MAX(ts), interaction_id FROM contacts WHERE ts <= ? {where} GROUP BY address, kind",
        (cutoff,),
    ):
        agg = person(address)
        if kind not in agg.last or ts > agg.last[kind][0]:
            agg.last[kind] = (ts, iid)
    # Contact days, one row per address (a million (address, day) rows cost more to fetch than to split).
    for address, days in db.execute(
        f"SELECT address, group_concat(ts / {DAY}) FROM contacts WHERE ts <= ? {where} GROUP BY address", (cutoff,)
    ):
        person(address).days.update(map(int, days.split(",")))
    if with_future:
        # Contacts after "now": booked meetings, and mail dated ahead of the clock. Neither is a last
        # contact yet; both become one when their time comes (the person's ``valid_until``).
        for address, kind, ts in db.execute(
            f"SELECT address, kind, MIN(ts) FROM contacts WHERE ts > ? {where} GROUP BY address, kind", (cutoff,)
        ):
            agg = person(address)
            agg.next_contact = ts if agg.next_contact is None else min(agg.next_contact, ts)
            if kind == "meeting":
                agg.next_meeting = ts if agg.next_meeting is None else min(agg.next_meeting, ts)
    # Display names only of the addresses being computed (the selection, or everyone).
    chosen = "WHERE address IN (SELECT address FROM engine_sel)" if where else ""
    for address, name, count in db.execute(f"SELECT address, name, seen FROM address_names {chosen}"):
        found = out.get(key_of.get(address) or persons.key(address))
        if found is not None:
            found.names[name] = found.names.get(name, 0) + count
    return out


# ---- one person's standing ------------------------------------------------------------------------


Details = dict[int, tuple[str | None, str | None]]  # interaction id -> (subject, link)


def _details(store: Store, aggregates: Iterable[_Aggregate]) -> Details:
    """Subject and link of every interaction that set someone's last contact: one query per 500 ids,
    not three per person (a full recompute of 20,000 people otherwise spends most of its Python time here)."""
    ids = sorted({iid for agg in aggregates for _, iid in agg.last.values()})
    found: Details = {}
    for start in range(0, len(ids), 500):
        chunk = ids[start : start + 500]
        rows = store.db.execute(
            f"SELECT id, subject, link FROM interactions WHERE id IN ({','.join('?' * len(chunk))})", chunk
        )
        found.update((iid, (subject, link)) for iid, subject, link in rows)
    return found


def _evidence(details: Details, kind: str, pair: tuple[int, int] | None) -> Evidence | None:
    if pair is None:
        return None
    ts, iid = pair
    subject, link = details.get(iid, (None, None))
    return Evidence(iid, datetime.fromtimestamp(ts, UTC), kind, subject, link)


def standing(
    config: Config, key: str, agg: _Aggregate, every_setting: dict[str, dict[str, Any]], details: Details,
    now: datetime,
) -> tuple[PersonStatus, int | None]:
    """A person's status at ``now``, and when it will change by itself (unix seconds, or None)."""
    configured = next((p for p in config.people if p.addresses[0] == key), None)
    settings = _merged(every_setting, key, agg.addresses)
    # Sorted, so the listing is stable; the key says which one is primary.
    addresses = tuple(sorted(agg.addresses | set(configured.addresses if configured else ()) | {key}))
    last_out = _evidence(details, "outbound", agg.last.get("outbound"))
    last_in = _evidence(details, "inbound", agg.last.get("inbound"))
    last_meet = _evidence(details, "meeting", agg.last.get("meeting"))
    candidates = [e for e in (last_out, last_in, last_meet) if e is not None]
    # Ties (one interaction both ways is impossible, but two at the same second are not): the
    # outbound one wins, being the stronger evidence of a relationship.
    last = max(candidates, key=lambda e: e.at) if candidates else None
    name = (
        settings.get("name")
        or (configured.name if configured else None)
        or (max(agg.names.items(), key=lambda kv: (kv[1], kv[0]))[0] if agg.names else key)
    )
    tier = cadence.tier_for(addresses, config.tiers, settings.get("tier") or (configured.tier if configured else None))
    # "Unless the user adds them": an explicit rhythm or tier, or a [[people]] entry, makes a relationship.
    user_added = bool(settings.get("every_days") or settings.get("tier") or configured)
    relationship = last_out is not None or last_meet is not None or user_added
    every, rule = cadence.choose(
        settings.get("every_days"), configured.every if configured else None, tier, agg.days, config
    )
    next_meeting = datetime.fromtimestamp(agg.next_meeting, UTC) if agg.next_meeting else None
    status = PersonStatus(
        key=key, name=name, addresses=addresses, relationship=relationship, tier=tier.name if tier else None,
        every_days=every, cadence_rule=rule, last_contact=last, last_outbound=last_out, last_inbound=last_in,
        last_meeting=last_meet, contact_days=len(agg.days), due=None, remind=False, reason="",
        note=settings.get("note") or (configured.note if configured else None), next_meeting=next_meeting,
        ignored=bool(settings.get("ignored")),
    )
    changes = cadence.decide(status, tier, config, now)
    # A future contact (a booked meeting starting, mail dated ahead of the clock) becomes a contact then.
    pending = [t for t in (changes, agg.next_contact) if t is not None]
    return status, (min(pending) if pending else None)


# ---- refresh / recompute / people -----------------------------------------------------------------


def _settings(store: Store) -> dict[str, dict[str, Any]]:
    cur = store.db.execute("SELECT person, name, every_days, tier, note, ignored FROM person_settings")
    return {r[0]: {"name": r[1], "every_days": r[2], "tier": r[3], "note": r[4], "ignored": r[5]} for r in cur}


def _merged(settings: dict[str, dict[str, Any]], key: str, addresses: Iterable[str]) -> dict[str, Any]:
    """The person's decisions: their key's, then (for what that leaves open) those stored under another of
    their addresses — a decision made before a config merge or an equivalence joined the addresses
    would otherwise be silently lost (``syncd merge`` moves them itself)."""
    out = dict(settings.get(key, {}))
    for address in sorted(set(addresses) - {key}):
        for name, value in settings.get(address, {}).items():
            if not out.get(name):
                out[name] = value
    return out


def _added(store: Store, config: Config, persons: Persons, settings: dict[str, dict[str, Any]]) -> set[str]:
    """Keys of the persons the user added (a decision or a [[people]] entry): listed even without contact."""
    return {persons.key(k) for k in settings} | {persons.key(p.addresses[0]) for p in config.people}


def _fingerprint(store: Store, config: Config) -> str:
    parts = [
        sorted(owner_addresses(store, config)),
        repr(config.engine), repr(config.tiers), repr(config.people),
    ]
    return hashlib.sha256(json.dumps(parts, default=str).encode()).hexdigest()


Result = tuple[str, PersonStatus | None, int | None]  # key, standing (None: not listed yet), valid until


def _compute(
    store: Store, config: Config, now: datetime, addresses: Iterable[str] | None, with_future: bool = True
) -> list[Result]:
    persons = Persons(store, config)
    settings = _settings(store)
    added = _added(store, config, persons, settings)
    aggregates = _aggregate(store, persons, int(now.timestamp()), addresses, with_future)
    if addresses is None:  # people the user added with no contacts yet still exist
        for key in added:
            aggregates.setdefault(key, _Aggregate())
    results: list[Result] = []
    details = _details(store, aggregates.values())
    for key, agg in aggregates.items():
        status, until = standing(config, key, agg, settings, details, now)
        # Someone known only from mail dated in the future is nobody yet (an implausible date): the row
        # is kept, unlisted, only so the incremental refresh looks at them again when that date comes.
        hidden = not agg.last and agg.next_meeting is None and key not in added
        results.append((key, None if hidden else status, until))
    return results


def _save(store: Store, results: list[Result]) -> None:
    store.db.executemany(
        "INSERT OR REPLACE INTO person_status(person, valid_until, data) VALUES (?, ?, ?)",
        ((key, until, json.dumps(None if s is None else _to_json(s))) for key, s, until in results),
    )


def recompute(store: Store, config: Config, now: datetime) -> RefreshStats:
    with store.transaction() as db:
        _, derived = qualifying.derive(db, _rules(store, config), now)
        db.execute("DELETE FROM pending_interactions")
        db.execute("DELETE FROM touched_addresses")
        db.execute("DELETE FROM person_status")
        results = _compute(store, config, now, None)
        _save(store, results)
        db.execute(
            "INSERT OR REPLACE INTO engine_state(key, value) VALUES ('fingerprint', ?)", (_fingerprint(store, config),)
        )
        _store_map(store, _person_map(store, config, Persons(store, config)))
    return RefreshStats.of(True, sum(1 for r in results if r[1] is not None), derived)


def refresh(store: Store, config: Config, now: datetime) -> RefreshStats:
    stored = store.db.execute("SELECT value FROM engine_state WHERE key = 'fingerprint'").fetchone()
    if stored is None or stored[0] != _fingerprint(store, config):
        return recompute(store, config, now)
    with store.transaction() as db:
        pending = [r[0] for r in db.execute("SELECT interaction_id FROM pending_interactions")]
        touched, derived = qualifying.derive(db, _rules(store, config), now, pending) if pending else (set(), None)
        touched.update(r[0] for r in db.execute("SELECT address FROM touched_addresses"))
        expired = [
            r[0]
            for r in db.execute("SELECT person FROM person_status WHERE valid_until <= ?", (int(now.timestamp()),))
        ]
        db.execute("DELETE FROM pending_interactions")
        db.execute("DELETE FROM touched_addresses")
        persons = Persons(store, config)
        # Addresses that changed person (a merge, an unmerge, an equivalence): both the person they
        # left and the one they joined are recomputed.
        before = _stored_map(store)
        after = _person_map(store, config, persons)
        moved = {a for a in before.keys() | after.keys() if before.get(a, a) != after.get(a, a)}
        touched |= moved
        keys = {persons.key(a) for a in touched} | {before.get(a, a) for a in touched} | set(expired)
        results: list[Result] = []
        for key in [k for k in keys if persons.key(k) != k]:  # merged away: no row of its own
            keys.discard(key)
            db.execute("DELETE FROM person_status WHERE person = ?", (key,))
        if keys:
            members = touched | keys | {a for a, k in after.items() if k in keys}
            results = [r for r in _compute(store, config, now, members) if r[0] in keys]
            settings = _settings(store)
            added = _added(store, config, persons, settings)
            for key in keys - {r[0] for r in results}:
                if key in added:
                    results.append((key, *standing(config, key, _Aggregate(), settings, {}, now)))
                else:
                    db.execute("DELETE FROM person_status WHERE person = ?", (key,))
            _save(store, results)
        if moved:
            _store_map(store, after)
    return RefreshStats.of(False, sum(1 for r in results if r[1] is not None), derived)


def _person_map(store: Store, config: Config, persons: Persons) -> dict[str, str]:
    """Every address that belongs to a person other than itself → that person's key."""
    linked = {r[0] for r in store.db.execute("SELECT address FROM person_links")}
    linked |= {r[0] for r in store.db.execute("SELECT person FROM person_links")}
    linked |= {a for person in config.people for a in person.addresses}
    linked |= {r[0] for r in store.db.execute("SELECT person FROM person_settings")}  # listed without contact
    if config.engine.provider_equivalences:
        # Only Gmail addresses have equivalents; the contacts' primary key starts with the address,
        # so this is a walk over the distinct addresses, not over every contact.
        linked |= {r[0] for r in store.db.execute("SELECT DISTINCT address FROM contacts")
                   if provider_equivalent(r[0]) != r[0]}
    found = {a: persons.key(a) for a in linked}
    return {a: k for a, k in found.items() if k != a}


def _stored_map(store: Store) -> dict[str, str]:
    row = store.db.execute("SELECT value FROM engine_state WHERE key = 'person_map'").fetchone()
    return dict(json.loads(row[0])) if row else {}


def _store_map(store: Store, mapping: dict[str, str]) -> None:
    store.db.execute(
        "INSERT OR REPLACE INTO engine_state(key, value) VALUES ('person_map', ?)",
        (json.dumps(mapping, sort_keys=True),),
    )


def people(store: Store, config: Config, now: datetime, historical: bool = False) -> list[PersonStatus]:
    """Everyone syncd knows, with their standing at ``now``.

    ``historical=False`` reads the standing ``refresh`` keeps; ``historical=True`` computes it afresh as if today
    were ``now``, ignoring every interaction after it (booked meetings included).
    """
    if historical:
        found = [status for _, status, _ in _compute(store, config, now, None, with_future=False)]
        return sorted((s for s in found if s is not None), key=lambda s: s.key)
    rows = store.db.execute("SELECT data FROM person_status WHERE data != 'null' ORDER BY person")
    return [_from_json(json.loads(row[0])) for row in rows]


# ---- serialisation of the cache --------------------------------------------------------------------


_EVIDENCE = ("last_contact", "last_outbound", "last_inbound", "last_meeting")


def _to_json(status: PersonStatus) -> dict[str, Any]:
    # By hand: dataclasses.asdict deep-copies every value and was the slowest step of a full recompute.
    data = {field.name: getattr(status, field.name) for field in dataclasses.fields(status)}
    for name in _EVIDENCE:
        evidence = data[name]
        if evidence is not None:
            data[name] = {"interaction_id": evidence.interaction_id, "at": evidence.at.isoformat(),
                          "kind": evidence.kind, "subject": evidence.subject, "link": evidence.link}
    data["addresses"] = list(status.addresses)
    data["due"] = status.due.isoformat() if status.due else None
    data["next_meeting"] = status.next_meeting.isoformat() if status.next_meeting else None
    return data


def _from_json(data: dict[str, Any]) -> PersonStatus:
    for field in _EVIDENCE:
        if data[field] is not None:
            data[field] = Evidence(**{**data[field], "at": datetime.fromisoformat(data[field]["at"])})
    data["due"] = date.fromisoformat(data["due"]) if data["due"] else None
    data["next_meeting"] = datetime.fromisoformat(data["next_meeting"]) if data["next_meeting"] else None
    data["addresses"] = tuple(data["addresses"])
    return PersonStatus(**data)
