"""The state database: opened private (0600), migrated to this version's schema, one table module per kind.

The table modules are reached as attributes, and each owns the tables its docstring names; no other
module writes them (any may read them through its own queries):

* ``store.synced`` — synced data and cursors (:mod:`syncd.store.synced`), rebuilt from the providers at will;
* ``store.cards`` — the address books' cards and groups (:mod:`syncd.store.cards`), synced data too;
* ``store.accounts`` — each account and the history of its pulls (:mod:`syncd.store.accounts`);
* ``store.decisions`` — the user's decisions about people (:mod:`syncd.store.decisions`);
* ``store.contacts`` — qualifying contacts and the engine's work queues (:mod:`syncd.store.contacts`);
* ``store.standings`` — each person's computed standing (:mod:`syncd.store.standings`);
* ``store.followups`` — what syncd wrote into the calendar (:mod:`syncd.store.followups`);
* ``store.rates`` — the rate each provider was found to accept (:mod:`syncd.store.rates`);
* ``store.places`` — where each follow-ups target found its calendar (:mod:`syncd.store.places`).

The tables themselves are defined, version by version, in :mod:`syncd.store.schema`.
"""

from __future__ import annotations

import os
import signal
import sqlite3
from collections.abc import Iterable, Iterator
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path
from urllib.parse import quote

from connectors.displaynames import shown_name
from syncd.errors import StateError
from syncd.store import lastgood
from syncd.store.accounts import Accounts
from syncd.store.cards import Cards
from syncd.store.connection import Connection, Selection
from syncd.store.contacts import Contacts
from syncd.store.decisions import Decisions
from syncd.store.faults import StateFault, damaged, describe
from syncd.store.followups import Followups
from syncd.store.places import Places
from syncd.store.rates import Rates
from syncd.store.schema import MIGRATIONS, SCHEMA_VERSION, statements
from syncd.store.standings import Standings
from syncd.store.synced import SyncedData

COUNTED = ("interactions", "sightings", "participants", "contacts", "followups", "reminders")


@contextmanager
def _signals_held() -> Iterator[None]:
    """SIGTERM and SIGINT wait while the database is created and migrated: a stop there would leave it
    created but not initialised. They are delivered as soon as it is open (pthread_sigmask(3))."""
    held = signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGTERM, signal.SIGINT})
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, held)


def _functions(db: sqlite3.Connection) -> None:
    """SQL functions the migrations use: the one that rebuilds address_names keeps names as ingestion
    does (docs/rules.md#display-names)."""
    db.create_function("shown_name", 2, shown_name, deterministic=True)


class Store:
    """One open state database. Use as a context manager or call :meth:`close`.

    ``read_only_ok``: when the state cannot be written (a read-only file, folder or mount) but can be read,
    open a private copy in memory instead (``read_only`` is then True): a command that only shows things
    works as usual, and nothing it computes is written back. Any other fault raises a
    :class:`syncd.store.faults.StateFault` with its sentence.
    """

    def __init__(self, path: Path | str, read_only_ok: bool = False) -> None:
        self.path = Path(path) if str(path) != ":memory:" else None
        self.read_only = False
        try:
            self.db = self._open(str(path))
        except (sqlite3.Error, OSError) as exc:
            fault = None if self.path is None else describe(exc, self.path)
            if fault is None:
                raise
            if not (read_only_ok and fault.read_only):
                raise fault from None
            assert self.path is not None
            self.db = self._copy_of(self.path)
            self.read_only = True
        self.accounts = Accounts(self.connection)
        self.contacts = Contacts(self.connection)
        self.synced = SyncedData(self.connection, self.contacts)
        self.cards = Cards(self.connection, self.synced, self.contacts)
        self.decisions = Decisions(self.connection, self.contacts)
        self.standings = Standings(self.connection)
        self.followups = Followups(self.connection)
        self.rates = Rates(self.connection)
        self.places = Places(self.connection)

    def _open(self, path: str) -> sqlite3.Connection:
        with _signals_held():
            return self._open_now(path)

    def _open_now(self, path: str) -> sqlite3.Connection:
        if self.path is not None:
            self.path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
            if not self.path.exists():
                # Created 0600 before SQLite opens it: metadata of someone's mail is private.
                os.close(os.open(self.path, os.O_CREAT | os.O_WRONLY, 0o600))
        db = sqlite3.connect(path, isolation_level=None, timeout=30, check_same_thread=False)
        try:
            db.execute("PRAGMA journal_mode=WAL")
            db.execute("PRAGMA foreign_keys=ON")
            db.execute("PRAGMA synchronous=NORMAL")  # WAL + NORMAL is durable across app crashes
            # SQLite's default page cache is 2 MiB; large recomputes insert into B-trees far bigger than
            # that, and a 64 MiB cache made a full recompute of a million interactions several times faster.
            db.execute("PRAGMA cache_size=-65536")
            self.db, self.connection = db, Connection(db)
            _functions(db)
            self._migrate()
            # Fails here, not half-way through a command, when the file or its folder is read-only: a
            # write that is rolled back (a transaction alone succeeds on a read-only WAL database,
            # docs/sqlite.md#wal-and-read-only-state).
            db.execute("BEGIN IMMEDIATE")
            try:
                db.execute(f"PRAGMA user_version = {self.version}")
            finally:
                db.execute("ROLLBACK")
        except BaseException:
            db.close()
            raise
        return db

    def _copy_of(self, path: Path) -> sqlite3.Connection:
        """A private in-memory copy of the database at ``path`` (an empty store when there is none)."""
        memory = sqlite3.connect(":memory:", isolation_level=None, check_same_thread=False)
        if path.is_file():
            # mode=ro reads a WAL database when its -shm can be used; immutable=1 when even that is
            # read-only (nothing else writes a read-only state meanwhile): docs/sqlite.md#wal-and-read-only-state
            for options in ("mode=ro", "immutable=1"):
                try:
                    source = sqlite3.connect(f"file:{quote(str(path))}?{options}", uri=True)
                    try:
                        source.backup(memory)
                    finally:
                        source.close()
                    break
                except sqlite3.Error as exc:
                    fault = describe(exc, path)
                    if options == "immutable=1" or (fault is not None and not fault.read_only):
                        memory.close()
                        raise (fault or exc) from None
        memory.execute("PRAGMA foreign_keys=ON")
        self.db, self.connection = memory, Connection(memory)
        _functions(memory)
        self._migrate()
        return memory

    def fault(self, exc: BaseException) -> StateFault | None:
        """What ``exc``, met while using this database, means for the user (None: no fault of the state)."""
        return None if self.path is None else describe(exc, self.path)

    def keep_last_good(self) -> str | None:
        """Renew the last good copy of the database when it is due (:mod:`syncd.store.lastgood`); returns a
        warning when it could not be."""
        if self.path is None or self.read_only:
            return None
        try:
            return lastgood.refresh(self.db, self.path)
        except lastgood.DamagedDatabase:
            raise damaged(self.path) from None

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
