"""Qualifying contacts, derived from the synced interactions, and the queues of what to derive next.

Owns the ``contacts`` table (one row per person address, interaction and kind: outbound, inbound,
meeting; with whether it was direct and how many others were in it; kept in the order derived, read by
address through ``contacts_by_address``, which holds every column), and the engine's two work queues:
``pending_interactions`` (stored but not derived yet) and ``touched_addresses`` (addresses that lost
contacts: an interaction deleted or changed in place, a decision about them changed). Which
interactions qualify is docs/rules.md#qualifying-contact (the engine decides who can be a person and
hands over the numbers as :class:`Criteria`; see ``syncd.engine.qualifying``):

| kind     | qualifies when |
|----------|----------------|
| outbound | From is the owner; P in To/Cc; at most max_recipients addresses in To+Cc besides the owner |
| inbound  | From is P; an owner address in To/Cc; same cap; not bulk |
| meeting  | not cancelled; the owner did not decline; P organizer/attendee and did not decline; attendees ≤ cap |

The rules run as three INSERT … SELECT statements inside SQLite: per-address decisions (owner, role,
blocklist) are made once per distinct address in Python and handed over as temporary tables, so a
million interactions never cross into Python one by one. Contacts are stored whatever their time: the
engine compares with "now", so the stored rows never depend on when they were derived.
"""

from __future__ import annotations

import dataclasses
import sqlite3
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager

from syncd.store.connection import Connection, Selection

# The table's indexes, as the schema (syncd.store.schema, v9) makes them: dropped and built again around a full
# derive.
INDEXES = {
    "contacts_by_address":
        "CREATE INDEX contacts_by_address ON contacts(address, kind, ts, interaction_id, direct, others)",
    "contacts_by_interaction": "CREATE INDEX contacts_by_interaction ON contacts(interaction_id)",
}
FIELD21, FIELD31 = (1 << 21) - 1, (1 << 31) - 1  # the bit fields of the per-message counts (_scratch)
# Building the indexes after a full derive: SQLite sorts in runs the size of the page cache, so a 2 MiB cache
# sorts in runs that stay in the processor's cache, merged by up to two helper threads
# (docs/sqlite.md#the-engines-tables: 1.3–1.6 s → 0.5–0.8 s for a million contacts).
SORT_CACHE_KIB, SORT_THREADS = 2048, 2


@dataclasses.dataclass(frozen=True)
class Criteria:
    """What the engine decided the statements apply: who the owner is, who can be a person, the caps."""

    owners: frozenset[str]
    is_person: Callable[[str], bool]  # False for the owner, role addresses, the blocklist
    max_recipients: int
    max_attendees: int
    earliest: int  # unix seconds: anything before is never a contact
    latest_mail: int  # unix seconds: mail dated after this is implausible (counted; a contact once its time comes)


@dataclasses.dataclass(frozen=True)
class DaysRow:
    """One address's contact days and what strength counts of them (:meth:`Contacts.days`)."""

    address: str
    days: Iterator[int]
    direct_days: int
    meeting_days: int
    fewest_others: int


@dataclasses.dataclass
class DeriveStats:
    interactions: int = 0
    implausible: int = 0
    undated: int = 0
    bulk: int = 0
    over_cap: int = 0
    ignored_addresses: int = 0
    invalid_addresses: int = 0


class Contacts:
    def __init__(self, connection: Connection) -> None:
        self._connection = connection
        self._db = connection.db

    # ---- the work queues --------------------------------------------------------------------------

    def queue(self, rows: Iterable[tuple[int]]) -> None:
        """Interactions (one ``(id,)`` row each) whose contacts are to be derived by the next refresh."""
        self._db.executemany("INSERT OR IGNORE INTO pending_interactions(interaction_id) VALUES (?)", rows)

    def forget(self, interaction_id: int) -> None:
        """Drop an interaction's contacts, queueing their addresses for a recompute."""
        self._db.execute(
            "INSERT OR IGNORE INTO touched_addresses(address) "
            "SELECT address FROM contacts WHERE interaction_id = ?",
            (interaction_id,),
        )
        self._db.execute("DELETE FROM contacts WHERE interaction_id = ?", (interaction_id,))

    def touch(self, addresses: Iterable[str]) -> None:
        """Addresses whose persons the next refresh recomputes (a decision about them changed)."""
        self._db.executemany("INSERT OR IGNORE INTO touched_addresses(address) VALUES (?)", ((a,) for a in addresses))

    def pending(self) -> list[int]:
        return [row[0] for row in self._db.execute("SELECT interaction_id FROM pending_interactions")]

    def touched(self) -> set[str]:
        return {row[0] for row in self._db.execute("SELECT address FROM touched_addresses")}

    def clear_queues(self) -> None:
        self._db.execute("DELETE FROM pending_interactions")
        self._db.execute("DELETE FROM touched_addresses")

    # ---- deriving ---------------------------------------------------------------------------------

    def derive(self, criteria: Criteria, interaction_ids: Iterable[int] | None = None) -> tuple[set[str], DeriveStats]:
        """Compute contacts for the given interactions (all when None); returns the addresses touched.

        Runs inside the caller's transaction.
        """
        db = self._db
        touched: set[str] = set()
        if interaction_ids is None:
            # A full rebuild: the rows are appended in the order derived and both indexes built once
            # afterwards, which beats keeping them ordered row by row.
            for index in INDEXES:
                db.execute(f"DROP INDEX IF EXISTS {index}")
            db.execute("DELETE FROM contacts")
            scope = ""
        else:
            db.execute("CREATE TEMP TABLE IF NOT EXISTS derive_ids (id INTEGER PRIMARY KEY)")
            db.execute("DELETE FROM derive_ids")
            db.executemany("INSERT OR IGNORE INTO derive_ids VALUES (?)", ((i,) for i in interaction_ids))
            touched.update(
                r[0] for r in db.execute(
                    "SELECT address FROM contacts WHERE interaction_id IN (SELECT id FROM derive_ids)"
                )
            )
            db.execute("DELETE FROM contacts WHERE interaction_id IN (SELECT id FROM derive_ids)")
            scope = "AND i.id IN (SELECT id FROM derive_ids)"
        params = {
            "lo": criteria.earliest,
            "hi": criteria.latest_mail,
            "max_recipients": criteria.max_recipients,
            "max_attendees": criteria.max_attendees,
        }
        with _scratch(db, criteria, scope) as ignored:
            for statement in _statements(scope):
                db.execute(statement, params)
            if interaction_ids is None:
                with _sorting(db):
                    for statement in INDEXES.values():
                        db.execute(statement)
            stats = _stats(db, scope, params)
            stats.ignored_addresses = ignored
        if interaction_ids is not None:
            touched.update(
                r[0] for r in db.execute(
                    "SELECT address FROM contacts WHERE interaction_id IN (SELECT id FROM derive_ids)"
                )
            )
        return touched, stats

    # ---- reading them, per address (the engine groups addresses into persons) -------------------------

    def latest(self, cutoff: int, selection: Selection) -> Iterator[tuple[str, str, int, int]]:
        """(address, kind, ts, interaction id) of each address's latest contact of each kind up to ``cutoff``."""
        # SQLite: with MAX(), bare columns come from the row holding the maximum (documented behaviour).
        return iter(self._db.execute(
            "SELECT address, kind, MAX(ts), interaction_id FROM contacts "
            f"WHERE ts <= ? {selection.where()} GROUP BY address, kind",
            (cutoff,),
        ))

    def days(self, cutoff: int, selection: Selection, day_seconds: int) -> Iterator[DaysRow]:
        """Per address up to ``cutoff``: its contact days (a day is ``ts // day_seconds``), how many distinct
        days had a direct contact and how many a meeting, and the fewest other people any contact had
        (the parts of docs/rules.md#strength and #groups-and-desks)."""
        # One row per address, counted by SQLite as it walks the contacts in key order: a million
        # (address, day) rows cost more to fetch than to split.
        day = f"ts / {int(day_seconds)}"
        rows = self._db.execute(
            f"SELECT address, group_concat({day}), COUNT(DISTINCT CASE WHEN direct THEN {day} END), "
            f"COUNT(DISTINCT CASE WHEN kind = 'meeting' THEN {day} END), MIN(others) "
            f"FROM contacts WHERE ts <= ? {selection.where()} GROUP BY address",
            (cutoff,),
        )
        return (DaysRow(address, map(int, days.split(",")), direct, met, fewest)
                for address, days, direct, met, fewest in rows)

    def direct_and_meeting_days(self, addresses: Iterable[str], cutoff: int, day_seconds: int) -> tuple[int, int]:
        """Distinct days with a direct contact and with a meeting, over several addresses at once (one
        person's: a day with contact on two of them is one day)."""
        chosen = sorted(addresses)
        day = f"ts / {int(day_seconds)}"
        row = self._db.execute(
            f"SELECT COUNT(DISTINCT CASE WHEN direct THEN {day} END), "
            f"COUNT(DISTINCT CASE WHEN kind = 'meeting' THEN {day} END) FROM contacts "
            f"WHERE ts <= ? AND address IN ({Connection.marks(len(chosen))})",
            (cutoff, *chosen),
        ).fetchone()
        return int(row[0]), int(row[1])

    def upcoming(self, cutoff: int, selection: Selection) -> Iterator[tuple[str, str, int]]:
        """(address, kind, ts) of each address's first contact of each kind after ``cutoff``."""
        return iter(self._db.execute(
            f"SELECT address, kind, MIN(ts) FROM contacts WHERE ts > ? {selection.where()} GROUP BY address, kind",
            (cutoff,),
        ))

    def addresses(self) -> Iterator[str]:
        """Every address with a contact (a walk of the primary key, not of every contact)."""
        return (row[0] for row in self._db.execute("SELECT DISTINCT address FROM contacts"))

    def knows(self, address: str) -> bool:
        return self._db.execute("SELECT 1 FROM contacts WHERE address = ? LIMIT 1", (address,)).fetchone() is not None

    def ended_series(self, cutoff: int) -> Iterator[tuple[str, str, int, str | None]]:
        """(address, series id, last meeting ts, a subject) of recurring series with nothing after ``cutoff``."""
        return iter(self._db.execute(
            "SELECT c.address, i.series_id, MAX(c.ts), MAX(i.subject) FROM contacts c "
            "JOIN interactions i ON i.id = c.interaction_id "
            "WHERE c.kind = 'meeting' AND i.series_id IS NOT NULL GROUP BY c.address, i.series_id "
            "HAVING MAX(c.ts) <= ?",
            (cutoff,),
        ))


@contextmanager
def _sorting(db: sqlite3.Connection) -> Iterator[None]:
    """The page cache and helper threads for building indexes (``SORT_CACHE_KIB``), then the connection's own."""
    cache = int(db.execute("PRAGMA cache_size").fetchone()[0])
    threads = int(db.execute("PRAGMA threads").fetchone()[0])
    db.execute(f"PRAGMA cache_size=-{SORT_CACHE_KIB}")
    db.execute(f"PRAGMA threads={SORT_THREADS}")
    try:
        yield
    finally:
        db.execute(f"PRAGMA cache_size={cache}")
        db.execute(f"PRAGMA threads={threads}")


@contextmanager
def _scratch(db: sqlite3.Connection, criteria: Criteria, scope: str) -> Iterator[int]:
    """Temporary tables the statements below read: owners, non-people, and recipient counts."""
    db.execute("CREATE TEMP TABLE derive_owners (address TEXT PRIMARY KEY) WITHOUT ROWID")
    db.executemany("INSERT INTO derive_owners VALUES (?)", ((a,) for a in criteria.owners))
    db.execute("CREATE TEMP TABLE derive_excluded (address TEXT PRIMARY KEY) WITHOUT ROWID")
    in_scope = scope.replace("i.id", "p.interaction_id")
    addresses = db.execute(f"SELECT DISTINCT address FROM participants p WHERE 1 {in_scope}")
    excluded = [(a,) for (a,) in addresses if not criteria.is_person(a)]
    db.executemany("INSERT INTO derive_excluded VALUES (?)", excluded)
    ignored = sum(1 for (a,) in excluded if a not in criteria.owners)
    # Per message, in one pass over participants: distinct To/Cc addresses, how many of them are the
    # owner's (and in To), whether the owner sent it, and who did (how many From addresses, and one of
    # them). Everything below then joins on this small table. The store keeps one row per recipient address
    # (syncd.store.synced.participant_rows): plain sums count them. SQLite's cost here is per aggregate step
    # and per row (2 million rows for a million messages), so the five counts travel as two sums of bit
    # fields, unpacked once per message: To/Cc rows, the owner's among them, the owner's in To (21 bits
    # each: a header would need over two million addresses to overflow one), and From rows, the owner's
    # among them (31 bits each). The owners are joined once per row (a LEFT JOIN), not looked up once per
    # test. Keyed by the interaction id itself (rows arrive in id order), so no index needs building.
    db.execute(
        "CREATE TEMP TABLE derive_recipients (id INTEGER PRIMARY KEY, n INT, mine INT, mine_to INT, from_owner INT, "
        "senders INT, sender TEXT)"
    )
    mine = "(o.address IS NOT NULL)"
    db.execute(
        f"INSERT INTO derive_recipients SELECT id, recipients & {FIELD21}, (recipients >> 21) & {FIELD21}, "
        f"recipients >> 42, (senders >> 31) > 0, senders & {FIELD31}, sender FROM ("
        "SELECT p.interaction_id AS id, "
        f"SUM(CASE p.role WHEN 'to' THEN 1 + {mine} * {(1 << 21) + (1 << 42)} WHEN 'cc' THEN 1 + {mine} * {1 << 21} "
        "ELSE 0 END) AS recipients, "
        f"SUM(CASE p.role WHEN 'from' THEN 1 + {mine} * {1 << 31} ELSE 0 END) AS senders, "
        "MAX(CASE p.role WHEN 'from' THEN p.address END) AS sender "
        f"FROM participants p LEFT JOIN derive_owners o ON o.address = p.address WHERE 1 {in_scope} "
        "GROUP BY p.interaction_id)"
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
    # Each contact also says whether P was addressed directly (To, not only Cc; the owner in To of P's mail;
    # a meeting) and how many other people were in it besides the owner and P (docs/rules.md#strength).
    return [
        # outbound: the owner wrote to P (the owner's own mail is never bulk)
        "INSERT INTO contacts(address, interaction_id, kind, ts, direct, others) "
        f"SELECT p.address, i.id, 'outbound', i.ts, p.role = 'to', MAX({others} - 1, 0) FROM derive_recipients r "
        "CROSS JOIN interactions i ON i.id = r.id "
        "CROSS JOIN participants p ON p.interaction_id = i.id AND p.role IN ('to', 'cc') "
        f"WHERE r.from_owner = 1 AND i.kind = 'mail' AND {plausible} AND {others} <= :max_recipients "
        "AND lower(COALESCE(i.subject, '')) != 'unsubscribe' "
        "AND p.address NOT IN (SELECT address FROM derive_excluded)",
        # inbound: P wrote to the owner, not in bulk. Mail with one From (nearly all) takes its sender from the
        # pass above; mail with several finds them among its participants.
        "INSERT INTO contacts(address, interaction_id, kind, ts, direct, others) "
        f"SELECT r.sender, i.id, 'inbound', i.ts, r.mine_to > 0, {others} FROM derive_recipients r "
        "CROSS JOIN interactions i ON i.id = r.id "
        f"WHERE r.from_owner = 0 AND r.mine > 0 AND r.senders = 1 AND i.kind = 'mail' AND {plausible} "
        f"AND {others} <= :max_recipients AND i.bulk IS NULL "
        "AND r.sender NOT IN (SELECT address FROM derive_excluded)",
        "INSERT INTO contacts(address, interaction_id, kind, ts, direct, others) "
        f"SELECT f.address, i.id, 'inbound', i.ts, r.mine_to > 0, {others} FROM derive_recipients r "
        "CROSS JOIN interactions i ON i.id = r.id "
        "CROSS JOIN participants f ON f.interaction_id = i.id AND f.role = 'from' "
        f"WHERE r.from_owner = 0 AND r.mine > 0 AND r.senders > 1 AND i.kind = 'mail' AND {plausible} "
        f"AND {others} <= :max_recipients AND i.bulk IS NULL "
        "AND f.address NOT IN (SELECT address FROM derive_excluded)",
        # meeting: not cancelled, the owner did not decline, P did not decline, attendees within the cap
        "INSERT INTO contacts(address, interaction_id, kind, ts, direct, others) "
        "SELECT DISTINCT p.address, i.id, 'meeting', i.ts, 1, "
        "(SELECT COUNT(DISTINCT o.address) FROM participants o WHERE o.interaction_id = i.id "
        f"AND o.role IN ('organizer', 'attendee') AND o.address != p.address AND o.address NOT IN {owner}) "
        "FROM interactions i "
        "CROSS JOIN participants p ON p.interaction_id = i.id AND p.role IN ('organizer', 'attendee') "
        f"WHERE i.kind = 'event' AND {plausible} {scope} AND i.cancelled = 0 "
        "AND COALESCE(i.owner_response, '') != 'declined' "
        "AND NOT EXISTS (SELECT 1 FROM participants d WHERE d.interaction_id = i.id AND d.response = 'declined' "
        f"AND (d.address IN {owner} OR d.address = p.address)) "
        "AND (SELECT COUNT(DISTINCT a.address) FROM participants a WHERE a.interaction_id = i.id "
        "AND a.role = 'attendee') <= :max_attendees "
        "AND p.address NOT IN (SELECT address FROM derive_excluded)",
    ]


def _stats(db: sqlite3.Connection, scope: str, params: dict[str, int]) -> DeriveStats:
    row = db.execute(
        "SELECT COUNT(*), "
        "SUM(i.ts < :lo OR (i.kind = 'mail' AND i.ts > :hi)), "
        "SUM(i.kind = 'mail' AND i.bulk IS NOT NULL), "
        "SUM(i.kind = 'mail' AND MAX(COALESCE(r.n, 0), COALESCE(i.recipient_count, 0)) - COALESCE(r.mine, 0) "
        "> :max_recipients), "
        # Recipients the store could not keep (no valid address) are what the sender's count exceeds.
        "SUM(MAX(COALESCE(i.recipient_count, 0) - COALESCE(r.n, 0), 0)), "
        # No date at all (no or an unparseable Date header) is counted apart from a date that is wrong.
        "SUM(i.ts IS NULL) "
        f"FROM interactions i LEFT JOIN derive_recipients r ON r.id = i.id WHERE 1 {scope}",
        params,
    ).fetchone()
    return DeriveStats(
        interactions=row[0] or 0, implausible=row[1] or 0, bulk=row[2] or 0, over_cap=row[3] or 0,
        invalid_addresses=row[4] or 0, undated=row[5] or 0,
    )
