"""Where the tests find the repository and the optional Enron corpus (docs/testing.md#the-enron-corpus; absent in a fresh clone)."""

from __future__ import annotations

from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]  # the repository
SHARED_DATA = ROOT.parent / "shared" / "data"  # the Enron corpus; tests that need it skip when it is absent
ENRON_TARBALL = SHARED_DATA / "enron-maildir-10.tar.gz"
