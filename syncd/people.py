"""The user's decisions about people — merge, unmerge, set, remind — and finding a PERSON argument.

Decisions live only in ``person_links``, ``person_settings`` and ``reminders``, apart from synced data,
so a full resync never loses them. Every decision queues the affected addresses for the engine's next
incremental refresh.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from datetime import UTC, date, datetime, timedelta

from connectors.addresses import normalise
from syncd.config import Config
from syncd.engine.refresh import Persons
from syncd.errors import UsageError
from syncd.store import Store


def _touch(store: Store, addresses: Iterable[str]) -> None:
    store.db.executemany("INSERT OR IGNORE INTO touched_addresses(address) VALUES (?)", ((a,) for a in addresses))


def resolve(store: Store, config: Config, text: str) -> str:
    """An address, or an unambiguous part of a name or address → the person's key."""
    persons = Persons(store, config)
    address = normalise(text)
    if address is not None:
        known = store.db.execute(
            "SELECT 1 FROM contacts WHERE address = ? UNION SELECT 1 FROM person_settings WHERE person = ? "
            "UNION SELECT 1 FROM participants WHERE address = ? LIMIT 1",
            (address, address, address),
        ).fetchone()
        configured = any(address in p.addresses for p in config.people)
        if known or configured or address in persons.links:
            return persons.key(address)
        raise UsageError(f"nobody with the address {address} is known yet (has it been pulled?)")
    needle = text.strip().lower()
    if not needle:
        raise UsageError("name a person: an address or part of their name")
    candidates: dict[str, str] = {}
    for row in store.db.execute("SELECT person, data FROM person_status WHERE data != 'null'"):
        key, data = row[0], row[1]
        status = json.loads(data)
        haystack = [status["name"].lower(), *status["addresses"]]
        if any(needle in item for item in haystack):
            candidates[key] = status["name"]
    exact = {k: n for k, n in candidates.items() if n.lower() == needle}
    if len(exact) == 1:
        return next(iter(exact))
    if len(candidates) == 1:
        return next(iter(candidates))
    if not candidates:
        raise UsageError(f"nobody matches '{text}' (try an address, or 'syncd people --all')")
    listed = "; ".join(f"{name} <{key}>" for key, name in sorted(candidates.items())[:10])
    more = f" and {len(candidates) - 10} more" if len(candidates) > 10 else ""
    raise UsageError(f"'{text}' matches several people: {listed}{more}; be more precise")


def merge(store: Store, into: str, other: str) -> None:
    """Make ``other`` (and everything merged into it) part of ``into``; ``into`` stays the person's key."""
    into, other = normalise(into) or into, normalise(other) or other
    if into == other:
        raise UsageError(f"{into} is already that person")
    with store.transaction() as db:
        moved = [r[0] for r in db.execute("SELECT address FROM person_links WHERE person = ?", (other,))]
        db.execute("INSERT OR REPLACE INTO person_links(address, person) VALUES (?, ?)", (other, into))
        db.execute("UPDATE person_links SET person = ? WHERE person = ?", (into, other))
        db.execute("DELETE FROM person_links WHERE address = person")
        # Keep the other person's decisions where the merged person has none of their own.
        row = db.execute("SELECT name, every_days, tier, note, ignored FROM person_settings WHERE person = ?", (other,))
        theirs = row.fetchone()
        if theirs is not None:
            db.execute("INSERT OR IGNORE INTO person_settings(person) VALUES (?)", (into,))
            db.execute(
                "UPDATE person_settings SET name = COALESCE(name, ?), every_days = COALESCE(every_days, ?), "
                "tier = COALESCE(tier, ?), note = COALESCE(note, ?), ignored = MAX(ignored, ?) WHERE person = ?",
                (*theirs, into),
            )
            db.execute("DELETE FROM person_settings WHERE person = ?", (other,))
        db.execute("UPDATE reminders SET person = ? WHERE person = ?", (into, other))
        _touch(store, [into, other, *moved])


def unmerge(store: Store, address: str) -> None:
    normal = normalise(address)
    if normal is None:
        raise UsageError(f"'{address}' is not an email address")
    with store.transaction() as db:
        row = db.execute("SELECT person FROM person_links WHERE address = ?", (normal,)).fetchone()
        if row is None:
            raise UsageError(f"{normal} was not merged into anyone (merges from the config are undone there)")
        db.execute("DELETE FROM person_links WHERE address = ?", (normal,))
        _touch(store, [normal, row[0]])


def set_person(
    store: Store, key: str, every: timedelta | None = None, tier: str | None = None, note: str | None = None,
    ignore: bool | None = None, name: str | None = None,
) -> None:
    """Record decisions about a person; None leaves a decision as it was, an empty note clears the note."""
    if every is not None and every < timedelta(days=1):
        raise UsageError("--every must be at least 1d")
    with store.transaction() as db:
        db.execute("INSERT OR IGNORE INTO person_settings(person) VALUES (?)", (key,))
        if every is not None:
            db.execute("UPDATE person_settings SET every_days = ? WHERE person = ?", (every.days, key))
        if tier is not None:
            db.execute("UPDATE person_settings SET tier = ? WHERE person = ?", (tier, key))
        if note is not None:
            db.execute("UPDATE person_settings SET note = ? WHERE person = ?", (note or None, key))
        if ignore is not None:
            db.execute("UPDATE person_settings SET ignored = ? WHERE person = ?", (int(ignore), key))
        if name is not None:
            db.execute("UPDATE person_settings SET name = ? WHERE person = ?", (name, key))
        _touch(store, [key])


def add_reminder(store: Store, key: str, on: date, note: str | None) -> int:
    with store.transaction() as db:
        cur = db.execute(
            "INSERT INTO reminders(person, on_date, note, created) VALUES (?, ?, ?, ?)",
            (key, on.isoformat(), note, datetime.now(UTC).isoformat(timespec="seconds")),
        )
        return int(cur.lastrowid or 0)
