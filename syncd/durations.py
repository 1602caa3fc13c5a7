"""Durations in the configuration: the kinds that read them, and the text that writes them back.

Reading ``30d`` lives in :func:`syncd.values.parse_duration` (the CLI's ``--every`` uses it too); this
module adds what the config spec needs on top: rhythms that must not be zero, and the inverse
(``timedelta`` to ``14d``) so the JSON Schema and generated docs show defaults as a user writes them.
"""

from __future__ import annotations

from datetime import time, timedelta
from typing import Any

from syncd.values import duration, parse_duration

__all__ = ["duration", "format_duration", "parse_duration", "positive_duration"]

# Largest unit first; weeks are skipped on purpose: "180d" reads better than a mix, and the config's
# defaults are written in days and years.
_UNITS = (("y", 365 * 86400), ("d", 86400), ("h", 3600), ("m", 60), ("s", 1))


def positive_duration(value: Any) -> timedelta:
    """A rhythm or a length: zero would make a follow-up due on every run, so it is a mistake, not a choice."""
    result = duration(value)
    if not result:
        raise ValueError(f"'{value}' must be longer than zero")
    return result


def format_duration(value: timedelta | time) -> str:
    """A duration (or a time of day) as the config file writes it: ``14d``, ``3y``, ``15m``, ``09:30``."""
    if isinstance(value, time):
        return value.strftime("%H:%M")
    seconds = int(value.total_seconds())
    if seconds == 0:
        return "0m"
    unit, size = next((unit, size) for unit, size in _UNITS if seconds % size == 0)
    return f"{seconds // size}{unit}"
