"""The one place secrets live: OAuth tokens and MSAL caches, per account, never in the config or the logs.

By default the OS keyring through ``keyring``, but only a *recommended* backend (priority ≥ 1, not one of
keyrings.alt's files): with keyrings.alt installed and no Secret Service, ``keyring.get_keyring()``
silently returns the plaintext file backend (docs/keyring.md#plaintext-trap), which we refuse. On a headless box the
user opts in explicitly with ``token_store = "file"``: a 0600 file per account in the state folder, with a
warning each time it is written, like other CLIs' "insecure storage" switches.
"""

from __future__ import annotations

import contextlib
import os
import re
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Protocol, TypeVar

from syncd.errors import SyncdError

T = TypeVar("T")
_SAFE_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.@-]*")
SERVICE = "syncd"  # the keyring "service"; the account name is the keyring "username"
FILE_WARNING = (
    "warning: token_store = \"file\": the token for '{account}' is kept unencrypted in {path} "
    "(readable by you only); use the system keyring where one is available"
)


class TokenStoreError(SyncdError):
    """The token store cannot be used (no keyring, keyring locked, unreadable file)."""


class TokenStore(Protocol):
    def get(self, account: str) -> str | None: ...

    def put(self, account: str, value: str) -> None: ...

    def delete(self, account: str) -> bool: ...

    def describe(self) -> str: ...


class KeyringTokens:
    """The OS keyring (Secret Service, macOS Keychain, Windows Credential Locker)."""

    def __init__(self) -> None:
        import keyring

        self._keyring = keyring.get_keyring()
        if not recommended(self._keyring):
            raise TokenStoreError(
                f"no secure system keyring is available (found {type(self._keyring).__name__}); start a Secret "
                "Service (e.g. gnome-keyring) or set token_store = \"file\" on the account to keep tokens in a "
                "file readable only by you"
            )

    def describe(self) -> str:
        return f"the system keyring ({type(self._keyring).__name__})"

    def get(self, account: str) -> str | None:
        return self._call("read", account, lambda: self._keyring.get_password(SERVICE, account))

    def put(self, account: str, value: str) -> None:
        self._call("save", account, lambda: self._keyring.set_password(SERVICE, account, value))

    def delete(self, account: str) -> bool:
        from keyring.errors import PasswordDeleteError

        try:
            self._call("delete", account, lambda: self._keyring.delete_password(SERVICE, account))
        except TokenStoreError as exc:
            if isinstance(exc.__cause__, PasswordDeleteError):
                return False
            raise
        return True

    def _call(self, verb: str, account: str, fn: Callable[[], T]) -> T:
        from keyring.errors import KeyringError

        try:
            return fn()
        except KeyringError as exc:
            # Messages of keyring errors name the backend and the problem, never the secret.
            raise TokenStoreError(
                f"cannot {verb} the token of '{account}' in {self.describe()}: {exc or type(exc).__name__} "
                "(is the keyring unlocked? on a headless box, token_store = \"file\" is the alternative)"
            ) from exc


class FileTokens:
    """One 0600 file per account under ``<state>/tokens/`` (0700), replaced atomically."""

    def __init__(self, directory: Path, warn: Callable[[str], None] | None = None) -> None:
        self.directory = directory
        self.warn = warn or (lambda text: print(text, file=sys.stderr))

    def describe(self) -> str:
        return f"an unencrypted file in {self.directory}"

    def path(self, account: str) -> Path:
        if not _SAFE_NAME.fullmatch(account):
            raise TokenStoreError(
                f"the account name '{account}' cannot name a token file; use letters, digits, '-', '_' or '.'"
            )
        return self.directory / f"{account}.json"

    def get(self, account: str) -> str | None:
        try:
            return self.path(account).read_text(encoding="utf-8")
        except FileNotFoundError:
            return None
        except OSError as exc:
            where = self.path(account)
            raise TokenStoreError(f"cannot read the token of '{account}' from {where}: {exc.strerror}") from exc

    def put(self, account: str, value: str) -> None:
        path = self.path(account)
        try:
            self.directory.mkdir(mode=0o700, parents=True, exist_ok=True)
            os.chmod(self.directory, 0o700)  # also when it existed with a looser mode
            temporary = path.with_name(f".{path.name}.tmp")
            with contextlib.suppress(FileNotFoundError):
                temporary.unlink()  # a leftover (perhaps with another mode) is never written through
            fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600)
            os.fchmod(fd, 0o600)  # whatever the umask
            with os.fdopen(fd, "w", encoding="utf-8") as handle:
                handle.write(value)
                handle.flush()
                os.fsync(handle.fileno())
            os.replace(temporary, path)
        except OSError as exc:
            raise TokenStoreError(f"cannot save the token of '{account}' to {path}: {exc.strerror}") from exc
        self.warn(FILE_WARNING.format(account=account, path=path))

    def delete(self, account: str) -> bool:
        try:
            self.path(account).unlink()
        except FileNotFoundError:
            return False
        return True


def recommended(backend: object) -> bool:
    """A backend syncd trusts: priority ≥ 1 and not one of keyrings.alt's (plaintext or password-prompting) files."""
    module = type(backend).__module__
    if module.startswith("keyrings.alt"):
        return False
    try:
        priority = float(backend.priority)  # type: ignore[attr-defined]
    except Exception:  # a backend's priority property raises when not viable
        return False
    return priority >= 1


class AccountSecret:
    """One account's slot in a token store: what connectors see (:class:`connectors.base.SecretSlot`)."""

    def __init__(self, store: TokenStore, account: str) -> None:
        self.store = store
        self.account = account

    def get(self) -> str | None:
        return self.store.get(self.account)

    def set(self, value: str) -> None:
        if value != self.store.get(self.account):
            self.store.put(self.account, value)

    def clear(self) -> bool:
        return self.store.delete(self.account)


def open_token_store(kind: str, state: Path, warn: Callable[[str], None] | None = None) -> TokenStore:
    """``kind`` is an account's ``token_store`` setting: "keyring" (default) or "file"."""
    if kind == "file":
        return FileTokens(state / "tokens", warn)
    return KeyringTokens()

