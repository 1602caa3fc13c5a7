"""The benchmarks' maildir generator (``bench/gen_maildir.py``), for tests that need a big mailbox."""

from __future__ import annotations

import importlib.util

from tests.support.paths import ROOT

_spec = importlib.util.spec_from_file_location("gen_maildir", ROOT / "bench" / "gen_maildir.py")
assert _spec and _spec.loader
gen_maildir = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(gen_maildir)
