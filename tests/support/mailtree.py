"""A generator of broken mail trees: what a hostile disk holds, each case with what syncd must make of it.

``write_hostile_maildir`` writes one Maildir folder whose ``cur/`` holds good mail beside every kind of
trouble seen in real archives and in the reliability campaign: a file name that is not UTF-8, an
unreadable file, mail without a Date, encoded-word garbage, 10,000 recipients, NUL bytes, 8-bit
headers, a huge header line, empty and binary files, symlinks (good, broken, looping), a FIFO, a folder
named like a message, one Message-ID used by two senders, a date from 1970. ``Case`` says for each
whether its sender must end up stored and whether it must be counted as skipped.
"""

from __future__ import annotations

import dataclasses
import os
import random
from pathlib import Path

ME = "me@example.com"


def mail(sender: str, to: str = f"Me <{ME}>", *, subject: str = "hello", date: str | None = "Mon, 2 Mar 2026 10:00:00 +0000",
         message_id: str | None = None, extra: bytes = b"") -> bytes:
    lines = [f"From: {sender}", f"To: {to}", f"Subject: {subject}"]
    if date is not None:
        lines.append(f"Date: {date}")
    if message_id is not None:
        lines.append(f"Message-ID: <{message_id}>")
    return "\n".join(lines).encode() + b"\n" + extra + b"\nbody\n"


@dataclasses.dataclass(frozen=True)
class Case:
    name: str  # what the case is, for failure messages
    sender: str | None  # an address that must be stored as a sender (From), or None
    skipped: str | None = None  # the skip reason (its text before the first colon) it must be counted under


def _file(cur: Path, name: str | bytes, data: bytes) -> None:
    path = os.path.join(os.fsencode(cur), name if isinstance(name, bytes) else name.encode())
    with open(path, "wb") as handle:
        handle.write(data)


def write_hostile_maildir(root: Path, outside: Path) -> list[Case]:
    """Write the tree under ``root`` (``outside`` holds a message a symlink points to); returns the cases."""
    cur = root / "cur"
    for part in ("cur", "new", "tmp"):
        (root / part).mkdir(parents=True, exist_ok=True)
    cases: list[Case] = []

    def add(name: str | bytes, data: bytes, case: Case) -> None:
        _file(cur, name, data)
        cases.append(case)

    for n, who in enumerate(("bob@example.org", "carol@example.org")):
        add(f"100{n}.good:2,S", mail(f"{who.split('@')[0].title()} <{who}>", message_id=f"good{n}@x"),
            Case("plain good mail", who))
    add(b"\xff\xfe:2,S", mail("Dave <dave@example.org>", message_id="latin@x"), Case("file name not UTF-8", "dave@example.org"))
    add("1003.nodate:2,S", mail("Nodate <nodate@example.org>", date=None, message_id="nodate@x"),
        Case("no Date header", "nodate@example.org"))
    add("1004.old:2,S", mail("Old <old@example.org>", date="Thu, 1 Jan 1970 00:00:00 +0000", message_id="old@x"),
        Case("a date from 1970", "old@example.org"))
    add("1005.words:2,S", mail("=?bogus-charset?b?!!!?= <frank@example.org>", subject="=?utf-8?q?=ZZ=E2=?= =?x?",
                               message_id="words@x"), Case("encoded-word garbage", "frank@example.org"))
    crowd = ", ".join(f"p{i}@crowd.example" for i in range(10_000))
    add("1006.crowd:2,S", mail(f"Me <{ME}>", to=crowd, message_id="crowd@x"), Case("10,000 recipients", ME))
    add("1007.nul:2,S", mail("Gina <gina@example.org>", subject="nul\x00inside", message_id="nul@x"),
        Case("NUL bytes in a header", "gina@example.org"))
    add("1008.latin1:2,S", ("From: Hélène <helene@example.org>\nTo: me@example.com\nSubject: été\n"
                                   "Date: Mon, 2 Mar 2026 10:00:00 +0000\n\nx\n").encode("latin-1"),
        Case("8-bit header that is not UTF-8", "helene@example.org"))
    add("1009.huge:2,S", mail("Ivan <ivan@example.org>", message_id="huge@x", extra=b"X-Huge: " + b"a" * 600_000 + b"\n"),
        Case("a 600 KB header line", "ivan@example.org"))
    add("1010.empty:2,S", b"", Case("empty file", None, "no From or recipients"))
    add("1011.binary:2,S", random.Random(7).randbytes(4096), Case("binary file", None, "no From or recipients"))
    add("1012.same:2,S", mail("Jane <jane@example.org>", message_id="shared@x"), Case("shared Message-ID, first sender", "jane@example.org"))
    add("1013.same:2,S", mail("Karl <karl@example.org>", message_id="shared@x"), Case("shared Message-ID, second sender", "karl@example.org"))
    add("1014.unreadable:2,S", mail("Erin <erin@example.org>", message_id="unreadable@x"),
        Case("unreadable file (mode 000)", "erin@example.org", "unreadable file"))
    os.chmod(cur / "1014.unreadable:2,S", 0)

    outside.mkdir(parents=True, exist_ok=True)
    (outside / "linked").write_bytes(mail("Liam <liam@example.org>", message_id="linked@x"))
    os.symlink(outside / "linked", cur / "1015.link:2,S")
    cases.append(Case("symlink to a message file", "liam@example.org"))
    os.symlink(outside / "missing", cur / "1016.broken:2,S")
    cases.append(Case("broken symlink", None, "not a regular file"))
    os.symlink(cur / "1018.loop:2,S", cur / "1017.loop:2,S")
    os.symlink(cur / "1017.loop:2,S", cur / "1018.loop:2,S")
    cases.extend([Case("symlink loop", None, "not a regular file")] * 2)
    os.mkfifo(cur / "1019.fifo:2,S")
    cases.append(Case("a FIFO (reading it would block)", None, "not a regular file"))
    (cur / "1020.folder:2,S").mkdir()
    cases.append(Case("a folder named like a message", None, "not a regular file"))
    return cases


def repair(root: Path) -> None:
    """What the user does after reading the summary: the unreadable file is made readable again."""
    os.chmod(root / "cur" / "1014.unreadable:2,S", 0o644)
