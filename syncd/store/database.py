"""The state database: opened private (0600), migrated to this version's schema, one table module per kind.

The table modules are reached as attributes, and each owns the tables its docstring names; no other
module writes them (any may read them through its own queries):

* ``store.synced`` — synced data and cursors (:mod:`syncd.store.synced`), rebuilt from the providers at will;
* ``store.accounts`` — each account and the history of its pulls (:mod:`syncd.store.accounts`);
* ``store.decisions`` — the user's decisions about people (:mod:`syncd.store.decisions`);
* ``store.contacts`` — qualifying contacts and the engine's work queues (:mod:`syncd.store.contacts`);
* ``store.standings`` — each person's computed standing (:mod:`syncd.store.standings`);
* ``store.followups`` — what syncd wrote into the calendar (:mod:`syncd.store.followups`).

The tables themselves are defined, version by version, in :mod:`syncd.store.schema`.
"""

from __future__ import annotations

import os
import sqlite3
from collections.abc import Iterable
from contextlib import AbstractContextManager
from pathlib import Path

from syncd.errors import StateError
from syncd.store.accounts import Accounts
from syncd.store.connection import Connection, Selection
from syncd.store.contacts import Contacts
from syncd.store.decisions import Decisions
from syncd.store.followups import Followups
from syncd.store.schema import MIGRATIONS, SCHEMA_VERSION, statements
from syncd.store.standings import Standings
from syncd.store.synced import SyncedData

COUNTED = ("interactions", "sightings", "participants", "contacts", "followups", "reminders")


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
            self.connection = Connection(self.db)
            self._migrate()
        except sqlite3.DatabaseError as exc:
            raise StateError(f"state database {path} is unusable ({exc}); move it away to start afresh") from exc
        self.accounts = Accounts(self.connection)
        self.contacts = Contacts(self.connection)
        self.synced = SyncedData(self.connection, self.contacts)
        self.decisions = Decisions(self.connection, self.contacts)
        self.standings = Standings(self.connection)
        self.followups = Followups(self.connection)

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
            with self.connection.transaction():
                for statement in statements(MIGRATIONS[version]):
                    self.db.execute(statement)
                self.db.execute(f"PRAGMA user_version = {version + 1}")

    def transaction(self) -> AbstractContextManager[sqlite3.Connection]:
        """An immediate (write-locking) transaction, rolled back on any exception; nested ones join it."""
        return self.connection.transaction()

    def select(self, addresses: Iterable[str] | None) -> Selection:
        """Limit the next per-address queries to ``addresses`` (None: everyone)."""
        return self.connection.select(addresses)

    def count(self, table: str) -> int:
        """Rows in one of the ``COUNTED`` tables (for ``syncd status`` and tests)."""
        if table not in COUNTED:
            raise ValueError(table)
        return int(self.db.execute(f"SELECT COUNT(*) FROM {table}").fetchone()[0])

    def shrink_memory(self) -> None:
        """Give back the page cache a big recompute grew (an idle service keeps little)."""
        self.db.execute("PRAGMA shrink_memory")
