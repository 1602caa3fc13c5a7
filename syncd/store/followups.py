"""What syncd wrote into the follow-ups calendar, and what became of each event.

Owns ``followups``: one :class:`Record` per follow-up key — the person and occasion it is for, its due
date, where syncd placed it, and its state (pending | active | dismissed | deleting | done). The
reconciler writes records before it touches the calendar and settles them after (``syncd.plan.reconcile``),
so a crash between the two is resolved on the next run.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Iterable
from datetime import UTC, date, datetime

from syncd.store.connection import Connection, chunks, utc_now_iso

Occasion = tuple[str, str, str]  # (person, origin, cycle): one event at most per occasion


@dataclasses.dataclass(frozen=True, slots=True)
class Record:
    """One row of the ``followups`` table: what syncd wrote and what became of it."""

    key: str
    person: str
    origin: str
    cycle: str
    n: int  # dismissals before this one within the occasion
    due: date  # the date this follow-up is for (after dismissals: one cadence later)
    state: str  # pending | active | dismissed | deleting | done
    planned_start: datetime | None = None
    # Where its event was written (CalendarTarget.where); None: not known. Not part of what the record *says*,
    # so a record planned again compares equal to the stored one.
    calendar: str | None = dataclasses.field(default=None, compare=False)

    @property
    def occasion(self) -> Occasion:
        return (self.person, self.origin, self.cycle)


@dataclasses.dataclass(frozen=True)
class Tally:
    """The follow-ups at a glance, for ``syncd status``."""

    active: int
    next_start: str | None  # the next active one's planned start (ISO, UTC)
    dismissed: int


_COLUMNS = "key, person, origin, due, planned_start, state, detail"


class Followups:
    def __init__(self, connection: Connection) -> None:
        self._connection = connection
        self._db = connection.db

    def load(self, listed: Iterable[str] = ()) -> dict[str, Record]:
        """Every record not settled as done, and the done ones of the ``listed`` keys (events still in the
        calendar, whose occasion must stay known so a restored one is recognised as a duplicate)."""
        rows = list(self._db.execute(f"SELECT {_COLUMNS} FROM followups WHERE state != 'done'"))
        for chunk in chunks(list(listed)):
            marks = Connection.marks(len(chunk))
            rows += self._db.execute(f"SELECT {_COLUMNS} FROM followups WHERE state = 'done' AND key IN ({marks})",
                                     chunk)
        records = {}
        for key, person, origin, due, planned, state, detail in rows:
            extra = json.loads(detail or "{}")
            records[key] = Record(
                key, person, origin, str(extra.get("cycle", "")), int(extra.get("n", 0)), date.fromisoformat(due),
                state, datetime.fromisoformat(planned) if planned else None, extra.get("calendar"),
            )
        return records

    def save(self, records: Iterable[Record]) -> None:
        """Write ``records`` (insert or replace by key) in one transaction."""
        with self._connection.transaction() as db:
            for record in records:
                planned = record.planned_start.astimezone(UTC).isoformat() if record.planned_start else None
                db.execute(
                    "INSERT INTO followups(key, person, origin, due, planned_start, state, detail, updated) "
                    "VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT(key) DO UPDATE SET person = excluded.person, "
                    "origin = excluded.origin, due = excluded.due, planned_start = excluded.planned_start, "
                    "state = excluded.state, detail = excluded.detail, updated = excluded.updated",
                    (record.key, record.person, record.origin, record.due.isoformat(), planned, record.state,
                     _detail(record), utc_now_iso()),
                )

    def active_between(self, start: datetime, end: datetime) -> int:
        """How many active follow-ups are placed in [start, end)."""
        row = self._db.execute(
            "SELECT COUNT(*) FROM followups WHERE state = 'active' AND planned_start >= ? AND planned_start < ?",
            (start.astimezone(UTC).isoformat(), end.astimezone(UTC).isoformat()),
        ).fetchone()
        return int(row[0])

    def tally(self, now: datetime) -> Tally:
        active, next_start, dismissed = self._db.execute(
            "SELECT SUM(state = 'active'), "
            "MIN(CASE WHEN state = 'active' AND planned_start >= ? THEN planned_start END), "
            "SUM(state = 'dismissed') FROM followups",
            (now.astimezone(UTC).isoformat(timespec="seconds"),),
        ).fetchone()
        return Tally(active or 0, next_start, dismissed or 0)


def _detail(record: Record) -> str:
    detail: dict[str, str | int] = {"cycle": record.cycle, "n": record.n}
    if record.calendar is not None:
        detail["calendar"] = record.calendar
    return json.dumps(detail)
