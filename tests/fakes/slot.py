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


def assert_no_secret(text: str, stored: str | None) -> None:
    """``text`` (an error, a line of output) names none of the secrets of the stored login, and is one line."""
    import json

    info = json.loads(stored or "{}")
    for secret in (info.get("token"), info.get("refresh_token"), info.get("client_secret"), "at-", "rt-1"):
        assert secret and secret not in text, text
    assert "\n" not in text and "Traceback" not in text
