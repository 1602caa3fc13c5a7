"""The state: one SQLite database, the only package that executes SQL; one module per kind of table.

``open_store`` opens the state directory's database; :mod:`syncd.store.database` says which module owns
which table.
"""

from __future__ import annotations

from pathlib import Path

from syncd.paths import state_dir
from syncd.store.connection import utc_now_iso
from syncd.store.database import Store

DB_NAME = "syncd.sqlite3"

__all__ = ["DB_NAME", "Store", "open_store", "utc_now_iso"]


def open_store(directory: Path | None = None) -> Store:
    """The state database in ``directory`` (default: the state directory)."""
    return Store((directory or state_dir()) / DB_NAME)
