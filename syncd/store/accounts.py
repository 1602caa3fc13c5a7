"""Each configured account and the history of its pulls.

Owns the ``accounts`` table: the account's provider, the owner addresses its provider reported (or that
were guessed from its sent folders), and its last pull — when it started, when it last succeeded, its last
error, and its summary (counts, skips, coverage; JSON written and read only here).
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Iterable, Mapping
from typing import Any

from connectors.addresses import normalise
from syncd.store.bytenames import shown
from syncd.store.connection import Connection, utc_now_iso


@dataclasses.dataclass(frozen=True)
class AccountRecord:
    """What the state remembers of one account."""

    name: str
    provider: str
    last_pull_started: str | None
    last_success: str | None
    last_error: str | None
    summary: Mapping[str, Any]  # the last pull's summary, as ``record_pull`` was given it
    owner_addresses: tuple[str, ...]

    @property
    def needs_login(self) -> bool:
        """The last pull failed for want of a usable login."""
        return bool(self.last_error and self.summary.get("needs_login"))

    @property
    def coverage(self) -> dict[str, str]:
        """Resource → how far back it is complete, while a bounded first pull is still backfilling."""
        return dict(self.summary.get("coverage") or {})

    @property
    def skipped(self) -> dict[str, int]:
        """Why items were left out of the last pull → how many."""
        return dict(self.summary.get("skipped") or {})


class Accounts:
    def __init__(self, connection: Connection) -> None:
        self._connection = connection
        self._db = connection.db

    def ensure(self, name: str, provider: str) -> None:
        with self._connection.transaction() as db:
            db.execute(
                "INSERT INTO accounts(name, provider) VALUES (?, ?) "
                "ON CONFLICT(name) DO UPDATE SET provider = excluded.provider",
                (name, provider),
            )

    def record_pull(
        self,
        account: str,
        *,
        started: str | None = None,
        success: str | None = None,
        error: str | None = None,
        summary: Mapping[str, Any] | None = None,
    ) -> None:
        with self._connection.transaction() as db:
            if started is not None:
                db.execute("UPDATE accounts SET last_pull_started = ? WHERE name = ?", (started, account))
            if success is not None:
                db.execute("UPDATE accounts SET last_success = ?, last_error = NULL WHERE name = ?", (success, account))
            if error is not None:
                db.execute("UPDATE accounts SET last_error = ? WHERE name = ?", (shown(error), account))
            if summary is not None:
                db.execute("UPDATE accounts SET last_summary = ? WHERE name = ?", (json.dumps(summary), account))

    def begin_pull(self, account: str) -> int:
        """Record that a pull of ``account`` starts; returns its number, which stamps the skips it reports."""
        with self._connection.transaction() as db:
            row = db.execute(
                "UPDATE accounts SET pulls = pulls + 1, last_pull_started = ? WHERE name = ? RETURNING pulls",
                (utc_now_iso(), account),
            ).fetchone()
        return int(row[0])

    def owner_addresses(self, account: str) -> list[str]:
        row = self._db.execute("SELECT owner_addresses FROM accounts WHERE name = ?", (account,)).fetchone()
        return list(json.loads(row[0])) if row and row[0] else []

    def set_owner_addresses(self, account: str, addresses: Iterable[str]) -> None:
        normalised = sorted({a for a in (normalise(x) for x in addresses) if a})
        with self._connection.transaction() as db:
            db.execute("UPDATE accounts SET owner_addresses = ? WHERE name = ?", (json.dumps(normalised), account))

    def records(self) -> list[AccountRecord]:
        rows = self._db.execute(
            "SELECT name, provider, last_pull_started, last_success, last_error, last_summary, owner_addresses "
            "FROM accounts ORDER BY name"
        )
        return [
            AccountRecord(name, provider, started, success, error, json.loads(summary or "{}"),
                          tuple(json.loads(owners or "[]")))
            for name, provider, started, success, error, summary, owners in rows
        ]
