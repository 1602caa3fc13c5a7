"""Interactions → qualifying contacts: the only thing that moves "last contact" (product file, Definitions).

| kind     | qualifies when |
|----------|----------------|
| outbound | From is the owner; P in To/Cc; at most max_recipients addresses in To+Cc besides the owner |
| inbound  | From is P; an owner address in To/Cc; same cap; not bulk |
| meeting  | not cancelled; the owner did not decline; P organizer/attendee and did not decline; attendees ≤ cap |

Contacts are stored whatever their time: a meeting in the future is a *booked* meeting, and becomes a
contact once it has started; mail dated after "now" (clock skew, a broken Date header) likewise only
counts once its time has come — the engine compares with "now", so the stored rows never depend on
when they were derived. Timestamps before 1990 are never contacts. Both, and mail more than a day in
the future, are implausible and counted. Role addresses, the blocklist and the owner's own addresses
are never people (the distinct ones seen are counted, as are recipients that were no address).

The rules run as three INSERT … SELECT statements inside SQLite: per-address decisions (owner, role,
blocklist) are made once per distinct address in Python and handed over as temporary tables, so a
million interactions never cross into Python one by one.
"""

from __future__ import annotations

import dataclasses
import sqlite3
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta

from connectors.addresses import is_role, matches_any

PLAUSIBLE_FROM = int(datetime(1990, 1, 1, tzinfo=UTC).timestamp())
FUTURE_SLACK = timedelta(days=1)
# The message a mail client sends when you click "unsubscribe" is not a contact (product file).
UNSUBSCRIBE_PREFIXES = ("unsubscribe", "leave-", "optout", "opt-out")


@dataclasses.dataclass(frozen=True)
class Rules:
    owners: frozenset[str]
    max_recipients: int
    max_attendees: int
    blocklist: tuple[str, ...]


@dataclasses.dataclass
class DeriveStats:
    interactions: int = 0
    implausible: int = 0
    bulk: int = 0
    over_cap: int = 0
    ignored_addresses: int = 0
    invalid_addresses: int = 0


def _is_person(address: str, rules: Rules) -> bool:
    return (
        address not in rules.owners
        and not is_role(address)
        and not (rules.blocklist and matches_any(address, rules.blocklist))
        and not address.partition("@")[0].startswith(UNSUBSCRIBE_PREFIXES)
    )


@contextmanager
def _scratch(db: sqlite3.Connection, rules: Rules, scope: str) -> Iterator[int]:
    """Temporary tables the statements below read: owners, non-people, and recipient counts."""
    db.execute("CREATE TEMP TABLE derive_owners (address TEXT PRIMARY KEY) WITHOUT ROWID")
    db.executemany("INSERT INTO derive_owners VALUES (?)", ((a,) for a in rules.owners))
    db.execute("CREATE TEMP TABLE derive_excluded (address TEXT PRIMARY KEY) WITHOUT ROWID")
    in_scope = scope.replace("i.id", "p.interaction_id")
    addresses = db.execute(f"SELECT DISTINCT address FROM participants p WHERE 1 {in_scope}")
    excluded = [(a,) for (a,) in addresses if not _is_person(a, rules)]
    db.executemany("INSERT INTO derive_excluded VALUES (?)", excluded)
    ignored = sum(1 for (a,) in excluded if a not in rules.owners)
    # Per message, in one pass over participants: distinct To/Cc addresses, how many of them are the
    # owner's, and whether the owner sent it. Everything below then joins on this small table.
    owner = "p.address IN (SELECT address FROM derive_owners)"
    # The store keeps one row per recipient address (syncd.store._participant_rows): plain SUMs count them.
    # Keyed by the interaction id itself (rows arrive in id order), so no index needs building.
    db.execute("CREATE TEMP TABLE derive_recipients (id INTEGER PRIMARY KEY, n INT, mine INT, from_owner INT)")
    db.execute(
        "INSERT INTO derive_recipients SELECT p.interaction_id, SUM(p.role IN ('to', 'cc')), "
        f"SUM(p.role IN ('to', 'cc') AND {owner}), MAX(p.role = 'from' AND {owner}) "
        f"FROM participants p WHERE 1 {in_scope} GROUP BY p.interaction_id"
    )
    try:
        yield ignored
    finally:
        for table in ("derive_owners", "derive_excluded", "derive_recipients"):
            db.execute(f"DROP TABLE IF EXISTS temp.{table}")


def _statements(scope: str) -> list[str]:
    # Only the lower bound here: a contact dated after "now" (a booked meeting, mail ahead of the clock)
    # is stored and counts once its time has come, so the incremental and full paths agree at any "now".
    plausible = "i.ts >= :lo"
    owner = "(SELECT address FROM derive_owners)"
    others = "(MAX(r.n, COALESCE(i.recipient_count, 0)) - r.mine)"
    # CROSS JOIN fixes the join order (SQLite's planner would otherwise scan all participants first).
    return [
        # outbound: the owner wrote to P (the owner's own mail is never bulk)
        "INSERT OR IGNORE INTO contacts(address, interaction_id, kind, ts) "
        "SELECT p.address, i.id, 'outbound', i.ts FROM derive_recipients r "
        "CROSS JOIN interactions i ON i.id = r.id "
        "CROSS JOIN participants p ON p.interaction_id = i.id AND p.role IN ('to', 'cc') "
        f"WHERE r.from_owner = 1 AND i.kind = 'mail' AND {plausible} AND {others} <= :max_recipients "
        "AND lower(COALESCE(i.subject, '')) != 'unsubscribe' "
        "AND p.address NOT IN (SELECT address FROM derive_excluded)",
        # inbound: P wrote to the owner, not in bulk
        "INSERT OR IGNORE INTO contacts(address, interaction_id, kind, ts) "
        "SELECT f.address, i.id, 'inbound', i.ts FROM derive_recipients r "
        "CROSS JOIN interactions i ON i.id = r.id "
        "CROSS JOIN participants f ON f.interaction_id = i.id AND f.role = 'from' "
        f"WHERE r.from_owner = 0 AND r.mine > 0 AND i.kind = 'mail' AND {plausible} "
        f"AND {others} <= :max_recipients AND i.bulk IS NULL "
        "AND f.address NOT IN (SELECT address FROM derive_excluded)",
        # meeting: not cancelled, the owner did not decline, P did not decline, attendees within the cap
        "INSERT OR IGNORE INTO contacts(address, interaction_id, kind, ts) "
        "SELECT DISTINCT p.address, i.id, 'meeting', i.ts FROM interactions i "
        "CROSS JOIN participants p ON p.interaction_id = i.id AND p.role IN ('organizer', 'attendee') "
        f"WHERE i.kind = 'event' AND {plausible} {scope} AND i.cancelled = 0 "
        "AND COALESCE(i.owner_response, '') != 'declined' "
        "AND NOT EXISTS (SELECT 1 FROM participants d WHERE d.interaction_id = i.id AND d.response = 'declined' "
        f"AND (d.address IN {owner} OR d.address = p.address)) "
        "AND (SELECT COUNT(DISTINCT a.address) FROM participants a WHERE a.interaction_id = i.id "
        "AND a.role = 'attendee') <= :max_attendees "
        "AND p.address NOT IN (SELECT address FROM derive_excluded)",
    ]


def derive(
    db: sqlite3.Connection, rules: Rules, now: datetime, interaction_ids: Iterable[int] | None = None
) -> tuple[set[str], DeriveStats]:
    """Compute contacts for the given interactions (all when None); returns the addresses touched.

    Runs inside the caller's transaction.
    """
    touched: set[str] = set()
    if interaction_ids is None:
        db.execute("DELETE FROM contacts")
        scope = ""
    else:
        db.execute("CREATE TEMP TABLE IF NOT EXISTS derive_ids (id INTEGER PRIMARY KEY)")
        db.execute("DELETE FROM derive_ids")
        db.executemany("INSERT OR IGNORE INTO derive_ids VALUES (?)", ((i,) for i in interaction_ids))
        touched.update(
            r[0] for r in db.execute("SELECT address FROM contacts WHERE interaction_id IN (SELECT id FROM derive_ids)")
        )
        db.execute("DELETE FROM contacts WHERE interaction_id IN (SELECT id FROM derive_ids)")
        scope = "AND i.id IN (SELECT id FROM derive_ids)"
    params = {
        "lo": PLAUSIBLE_FROM,
        "hi": int((now + FUTURE_SLACK).timestamp()),
        "max_recipients": rules.max_recipients,
        "max_attendees": rules.max_attendees,
    }
    with _scratch(db, rules, scope) as ignored:
        if interaction_ids is None:
            # A full rebuild: building the secondary index once afterwards beats maintaining it per row.
            db.execute("DROP INDEX IF EXISTS contacts_by_interaction")
        for statement in _statements(scope):
            db.execute(statement, params)
        if interaction_ids is None:
            db.execute("CREATE INDEX contacts_by_interaction ON contacts(interaction_id)")
        stats = _stats(db, scope, params)
        stats.ignored_addresses = ignored
    if interaction_ids is not None:
        touched.update(
            r[0] for r in db.execute("SELECT address FROM contacts WHERE interaction_id IN (SELECT id FROM derive_ids)")
        )
    return touched, stats


def _stats(db: sqlite3.Connection, scope: str, params: dict[str, int]) -> DeriveStats:
    row = db.execute(
        "SELECT COUNT(*), "
        "SUM(i.ts IS NULL OR i.ts < :lo OR (i.kind = 'mail' AND i.ts > :hi)), "
        "SUM(i.kind = 'mail' AND i.bulk IS NOT NULL), "
        "SUM(i.kind = 'mail' AND MAX(COALESCE(r.n, 0), COALESCE(i.recipient_count, 0)) - COALESCE(r.mine, 0) "
        "> :max_recipients), "
        # Recipients the store could not keep (no valid address) are what the sender's count exceeds.
        "SUM(MAX(COALESCE(i.recipient_count, 0) - COALESCE(r.n, 0), 0)) "
        f"FROM interactions i LEFT JOIN derive_recipients r ON r.id = i.id WHERE 1 {scope}",
        params,
    ).fetchone()
    return DeriveStats(
        interactions=row[0] or 0, implausible=row[1] or 0, bulk=row[2] or 0, over_cap=row[3] or 0,
        invalid_addresses=row[4] or 0,
    )
