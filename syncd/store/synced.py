"""The SQLite store: synced metadata, the user's own decisions, and syncd's bookkeeping, kept apart.

Three groups of tables, so a full resync never touches what the user decided:

* synced data — ``accounts``, ``cursors``, ``interactions``, ``sightings`` (where a provider holds an
  interaction: account + provider id), ``participants``. Rebuilt from the providers at will.
* the user's decisions — ``person_links`` (merges), ``person_settings`` (cadence, tier, note, ignore),
  ``reminders`` (one-off follow-ups). Only the user (CLI) writes these.
* derived and bookkeeping — ``contacts`` (qualifying contacts, recomputable), ``followups`` (what syncd
  wrote into the target calendar and what the user did with it).

Every batch from a source is committed in one transaction together with its cursor (``apply_batch``),
so a pull killed at any point leaves the database at the end of a whole batch. Idempotence: a
sighting is keyed by (account, provider id); a mail message is one interaction across folders and
accounts by its Message-ID.

Full syncs use a generation number per (account, resource): every row a full sync sees is stamped with
the new generation, and when its last batch commits, rows of that resource with an older generation are
gone at the provider and are deleted. A full sync killed half-way simply starts over; nothing is lost.
The tables themselves are defined, version by version, in ``syncd.store.schema``.
"""

from __future__ import annotations

import dataclasses
import json
import os
import sqlite3
from collections import Counter
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from connectors.addresses import normalise
from connectors.base import Batch, Interaction
from syncd.errors import StateError
from syncd.store.schema import MIGRATIONS, SCHEMA_VERSION, statements


def utc_now_iso() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def to_epoch(value: datetime | None) -> int | None:
    return None if value is None else int(value.timestamp())


def from_epoch(value: int | None) -> datetime | None:
    return None if value is None else datetime.fromtimestamp(value, UTC)


class Store:
    """One open state database. Use as a context manager or call :meth:`close`."""

    def __init__(self, path: Path | str) -> None:
        self.path = Path(path) if str(path) != ":memory:" else None
        if self.path is not None:
            self.path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
            if not self.path.exists():
                # Created 0600 before SQLite opens it: metadata of someone's mail is private.
                os.close(os.open(self.path, os.O_CREAT | os.O_WRONLY, 0o600))
        try:
            self.db = sqlite3.connect(
                str(path), isolation_level=None, timeout=30, check_same_thread=False
            )
            self.db.execute("PRAGMA journal_mode=WAL")
            self.db.execute("PRAGMA foreign_keys=ON")
            self.db.execute("PRAGMA synchronous=NORMAL")  # WAL + NORMAL is durable across app crashes
            # SQLite's default page cache is 2 MiB; large recomputes insert into B-trees far bigger than
            # that, and a 64 MiB cache made a full recompute of a million interactions several times faster.
            self.db.execute("PRAGMA cache_size=-65536")
            self._migrate()
        except sqlite3.DatabaseError as exc:
            raise StateError(f"state database {path} is unusable ({exc}); move it away to start afresh") from exc

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self.db.close()

    @property
    def version(self) -> int:
        row = self.db.execute("PRAGMA user_version").fetchone()
        return int(row[0])

    def _migrate(self) -> None:
        current = self.version
        if current > SCHEMA_VERSION:
            raise StateError(
                f"state database {self.path} was written by a newer syncd (schema {current}, this one "
                f"knows {SCHEMA_VERSION}); upgrade syncd"
            )
        for version in range(current, SCHEMA_VERSION):
            with self.transaction():
                for statement in statements(MIGRATIONS[version]):
                    self.db.execute(statement)
                self.db.execute(f"PRAGMA user_version = {version + 1}")

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """An immediate (write-locking) transaction, rolled back on any exception."""
        if self.db.in_transaction:
            yield self.db
            return
        self.db.execute("BEGIN IMMEDIATE")
        try:
            yield self.db
        except BaseException:
            self.db.execute("ROLLBACK")
            raise
        self.db.execute("COMMIT")

    # ---- accounts and cursors -------------------------------------------------------------------

    def ensure_account(self, name: str, provider: str) -> None:
        with self.transaction() as db:
            db.execute(
                "INSERT INTO accounts(name, provider) VALUES (?, ?) "
                "ON CONFLICT(name) DO UPDATE SET provider = excluded.provider",
                (name, provider),
            )

    def cursors(self, account: str) -> dict[str, str]:
        rows = self.db.execute(
            "SELECT resource, cursor FROM cursors WHERE account = ? AND cursor IS NOT NULL", (account,)
        )
        return {resource: cursor for resource, cursor in rows}

    def reset_cursor(self, account: str, resource: str) -> None:
        """Forget a resource's cursor (after CursorExpired); its rows stay until a full sync replaces them.

        A full sync that was under way is abandoned too: the restart takes a new generation, so a row the
        abandoned round had already stamped but the new round no longer sees is removed at its end.
        """
        with self.transaction() as db:
            db.execute(
                "UPDATE cursors SET cursor = NULL, full_sync = 0 WHERE account = ? AND resource = ?",
                (account, resource),
            )

    def known_ids(self, account: str, resource: str) -> set[str]:
        rows = self.db.execute(
            "SELECT provider_id FROM sightings WHERE account = ? AND resource = ?", (account, resource)
        )
        return {row[0] for row in rows}

    def record_pull(
        self,
        account: str,
        *,
        started: str | None = None,
        success: str | None = None,
        error: str | None = None,
        summary: dict[str, Any] | None = None,
    ) -> None:
        with self.transaction() as db:
            if started is not None:
                db.execute("UPDATE accounts SET last_pull_started = ? WHERE name = ?", (started, account))
            if success is not None:
                db.execute("UPDATE accounts SET last_success = ?, last_error = NULL WHERE name = ?", (success, account))
            if error is not None:
                db.execute("UPDATE accounts SET last_error = ? WHERE name = ?", (error, account))
            if summary is not None:
                db.execute("UPDATE accounts SET last_summary = ? WHERE name = ?", (json.dumps(summary), account))

    def owner_addresses(self, account: str) -> list[str]:
        row = self.db.execute("SELECT owner_addresses FROM accounts WHERE name = ?", (account,)).fetchone()
        return list(json.loads(row[0])) if row and row[0] else []

    def set_owner_addresses(self, account: str, addresses: Iterable[str]) -> None:
        normalised = sorted({a for a in (normalise(x) for x in addresses) if a})
        with self.transaction() as db:
            db.execute("UPDATE accounts SET owner_addresses = ? WHERE name = ?", (json.dumps(normalised), account))

    def accounts(self) -> list[sqlite3.Row]:
        cur = self.db.cursor()
        cur.row_factory = sqlite3.Row
        return list(cur.execute("SELECT * FROM accounts ORDER BY name"))

    # ---- applying a batch -----------------------------------------------------------------------

    def apply_batch(self, account: str, batch: Batch) -> int:
        """Store one batch and its cursor in one transaction. Returns how many interactions were new."""
        with self.transaction() as db:
            generation = self._generation(db, account, batch)
            seen = self._sighted(db, account, [item.provider_id for item in batch.interactions])
            writes = _Writes()
            added = 0
            for interaction in batch.interactions:
                added += self._upsert(db, account, batch.resource, generation, interaction, seen, writes)
            writes.flush(db)
            if batch.seen:
                db.executemany(
                    "UPDATE sightings SET generation = ? WHERE account = ? AND resource = ? AND provider_id = ?",
                    [(generation, account, batch.resource, provider_id) for provider_id in batch.seen],
                )
            if batch.deleted:
                self._delete_sightings(db, account, batch.deleted)
            if batch.full and batch.complete:
                stale = [
                    row[0]
                    for row in db.execute(
                        "SELECT provider_id FROM sightings WHERE account = ? AND resource = ? AND generation < ?",
                        (account, batch.resource, generation),
                    )
                ]
                self._delete_sightings(db, account, stale)
            db.execute(
                "UPDATE cursors SET cursor = ?, full_sync = ?, updated = ? WHERE account = ? AND resource = ?",
                (
                    batch.cursor,
                    int(batch.full and not batch.complete),
                    utc_now_iso(),
                    account,
                    batch.resource,
                ),
            )
        return added

    def _generation(self, db: sqlite3.Connection, account: str, batch: Batch) -> int:
        row = db.execute(
            "SELECT generation, full_sync FROM cursors WHERE account = ? AND resource = ?",
            (account, batch.resource),
        ).fetchone()
        if row is None:
            db.execute(
                "INSERT INTO cursors(account, resource, generation, full_sync, updated) VALUES (?, ?, 0, 0, ?)",
                (account, batch.resource, utc_now_iso()),
            )
            generation, in_full = 0, 0
        else:
            generation, in_full = row
        if batch.full and not in_full:
            # The first batch of a new full sync: a fresh generation marks what this sync has seen.
            generation += 1
            db.execute(
                "UPDATE cursors SET generation = ?, full_sync = 1 WHERE account = ? AND resource = ?",
                (generation, account, batch.resource),
            )
        return int(generation)

    @staticmethod
    def _sighted(db: sqlite3.Connection, account: str, provider_ids: list[str]) -> dict[str, int]:
        """provider id -> interaction id for those of ``provider_ids`` already stored (one query per 500)."""
        found: dict[str, int] = {}
        for start in range(0, len(provider_ids), 500):
            chunk = provider_ids[start : start + 500]
            marks = ",".join("?" * len(chunk))
            found.update(db.execute(
                f"SELECT provider_id, interaction_id FROM sightings WHERE account = ? AND provider_id IN ({marks})",
                (account, *chunk),
            ).fetchall())
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
                (generation, resource, account, item.provider_id),
            )
            if item.kind == "mail":
                return 0  # a message never changes; its sighting is enough
            db.execute(
                "UPDATE interactions SET kind=?, ts=?, end_ts=?, subject=?, bulk=?, cancelled=?, series_id=?, "
                "all_day=?, link=?, owner_response=?, recipient_count=? WHERE id = ?",
                (*values, interaction_id),
            )
            db.execute("DELETE FROM participants WHERE interaction_id = ?", (interaction_id,))
            self._forget_contacts(db, interaction_id)
            self._insert_participants(db, interaction_id, item)
            db.execute("INSERT OR IGNORE INTO pending_interactions(interaction_id) VALUES (?)", (interaction_id,))
            return 0
        # Across folders and accounts a message is one interaction by its Message-ID: insert, and only
        # when that id is taken look the existing row up (one statement for the common, new case).
        cur = db.execute(
            "INSERT INTO interactions(kind, ts, end_ts, subject, bulk, cancelled, series_id, all_day, link, "
            "owner_response, recipient_count, message_id) VALUES (?,?,?,?,?,?,?,?,?,?,?,?) "
            "ON CONFLICT(message_id) DO NOTHING",
            (*values, item.message_id),
        )
        if cur.rowcount == 0:
            row = db.execute("SELECT id FROM interactions WHERE message_id = ?", (item.message_id,)).fetchone()
            interaction_id, added = int(row[0]), 0
        else:
            interaction_id, added = int(cur.lastrowid or 0), 1
            writes.participants.extend(_participant_rows(interaction_id, item))
            writes.pending.append((interaction_id,))
        writes.sightings.append((account, item.provider_id, resource, interaction_id, generation))
        sighted[item.provider_id] = interaction_id  # the same id twice in one batch is one sighting
        return added

    @staticmethod
    def _insert_participants(db: sqlite3.Connection, interaction_id: int, item: Interaction) -> None:
        writes = _Writes()
        writes.participants.extend(_participant_rows(interaction_id, item))
        writes.flush(db)

    @staticmethod
    def _forget_contacts(db: sqlite3.Connection, interaction_id: int) -> None:
        """Drop an interaction's derived contacts, queueing their addresses for a recompute."""
        db.execute(
            "INSERT OR IGNORE INTO touched_addresses(address) "
            "SELECT address FROM contacts WHERE interaction_id = ?",
            (interaction_id,),
        )
        db.execute("DELETE FROM contacts WHERE interaction_id = ?", (interaction_id,))

    @staticmethod
    def _delete_sightings(db: sqlite3.Connection, account: str, provider_ids: list[str]) -> None:
        if not provider_ids:
            return
        affected: set[int] = set()
        for provider_id in provider_ids:
            row = db.execute(
                "DELETE FROM sightings WHERE account = ? AND provider_id = ? RETURNING interaction_id",
                (account, provider_id),
            ).fetchone()
            if row is not None:
                affected.add(int(row[0]))
        for interaction_id in affected:
            # An interaction lives while any provider still holds it (the same message in two folders).
            still = db.execute(
                "SELECT 1 FROM sightings WHERE interaction_id = ? LIMIT 1", (interaction_id,)
            ).fetchone()
            if still is None:
                Store._forget_contacts(db, interaction_id)
                db.execute("DELETE FROM interactions WHERE id = ?", (interaction_id,))

    # ---- counts for status and tests ------------------------------------------------------------

    def count(self, table: str) -> int:
        if table not in {"interactions", "sightings", "participants", "contacts", "followups", "reminders"}:
            raise ValueError(table)
        return int(self.db.execute(f"SELECT COUNT(*) FROM {table}").fetchone()[0])


_RECIPIENT = {"to": "rcpt", "cc": "rcpt", "bcc": "rcpt"}


def _participant_rows(interaction_id: int, item: Interaction) -> list[tuple[object, ...]]:
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


@dataclasses.dataclass
class _Writes:
    """Rows of one batch written with one executemany each, instead of a statement per message."""

    participants: list[tuple[object, ...]] = dataclasses.field(default_factory=list)
    pending: list[tuple[int]] = dataclasses.field(default_factory=list)
    sightings: list[tuple[object, ...]] = dataclasses.field(default_factory=list)

    def flush(self, db: sqlite3.Connection) -> None:
        db.executemany(
            "INSERT INTO participants(interaction_id, address, name, role, response) VALUES (?,?,?,?,?)",
            self.participants,
        )
        names = Counter((row[1], row[2]) for row in self.participants if row[2])
        db.executemany(
            "INSERT INTO address_names(address, name, seen) VALUES (?, ?, ?) "
            "ON CONFLICT(address, name) DO UPDATE SET seen = seen + excluded.seen",
            ((address, name, count) for (address, name), count in names.items()),
        )
        db.executemany("INSERT OR IGNORE INTO pending_interactions(interaction_id) VALUES (?)", self.pending)
        db.executemany(
            "INSERT INTO sightings(account, provider_id, resource, interaction_id, generation) VALUES (?,?,?,?,?)",
            self.sightings,
        )
