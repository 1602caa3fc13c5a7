"""The state: one SQLite database, the only package that executes SQL; one module per kind of table.

``open_store`` opens the state directory's database; :mod:`syncd.store.database` says which module owns
which table.
"""

from __future__ import annotations

from pathlib import Path

from syncd.paths import state_dir
from syncd.store.connection import utc_now_iso
from syncd.store.database import Store
from syncd.store.faults import StateFault, describe, is_database_error

DB_NAME = "syncd.sqlite3"

__all__ = ["DB_NAME", "StateFault", "Store", "is_database_error", "open_store", "state_fault", "utc_now_iso"]


def open_store(directory: Path | None = None, read_only_ok: bool = False) -> Store:
    """The state database in ``directory`` (default: the state directory); ``read_only_ok`` for commands
    that only show things (see :class:`Store`)."""
    return Store((directory or state_dir(ensure=False)) / DB_NAME, read_only_ok=read_only_ok)


def state_fault(exc: BaseException) -> StateFault | None:
    """What ``exc`` means for the state in the state directory, as one sentence; None if it is no fault of it."""
    return describe(exc, state_dir(ensure=False) / DB_NAME)
