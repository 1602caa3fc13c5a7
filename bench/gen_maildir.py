"""Write a synthetic Maildir of N messages: outbound, inbound and bulk mail among P people (seeded).

    .venv/bin/python bench/gen_maildir.py OUT --messages 1000000 --folders 100 --people 20000

Deterministic for a seed. Headers only matter to syncd, so bodies are one line.
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
        if kind == "out":
            sender, to = f"Me <{owner}>", f"{names[who]} <{addresses[who]}>"
        else:
            sender, to = f"{names[who]} <{addresses[who]}>", f"Me <{owner}>"
        cc = f"\nCc: {names[(who + 1) % people]} <{addresses[(who + 1) % people]}>" if rng.random() < 0.2 else ""
        bulk = "\nList-Id: <news.org.example>\nPrecedence: bulk" if kind == "bulk" else ""
        text = (
            f"From: {sender}\nTo: {to}{cc}\nSubject: Message {n}\nDate: {format_datetime(when)}\n"
            f"Message-ID: <{n}.{seed}@gen.example>{bulk}\n\nbody {n}\n"
        )
        path = dirs[folder] / f"{int(when.timestamp())}.{n}_{seed}.gen:2,S"
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
