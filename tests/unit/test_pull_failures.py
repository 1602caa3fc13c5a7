"""How a whole online source fails in a pull: one sentence in the summary, the other accounts go on."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import keyring
import pytest
from keyring.backends import fail

from connectors.base import Batch, CursorExpired, KnownIds, Source
from syncd import pull
from syncd.config import AccountConfig
from syncd.store import Store


def _account(provider: str = "google", **options: Any) -> AccountConfig:
    return AccountConfig("web", provider, None, (), True, {"token_store": "file", **options})


class _Failing(Source):
    provider = "google"
    error: BaseException = ConnectionResetError(104, "Connection reset by peer")

    def pull(self, cursors: Mapping[str, str], known: KnownIds) -> Iterator[Batch]:
        raise self.error
        yield  # pragma: no cover


class _AlwaysExpired(Source):
    provider = "google"

    def pull(self, cursors: Mapping[str, str], known: KnownIds) -> Iterator[Batch]:
        yield Batch("gmail", None, full=True)
        raise CursorExpired("gmail", "history id too old")


@pytest.fixture
def store(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Store:
    monkeypatch.setenv("SYNCD_STATE_DIR", str(tmp_path))
    return Store(tmp_path / "s.sqlite3")


def test_a_dropped_connection_is_named_as_the_network_not_as_a_file(store: Store, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(pull, "open_source", lambda account: _Failing(account.name, {}))
    summary = pull.pull_account(store, _account())
    assert summary.error == "the connection to the provider failed (ConnectionResetError); syncd tries again later"
    assert not summary.needs_login


def test_a_cursor_that_keeps_expiring_gives_up_for_this_pull(store: Store, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(pull, "open_source", lambda account: _AlwaysExpired(account.name, {}))
    summary = pull.pull_account(store, _account())
    assert summary.error == "gmail: cursor keeps expiring; giving up for now"
    assert summary.resynced == ["gmail"] * pull.MAX_RESYNCS


def test_no_usable_keyring_fails_that_account_alone(store: Store, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(keyring.core, "_keyring_backend", fail.Keyring())
    summary = pull.pull_account(store, _account(token_store="keyring"))
    assert summary.error is not None and "no secure system keyring" in summary.error
