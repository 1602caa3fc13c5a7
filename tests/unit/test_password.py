"""Passwords of IMAP and CalDAV accounts: where they come from, the login that stores one, what status shows,
and the loopback rule for credentials in the clear."""

from __future__ import annotations

import json
import sys

import pytest

from connectors import password, tls
from connectors.base import AuthRequired, ConnectorError, SourceUnavailable
from tests.fakes.slot import MemorySlot


def test_the_stored_password_and_what_is_wrong_with_it() -> None:
    assert password.password("a", {}, MemorySlot(json.dumps({"password": "pw"}))) == "pw"
    for stored, why in ((None, "no password is stored"), ("{not json", "unreadable"), ('{"password": ""}', "empty"),
                        ('["pw"]', "unreadable")):
        with pytest.raises(AuthRequired, match=why):
            password.password("a", {}, MemorySlot(stored))
    with pytest.raises(AuthRequired, match="no password is stored"):
        password.password("a", {}, None)


def test_login_checks_before_it_stores_and_stores_nothing_for_a_command() -> None:
    slot = MemorySlot(json.dumps({"password": "old"}))

    def refuse(secret: str) -> str:
        raise AuthRequired("a", password.REFUSED)

    with pytest.raises(ConnectorError, match="the server refused the password; nothing was stored"):
        password.login("a", {"username": "u"}, slot, refuse, ask=lambda prompt: "wrong", echo=print)
    assert json.loads(slot.value or "")["password"] == "old"  # what was stored stays
    with pytest.raises(ConnectorError, match="no password entered"):
        password.login("a", {}, slot, lambda s: "ok", ask=lambda prompt: "")

    def unreachable(secret: str) -> str:
        raise SourceUnavailable("account 'a': cannot reach the server")

    with pytest.raises(ConnectorError, match="cannot reach the server"):
        password.login("a", {}, slot, unreachable, ask=lambda prompt: "pw")
    prompts: list[str] = []

    def ask(prompt: str) -> str:
        prompts.append(prompt)
        return "new"

    who = password.login("a", {"username": "u"}, slot, lambda s: f"checked {s == 'new'}", ask=ask,
                         where="imap.example.org")
    assert who == "checked True" and prompts == ["Password for u at imap.example.org (not shown): "]
    assert json.loads(slot.value or "")["password"] == "new"
    said: list[str] = []
    command = {"password_command": (sys.executable, "-c", "print('from-the-vault')")}
    fresh = MemorySlot()
    assert password.login("a", command, fresh, lambda s: s, echo=said.append) == "from-the-vault"
    assert fresh.value is None and "stores nothing" in said[0]


def test_import_and_status_never_show_the_password() -> None:
    slot = MemorySlot()
    assert password.import_secret("a", {}, slot, "s3cret\nignored\n") == "password stored"
    assert json.loads(slot.value or "") == {"password": "s3cret"}
    with pytest.raises(ConnectorError, match="no password on its first line"):
        password.import_secret("a", {}, slot, "\n")
    assert password.describe(slot.value) == "password stored"
    assert password.describe(None).startswith("no password stored")
    assert password.describe("{oops") == "the stored password is unreadable"


def test_loopback_is_this_machine_only() -> None:
    for host in ("127.0.0.1", "127.1.2.3", "::1", "[::1]", "localhost"):
        assert tls.is_loopback(host), host
    for host in ("10.0.0.1", "imap.example.org", "192.168.1.5", ""):
        assert not tls.is_loopback(host), host


def test_a_password_command_that_hangs_is_stopped(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(password, "COMMAND_SECONDS", 0.2)
    with pytest.raises(SourceUnavailable, match="did not finish within"):
        password.run_password_command("a", (sys.executable, "-c", "import time; time.sleep(5)"))
    with pytest.raises(SourceUnavailable, match="could not be run"):
        password.run_password_command("a", ("/",))
