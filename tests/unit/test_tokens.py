"""The token store: the keyring only when it is a recommended backend, the file only when asked for."""

from __future__ import annotations

import stat
from collections.abc import Callable
from pathlib import Path

import keyring
import pytest
from keyring.backend import KeyringBackend

from syncd.tokens import AccountSecret, FileTokens, KeyringTokens, TokenStoreError, open_token_store
from tests.fakes.keyring_backend import LockedKeyring, MemoryKeyring, WeakKeyring

SECRET = '{"refresh_token": "1//very-secret"}'


@pytest.fixture
def use_keyring(monkeypatch: pytest.MonkeyPatch) -> Callable[[KeyringBackend], KeyringBackend]:
    def install(backend: KeyringBackend) -> KeyringBackend:
        monkeypatch.setattr(keyring.core, "_keyring_backend", backend)
        return backend

    return install


def test_recommended_keyring_keeps_each_account_apart(use_keyring: Callable[[KeyringBackend], KeyringBackend]) -> None:
    backend = use_keyring(MemoryKeyring())
    assert isinstance(backend, MemoryKeyring)
    store = open_token_store("keyring", Path("/nonexistent"))
    work, home = AccountSecret(store, "work"), AccountSecret(store, "home")
    work.set(SECRET)
    assert work.get() == SECRET and home.get() is None
    assert backend.items == {("syncd", "work"): SECRET}
    assert work.clear() is True and work.clear() is False
    assert work.get() is None


def test_unrecommended_keyring_is_refused_with_the_file_opt_in_named(use_keyring: Callable[[KeyringBackend], KeyringBackend]) -> None:
    use_keyring(WeakKeyring())
    with pytest.raises(TokenStoreError, match='token_store = "file"'):
        KeyringTokens()


def test_keyrings_alt_backends_are_refused_whatever_their_priority(use_keyring: Callable[[KeyringBackend], KeyringBackend]) -> None:
    plaintext = type("PlaintextKeyring", (MemoryKeyring,), {"__module__": "keyrings.alt.file", "priority": 5})
    use_keyring(plaintext())
    with pytest.raises(TokenStoreError, match="no secure system keyring"):
        KeyringTokens()


def test_locked_keyring_says_so_without_the_secret(use_keyring: Callable[[KeyringBackend], KeyringBackend]) -> None:
    use_keyring(LockedKeyring())
    slot = AccountSecret(KeyringTokens(), "work")
    with pytest.raises(TokenStoreError, match="unlocked") as caught:
        slot.set(SECRET)
    assert "very-secret" not in str(caught.value)
    with pytest.raises(TokenStoreError, match="cannot read the token of 'work'"):
        slot.get()


def test_file_store_is_private_atomic_and_warns(tmp_path: Path) -> None:
    warnings: list[str] = []
    store = open_token_store("file", tmp_path, warn=warnings.append)
    assert isinstance(store, FileTokens)
    slot = AccountSecret(store, "work")
    assert slot.get() is None
    slot.set(SECRET)
    path = tmp_path / "tokens" / "work.json"
    assert path.read_text() == SECRET
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    assert len(warnings) == 1 and "unencrypted" in warnings[0] and "very-secret" not in warnings[0]
    slot.set(SECRET)  # unchanged: not written (or warned about) again
    assert len(warnings) == 1
    assert [p.name for p in path.parent.iterdir()] == ["work.json"]  # no temporary file left
    assert slot.clear() and not path.exists() and not slot.clear()


def test_file_store_unreadable_is_one_sentence(tmp_path: Path) -> None:
    (tmp_path / "tokens").mkdir()
    (tmp_path / "tokens" / "work.json").mkdir()  # a folder where the file should be
    with pytest.raises(TokenStoreError, match="cannot read the token of 'work'"):
        FileTokens(tmp_path / "tokens").get("work")


def test_file_store_never_inherits_a_loose_mode_nor_leaves_its_folder(tmp_path: Path) -> None:
    folder = tmp_path / "tokens"
    folder.mkdir(mode=0o755)
    leftover = folder / ".work.json.tmp"
    leftover.write_text("old")
    leftover.chmod(0o644)
    store = FileTokens(folder, warn=lambda _: None)
    store.put("work", SECRET)
    assert stat.S_IMODE((folder / "work.json").stat().st_mode) == 0o600
    assert stat.S_IMODE(folder.stat().st_mode) == 0o700
    for name in ("../elsewhere", ".hidden", "a/b"):
        with pytest.raises(TokenStoreError, match="cannot name a token file"):
            store.put(name, SECRET)
    assert not (tmp_path / "elsewhere.json").exists()
