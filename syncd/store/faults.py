"""What a failing state folder or database means for the user: one sentence per cause, exit code 3.

The state is one folder holding one SQLite database. It fails in a handful of ways, each with its own
remedy: the disk is full (free space; the last whole batch is committed, nothing is lost), the folder
or file is read-only or not ours (permissions; the data is intact, so never "move it away"), the path is
no folder or the database no database file (move the stranger away), or pages are damaged (what
``PRAGMA integrity_check`` says, and how to go back to the last good copy syncd keeps beside it, see
:mod:`syncd.store.lastgood`). SQLite's result codes tell the causes apart (docs/sqlite.md#result-codes);
an OSError's errno does the same for the folder.
"""

from __future__ import annotations

import errno
import os
import shlex
import shutil
import sqlite3
from pathlib import Path

from syncd.errors import StateError
from syncd.store import lastgood
from syncd.store.bytenames import shown

# Primary result codes (the low byte of an extended code), https://www.sqlite.org/rescode.html
SQLITE_PERM, SQLITE_BUSY, SQLITE_LOCKED, SQLITE_READONLY = 3, 5, 6, 8
SQLITE_IOERR, SQLITE_CORRUPT, SQLITE_FULL, SQLITE_CANTOPEN, SQLITE_NOTADB = 10, 11, 13, 14, 26
NEARLY_FULL = 1 << 20  # an I/O error with less free space than this is a full disk
DAMAGED_FOLDER = "damaged"


class StateFault(StateError):
    """The state cannot be used as it is; ``read_only`` says whether it can still be read."""

    def __init__(self, message: str, read_only: bool = False) -> None:
        super().__init__(message)
        self.read_only = read_only


def is_database_error(exc: BaseException) -> bool:
    """Whether ``exc`` came from the database itself (for callers that may not know SQLite's errors)."""
    return isinstance(exc, sqlite3.Error)


def describe(exc: BaseException, database: Path) -> StateFault | None:
    """The sentence for ``exc`` met while using the state database ``database``; None if it is no state fault."""
    if isinstance(exc, StateFault):
        return exc
    if isinstance(exc, sqlite3.Error):
        return _database_fault(exc, database)
    if isinstance(exc, OSError) and _concerns(exc, database.parent):
        return folder_fault(exc, database.parent)
    return None


def folder_fault(exc: OSError, folder: Path) -> StateFault:
    where = shown(str(exc.filename or folder))
    code = exc.errno
    if code in (errno.ENOSPC, errno.EDQUOT):
        return _full(folder)
    if code == errno.EROFS:
        return StateFault(f"the state folder {shown(str(folder))} is on a read-only file system: syncd must write "
                          "there; mount it writable or set SYNCD_STATE_DIR to a writable folder", read_only=True)
    if code in (errno.EACCES, errno.EPERM):
        if not folder.exists():
            return StateFault(f"cannot create the state folder {shown(str(folder))} (permission denied): create it "
                              "yourself, or set SYNCD_STATE_DIR to a folder you may write to")
        return StateFault(f"no permission to write {where}: syncd must write its state folder; make it yours and "
                          f"writable (chmod u+w {shlex.quote(where)}), or set SYNCD_STATE_DIR elsewhere; "
                          "the data in it is intact", read_only=True)
    if code in (errno.EEXIST, errno.ENOTDIR) or (folder.exists() and not folder.is_dir()):
        return StateFault(f"the state path {shown(str(folder))} is not a folder: move that file away, or set "
                          "SYNCD_STATE_DIR to a folder")
    if code == errno.EISDIR:
        return StateFault(f"{where} is a folder, not a database file: move it away; syncd makes a new one")
    if exc.filename is not None and os.path.abspath(os.fsdecode(exc.filename)) != os.path.abspath(folder):
        # A file in the folder, such as a database that is a link to a place moved away: name it, not the folder.
        return StateFault(f"cannot use {where} in the state folder: {exc.strerror or exc}; check that it (and what "
                          "it links to) exists and is yours")
    return StateFault(f"cannot use the state folder {shown(str(folder))}: {exc.strerror or exc}")


def _concerns(exc: OSError, folder: Path) -> bool:
    """Whether the OSError is about the state folder or something in it."""
    if exc.filename is None:
        return False
    path = os.path.abspath(os.fsdecode(exc.filename))
    base = os.path.abspath(folder)
    return path == base or path.startswith(base + os.sep) or base.startswith(path + os.sep)


def _full(folder: Path) -> StateFault:
    return StateFault(f"the disk holding the state folder {shown(str(folder))} is full: free some space there and "
                      "run syncd again; everything up to the last whole batch is kept, and the next pull resumes")


def _database_fault(exc: sqlite3.Error, database: Path) -> StateFault | None:
    primary = getattr(exc, "sqlite_errorcode", -1) & 0xFF
    text = str(exc)
    folder = database.parent
    if primary == SQLITE_FULL or "database or disk is full" in text:
        return _full(folder)
    if primary == SQLITE_IOERR:
        if _free_bytes(folder) < NEARLY_FULL:
            return _full(folder)
        return StateFault(f"an I/O error while using the state database {shown(str(database))} ({text}): the disk "
                          "may be failing; copy the state folder somewhere safe before anything else")
    if primary in (SQLITE_READONLY, SQLITE_PERM) or "readonly database" in text:
        if folder.is_dir() and not os.access(folder, os.W_OK | os.X_OK):  # the folder, not the file
            return folder_fault(OSError(errno.EACCES, "Permission denied", str(folder)), folder)
        return StateFault(f"the state database {shown(str(database))} is read-only for syncd: make it and its "
                          f"folder yours and writable (chmod u+w {shlex.quote(str(database))} "
                          f"{shlex.quote(str(folder))}); the data in it is intact", read_only=True)
    if primary == SQLITE_CANTOPEN:
        if database.is_dir():
            return StateFault(f"{shown(str(database))} is a folder, not a database file: move it away; "
                              "syncd makes a new one")
        if folder.is_dir() and not os.access(folder, os.W_OK | os.X_OK):
            return folder_fault(OSError(errno.EACCES, "Permission denied", str(folder)), folder)
        return StateFault(f"cannot open the state database {shown(str(database))} ({text}): check that its folder "
                          "exists and is yours", read_only=True)
    if primary == SQLITE_NOTADB:
        return StateFault(f"{shown(str(database))} is not a database file (someone else's file has its name?): "
                          "move it away; syncd makes a new one and reads your mail and calendars again")
    if primary == SQLITE_CORRUPT or "malformed" in text:
        return damaged(database)
    if primary in (SQLITE_BUSY, SQLITE_LOCKED):
        return StateFault(f"the state database {shown(str(database))} is locked by another program: close it "
                          "(an SQLite browser?) and try again")
    return None  # SQLITE_ERROR and the like: a bug of syncd's, not the state's (the boundary says "internal")


def _free_bytes(folder: Path) -> int:
    try:
        return shutil.disk_usage(folder).free
    except OSError:
        return 0


def integrity_problems(database: Path, limit: int = 3) -> list[str]:
    """What ``PRAGMA integrity_check`` says about ``database`` (first ``limit`` lines); [] when it is sound."""
    try:
        db = sqlite3.connect(f"file:{database}?mode=ro", uri=True)
        try:
            rows = [str(row[0]) for row in db.execute(f"PRAGMA integrity_check({int(limit)})")]
        finally:
            db.close()
    except sqlite3.Error as exc:
        return [str(exc)]
    return [] if rows == ["ok"] else rows


def damaged(database: Path) -> StateFault:
    problems = integrity_problems(database) or ["database disk image is malformed"]
    found = "; ".join(" ".join(problem.split()) for problem in problems)[:200]
    folder = shlex.quote(str(database.parent))
    name = database.name
    copy = lastgood.path_of(database)
    aside = f"cd {folder} && mkdir -p {DAMAGED_FOLDER} && mv {name}* {DAMAGED_FOLDER}/"
    if copy.exists():
        when = lastgood.taken(copy)
        return StateFault(f"the state database {shown(str(database))} is damaged (integrity check: {found}); "
                          f"to go back to the last good copy {shown(str(copy))} (from {when}), stop syncd and run: "
                          f"{aside} && cp {shlex.quote(copy.name)} {name}")
    return StateFault(f"the state database {shown(str(database))} is damaged (integrity check: {found}) and there "
                      "is no good copy yet; to start afresh (mail and meetings are read again, your merges, rhythms "
                      f"and notes are lost), stop syncd and run: {aside}")
