"""What the providers were found to accept: a learned rate per account, API and endpoint.

Owns ``learned_rates``. A source that learns a provider's limit (Gmail's quota, which Google does not
tell) keeps it here, so the next pull, and the service after a restart, start from it instead of from
the safe default. Kept per endpoint: a rate learned against a proxy or a test server says nothing about
another. Derived, never the user's: forgetting it only costs a slower first minute.
"""

from __future__ import annotations

import dataclasses

from syncd.store.connection import Connection, utc_now_iso


@dataclasses.dataclass(frozen=True)
class LearnedRate:
    api: str
    endpoint: str
    units_per_minute: float
    regime: str  # the quota regime the source inferred, in its own words
    updated: str  # ISO, UTC


class Rates:
    def __init__(self, connection: Connection) -> None:
        self._connection = connection
        self._db = connection.db

    def get(self, account: str, api: str, endpoint: str) -> tuple[float, str] | None:
        row = self._db.execute(
            "SELECT units_per_minute, regime FROM learned_rates WHERE account = ? AND api = ? AND endpoint = ?",
            (account, api, endpoint),
        ).fetchone()
        return None if row is None else (float(row[0]), str(row[1]))

    def put(self, account: str, api: str, endpoint: str, units_per_minute: float, regime: str) -> None:
        with self._connection.transaction() as db:
            db.execute(
                "INSERT INTO learned_rates(account, api, endpoint, units_per_minute, regime, updated) "
                "VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT(account, api, endpoint) DO UPDATE SET "
                "units_per_minute = excluded.units_per_minute, regime = excluded.regime, updated = excluded.updated",
                (account, api, endpoint, units_per_minute, regime, utc_now_iso()),
            )

    def of(self, account: str) -> list[LearnedRate]:
        """The account's learned rates, the latest first."""
        rows = self._db.execute(
            "SELECT api, endpoint, units_per_minute, regime, updated FROM learned_rates WHERE account = ? "
            "ORDER BY updated DESC, api, endpoint",
            (account,),
        )
        return [LearnedRate(api, endpoint, float(rate), regime, updated)
                for api, endpoint, rate, regime, updated in rows]
