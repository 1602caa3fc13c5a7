"""The state: one SQLite database; the only package that executes SQL."""

from __future__ import annotations

from syncd.store.synced import Store, utc_now_iso

__all__ = ["Store", "utc_now_iso"]
