"""Ingestion benchmark: messages per second, a second pull with nothing changed, peak RSS.

    .venv/bin/python bench/bench_ingest.py                      # the ten Enron mailboxes (docs/testing.md#the-enron-corpus)
    .venv/bin/python bench/bench_ingest.py --synthetic 1000000  # a generated maildir of that many messages

Each mailbox is one maildir account, pulled through the same code as ``syncd pull`` into a fresh
database. Peak RSS is read from the kernel (``ru_maxrss``) in a child process per run, so the runs do
not colour each other's figure.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tarfile
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
ENRON = ROOT.parent / "shared" / "data" / "enron-maildir-10.tar.gz"
OWNERS = {
    "badeer-r": "robert.badeer@enron.com", "blair-l": "lynn.blair@enron.com", "cash-m": "michelle.cash@enron.com",
    "corman-s": "shelley.corman@enron.com", "cuilla-m": "martin.cuilla@enron.com",
    "harris-s": "steven.harris@enron.com", "mckay-b": "brad.mckay@enron.com", "ring-r": "richard.ring@enron.com",
    "scholtes-d": "diana.scholtes@enron.com", "whalley-g": "greg.whalley@enron.com",
}


def child(mailboxes: list[tuple[str, str, str]], db: str) -> None:
    """Pull the mailboxes twice into ``db``; print one JSON line with the figures."""
    sys.path.insert(0, str(ROOT))
    from syncd.config import AccountConfig
    from syncd.pull import pull_account
    from syncd.store import Store

    accounts = [
        AccountConfig(name=name, provider="maildir", path=Path(path), me=(owner,) if owner else (),
                      enabled=True, options={})
        for name, path, owner in mailboxes
    ]
    with Store(db) as store:
        started = time.perf_counter()
        first = [pull_account(store, account) for account in accounts]
        first_seconds = time.perf_counter() - started
        started = time.perf_counter()
        second = [pull_account(store, account) for account in accounts]
        second_seconds = time.perf_counter() - started
        cpu = resource.getrusage(resource.RUSAGE_SELF)
        print(json.dumps({
            "read": sum(s.seen for s in first),
            "new": sum(s.new for s in first),
            "skipped": sum(sum(s.skipped.values()) for s in first),
            "failed": [s.account for s in first if s.failed],
            "first_seconds": first_seconds,
            "second_seconds": second_seconds,
            "second_read": sum(s.seen for s in second),
            "cpu_seconds": cpu.ru_utime + cpu.ru_stime,
            "peak_rss_mb": cpu.ru_maxrss / 1024,
            "interactions": store.count("interactions"),
        }))


def run(label: str, mailboxes: list[tuple[str, str, str]], workdir: Path) -> None:
    spec = json.dumps(mailboxes)
    out = subprocess.run(
        [sys.executable, __file__, "--child", spec, str(workdir / f"{label}.sqlite3")],
        check=True, capture_output=True, text=True,
    ).stdout
    figures = json.loads(out.strip().splitlines()[-1])
    rate = figures["read"] / figures["first_seconds"] if figures["first_seconds"] else 0.0
    print(f"{label}:")
    print(f"  first pull:   {figures['read']:,} messages read, {figures['new']:,} new interactions, "
          f"{figures['skipped']:,} skipped, {figures['first_seconds']:.2f} s -> {rate:,.0f} messages/s")
    print(f"  second pull:  {figures['second_read']} read, {figures['second_seconds']:.3f} s (nothing changed)")
    print(f"  peak RSS:     {figures['peak_rss_mb']:.0f} MB;  CPU {figures['cpu_seconds']:.1f} s")
    if figures["failed"]:
        print(f"  FAILED accounts: {figures['failed']}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--synthetic", type=int, default=0, help="also pull a generated maildir of N messages")
    parser.add_argument("--child", nargs=2, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child([tuple(m) for m in json.loads(args.child[0])], args.child[1])
        return
    with tempfile.TemporaryDirectory(prefix="syncd-bench-") as tmp:
        workdir = Path(tmp)
        if ENRON.exists():
            with tarfile.open(ENRON) as archive:
                archive.extractall(workdir / "enron", filter="data")
            root = next((workdir / "enron").rglob("maildir"))
            boxes = [(user, str(root / user), OWNERS.get(user, "")) for user in sorted(p.name for p in root.iterdir())]
            run("enron (10 mailboxes)", boxes, workdir)
        else:
            print(f"skipping Enron: {ENRON} not found")
        if args.synthetic:
            target = workdir / "synthetic"
            started = time.perf_counter()
            subprocess.run(
                [sys.executable, str(ROOT / "bench" / "gen_maildir.py"), str(target), "--messages", str(args.synthetic)],
                check=True,
            )
            print(f"generated {args.synthetic:,} messages in {time.perf_counter() - started:.0f} s")
            run(f"synthetic ({args.synthetic:,} messages)", [("synthetic", str(target), "me@example.com")], workdir)


if __name__ == "__main__":
    main()
