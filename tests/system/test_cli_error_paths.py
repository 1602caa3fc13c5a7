"""syncd's own error branches (auth CLI, token store, pull loop), taken through the CLI or ``syncd.pull``.

Each test plays a real situation (no client file, a busy port, a locked or broken keyring, a state folder
in the way, a stop request, an unreadable path, a backfill that ends) and asserts what the user sees: the
exit code, one sentence without a token, and what the state database keeps.
"""

from __future__ import annotations

import errno
import json
import os
import socket
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import keyring
import pytest
from keyring.errors import KeyringLocked

from syncd import pull
from syncd.config import AccountConfig, Config
from syncd.store import Store
from syncd.tokens import KeyringTokens, TokenStoreError
from tests.fakes.google_oauth import GoogleOAuthFake
from tests.fakes.keyring_backend import MemoryKeyring
from tests.fakes.server import FakeServer
from tests.support.cli import Run
from tests.support.google_cli import CAL, GMAIL, World, configure

CONFIG = """
[accounts.gmail]
provider = "google"
token_store = "file"
token_uri = "{base}/token"
gmail_endpoint = "{base}/"
calendars = []
{client}

[accounts.work]
provider = "google"

[accounts.archive]
provider = "maildir"
path = "{tmp}/mail"
"""
SECRET = "rt-very-secret"


class DeleteLockedKeyring(MemoryKeyring):
    """A recommended keyring that reads fine but is locked when syncd wants to delete from it."""

    def delete_password(self, service: str, username: str) -> None:
        raise KeyringLocked("Failed to unlock the collection!")


class BrokenPriorityKeyring(MemoryKeyring):
    """Like keyring's own backends when their service is not viable: asking the priority raises."""

    @property
    def priority(self) -> float:  # type: ignore[override]
        raise RuntimeError("org.freedesktop.secrets was not provided by any .service files")


def oauth_client(tmp_path: Path, oauth: GoogleOAuthFake) -> Path:
    path = tmp_path / "client.json"
    path.write_text(json.dumps({"installed": {
        "client_id": "cid.apps.googleusercontent.com", "client_secret": "shh", "auth_uri": oauth.server.base_url + "/auth",
        "token_uri": oauth.token_uri, "redirect_uris": ["http://localhost"]}}))
    return path


@pytest.fixture
def world(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[tuple[GoogleOAuthFake, Any]]:
    monkeypatch.setenv("no_proxy", "127.0.0.1,localhost")
    monkeypatch.setenv("SYNCD_STATE_DIR", str(tmp_path / "state"))
    config = tmp_path / "config.toml"
    monkeypatch.setenv("SYNCD_CONFIG", str(config))
    with FakeServer() as server:
        oauth = GoogleOAuthFake(server)

        def write(client: str = "") -> None:
            config.write_text(CONFIG.format(base=server.base_url, tmp=tmp_path, client=client))

        write()
        yield oauth, write


def use_keyring(monkeypatch: pytest.MonkeyPatch, backend: Any) -> None:
    monkeypatch.setattr(keyring.core, "_keyring_backend", backend)


# ---- syncd auth ----------------------------------------------------------------------------------------


def test_status_with_only_local_archives_says_no_login_is_needed(run: Run, tmp_path: Path,
                                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    config = tmp_path / "config.toml"
    config.write_text(f'[accounts.archive]\nprovider = "maildir"\npath = "{tmp_path}/mail"\n')
    monkeypatch.setenv("SYNCD_CONFIG", str(config))
    monkeypatch.setenv("SYNCD_STATE_DIR", str(tmp_path / "state"))
    code, out, err = run("auth", "status")
    assert (code, out, err) == (0, "no account needs a login (only local archives are configured)\n", "")


def test_login_without_an_oauth_client_file_is_one_actionable_sentence(run: Run, world: Any) -> None:
    code, out, err = run("auth", "login", "gmail", "--no-browser")
    assert code == 1 and out == ""
    assert err.startswith("syncd: gmail: set client_secret = ") and "Desktop app" in err
    assert err.count("\n") == 1
    code, out, _ = run("auth", "status")
    assert "gmail (google): not logged in" in out  # nothing was stored


def test_login_on_a_busy_port_names_the_port_and_the_option(run: Run, world: Any, tmp_path: Path) -> None:
    oauth, write = world
    write(client=f'client_secret = "{oauth_client(tmp_path, oauth)}"')
    with socket.socket() as busy:  # another program already listens there
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        code, _, err = run("auth", "login", "gmail", "--no-browser", "--port", str(port))
    assert code == 1
    assert err == f"syncd: gmail: cannot listen on localhost:{port} (Address already in use); pick another --port\n"
    assert not (tmp_path / "state" / "tokens" / "gmail.json").exists()


def test_logout_from_a_locked_keyring_is_one_sentence_and_keeps_the_login(run: Run, world: Any,
                                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    backend = DeleteLockedKeyring()
    backend.items[("syncd", "work")] = SECRET
    use_keyring(monkeypatch, backend)
    code, out, err = run("auth", "logout", "work")
    assert code == 1 and out == ""
    assert err == ("syncd: cannot delete the token of 'work' in the system keyring (DeleteLockedKeyring): Failed to "
                   "unlock the collection! (is the keyring unlocked? on a headless box, token_store = \"file\" is the "
                   "alternative)\n")
    assert SECRET not in err and backend.items == {("syncd", "work"): SECRET}  # not reported as removed: it is not


def test_a_keyring_whose_priority_raises_is_refused(run: Run, world: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    use_keyring(monkeypatch, BrokenPriorityKeyring())
    with pytest.raises(TokenStoreError, match="no secure system keyring is available"):
        KeyringTokens()
    code, out, _ = run("auth", "status")
    assert code == 0
    assert ("work (google): no secure system keyring is available (found BrokenPriorityKeyring); start a Secret "
            "Service") in out
    assert "gmail (google): not logged in" in out  # the file-store account is unaffected


def test_a_full_disk_while_saving_a_login_keeps_the_previous_one(run: Run, world: Any, tmp_path: Path,
                                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    oauth, _ = world
    token = tmp_path / "token.json"
    token.write_text(oauth.authorized_user_json("rt-1"))
    assert run("auth", "import", "gmail", "--file", str(token))[0] == 0
    stored = tmp_path / "state" / "tokens" / "gmail.json"
    before = stored.read_text()

    def disk_full(fd: int) -> None:
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(os, "fsync", disk_full)
    token.write_text(oauth.authorized_user_json("rt-2"))
    code, out, err = run("auth", "import", "gmail", "--file", str(token))
    assert code == 1 and out == ""
    assert err == f"syncd: cannot save the token of 'gmail' to {stored}: No space left on device\n"
    assert "rt-2" not in err
    assert stored.read_text() == before  # the previous login is intact: the file is replaced only when whole


# ---- syncd.pull ----------------------------------------------------------------------------------------


def mbox_account(tmp_path: Path, name: str, messages: int) -> AccountConfig:
    path = tmp_path / f"{name}.mbox"
    path.write_text("".join(
        f"From x@example.org Mon Jan  5 09:00:00 2026\nFrom: P{n} <p{n}@example.org>\nTo: me@example.com\n"
        f"Date: Mon, 5 Jan 2026 09:{n:02d}:00 +0000\nMessage-ID: <{name}{n}@example.org>\n\nhi\n\n"
        for n in range(messages)))
    return AccountConfig(name, "mbox", path, ("me@example.com",), True, {})


def test_a_stop_request_ends_after_a_whole_batch_and_skips_the_next_account(tmp_path: Path,
                                                                            monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SYNCD_STATE_DIR", str(tmp_path / "state"))
    config = Config(accounts={"a": mbox_account(tmp_path, "a", 3), "b": mbox_account(tmp_path, "b", 2)})
    store = Store(tmp_path / "s.sqlite3")
    seen: list[tuple[str, int, int | None]] = []
    stop = [False]

    def progress(account: str, so_far: int, expected: int | None) -> None:
        seen.append((account, so_far, expected))
        stop[0] = True  # SIGTERM arrives while the first batch is being committed

    summaries = pull.pull_all(store, config, progress=progress, should_stop=lambda: stop[0])
    assert [s.account for s in summaries] == ["a"]  # "b" was not started
    (first,) = summaries
    assert first.stopped and first.error is None and seen == [("a", 3, None)]
    records = {record.name: record for record in store.accounts.records()}
    assert records["a"].last_success is None  # an interrupted pull is not a success: the next one catches up
    assert records["a"].summary["seen"] == 3
    assert store.count("interactions") == 3  # the whole batch is committed, nothing lost
    again = pull.pull_all(store, config)
    assert [(s.account, s.stopped, s.error) for s in again] == [("a", False, None), ("b", False, None)]
    assert store.count("interactions") == 5


def test_a_local_path_the_system_cannot_open_is_named(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SYNCD_STATE_DIR", str(tmp_path / "state"))
    store = Store(tmp_path / "s.sqlite3")
    # A typo'd path with a too-long name (as root, the permission error this branch is for cannot be made).
    path = tmp_path / ("m" * 300)
    summary = pull.pull_account(store, AccountConfig("archive", "maildir", path, (), True, {}))
    assert summary.error == f"cannot read {path}: File name too long"
    assert not summary.needs_login
    (record,) = store.accounts.records()
    assert record.last_error == summary.error and record.last_success is None


def test_a_backfill_that_ends_within_a_pull_no_longer_reports_partial_coverage(
        run: Run, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from keyring.backends import fail

    monkeypatch.setenv("no_proxy", "127.0.0.1,localhost")
    monkeypatch.setattr(keyring.core, "_keyring_backend", fail.Keyring())
    with FakeServer() as server:
        w = World(server, tmp_path)
        configure(w, monkeypatch, 'initial_window = "30d"')
        for day in range(120):  # a daily digest: 30 days in the first pull, then two chunks of 50 older ones
            w.gmail.add("digest@news.example", ["sam@example.com"], when_ms=w.ms(day), labels=["INBOX"])
        w.oauth.add_refresh_token("rt-1", [GMAIL, *CAL])
        token = tmp_path / "token.json"
        token.write_text(w.oauth.authorized_user_json("rt-1"))
        assert run("auth", "import", "gmail", "--file", str(token))[0] == 0
        code, out, _ = run("pull", "--account", "gmail")
        assert code == 0 and "gmail: complete back to" in out, out
        code, out, _ = run("pull", "--account", "gmail")  # the backfill: one chunk still partial, then the end
        assert code == 0 and "gmail: 70 new" in out, out
        assert "complete back to" not in out, out
        code, out, _ = run("status")
        assert "complete back to" not in out
