"""The engine: who counts, when each relationship last had real contact, and when each is due."""

from __future__ import annotations

from syncd.engine.refresh import RefreshStats, people, recompute, refresh

__all__ = ["RefreshStats", "people", "recompute", "refresh"]
