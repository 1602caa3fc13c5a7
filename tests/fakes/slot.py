"""An in-memory :class:`connectors.base.SecretSlot` for tests: what the token store would keep."""

from __future__ import annotations


class MemorySlot:
    def __init__(self, value: str | None = None) -> None:
        self.value = value
        self.writes = 0

    def get(self) -> str | None:
        return self.value

    def set(self, value: str) -> None:
        self.value = value
        self.writes += 1
