"""Where the password of an account that logs in with one (IMAP, CalDAV) comes from, and its login.

Either syncd's token store holds it (``syncd auth login ACCOUNT`` asks for it without echo and keeps it in the
system keyring, or the 0600 file store), or ``password_command`` prints it each time it is needed, the way
password-manager users expect (``["pass", "show", "mail/fastmail"]``: the first line of its output). The
password never goes into the config, an error message or a log line. A refused password is "needs login"
for that account alone (:class:`connectors.base.AuthRequired`); a password command that fails is said in
one sentence with its exit status and the first line of what it wrote to stderr, never of its stdout.
"""

from __future__ import annotations

import getpass
import json
import subprocess
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from connectors.base import AuthRequired, ConnectorError, SecretSlot, SourceUnavailable
from connectors.settings import REQUIRED, Key, expanded_path, string

# The settings of every account that logs in with a password (IMAP, CalDAV).
KEYS = (
    Key("username", string, REQUIRED, "the login name (often your address)"),
    Key("password_command", string, (),
        "a command that prints the password on its first line, e.g. [\"pass\", \"show\", \"mail/fastmail\"] "
        "(instead of `syncd auth login`, which keeps it in the keyring)", many=True),
    Key("ca_file", expanded_path, None, "a CA or self-signed certificate to trust for this server (PEM)"),
)
COMMAND_SECONDS = 60  # a password manager may ask for its own passphrase first
REFUSED = "the server refused the password"


def password(account: str, settings: Mapping[str, Any], slot: SecretSlot | None) -> str:
    """The account's password now: from ``password_command`` when set, else from the token store."""
    command = settings.get("password_command")
    if command:
        return run_password_command(account, command)
    stored = slot.get() if slot is not None else None
    if not stored:
        raise AuthRequired(account, "no password is stored")
    try:
        value = json.loads(stored)["password"]
    except (ValueError, TypeError, KeyError):
        raise AuthRequired(account, "the stored password is unreadable") from None
    if not isinstance(value, str) or not value:
        raise AuthRequired(account, "the stored password is empty")
    return value


def refused(account: str, settings: Mapping[str, Any]) -> AuthRequired:
    """What a server's "wrong password" becomes: the account needs a new login (or a fixed password entry)."""
    if settings.get("password_command"):
        return AuthRequired(account, f"{REFUSED} that password_command printed; update it in your password manager")
    return AuthRequired(account, REFUSED)


def run_password_command(account: str, command: Sequence[str]) -> str:
    """The first line ``command`` prints. Run without a shell, with no input, so nothing is interpolated."""
    name = f"account '{account}': password_command ({command[0]})"
    try:
        done = subprocess.run(list(command), capture_output=True, stdin=subprocess.DEVNULL, timeout=COMMAND_SECONDS,
                              check=False)
    except FileNotFoundError:
        raise SourceUnavailable(f"{name} was not found; check the program name or give its full path") from None
    except subprocess.TimeoutExpired:
        raise SourceUnavailable(f"{name} did not finish within {COMMAND_SECONDS} s (does it wait for input?)") from None
    except OSError as exc:
        raise SourceUnavailable(f"{name} could not be run: {exc.strerror or exc}") from None
    if done.returncode != 0:
        said = done.stderr.decode(errors="replace").strip().splitlines()
        detail = f": {said[0][:160]}" if said else ""
        raise SourceUnavailable(f"{name} failed with exit status {done.returncode}{detail}")
    lines = done.stdout.decode(errors="replace").splitlines()
    value = lines[0].strip() if lines else ""
    if not value:
        raise SourceUnavailable(f"{name} printed no password on its first line")
    return value


def login(
    account: str,
    settings: Mapping[str, Any],
    slot: SecretSlot,
    verify: Callable[[str], str],
    *,
    echo: Callable[[str], None] = print,
    ask: Callable[[str], str] = getpass.getpass,
    where: str = "",
) -> str:
    """Ask for the password (no echo), check it with the server (``verify`` logs in and says as whom), store it.

    With ``password_command`` nothing is asked or stored: the command is run and its password checked.
    A refused password is not stored; whatever was stored before stays.
    """
    if settings.get("password_command"):
        who = _checked(account, settings, verify, run_password_command(account, settings["password_command"]))
        echo(f"{account}: the password from password_command works; syncd runs it each time and stores nothing")
        return who
    user = settings.get("username") or account
    entered = ask(f"Password for {user}{' at ' + where if where else ''} (not shown): ")
    if not entered:
        raise ConnectorError("no password entered; nothing was stored")
    who = _checked(account, settings, verify, entered)
    slot.set(json.dumps({"password": entered}))
    return who


def _checked(account: str, settings: Mapping[str, Any], verify: Callable[[str], str], secret: str) -> str:
    try:
        return verify(secret)
    except AuthRequired:
        raise ConnectorError(f"{REFUSED}; nothing was stored, try again") from None
    except SourceUnavailable as exc:
        raise ConnectorError(str(exc)) from None


def import_secret(account: str, settings: Mapping[str, Any], slot: SecretSlot, text: str) -> str:
    """``syncd auth import ACCOUNT --file F``: the first line of F is the password (for scripted set-ups)."""
    del account, settings  # the file holds the password alone
    lines = text.splitlines()
    value = lines[0].strip() if lines else ""
    if not value:
        raise ConnectorError("the file holds no password on its first line")
    slot.set(json.dumps({"password": value}))
    return "password stored"


def describe(text: str | None) -> str:
    """For ``syncd auth status``: whether a password is stored, never the password."""
    if not text:
        return "no password stored (run 'syncd auth login', or set password_command)"
    try:
        ok = bool(json.loads(text).get("password"))
    except (ValueError, AttributeError):
        ok = False
    return "password stored" if ok else "the stored password is unreadable"
