"""Write a synthetic Maildir of N messages: outbound, inbound and bulk mail among P people (seeded).

    .venv/bin/python bench/gen_maildir.py OUT --messages 1000000 --folders 100 --people 20000 --owner me@example.com

Deterministic for a seed. Headers look like a real mailbox's (Received, MIME, threads, lists); bodies
are short filler, since syncd reads only the header block.
"""

from __future__ import annotations

import argparse
import os
import random
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from pathlib import Path

START = datetime(2015, 1, 1, tzinfo=UTC)


def generate(out: Path, messages: int, folders: int = 10, people: int = 2000, owner: str = "me@example.com",
             seed: int = 1) -> None:
    rng = random.Random(seed)
    addresses = [f"person{i}@org{i % 97}.example" for i in range(people)]
    names = [f"Person {i}" for i in range(people)]
    dirs = []
    for f in range(folders):
        name = ".Sent" if f == 0 else f".Folder{f}"
        for part in ("cur", "new", "tmp"):
            (out / name / part).mkdir(parents=True, exist_ok=True)
        dirs.append(out / name / "cur")
    span = int(timedelta(days=10 * 365).total_seconds())
    for n in range(messages):
        when = START + timedelta(seconds=rng.randrange(span))
        who = rng.randrange(people)
        folder = rng.randrange(folders)
        kind = "out" if folder == 0 else ("bulk" if rng.random() < 0.15 else "in")
        # Mostly one recipient, sometimes a few, now and then a crowd (over the recipient cap).
        crowd = rng.choice((1, 1, 1, 1, 2, 3, 5)) if rng.random() > 0.01 else 40
        others = [(who + k * 7919) % people for k in range(crowd)]
        listed = ", ".join(f'"{names[i]}" <{addresses[i]}>' for i in others)
        if kind == "out":
            sender, to = f"Me <{owner}>", listed
        elif kind == "bulk":
            sender, to = f"News {who % 50} <news{who % 50}@lists.example>", f"Me <{owner}>"
        else:
            sender, to = f"{names[who]} <{addresses[who]}>", f"Me <{owner}>"
        headers = [f"Return-Path: <{addresses[who]}>",
                   f"Received: from mx{n % 7}.example by mail.example with ESMTPS id {n:x}; {format_datetime(when)}",
                   f"From: {sender}", f"To: {to}"]
        if rng.random() < 0.2:
            headers.append(f"Cc: {names[(who + 1) % people]} <{addresses[(who + 1) % people]}>")
        subject = f"Message {n}" if rng.random() > 0.05 else f"=?utf-8?q?Caf=C3=A9_{n}?="
        headers += [f"Subject: {subject}", f"Date: {format_datetime(when)}", f"Message-ID: <{n}.{seed}@gen.example>"]
        if kind != "bulk" and rng.random() < 0.4:
            headers.append(f"In-Reply-To: <{max(0, n - 1)}.{seed}@gen.example>")
        if kind == "bulk":
            headers.append(rng.choice(("List-Id: <news.lists.example>\nPrecedence: bulk",
                                       "List-Unsubscribe: <mailto:unsubscribe@lists.example>",
                                       "Auto-Submitted: auto-generated")))
        headers += ["MIME-Version: 1.0", "Content-Type: text/plain; charset=utf-8"]
        text = "\n".join(headers) + f"\n\nbody {n}\n" + "lorem ipsum dolor sit amet\n" * rng.randrange(1, 40)
        # One in ten is still in new/ (not seen by a client: no ":2," info), the rest in cur/.
        unique = f"{int(when.timestamp())}.M{n}P{seed}.gen"
        path = (dirs[folder].parent / "new" / unique) if n % 10 == 0 else dirs[folder] / f"{unique}:2,S"
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        os.write(fd, text.encode())
        os.close(fd)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("out", type=Path)
    parser.add_argument("--messages", type=int, default=100_000)
    parser.add_argument("--folders", type=int, default=100)
    parser.add_argument("--people", type=int, default=20_000)
    parser.add_argument("--owner", default="me@example.com")
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    generate(args.out, args.messages, args.folders, args.people, args.owner, args.seed)


if __name__ == "__main__":
    main()
