"""The user's decisions about people: merges, per-person settings, one-off reminders.

Owns ``person_links`` (an address merged into a person), ``card_splits`` (an address taken out of the
person its address-book card makes), ``person_settings`` (name, rhythm, tier, note, ignored), ``reminders``
and ``merge_rejections`` (suggested merges turned down). Only the user writes these (``syncd set``,
``merge``, ``unmerge``, ``remind``, ``merge --suggest --reject``),
apart from synced data, so a full resync never loses them. Every decision queues the addresses it
affects for the engine's next incremental refresh (:mod:`syncd.store.contacts`).
"""

from __future__ import annotations

import dataclasses
from datetime import UTC, date, datetime, timedelta
from typing import Any

from connectors.addresses import normalise
from syncd.errors import UsageError
from syncd.store.connection import Connection
from syncd.store.contacts import Contacts

Settings = dict[str, Any]  # name, every_days, tier, note, ignored: what the user set (None: not set)


@dataclasses.dataclass(frozen=True)
class Reminder:
    id: int
    person: str  # the key it was set for (merges since may have joined it to another person)
    on: date
    note: str | None


class Decisions:
    def __init__(self, connection: Connection, contacts: Contacts) -> None:
        self._connection = connection
        self._db = connection.db
        self._contacts = contacts

    # ---- reading -----------------------------------------------------------------------------------

    def links(self) -> dict[str, str]:
        """Address → the person it was merged into."""
        return dict(self._db.execute("SELECT address, person FROM person_links").fetchall())

    def splits(self) -> set[str]:
        """Addresses the user took out of the person their address-book card makes."""
        return {row[0] for row in self._db.execute("SELECT address FROM card_splits")}

    def settings(self) -> dict[str, Settings]:
        """Person key → their settings."""
        cur = self._db.execute("SELECT person, name, every_days, tier, note, ignored FROM person_settings")
        return {r[0]: {"name": r[1], "every_days": r[2], "tier": r[3], "note": r[4], "ignored": r[5]} for r in cur}

    def has_settings(self, key: str) -> bool:
        row = self._db.execute("SELECT 1 FROM person_settings WHERE person = ?", (key,)).fetchone()
        return row is not None

    def reminders(self) -> list[Reminder]:
        rows = self._db.execute("SELECT id, person, on_date, note FROM reminders ORDER BY id")
        return [Reminder(rid, person, date.fromisoformat(on), note) for rid, person, on, note in rows]

    # ---- deciding ----------------------------------------------------------------------------------

    def merge(self, into: str, other: str) -> None:
        """Make ``other`` (and everything merged into it) part of ``into``; ``into`` stays the person's key."""
        into, other = normalise(into) or into, normalise(other) or other
        if into == other:
            raise UsageError(f"{into} is already that person")
        with self._connection.transaction() as db:
            moved = [r[0] for r in db.execute("SELECT address FROM person_links WHERE person = ?", (other,))]
            db.execute("INSERT OR REPLACE INTO person_links(address, person) VALUES (?, ?)", (other, into))
            db.execute("UPDATE person_links SET person = ? WHERE person = ?", (into, other))
            db.execute("DELETE FROM person_links WHERE address = person")
            # Keep the other person's decisions where the merged person has none of their own.
            row = db.execute(
                "SELECT name, every_days, tier, note, ignored FROM person_settings WHERE person = ?", (other,)
            )
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
            # A merge is newer than an earlier unmerge of a card's address: the address joins again.
            db.execute("DELETE FROM card_splits WHERE address IN (?, ?)", (into, other))
            self._contacts.touch([into, other, *moved])

    def unmerge(self, address: str) -> None:
        normal = normalise(address)
        if normal is None:
            raise UsageError(f"'{address}' is not an email address")
        with self._connection.transaction() as db:
            row = db.execute("SELECT person FROM person_links WHERE address = ?", (normal,)).fetchone()
            if row is not None:
                db.execute("DELETE FROM person_links WHERE address = ?", (normal,))
                self._contacts.touch([normal, row[0]])
            # A card in the address book joins its addresses: taking one out is a decision of its own, kept
            # apart from the card (synced data), so it holds whatever the next pull brings.
            carded = [r[0] for r in db.execute(
                "SELECT b.address FROM card_addresses a JOIN card_addresses b ON b.account = a.account "
                "AND b.card = a.card WHERE a.address = ? AND b.address != a.address", (normal,)
            )]
            split = db.execute("SELECT 1 FROM card_splits WHERE address = ?", (normal,)).fetchone()
            if carded and split is None:
                db.execute("INSERT INTO card_splits(address) VALUES (?)", (normal,))
                self._contacts.touch([normal, *carded])
            elif row is None:
                raise UsageError(f"{normal} was not merged into anyone (merges from the config are undone there)")

    def set_person(
        self, key: str, every: timedelta | None = None, tier: str | None = None, note: str | None = None,
        ignore: bool | None = None, name: str | None = None,
    ) -> None:
        """Record decisions about a person; None leaves a decision as it was, an empty note clears the note."""
        if every is not None and every < timedelta(days=1):
            raise UsageError("--every must be at least 1d")
        with self._connection.transaction() as db:
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
            self._contacts.touch([key])

    def add_reminder(self, key: str, on: date, note: str | None) -> int:
        with self._connection.transaction() as db:
            cur = db.execute(
                "INSERT INTO reminders(person, on_date, note, created) VALUES (?, ?, ?, ?)",
                (key, on.isoformat(), note, datetime.now(UTC).isoformat(timespec="seconds")),
            )
            self._contacts.touch([key])  # a one-off keeps the person warm and is shown with them
            return int(cur.lastrowid or 0)

    def reject_suggestion(self, a: str, b: str) -> None:
        """Never suggest merging ``a`` and ``b`` again (``syncd merge --suggest --reject N``)."""
        with self._connection.transaction() as db:
            db.execute("INSERT OR IGNORE INTO merge_rejections(a, b) VALUES (?, ?)", tuple(sorted((a, b))))

    def rejected_suggestions(self) -> set[tuple[str, str]]:
        return {(a, b) for a, b in self._db.execute("SELECT a, b FROM merge_rejections")}
