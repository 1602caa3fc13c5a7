"""Engine benchmark: full recompute over N synthetic interactions, and an incremental refresh.

    .venv/bin/python bench/bench_engine.py                       # 1,000,000 interactions, 20,000 addresses
    .venv/bin/python bench/bench_engine.py --interactions 20000  # a quick run

    .venv/bin/python bench/bench_engine.py --profile             # and where the recompute's time went

Rows are written straight into the store's tables with ``executemany`` in batches of 50,000 (going
through ``Store.apply_batch`` would measure ingestion, which bench_ingest does, and take minutes), in a
child process, so that the peak RSS printed is the engine's own: the benchmark process opens the filled
store fresh, as ``syncd`` does, then runs ``engine.recompute`` and, after 100 new messages through
``Store.apply_batch``, ``engine.refresh``; in between, ``engine.refresh`` after a tier is added to the
settings (every standing recomputed from the contacts kept). Peak RSS is ``resource.getrusage(RUSAGE_SELF).ru_maxrss``
(KiB on Linux) after the full recompute. Targets: full < 5 s and < 200 MB peak RSS; incremental < 0.05 s.
"""

from __future__ import annotations

import argparse
import cProfile
import dataclasses
import multiprocessing
import pstats
import random
import resource
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from connectors.base import Batch, Interaction, Participant
from syncd import engine
from syncd.config import Config, TierConfig
from syncd.store import Store

OWNER = "me@example.com"
NOW = datetime(2026, 1, 1, tzinfo=UTC)


def fill(store: Store, interactions: int, addresses: int, seed: int) -> None:
    rng = random.Random(seed)
    start = int((NOW - timedelta(days=5 * 365)).timestamp())
    span = int(NOW.timestamp()) - start
    people = [f"person{i}@org{i % 211}.example" for i in range(addresses)]
    with store.transaction() as db:
        db.execute("INSERT INTO accounts(name, provider, owner_addresses) VALUES ('bench', 'maildir', ?)",
                   (f'["{OWNER}"]',))
        for base in range(0, interactions, 50_000):
            rows, parts = [], []
            for i in range(base, min(base + 50_000, interactions)):
                iid = i + 1
                ts = start + rng.randrange(span)
                who = people[rng.randrange(addresses)]
                kind = rng.random()
                bulk = "List-Id" if kind < 0.1 else None
                rows.append((iid, "mail", f"m{iid}@bench", ts, bulk, 2))
                name = f"Person {who[6:who.index('@')]}" if kind < 0.8 else None
                if kind < 0.55:
                    parts += [(iid, who, name, "from"), (iid, OWNER, "Me", "to")]
                else:
                    parts += [(iid, OWNER, "Me", "from"), (iid, who, name, "to")]
                other = people[(i * 7) % addresses]
                if kind > 0.9 and other != who:  # the store keeps one row per recipient (participant_rows)
                    parts.append((iid, other, None, "cc"))
            db.executemany("INSERT INTO interactions(id, kind, message_id, ts, bulk, recipient_count) VALUES (?,?,?,?,?,?)", rows)
            db.executemany("INSERT INTO participants(interaction_id, address, name, role) VALUES (?,?,?,?)", parts)
            db.executemany("INSERT INTO sightings(account, provider_id, resource, interaction_id) VALUES ('bench', ?, 'x', ?)",
                           ((r[2], r[0]) for r in rows))
            db.executemany("INSERT INTO pending_interactions(interaction_id) VALUES (?)", ((r[0],) for r in rows))
        # What ingestion keeps as it goes (the store's apply_batch): the display names seen per address, with
        # who wrote them (the message's sender).
        db.execute("INSERT INTO address_names(address, name, named_by, seen) SELECT p.address, p.name, s.address, "
                   "COUNT(*) FROM participants p JOIN participants s ON s.interaction_id = p.interaction_id "
                   "AND s.role = 'from' WHERE p.name IS NOT NULL GROUP BY 1, 2, 3")


def _fill_file(path: Path, interactions: int, addresses: int, seed: int) -> None:
    with Store(path) as store:
        fill(store, interactions, addresses, seed)


def main(argv: list[str] | None = None) -> dict[str, float]:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--interactions", type=int, default=1_000_000)
    parser.add_argument("--addresses", type=int, default=20_000)
    parser.add_argument("--seed", type=int, default=3)
    parser.add_argument("--profile", action="store_true", help="print where the full recompute's time went")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="syncd-bench-") as tmp:
        path = Path(tmp) / "bench.sqlite3"
        started = time.perf_counter()
        child = multiprocessing.get_context("fork").Process(
            target=_fill_file, args=(path, args.interactions, args.addresses, args.seed))
        child.start()
        child.join()
        if child.exitcode != 0:
            raise SystemExit(f"filling the store failed (exit code {child.exitcode})")
        print(f"filled {args.interactions:,} interactions / {args.addresses:,} addresses in "
              f"{time.perf_counter() - started:.1f} s (in a child process)")
        store = Store(path)
        config = Config()
        rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        profile = cProfile.Profile() if args.profile else None
        started = time.perf_counter()
        if profile is not None:
            profile.enable()
        full = engine.recompute(store, config, NOW)
        if profile is not None:
            profile.disable()
        full_seconds = time.perf_counter() - started
        rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        print(f"full recompute: {full_seconds:.2f} s for {full.persons:,} persons "
              f"(target < 5 s); peak RSS {rss:.0f} MB (before: {rss_before:.0f} MB; target < 200 MB)")
        if profile is not None:
            pstats.Stats(profile).sort_stats("cumulative").print_stats(25)
        # A settings change that moves standings, not contacts (a tier added): everyone is recomputed from the
        # contacts already derived.
        config = dataclasses.replace(config, tiers=(TierConfig("org1", every=timedelta(days=30), match=("org1.example",)),))
        started = time.perf_counter()
        changed = engine.refresh(store, config, NOW)
        changed_seconds = time.perf_counter() - started
        print(f"after a settings change (a tier added): {changed_seconds:.2f} s for {changed.persons:,} persons, "
              f"contacts kept: {changed.kept_contacts}")
        rng = random.Random(args.seed + 1)
        new = [
            Interaction(f"new/{n}", "mail", NOW - timedelta(hours=n), [
                Participant(OWNER, "Me", "from"),
                Participant(f"person{rng.randrange(args.addresses)}@org1.example", "", "to")],
                message_id=f"new{n}@bench")
            for n in range(100)
        ]
        store.synced.apply_batch("bench", Batch("x", "c", new))
        started = time.perf_counter()
        incremental = engine.refresh(store, config, NOW)
        incremental_seconds = time.perf_counter() - started
        print(f"incremental refresh after 100 new messages: {incremental_seconds:.3f} s "
              f"({incremental.persons} persons recomputed; target < 0.05 s)")
        store.close()
    return {"kept_contacts": changed.kept_contacts, "full_seconds": full_seconds, "peak_rss_mb": rss, "incremental_seconds": incremental_seconds,
            "settings_change_seconds": changed_seconds,
            "persons": full.persons, "recomputed": incremental.persons}


if __name__ == "__main__":
    main()
