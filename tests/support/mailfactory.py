"""Helpers that write real mail files for the maildir and mbox tests, and pull them into a real store."""

from __future__ import annotations

import os
import re
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from connectors.base import Batch, Interaction, Source
from syncd.store import Store

ME = "me@example.com"
BOB = "bob@example.org"


def message(n: int, sender: str = f"Me <{ME}>", to: str = f"Bob <{BOB}>", extra: str = "",
            date: str | None = "Mon, 2 Mar 2026 10:00:00 +0100", body: str = "") -> bytes:
    """One RFC 5322 message; ``extra`` is more header lines, each ending in a newline."""
    lines = [f"From: {sender}", f"To: {to}", f"Subject: note {n}"]
    if date is not None:
        lines.append(f"Date: {date}")
    lines.append(f"Message-ID: <m{n}@example.com>")
    return ("\n".join(lines) + "\n" + extra + "\n" + (body or f"body line {n}\n")).encode()


def maildir_name(n: int, flags: str = "S") -> str:
    return f"{1700000000 + n}.M{n}P1.host:2,{flags}"


def write_maildir(root: Path, folders: dict[str, list[bytes]], first: int = 0) -> None:
    """Maildir folders (cur/ new/ tmp/) under ``root``; "." is the root itself. Messages go to cur/."""
    for folder, messages in folders.items():
        base = root if folder == "." else root / folder
        for part in ("cur", "new", "tmp"):
            (base / part).mkdir(parents=True, exist_ok=True)
        for n, data in enumerate(messages, start=first):
            (base / "cur" / maildir_name(n)).write_bytes(data)


def write_plain(root: Path, folder: str, messages: Iterable[bytes], first: int = 1) -> None:
    """A plain folder of numbered one-message files, as in the Enron corpus (``sent/1.``)."""
    (root / folder).mkdir(parents=True, exist_ok=True)
    for n, data in enumerate(messages, start=first):
        (root / folder / f"{n}.").write_bytes(data)


def age(root: Path, seconds: int = 60) -> None:
    """Set every directory's mtime back, so a pull sees folders that settled (instead of sleeping)."""
    for dirpath, _, _ in os.walk(root):
        stat = os.stat(dirpath)
        os.utime(dirpath, ns=(stat.st_atime_ns, stat.st_mtime_ns - seconds * 1_000_000_000))


def mtimes(root: Path) -> dict[str, int]:
    return {dirpath: os.stat(dirpath).st_mtime_ns for dirpath, _, _ in os.walk(root)}


def restore_mtimes(saved: dict[str, int]) -> None:
    for dirpath, mtime in saved.items():
        os.utime(dirpath, ns=(mtime, mtime))


_FROM_LINE = re.compile(rb"^(>*From )", re.MULTILINE)


def mbox_entry(data: bytes, sender: str = "MAILER-DAEMON", date: str = "Mon Mar  2 10:00:00 2026") -> bytes:
    """One mboxrd entry: postmark line, the message with body "From " lines quoted, an empty line."""
    if not data.endswith(b"\n"):
        data += b"\n"
    return f"From {sender} {date}\n".encode() + _FROM_LINE.sub(rb">\1", data) + b"\n"


def write_mbox(path: Path, messages: Iterable[bytes], append: bool = True) -> None:
    with path.open("ab" if append else "wb") as handle:
        for data in messages:
            handle.write(mbox_entry(data))


class Harness:
    """A source pulled into a real store, as ``syncd pull`` does (cursors and known ids from the store)."""

    def __init__(self, source: Source, account: str = "a") -> None:
        self.source = source
        self.account = account
        self.store = Store(":memory:")
        self.store.accounts.ensure(account, source.provider)

    def known_ids(self, resource: str) -> set[str]:
        return self.store.synced.known_ids(self.account, resource)

    def pull(self, limit: int | None = None) -> list[Batch]:
        """Pull and commit every batch; ``limit`` stops after that many, like a pull killed mid-way."""
        batches: list[Batch] = []
        for batch in self.source.pull(self.store.synced.cursors(self.account), self):
            self.store.synced.apply_batch(self.account, batch)
            batches.append(batch)
            if limit is not None and len(batches) >= limit:
                break
        return batches

    def stored(self) -> int:
        row = self.store.db.execute("SELECT COUNT(*) FROM sightings WHERE account = ?", (self.account,)).fetchone()
        return int(row[0])


def items(batches: list[Batch]) -> list[Interaction]:
    return [i for b in batches for i in b.interactions]


def reasons(batches: list[Batch]) -> list[str]:
    return [s.why for b in batches for s in b.skipped]


def ids(batches: list[Batch]) -> list[str]:
    return sorted(i.provider_id for i in items(batches))


def settings(path: Path, me: tuple[str, ...] = (ME,)) -> dict[str, Any]:
    return {"path": path, "me": me}
