"""The last good copy of the state database, kept beside it so that a damaged one can be replaced.

After a job that went through, when the copy is missing or a day old, the database is copied with SQLite's
online backup API (a consistent snapshot while it is in use, docs/sqlite.md#backups-and-checks) into a
temporary file, checked with ``PRAGMA quick_check``, and renamed over the previous copy. Once a day keeps
the cost small — copying a large database takes seconds — and bounds what a restore loses to a day of
your own decisions; mail and meetings are read again from the sources. A copy that fails the check is
not kept: the live database is damaged, and the job says so (exit 3). A temporary file left by a copy
that was killed is removed the next time.
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

NAME = "last-good.sqlite3"
EVERY_SECONDS = 24 * 3600
_DAMAGED = (11, 26)  # SQLITE_CORRUPT, SQLITE_NOTADB (https://www.sqlite.org/rescode.html)


class DamagedDatabase(Exception):
    """The database to copy fails its check: it is damaged, and is not kept as a good copy."""


def path_of(database: Path) -> Path:
    return database.parent / NAME


def taken(copy: Path) -> str:
    return datetime.fromtimestamp(copy.stat().st_mtime, UTC).strftime("%Y-%m-%d %H:%M UTC")


def refresh(db: sqlite3.Connection, database: Path, now: float | None = None) -> str | None:
    """Renew the copy of ``database`` (open as ``db``) when it is due; returns a warning when it could not be.

    Raises :class:`DamagedDatabase` when the database itself fails the check.
    """
    copy = path_of(database)
    for stray in copy.parent.glob(f".{NAME}.*.tmp"):
        with contextlib.suppress(OSError):
            stray.unlink()
    now = time.time() if now is None else now
    with contextlib.suppress(OSError):
        if now - copy.stat().st_mtime < EVERY_SECONDS:
            return None
    temp = ""
    try:
        fd, temp = tempfile.mkstemp(prefix=f".{NAME}.", suffix=".tmp", dir=copy.parent)
        os.close(fd)
        target = sqlite3.connect(temp)
        try:
            db.backup(target)
            verdict = target.execute("PRAGMA quick_check").fetchone()[0]
        finally:
            target.close()
        if verdict != "ok":
            raise DamagedDatabase(verdict)
        os.chmod(temp, 0o600)  # it holds the same private metadata as the database
        os.replace(temp, copy)
    except sqlite3.Error as exc:
        if (getattr(exc, "sqlite_errorcode", -1) & 0xFF) in _DAMAGED:
            raise DamagedDatabase(str(exc)) from None
        return f"the last good copy of the state was not renewed ({exc})"
    except OSError as exc:
        return f"the last good copy of the state was not renewed ({exc.strerror or exc})"
    finally:
        if temp:
            with contextlib.suppress(OSError):
                os.unlink(temp)
    return None
