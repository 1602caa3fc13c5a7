"""Synced data: what the providers hold, as last pulled, with each resource's cursor.

Owns ``cursors``, ``interactions``, ``sightings`` (where a provider holds an interaction: account +
provider id), ``participants`` and ``address_names`` (display names seen per address as they are shown,
with who wrote them, counted as mail arrives: docs/rules.md#display-names). Rebuilt from the providers
at will; a full resync never touches the user's decisions.

Every batch from a source is committed in one transaction together with its cursor (``apply_batch``),
so a pull killed at any point leaves the database at the end of a whole batch. Idempotence: a
sighting is keyed by (account, provider id); a mail message is one interaction across folders and
accounts by its Message-ID and sender. New and changed interactions are queued for the engine
(:mod:`syncd.store.contacts`).

Also owns ``skipped_items``: what a source left out, kept per item until a later pull reads it, finds it
gone, or re-reads its whole resource without it, so `syncd status` can name every one. Names and ids are
stored losslessly even when they are bytes that are not UTF-8 (:mod:`syncd.store.bytenames`).

Full syncs use a generation number per (account, resource): every row a full sync sees is stamped with
the new generation, and when its last batch commits, rows of that resource with an older generation are
gone at the provider and are deleted. A full sync killed half-way simply starts over; nothing is lost.
"""

from __future__ import annotations

import dataclasses
import sqlite3
from collections import Counter
from collections.abc import Iterable, Iterator
from datetime import datetime

from connectors.addresses import normalise
from connectors.base import Batch, CardBatch, Interaction
from connectors.displaynames import shown_name
from syncd.store.bytenames import db_value, from_db, shown
from syncd.store.connection import Connection, Selection, chunks, utc_now_iso
from syncd.store.contacts import Contacts


def to_epoch(value: datetime | None) -> int | None:
    return None if value is None else int(value.timestamp())


class SyncedData:
    def __init__(self, connection: Connection, contacts: Contacts) -> None:
        self._connection = connection
        self._db = connection.db
        self._contacts = contacts

    # ---- cursors ----------------------------------------------------------------------------------

    def cursors(self, account: str) -> dict[str, str]:
        rows = self._db.execute(
            "SELECT resource, cursor FROM cursors WHERE account = ? AND cursor IS NOT NULL", (account,)
        )
        return {from_db(resource): cursor for resource, cursor in rows}

    def cursors_moved(self, account: str) -> str | None:
        """When any of the account's cursors last moved (ISO, UTC), or None."""
        row = self._db.execute("SELECT MAX(updated) FROM cursors WHERE account = ?", (account,)).fetchone()
        return None if row is None else row[0]

    def reset_cursor(self, account: str, resource: str) -> None:
        """Forget a resource's cursor (after CursorExpired); its rows stay until a full sync replaces them.

        A full sync that was under way is abandoned too: the restart takes a new generation, so a row the
        abandoned round had already stamped but the new round no longer sees is removed at its end.
        """
        with self._connection.transaction() as db:
            db.execute(
                "UPDATE cursors SET cursor = NULL, full_sync = 0 WHERE account = ? AND resource = ?",
                (account, db_value(resource)),
            )

    def known_ids(self, account: str, resource: str) -> set[str]:
        rows = self._db.execute(
            "SELECT provider_id FROM sightings WHERE account = ? AND resource = ?", (account, db_value(resource))
        )
        return {from_db(row[0]) for row in rows}

    # ---- applying a batch -----------------------------------------------------------------------

    def apply_batch(self, account: str, batch: Batch, pull: int = 0) -> int:
        """Store one batch, its skips and its cursor in one transaction. Returns how many interactions were new.

        ``pull`` is the number ``store.accounts.begin_pull`` gave this pull: what the batch ends (a full
        sync, a re-listing) clears the skips of earlier pulls that this one did not report again.
        """
        resource = db_value(batch.resource)
        with self._connection.transaction() as db:
            generation = self._generation(db, account, batch)
            seen = self._sighted(db, account, [item.provider_id for item in batch.interactions])
            writes = _Writes()
            added = 0
            for interaction in batch.interactions:
                added += self._upsert(db, account, batch.resource, generation, interaction, seen, writes)
            writes.flush(db, self._contacts)
            if batch.seen:
                db.executemany(
                    "UPDATE sightings SET generation = ? WHERE account = ? AND resource = ? AND provider_id = ?",
                    [(generation, account, resource, db_value(provider_id)) for provider_id in batch.seen],
                )
            if batch.deleted:
                self._delete_sightings(db, account, batch.deleted)
            if batch.full and batch.complete:
                stale = [
                    from_db(row[0])
                    for row in db.execute(
                        "SELECT provider_id FROM sightings WHERE account = ? AND resource = ? AND generation < ?",
                        (account, resource, generation),
                    )
                ]
                self._delete_sightings(db, account, stale)
            self._note_skips(db, account, batch, pull)
            self.move_cursor(db, account, batch.resource, batch.cursor, batch.full, batch.complete)
        return added

    @staticmethod
    def _note_skips(db: sqlite3.Connection, account: str, batch: Batch, pull: int) -> None:
        SyncedData.note_skips(db, account, batch, [item.provider_id for item in batch.interactions], pull)

    @staticmethod
    def note_skips(db: sqlite3.Connection, account: str, batch: Batch | CardBatch, read: list[str], pull: int) -> None:
        """Keep what the batch skipped; forget what it read (``read``: the ids of the items it holds), what is
        gone, and what a whole re-reading of the resource (a full sync, a re-listed folder) no longer skipped.
        Shared by every kind of batch (interactions here, cards in syncd.store.cards)."""
        resource = db_value(batch.resource)
        if batch.skipped:
            now = utc_now_iso()
            db.executemany(
                "INSERT INTO skipped_items(account, resource, item, reason, first_seen, pull) VALUES (?,?,?,?,?,?) "
                "ON CONFLICT(account, resource, item) DO UPDATE SET reason = excluded.reason, pull = excluded.pull",
                [(account, resource, db_value(skip.what), shown(skip.why), now, pull) for skip in batch.skipped],
            )
        if db.execute("SELECT 1 FROM skipped_items WHERE account = ? LIMIT 1", (account,)).fetchone() is None:
            return  # the common case: nothing outstanding, nothing to forget
        done = read + batch.deleted
        for chunk in chunks([db_value(provider_id) for provider_id in done]):
            db.execute(
                f"DELETE FROM skipped_items WHERE account = ? AND item IN ({Connection.marks(len(chunk))})",
                (account, *chunk),
            )
        if (batch.full and batch.complete) or getattr(batch, "relisted", False):
            db.execute(
                "DELETE FROM skipped_items WHERE account = ? AND resource = ? AND pull < ?", (account, resource, pull)
            )
        else:  # the resource itself was read this time (an mbox file that could not be opened before)
            db.execute(
                "DELETE FROM skipped_items WHERE account = ? AND resource = ? AND item = ? AND pull < ?",
                (account, resource, resource, pull),
            )

    def skipped_items(self, account: str) -> list[tuple[str, str, str, str]]:
        """(resource, item, reason, first seen) of everything of ``account`` still skipped, shown printable."""
        rows = self._db.execute(
            "SELECT resource, item, reason, first_seen FROM skipped_items WHERE account = ? ORDER BY resource, item",
            (account,),
        )
        return [(shown(from_db(r)), shown(from_db(i)), reason, since) for r, i, reason, since in rows]

    def _generation(self, db: sqlite3.Connection, account: str, batch: Batch) -> int:
        return self.generation(db, account, batch.resource, batch.full)

    # ---- the cursor bookkeeping every kind of batch shares (interactions here, cards in syncd.store.cards) --

    @staticmethod
    def generation(db: sqlite3.Connection, account: str, resource: str, full: bool) -> int:
        """The generation a batch of ``resource`` stamps its rows with, inside the batch's transaction."""
        row = db.execute(
            "SELECT generation, full_sync FROM cursors WHERE account = ? AND resource = ?",
            (account, db_value(resource)),
        ).fetchone()
        if row is None:
            db.execute(
                "INSERT INTO cursors(account, resource, generation, full_sync, updated) VALUES (?, ?, 0, 0, ?)",
                (account, db_value(resource), utc_now_iso()),
            )
            generation, in_full = 0, 0
        else:
            generation, in_full = row
        if full and not in_full:
            # The first batch of a new full sync: a fresh generation marks what this sync has seen.
            generation += 1
            db.execute(
                "UPDATE cursors SET generation = ?, full_sync = 1 WHERE account = ? AND resource = ?",
                (generation, account, db_value(resource)),
            )
        return int(generation)

    @staticmethod
    def move_cursor(
        db: sqlite3.Connection, account: str, resource: str, cursor: str | None, full: bool, complete: bool
    ) -> None:
        """Save a batch's cursor in the batch's transaction; a full sync stays open until its last batch."""
        # `updated` is when the cursor last moved (`syncd status`), not when a batch last came.
        db.execute(
            "UPDATE cursors SET updated = CASE WHEN cursor IS ? THEN updated ELSE ? END, cursor = ?, "
            "full_sync = ? WHERE account = ? AND resource = ?",
            (cursor, utc_now_iso(), cursor, int(full and not complete), account, db_value(resource)),
        )

    @staticmethod
    def _sighted(db: sqlite3.Connection, account: str, provider_ids: list[str]) -> dict[str, int]:
        """provider id -> interaction id for those of ``provider_ids`` already stored (one query per 500)."""
        found: dict[str, int] = {}
        for chunk in chunks([db_value(provider_id) for provider_id in provider_ids]):
            found.update((from_db(provider_id), interaction_id) for provider_id, interaction_id in db.execute(
                f"SELECT provider_id, interaction_id FROM sightings WHERE account = ? AND provider_id IN "
                f"({Connection.marks(len(chunk))})",
                (account, *chunk),
            ))
        return found

    def _upsert(
        self, db: sqlite3.Connection, account: str, resource: str, generation: int, item: Interaction,
        sighted: dict[str, int], writes: _Writes,
    ) -> int:
        known = sighted.get(item.provider_id)
        seen = None if known is None else (known,)
        values = (
            item.kind,
            to_epoch(item.timestamp),
            to_epoch(item.end),
            item.subject,
            item.bulk,
            int(item.cancelled),
            item.series_id,
            int(item.all_day),
            item.link,
            item.owner_response,
            item.recipient_count,
        )
        if seen is not None:
            interaction_id = int(seen[0])
            db.execute(
                "UPDATE sightings SET generation = ?, resource = ? WHERE account = ? AND provider_id = ?",
                (generation, db_value(resource), account, db_value(item.provider_id)),
            )
            if item.kind == "mail":
                return 0  # a message never changes; its sighting is enough
            db.execute(
                "UPDATE interactions SET kind=?, ts=?, end_ts=?, subject=?, bulk=?, cancelled=?, series_id=?, "
                "all_day=?, link=?, owner_response=?, recipient_count=? WHERE id = ?",
                (*values, interaction_id),
            )
            db.execute("DELETE FROM participants WHERE interaction_id = ?", (interaction_id,))
            self._contacts.forget(interaction_id)
            self._insert_participants(db, interaction_id, item)
            self._contacts.queue([(interaction_id,)])
            return 0
        # Across folders and accounts a message is one interaction by its Message-ID and sender: insert, and
        # only when that key is taken look the existing row up (one statement for the common, new case).
        key = message_key(item)
        cur = db.execute(
            "INSERT INTO interactions(kind, ts, end_ts, subject, bulk, cancelled, series_id, all_day, link, "
            "owner_response, recipient_count, message_key) VALUES (?,?,?,?,?,?,?,?,?,?,?,?) "
            "ON CONFLICT(message_key) DO NOTHING",
            (*values, key),
        )
        if cur.rowcount == 0:
            row = db.execute("SELECT id FROM interactions WHERE message_key = ?", (key,)).fetchone()
            interaction_id, added = int(row[0]), 0
        else:
            interaction_id, added = int(cur.lastrowid or 0), 1
            writes.participants.extend(participant_rows(interaction_id, item))
            writes.pending.append((interaction_id,))
        writes.sightings.append((account, db_value(item.provider_id), db_value(resource), interaction_id, generation))
        sighted[item.provider_id] = interaction_id  # the same id twice in one batch is one sighting
        return added

    def _insert_participants(self, db: sqlite3.Connection, interaction_id: int, item: Interaction) -> None:
        writes = _Writes()
        writes.participants.extend(participant_rows(interaction_id, item))
        writes.flush(db, self._contacts)

    def _delete_sightings(self, db: sqlite3.Connection, account: str, provider_ids: list[str]) -> None:
        if not provider_ids:
            return
        affected: set[int] = set()
        for provider_id in provider_ids:
            row = db.execute(
                "DELETE FROM sightings WHERE account = ? AND provider_id = ? RETURNING interaction_id",
                (account, db_value(provider_id)),
            ).fetchone()
            if row is not None:
                affected.add(int(row[0]))
        for interaction_id in affected:
            # An interaction lives while any provider still holds it (the same message in two folders).
            still = db.execute(
                "SELECT 1 FROM sightings WHERE interaction_id = ? LIMIT 1", (interaction_id,)
            ).fetchone()
            if still is None:
                self._contacts.forget(interaction_id)
                db.execute("DELETE FROM interactions WHERE id = ?", (interaction_id,))

    # ---- reading what was synced --------------------------------------------------------------------

    def details(self, interaction_ids: set[int]) -> dict[int, tuple[str | None, str | None]]:
        """Subject and link of each interaction: one query per 500 ids, not one per interaction."""
        found: dict[int, tuple[str | None, str | None]] = {}
        for chunk in chunks(sorted(interaction_ids)):
            rows = self._db.execute(
                f"SELECT id, subject, link FROM interactions WHERE id IN ({Connection.marks(len(chunk))})", chunk
            )
            found.update((iid, (subject, link)) for iid, subject, link in rows)
        return found

    def where_seen(self, interaction_id: int) -> tuple[str, str] | None:
        """(account, resource) where a provider holds the interaction (the first account by name)."""
        row = self._db.execute(
            "SELECT account, resource FROM sightings WHERE interaction_id = ? ORDER BY account LIMIT 1",
            (interaction_id,),
        ).fetchone()
        return None if row is None else (row[0], shown(from_db(row[1])))

    def names(self, selection: Selection, owners: Iterable[str]) -> Iterator[tuple[str, str, int, int]]:
        """(address, shown name, times the owner wrote it, times anyone wrote it) of the selected addresses."""
        mine = sorted(owners)
        where = "" if selection.everyone else f"WHERE 1 {selection.where()}"
        return iter(self._db.execute(
            f"SELECT address, name, SUM(CASE WHEN named_by IN ({Connection.marks(len(mine)) or 'NULL'}) "
            f"THEN seen ELSE 0 END), SUM(seen) FROM address_names {where} GROUP BY address, name",
            mine,
        ))

    def addresses_named(self, name: str, limit: int = 20) -> set[str]:
        """Addresses some header gave this display name (compared without regard to case; an index walk)."""
        rows = self._db.execute(
            "SELECT DISTINCT address FROM address_names WHERE name = ? COLLATE NOCASE LIMIT ?", (name, limit)
        )
        return {row[0] for row in rows}

    def self_names(self, addresses: Iterable[str]) -> set[str]:
        """The names these addresses give themselves on the mail they send."""
        chosen = sorted(addresses)
        rows = self._db.execute(
            "SELECT DISTINCT name FROM address_names WHERE named_by = address "
            f"AND address IN ({Connection.marks(len(chosen)) or 'NULL'})",
            chosen,
        )
        return {row[0] for row in rows}

    def addresses_from(self, prefix: str, limit: int = 1000) -> list[str]:
        """The distinct participant addresses that start with ``prefix``, found by seeking the address index
        from one to the next (an owner's own address can fill half the index: no scan over its rows)."""
        found: list[str] = []
        current = prefix
        while prefix and len(found) < limit:
            row = self._db.execute("SELECT MIN(address) FROM participants WHERE address > ?", (current,)).fetchone()
            if row[0] is None or not row[0].startswith(prefix):
                break
            current = row[0]
            found.append(current)
        return found

    def has_participant(self, address: str) -> bool:
        row = self._db.execute("SELECT 1 FROM participants WHERE address = ? LIMIT 1", (address,)).fetchone()
        return row is not None


_RECIPIENT = {"to": "rcpt", "cc": "rcpt", "bcc": "rcpt"}


def message_key(item: Interaction) -> str | None:
    """A mail's identity across folders and accounts: its Message-ID and its sender (None without an id).

    The same message seen twice carries both the same; a second sender reusing an id is another message.
    """
    if item.message_id is None:
        return None
    sender = next((p.address for p in item.participants if p.role == "from"), "")
    return f"{item.message_id}\n{normalise(sender) or ''}"


def participant_rows(interaction_id: int, item: Interaction) -> list[tuple[object, ...]]:
    """One row per address and role; an address in both To and Cc is one recipient (its first role),
    so recipients can be counted without DISTINCT. Strings that are not addresses are not stored."""
    rows: list[tuple[object, ...]] = []
    seen: set[tuple[str, str]] = set()
    for participant in item.participants:
        address = normalise(participant.address)
        key = (address or "", _RECIPIENT.get(participant.role, participant.role))
        if address is not None and key not in seen:
            seen.add(key)
            rows.append((interaction_id, address, participant.name or None, participant.role, participant.response))
    return rows


def _names(participants: list[tuple[object, ...]]) -> Counter[tuple[str, str, str]]:
    """(address, shown name, who wrote it: the message's sender) → how often, for the rows of a batch."""
    senders = {row[0]: str(row[1]) for row in participants if row[3] in ("from", "organizer")}
    counted: Counter[tuple[str, str, str]] = Counter()
    for row in participants:
        name = shown_name(str(row[1]), str(row[2])) if row[2] else None
        if name is not None:
            counted[(str(row[1]), name, senders.get(row[0], ""))] += 1
    return counted


@dataclasses.dataclass
class _Writes:
    """Rows of one batch written with one executemany each, instead of a statement per message."""

    participants: list[tuple[object, ...]] = dataclasses.field(default_factory=list)
    pending: list[tuple[int]] = dataclasses.field(default_factory=list)
    sightings: list[tuple[object, ...]] = dataclasses.field(default_factory=list)

    def flush(self, db: sqlite3.Connection, contacts: Contacts) -> None:
        db.executemany(
            "INSERT INTO participants(interaction_id, address, name, role, response) VALUES (?,?,?,?,?)",
            self.participants,
        )
        db.executemany(
            "INSERT INTO address_names(address, name, named_by, seen) VALUES (?, ?, ?, ?) "
            "ON CONFLICT(address, name, named_by) DO UPDATE SET seen = seen + excluded.seen",
            ((address, name, by, count) for (address, name, by), count in _names(self.participants).items()),
        )
        contacts.queue(self.pending)
        db.executemany(
            "INSERT INTO sightings(account, provider_id, resource, interaction_id, generation) VALUES (?,?,?,?,?)",
            self.sightings,
        )
