"""The user's address books as last pulled: cards, their addresses and groups, and the groups themselves.

Owns ``cards`` (a card or a group: a group is a card of kind ``group``), ``card_addresses``, ``card_groups``
(the names written on a card, or the groups it points at) and ``group_members`` (the UIDs a group card
lists). Synced data like the interactions: rebuilt from the address books at will, never touching the
user's decisions. Batches follow the same rules as interaction batches and share their cursor bookkeeping
(:meth:`syncd.store.synced.SyncedData.generation`): one transaction per batch with its cursor; rows of a
resource that a completed full sync did not see are gone upstream and are deleted.

A card's groups are resolved when read, never copied onto the card, so a group renamed or deleted upstream
changes in one place: its tier matches the new name, or nothing, while everything else stays. Every change
queues the addresses it affects for the engine (:meth:`syncd.store.contacts.Contacts.touch`): a card's old
and new addresses, and those of every card in a group that changed. A card re-read without change (a whole
file read again for one edit) touches nobody: each row keeps a digest of what it says.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import sqlite3
from collections.abc import Iterable, Iterator
from datetime import datetime

from connectors.addresses import normalise
from connectors.base import Card, CardBatch, CardGroup
from syncd.store.connection import Connection, Selection, chunks, utc_now_iso
from syncd.store.contacts import Contacts
from syncd.store.synced import SyncedData


@dataclasses.dataclass(frozen=True, slots=True)
class CardFacts:
    """What one card says about the person one of its addresses belongs to."""

    account: str
    card: str  # the card's provider id
    name: str | None
    organisation: str | None
    groups: tuple[str, ...]
    birthday: str | None  # Birthday.text(): 1970-04-12 or --04-12
    first_seen: str  # ISO, UTC


# A card's groups, resolved: names written on it, groups it points at, groups whose card lists its UID.
_GROUP_NAMES = """
    SELECT g.account, g.card, g.name FROM card_groups g WHERE g.name IS NOT NULL {card_scope}
    UNION
    SELECT g.account, g.card, grp.name FROM card_groups g
        JOIN cards grp ON grp.account = g.account AND grp.provider_id = g.group_id AND grp.kind = 'group'
        WHERE COALESCE(grp.name, '') != '' {card_scope}
    UNION
    SELECT c.account, c.provider_id, grp.name FROM cards c
        JOIN group_members m ON m.account = c.account AND m.member_uid = c.uid
        JOIN cards grp ON grp.account = m.account AND grp.provider_id = m.group_id
        WHERE c.kind = 'card' AND COALESCE(grp.name, '') != '' {member_scope}
"""
_SELECTED_CARDS = (
    "AND ({alias}.account, {alias}.{column}) IN (SELECT account, card FROM card_addresses "
    "WHERE address IN (SELECT address FROM temp.selected))"
)


def _digest(*parts: object) -> str:
    return hashlib.sha256(json.dumps(parts, default=str).encode()).hexdigest()[:32]


class Cards:
    def __init__(self, connection: Connection, synced: SyncedData, contacts: Contacts) -> None:
        self._connection = connection
        self._db = connection.db
        self._synced = synced
        self._contacts = contacts

    # ---- applying a batch ---------------------------------------------------------------------------------

    def known_ids(self, account: str, resource: str) -> set[str]:
        rows = self._db.execute("SELECT provider_id FROM cards WHERE account = ? AND resource = ?", (account, resource))
        return {row[0] for row in rows}

    def apply_batch(self, account: str, batch: CardBatch, now: datetime | None = None, pull: int = 0) -> int:
        """Store one batch of cards and groups with its cursor in one transaction; returns how many cards and
        groups were new or changed. ``now`` (default: the clock) is when a new card counts as first read;
        ``pull`` is the account's pull number, for the skipped items it keeps (as for interactions)."""
        seen_at = now.isoformat(timespec="seconds") if now is not None else utc_now_iso()
        touched: set[str] = set()
        with self._connection.transaction() as db:
            generation = self._synced.generation(db, account, batch.resource, batch.full)
            changed = 0
            for group in batch.groups:
                changed += self._put_group(db, account, batch.resource, generation, group, seen_at, touched)
            for card in batch.cards:
                changed += self._put_card(db, account, batch.resource, generation, card, seen_at, touched)
            for provider_id in batch.seen:
                self._stamp(db, account, provider_id, batch.resource, generation)
            self._delete(db, account, batch.deleted, touched)
            if batch.full and batch.complete:
                stale = [row[0] for row in db.execute(
                    "SELECT provider_id FROM cards WHERE account = ? AND resource = ? AND generation < ?",
                    (account, batch.resource, generation),
                )]
                changed += self._delete(db, account, stale, touched)
            read = [card.provider_id for card in batch.cards] + [group.provider_id for group in batch.groups]
            self._synced.note_skips(db, account, batch, read, pull)
            self._synced.move_cursor(db, account, batch.resource, batch.cursor, batch.full, batch.complete)
            self._contacts.touch(touched)
        return changed

    def _existing(self, db: sqlite3.Connection, account: str, provider_id: str) -> tuple[str, str] | None:
        """(kind, digest) of a stored card or group."""
        row = db.execute(
            "SELECT kind, digest FROM cards WHERE account = ? AND provider_id = ?", (account, provider_id)
        ).fetchone()
        return None if row is None else (row[0], row[1])

    def _stamp(self, db: sqlite3.Connection, account: str, provider_id: str, resource: str, generation: int) -> None:
        db.execute(
            "UPDATE cards SET resource = ?, generation = ? WHERE account = ? AND provider_id = ?",
            (resource, generation, account, provider_id),
        )

    def _put_card(
        self, db: sqlite3.Connection, account: str, resource: str, generation: int, card: Card, seen_at: str,
        touched: set[str],
    ) -> int:
        addresses = list(dict.fromkeys(a for a in (normalise(e) for e in card.emails) if a))
        birthday = card.birthday.text() if card.birthday else None
        names = list(dict.fromkeys(g.strip() for g in card.groups if g.strip()))
        digest = _digest("card", card.name, addresses, card.organisation, names, sorted(card.memberships),
                         card.uid, birthday)
        existing = self._existing(db, account, card.provider_id)
        if existing == ("card", digest):
            self._stamp(db, account, card.provider_id, resource, generation)
            return 0
        if existing is not None:
            touched.update(self._addresses_of(db, account, [card.provider_id]))
            if existing[0] == "group":
                touched.update(self._members_of(db, account, card.provider_id))
        db.execute(
            "INSERT INTO cards(account, provider_id, resource, generation, kind, uid, name, organisation, birthday, "
            "first_seen, digest) VALUES (?, ?, ?, ?, 'card', ?, ?, ?, ?, ?, ?) "
            "ON CONFLICT(account, provider_id) DO UPDATE SET resource = excluded.resource, "
            "generation = excluded.generation, kind = 'card', uid = excluded.uid, name = excluded.name, "
            "organisation = excluded.organisation, birthday = excluded.birthday, digest = excluded.digest",
            (account, card.provider_id, resource, generation, card.uid, card.name or None, card.organisation or None,
             birthday, seen_at, digest),
        )
        for table, column in (("card_addresses", "card"), ("card_groups", "card"), ("group_members", "group_id")):
            db.execute(f"DELETE FROM {table} WHERE account = ? AND {column} = ?", (account, card.provider_id))
        db.executemany(
            "INSERT INTO card_addresses(account, card, position, address) VALUES (?, ?, ?, ?)",
            [(account, card.provider_id, position, address) for position, address in enumerate(addresses)],
        )
        db.executemany(
            "INSERT INTO card_groups(account, card, name, group_id) VALUES (?, ?, ?, ?)",
            [(account, card.provider_id, name, None) for name in names]
            + [(account, card.provider_id, None, group) for group in dict.fromkeys(card.memberships)],
        )
        touched.update(addresses)
        return 1

    def _put_group(
        self, db: sqlite3.Connection, account: str, resource: str, generation: int, group: CardGroup, seen_at: str,
        touched: set[str],
    ) -> int:
        members = sorted(set(group.members))
        digest = _digest("group", group.name, members)
        existing = self._existing(db, account, group.provider_id)
        if existing == ("group", digest):
            self._stamp(db, account, group.provider_id, resource, generation)
            return 0
        if existing is not None:
            touched.update(self._members_of(db, account, group.provider_id))
            if existing[0] == "card":
                touched.update(self._addresses_of(db, account, [group.provider_id]))
        db.execute(
            "INSERT INTO cards(account, provider_id, resource, generation, kind, name, first_seen, digest) "
            "VALUES (?, ?, ?, ?, 'group', ?, ?, ?) ON CONFLICT(account, provider_id) DO UPDATE SET "
            "resource = excluded.resource, generation = excluded.generation, kind = 'group', uid = NULL, "
            "name = excluded.name, organisation = NULL, birthday = NULL, digest = excluded.digest",
            (account, group.provider_id, resource, generation, group.name or None, seen_at, digest),
        )
        for table, column in (("card_addresses", "card"), ("card_groups", "card"), ("group_members", "group_id")):
            db.execute(f"DELETE FROM {table} WHERE account = ? AND {column} = ?", (account, group.provider_id))
        db.executemany(
            "INSERT INTO group_members(account, group_id, member_uid) VALUES (?, ?, ?)",
            [(account, group.provider_id, uid) for uid in members],
        )
        touched.update(self._members_of(db, account, group.provider_id))
        return 1

    def _delete(self, db: sqlite3.Connection, account: str, provider_ids: Iterable[str], touched: set[str]) -> int:
        """Remove cards or groups gone upstream; their names and merges go, the mail history stays."""
        removed = 0
        for provider_id in provider_ids:
            found = self._existing(db, account, provider_id)
            if found is None:
                continue
            touched.update(self._addresses_of(db, account, [provider_id]))
            if found[0] == "group":
                touched.update(self._members_of(db, account, provider_id))
            db.execute("DELETE FROM cards WHERE account = ? AND provider_id = ?", (account, provider_id))
            removed += 1
        return removed

    @staticmethod
    def _addresses_of(db: sqlite3.Connection, account: str, cards: list[str]) -> set[str]:
        found: set[str] = set()
        for chunk in chunks(cards):
            found.update(row[0] for row in db.execute(
                f"SELECT address FROM card_addresses WHERE account = ? AND card IN ({Connection.marks(len(chunk))})",
                (account, *chunk),
            ))
        return found

    @staticmethod
    def _members_of(db: sqlite3.Connection, account: str, group_id: str) -> set[str]:
        """Addresses of every card in the group, whether the cards point at it or it lists them."""
        rows = db.execute(
            "SELECT a.address FROM card_groups g JOIN card_addresses a ON a.account = g.account AND a.card = g.card "
            "WHERE g.account = ? AND g.group_id = ? "
            "UNION SELECT a.address FROM group_members m "
            "JOIN cards c ON c.account = m.account AND c.uid = m.member_uid "
            "JOIN card_addresses a ON a.account = c.account AND a.card = c.provider_id "
            "WHERE m.account = ? AND m.group_id = ?",
            (account, group_id, account, group_id),
        )
        return {row[0] for row in rows}

    # ---- reading ------------------------------------------------------------------------------------------

    def address_lists(self) -> list[list[str]]:
        """Each card's addresses in the card's own order, the earliest-read card first: how cards make persons."""
        lists: dict[tuple[str, str], list[str]] = {}
        rows = self._db.execute(
            "SELECT a.account, a.card, a.address FROM card_addresses a "
            "JOIN cards c ON c.account = a.account AND c.provider_id = a.card "
            "ORDER BY c.first_seen, c.account, c.provider_id, a.position"
        )
        for account, card, address in rows:
            lists.setdefault((account, card), []).append(address)
        return list(lists.values())

    def facts(self, selection: Selection) -> Iterator[tuple[str, CardFacts]]:
        """(address, what its card says) for every card address in the selection, the earliest-read card first."""
        card_scope = "" if selection.everyone else _SELECTED_CARDS.format(alias="g", column="card")
        member_scope = "" if selection.everyone else _SELECTED_CARDS.format(alias="c", column="provider_id")
        groups: dict[tuple[str, str], list[str]] = {}
        for account, card, name in self._db.execute(
            _GROUP_NAMES.format(card_scope=card_scope, member_scope=member_scope)
        ):
            groups.setdefault((account, card), []).append(name)
        rows = self._db.execute(
            "SELECT a.address, c.account, c.provider_id, c.name, c.organisation, c.birthday, c.first_seen "
            "FROM card_addresses a JOIN cards c ON c.account = a.account AND c.provider_id = a.card "
            f"WHERE 1 {selection.where('a.address')} ORDER BY c.first_seen, c.account, c.provider_id, a.position"
        )
        for address, account, card, name, organisation, birthday, first_seen in rows:
            names = tuple(sorted(groups.get((account, card), ()), key=str.casefold))
            yield address, CardFacts(account, card, name, organisation, names, birthday, first_seen)

    def group_sizes(self) -> dict[str, int]:
        """Every group name in the address books → how many cards are in it (for ``syncd init``)."""
        sizes: dict[str, int] = {}
        for _, _, name in self._db.execute(_GROUP_NAMES.format(card_scope="", member_scope="")):
            sizes[name] = sizes.get(name, 0) + 1
        return sizes

    def knows(self, address: str) -> bool:
        row = self._db.execute("SELECT 1 FROM card_addresses WHERE address = ? LIMIT 1", (address,)).fetchone()
        return row is not None

    def count(self, account: str | None = None) -> int:
        """Cards (not groups) held, of one account or all."""
        where, params = ("", ()) if account is None else (" AND account = ?", (account,))
        return int(self._db.execute(f"SELECT COUNT(*) FROM cards WHERE kind = 'card'{where}", params).fetchone()[0])
