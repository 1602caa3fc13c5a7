"""One open SQLite connection shared by the table modules: its write transactions and temporary selections."""

from __future__ import annotations

import dataclasses
import sqlite3
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import TypeVar


def utc_now_iso() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


@dataclasses.dataclass(frozen=True)
class Selection:
    """The addresses a query is limited to (kept in a temporary table), or everyone."""

    everyone: bool

    def where(self, column: str = "address") -> str:
        """The SQL condition that limits a query to the selection ("" for everyone)."""
        return "" if self.everyone else f"AND {column} IN (SELECT address FROM temp.selected)"


EVERYONE = Selection(True)


class Connection:
    def __init__(self, db: sqlite3.Connection) -> None:
        self.db = db

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """An immediate (write-locking) transaction, rolled back on any exception; nested ones join it."""
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

    def select(self, addresses: Iterable[str] | None) -> Selection:
        """Limit the next queries to ``addresses`` (None: everyone). A new selection replaces the last."""
        if addresses is None:
            return EVERYONE
        self.db.execute("CREATE TEMP TABLE IF NOT EXISTS selected (address TEXT PRIMARY KEY)")
        self.db.execute("DELETE FROM temp.selected")
        self.db.executemany("INSERT OR IGNORE INTO temp.selected VALUES (?)", ((a,) for a in addresses))
        return Selection(False)

    @staticmethod
    def marks(count: int) -> str:
        """``?,?,?`` for ``count`` bound parameters."""
        return ",".join("?" * count)


CHUNK = 500  # bound parameters per statement, below SQLite's limit
T = TypeVar("T")


def chunks(items: Sequence[T]) -> Iterator[Sequence[T]]:
    for start in range(0, len(items), CHUNK):
        yield items[start : start + CHUNK]
