"""Address-book benchmark: 10,000 cards in one .vcf file — parse, store, recompute — then the file read again
after one card changed, and a vdirsyncer-style folder of one card per file.

    .venv/bin/python bench/bench_cards.py               # 10,000 cards, 20,000 interactions of mail with them
    .venv/bin/python bench/bench_cards.py --cards 2000  # a quick run

Each card is what a phone export holds: FN, N, two addresses, a phone number, a postal address, an
organisation, two categories, a birthday and a note folded over two lines; half of the people also have
mail (two messages each, through ``Store.apply_batch``). Stages are timed separately: parsing (the vCard
address book's pull, vobject underneath), storing (``store.cards.apply_batch``), a full recompute, then the
incremental path (one card edited: the whole file parsed again, one card stored, one person recomputed).
Peak RSS is ``resource.getrusage(RUSAGE_SELF).ru_maxrss`` (KiB on Linux) at the end.
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import resource
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from connectors.base import Batch, CardBatch, Interaction, Participant
from connectors.local.vcard import VcardBook
from syncd import engine
from syncd.config import TierConfig, parse_config
from syncd.store import Store

OWNER = "me@example.com"
NOW = datetime(2026, 6, 1, 12, tzinfo=UTC)
GROUPS = ("Family", "Clients", "Suppliers", "Old colleagues", "Friends", "Neighbours", "Club")


def card(i: int, name: str | None = None) -> str:
    return (
        f"BEGIN:VCARD\r\nVERSION:3.0\r\nUID:uid-{i}\r\nFN:{name or f'Person {i}'}\r\nN:{i};Person;;;\r\n"
        f"EMAIL;TYPE=INTERNET,pref:p{i}@example.org\r\nEMAIL;TYPE=INTERNET:p{i}@work{i % 97}.example\r\n"
        f"TEL;TYPE=CELL:+49 170 {i:07d}\r\nADR;TYPE=HOME:;;Street {i};City;;{10000 + i};DE\r\n"
        f"ORG:Company {i % 50};Sales\r\nCATEGORIES:{GROUPS[i % 7]},{GROUPS[(i * 3) % 7]}\r\n"
        f"BDAY:19{50 + i % 50}-{1 + i % 12:02d}-{1 + i % 28:02d}\r\n"
        "NOTE:Met at the trade fair; prefers a call to an email and remembers every birthday, so\r\n"
        "  keep this card up to date\r\nEND:VCARD\r\n"
    )


def mail(n: int) -> list[Interaction]:
    found = []
    for i in range(0, n, 2):
        when = NOW - timedelta(days=1 + (i * 13) % 900)
        found.append(Interaction(f"m{i}", "mail", when, [Participant(OWNER, "", "from"),
                                                           Participant(f"p{i}@example.org", "", "to")],
                                 message_id=f"m{i}@bench"))
        found.append(Interaction(f"r{i}", "mail", when + timedelta(days=1),
                                 [Participant(f"p{i}@work{i % 97}.example", f"P. {i}", "from"),
                                  Participant(OWNER, "", "to")], message_id=f"r{i}@bench"))
    return found


class Known:
    def __init__(self, store: Store) -> None:
        self.store = store

    def known_ids(self, resource: str) -> set[str]:
        return self.store.cards.known_ids("book", resource)


def timed(label: str, started: float) -> float:
    now = time.perf_counter()
    print(f"  {label:<52} {now - started:8.2f} s")
    return now


def run(cards: int, folder: Path) -> None:
    print(f"{cards:,} cards in one file ({cards // 2:,} people also in mail)")
    path = folder / "contacts.vcf"
    path.write_text("".join(card(i) for i in range(cards)), encoding="utf-8")
    print(f"  file: {path.stat().st_size / 1e6:.1f} MB")
    tiers = (TierConfig("family", every=timedelta(days=30), groups=("family",)),
             TierConfig("suppliers", remind=False, groups=("suppliers",)))
    config = dataclasses.replace(parse_config({"accounts": {}, "followups": {"birthdays": True}}), tiers=tiers)
    with Store(folder / "state.sqlite3") as store:
        store.accounts.ensure("mail", "maildir")
        store.accounts.set_owner_addresses("mail", [OWNER])
        store.accounts.ensure("book", "vcard")
        store.synced.apply_batch("mail", Batch("inbox", "c", mail(cards)))
        book = VcardBook("book", {"path": path})
        started = time.perf_counter()
        batches = list(book.pull(store.synced.cursors("book"), Known(store)))
        parsed = timed(f"parse ({sum(len(b.cards) for b in batches):,} cards, {len(batches)} batches)", started)
        for batch in batches:
            store.cards.apply_batch("book", batch, now=NOW)
        stored = timed("store", parsed)
        stats = engine.recompute(store, config, NOW)
        timed(f"recompute ({stats.persons:,} persons)", stored)
        timed("parse + store + recompute", started)
        edited = "".join(card(i, "Renamed Person" if i == cards // 2 else None) for i in range(cards))
        path.write_text(edited, encoding="utf-8")
        os.utime(path, ns=(1, 1))
        started = time.perf_counter()
        changed = 0
        for batch in book.pull(store.synced.cursors("book"), Known(store)):
            changed += store.cards.apply_batch("book", batch, now=NOW)
        reread = timed(f"one card edited: read again ({changed} changed)", started)
        stats = engine.refresh(store, config, NOW)
        timed(f"one card edited: refresh ({stats.persons} persons updated)", reread)
        started = time.perf_counter()
        for _ in book.pull(store.synced.cursors("book"), Known(store)):
            pass
        timed("unchanged file: pull (not opened)", started)
    print()
    print(f"{cards:,} cards, one file each (a vdirsyncer folder)")
    each = folder / "vdir"
    each.mkdir()
    for i in range(cards):
        (each / f"uid-{i}.vcf").write_text(card(i), encoding="utf-8")
    with Store(folder / "vdir.sqlite3") as store:
        store.accounts.ensure("book", "vcard")
        book = VcardBook("book", {"path": each})
        started = time.perf_counter()
        for batch in book.pull(store.synced.cursors("book"), Known(store)):
            store.cards.apply_batch("book", batch, now=NOW)
        first = timed("first pull (parse + store, one batch a file)", started)
        batches: list[CardBatch] = list(book.pull(store.synced.cursors("book"), Known(store)))
        timed(f"idle pull ({len(batches)} batches: every file only stat'ed)", first)
    print(f"  peak RSS {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MB")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cards", type=int, default=10_000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="syncd-bench-cards-") as folder:
        run(args.cards, Path(folder))


if __name__ == "__main__":
    main()
