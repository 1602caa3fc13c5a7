"""Where follow-ups targets found their calendars: one remembered place per target and what it looked for.

Owns ``target_places``. A target that has to look for its calendar (Outlook lists every calendar to find the
follow-ups one by name) keeps what it found here, so the next run goes straight to it; when the place is gone
the target looks again and says what it found instead. Derived, never the user's: forgetting it costs one
look-up.
"""

from __future__ import annotations

from syncd.store.connection import Connection, utc_now_iso


class Places:
    def __init__(self, connection: Connection) -> None:
        self._connection = connection
        self._db = connection.db

    def get(self, target: str, what: str) -> str | None:
        row = self._db.execute(
            "SELECT place FROM target_places WHERE target = ? AND what = ?", (target, what)
        ).fetchone()
        return None if row is None else str(row[0])

    def put(self, target: str, what: str, place: str | None) -> None:
        """Remember ``place`` for ``what``; None forgets it."""
        with self._connection.transaction() as db:
            if place is None:
                db.execute("DELETE FROM target_places WHERE target = ? AND what = ?", (target, what))
                return
            db.execute(
                "INSERT INTO target_places(target, what, place, updated) VALUES (?, ?, ?, ?) "
                "ON CONFLICT(target, what) DO UPDATE SET place = excluded.place, updated = excluded.updated",
                (target, what, place, utc_now_iso()),
            )

    def of(self, target: str, *, read_only: bool = False) -> TargetPlaces:
        """One target's places, as the target is handed them (:class:`connectors.base.PlaceMemory`)."""
        return TargetPlaces(self, target, read_only)


class TargetPlaces:
    """One target's view of :class:`Places`; a read-only one (a dry run) recalls but never writes."""

    def __init__(self, places: Places, target: str, read_only: bool) -> None:
        self._places = places
        self._target = target
        self._read_only = read_only

    def recall(self, what: str) -> str | None:
        return self._places.get(self._target, what)

    def remember(self, what: str, place: str | None) -> None:
        if not self._read_only:
            self._places.put(self._target, what, place)
