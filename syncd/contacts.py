"""Interactions → qualifying contacts: the only thing that moves "last contact" (product file, Definitions).

| kind     | qualifies when |
|----------|----------------|
| outbound | From is the owner; P in To/Cc; at most max_recipients addresses in To+Cc besides the owner |
| inbound  | From is P; an owner address in To/Cc; same cap; not bulk |
| meeting  | not cancelled; the owner did not decline; P organizer/attendee and did not decline; attendees ≤ cap |

Meetings are stored whatever their start: one in the future is a *booked* meeting, and becomes a
contact once it has started (the engine compares with "now"). Role addresses, the blocklist and the
owner's own addresses are never people. Timestamps before 1990 (or mail more than a day in the future)
are implausible: no contact, but counted.
"""

from __future__ import annotations

import dataclasses
import sqlite3
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta

from syncd.addresses import is_role, matches_any

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
    contacts: int = 0
    implausible: int = 0
    bulk: int = 0
    over_cap: int = 0


_PERSON_LIKE: dict[tuple[str, Rules], bool] = {}


def _person_like(address: str, rules: Rules) -> bool:
    """Owner, role and blocklist checks, memoised: the same few thousand addresses recur in every run."""
    known = _PERSON_LIKE.get((address, rules))
    if known is None:
        known = (
            address not in rules.owners
            and not is_role(address)
            and not (rules.blocklist and matches_any(address, rules.blocklist))
        )
        if len(_PERSON_LIKE) > 200_000:
            _PERSON_LIKE.clear()
        _PERSON_LIKE[(address, rules)] = known
    return known


def contacts_of(
    kind: str,
    ts: int | None,
    bulk: str | None,
    cancelled: bool,
    owner_response: str | None,
    subject: str | None,
    participants: list[tuple[str, str, str | None]],
    rules: Rules,
    now: int,
    stats: DeriveStats,
    recipient_count: int | None = None,
) -> list[tuple[str, str, int]]:
    """(address, contact kind, ts) for one interaction; ``participants`` are (address, role, response)."""
    if ts is None or ts < PLAUSIBLE_FROM or (kind == "mail" and ts > now + FUTURE_SLACK.total_seconds()):
        stats.implausible += 1
        return []
    if kind == "mail":
        return _mail(ts, bulk, subject, participants, recipient_count, rules, stats)
    return _meeting(ts, cancelled, owner_response, participants, rules, stats)


def _mail(
    ts: int, bulk: str | None, subject: str | None, participants: list[tuple[str, str, str | None]],
    recipient_count: int | None, rules: Rules, stats: DeriveStats,
) -> list[tuple[str, str, int]]:
    senders = [a for a, role, _ in participants if role == "from"]
    recipients = list(dict.fromkeys(a for a, role, _ in participants if role in ("to", "cc")))
    others = [a for a in recipients if a not in rules.owners]
    # Unusable entries (X.500 paths) were still recipients: count them against the cap too.
    addressed = max(len(recipients), recipient_count or 0) - (len(recipients) - len(others))
    if addressed > rules.max_recipients:
        stats.over_cap += 1
        return []
    sender = senders[0] if senders else None
    if sender in rules.owners:
        # The owner's own sent mail is never bulk; an unsubscribe click is not a contact.
        if (subject or "").strip().lower() == "unsubscribe":
            return []
        return [
            (a, "outbound", ts)
            for a in others
            if _person_like(a, rules) and not a.partition("@")[0].startswith(UNSUBSCRIBE_PREFIXES)
        ]
    if sender is None or not any(a in rules.owners for a in recipients):
        return []
    if bulk:
        stats.bulk += 1
        return []
    return [(sender, "inbound", ts)] if _person_like(sender, rules) else []


def _meeting(
    ts: int, cancelled: bool, owner_response: str | None, participants: list[tuple[str, str, str | None]],
    rules: Rules, stats: DeriveStats,
) -> list[tuple[str, str, int]]:
    if cancelled:
        return []
    owner_declined = owner_response == "declined" or any(
        a in rules.owners and response == "declined" for a, _, response in participants
    )
    if owner_declined:
        return []
    attendees = {a for a, role, _ in participants if role == "attendee"}
    if len(attendees) > rules.max_attendees:
        stats.over_cap += 1
        return []
    people: dict[str, bool] = {}
    for address, _, response in participants:
        declined = response == "declined"
        people[address] = people.get(address, False) or declined
    return [(a, "meeting", ts) for a, declined in people.items() if not declined and _person_like(a, rules)]


def derive(
    db: sqlite3.Connection, rules: Rules, now: datetime, interaction_ids: Iterable[int] | None = None
) -> tuple[set[str], DeriveStats]:
    """Compute contacts for the given interactions (all when None); returns the addresses touched.

    Runs inside the caller's transaction. Rows are streamed in interaction order so memory stays flat.
    """
    stats = DeriveStats()
    now_ts = int(now.timestamp())
    touched: set[str] = set()
    if interaction_ids is None:
        db.execute("DELETE FROM contacts")
        where, params = "", ()
    else:
        db.execute("CREATE TEMP TABLE IF NOT EXISTS derive_ids (id INTEGER PRIMARY KEY)")
        db.execute("DELETE FROM derive_ids")
        db.executemany("INSERT OR IGNORE INTO derive_ids VALUES (?)", ((i,) for i in interaction_ids))
        touched.update(
            r[0] for r in db.execute("SELECT address FROM contacts WHERE interaction_id IN (SELECT id FROM derive_ids)")
        )
        db.execute("DELETE FROM contacts WHERE interaction_id IN (SELECT id FROM derive_ids)")
        where, params = "WHERE i.id IN (SELECT id FROM derive_ids)", ()
    rows = db.execute(
        "SELECT i.id, i.kind, i.ts, i.bulk, i.cancelled, i.owner_response, i.subject, i.recipient_count, "
        "p.address, p.role, p.response "
        f"FROM interactions i JOIN participants p ON p.interaction_id = i.id {where} ORDER BY i.id",
        params,
    )
    out: list[tuple[str, int, str, int]] = []
    current: tuple | None = None
    participants: list[tuple[str, str, str | None]] = []

    def flush() -> None:
        if current is None:
            return
        iid, kind, ts, bulk, cancelled, owner_response, subject, recipient_count = current
        stats.interactions += 1
        for address, contact_kind, when in contacts_of(
            kind, ts, bulk, bool(cancelled), owner_response, subject, participants, rules, now_ts, stats,
            recipient_count,
        ):
            out.append((address, iid, contact_kind, when))

    # Fetch in chunks: one cursor, no list of a million rows.
    while chunk := rows.fetchmany(10000):
        for iid, kind, ts, bulk, cancelled, owner_response, subject, count, address, role, response in chunk:
            if current is None or current[0] != iid:
                flush()
                current = (iid, kind, ts, bulk, cancelled, owner_response, subject, count)
                participants = []
            participants.append((address, role, response))
        if len(out) > 50000:
            _write(db, out, touched)
    flush()
    _write(db, out, touched)
    stats.contacts = len(touched)
    return touched, stats


def _write(db: sqlite3.Connection, rows: list[tuple[str, int, str, int]], touched: set[str]) -> None:
    rows.sort()  # in primary-key order: the B-tree is filled sequentially, several times faster
    db.executemany("INSERT OR IGNORE INTO contacts(address, interaction_id, kind, ts) VALUES (?,?,?,?)", rows)
    touched.update(row[0] for row in rows)
    rows.clear()
