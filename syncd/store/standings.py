"""The engine's last computed standing of each person, and what it needs to refresh them incrementally.

Owns ``person_status`` (per person: the standing as the engine serialised it — its own format, opaque
here — and when it changes by itself) and ``engine_state`` (the fingerprint of the configuration the
standings were computed with, which addresses belonged to which person then, and the owner's variants
found in the mail then). Derived: a full
recompute rebuilds both.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator, Mapping
from datetime import datetime

from syncd.store.connection import Connection

HIDDEN = "null"  # the data of a person kept only so the refresh looks at them again (never listed)


class Standings:
    def __init__(self, connection: Connection) -> None:
        self._db = connection.db

    def save(self, rows: Iterable[tuple[str, int | None, str]]) -> None:
        """(person, valid until in unix seconds or None, the engine's data or ``HIDDEN``) for each person."""
        self._db.executemany("INSERT OR REPLACE INTO person_status(person, valid_until, data) VALUES (?, ?, ?)", rows)

    def listed(self) -> Iterator[str]:
        """The data of every listed person, by person key."""
        rows = self._db.execute("SELECT data FROM person_status WHERE data != ? ORDER BY person", (HIDDEN,))
        return (row[0] for row in rows)

    def expired(self, now: datetime) -> list[str]:
        """Persons whose standing changed by itself by ``now``."""
        rows = self._db.execute("SELECT person FROM person_status WHERE valid_until <= ?", (int(now.timestamp()),))
        return [row[0] for row in rows]

    def delete(self, person: str) -> None:
        self._db.execute("DELETE FROM person_status WHERE person = ?", (person,))

    def clear(self) -> None:
        self._db.execute("DELETE FROM person_status")

    def fingerprint(self) -> str | None:
        return self._state("fingerprint")

    def set_fingerprint(self, value: str) -> None:
        self._set_state("fingerprint", value)

    def contacts_fingerprint(self) -> str | None:
        """What the contacts were derived with (the engine's own digest); None when they must be derived anew."""
        return self._state("contacts_fingerprint")

    def set_contacts_fingerprint(self, value: str) -> None:
        self._set_state("contacts_fingerprint", value)

    def owner_variants(self) -> dict[str, str]:
        """The owner variants known at the last recompute (address → why), so a new one is said once."""
        text = self._state("owner_variants")
        return dict(json.loads(text)) if text else {}

    def set_owner_variants(self, variants: Mapping[str, str]) -> None:
        self._set_state("owner_variants", json.dumps(dict(variants), sort_keys=True))

    def person_map(self) -> dict[str, str]:
        """Address → person key, for every address that belonged to another person at the last refresh."""
        text = self._state("person_map")
        return dict(json.loads(text)) if text else {}

    def set_person_map(self, mapping: Mapping[str, str]) -> None:
        self._set_state("person_map", json.dumps(dict(mapping), sort_keys=True))

    def _state(self, key: str) -> str | None:
        row = self._db.execute("SELECT value FROM engine_state WHERE key = ?", (key,)).fetchone()
        return None if row is None else str(row[0])

    def _set_state(self, key: str, value: str) -> None:
        self._db.execute("INSERT OR REPLACE INTO engine_state(key, value) VALUES (?, ?)", (key, value))
