"""``syncd auth`` and "needs login" through the CLI's error boundary: never a token in the output."""

from __future__ import annotations

import json
import stat
from pathlib import Path

import keyring
import pytest
from keyring.backends import fail

from tests.fakes.google_oauth import GoogleOAuthFake
from tests.fakes.server import FakeServer
from tests.support.cli import Run

CONFIG = """
[accounts.gmail]
provider = "google"
token_store = "file"
gmail_endpoint = "{base}/"
calendar_endpoint = "{base}/calendar/v3/"
token_uri = "{base}/token"
calendars = []

[accounts.work]
provider = "google"

[accounts.archive]
provider = "maildir"
path = "{tmp}/mail"
"""


@pytest.fixture
def oauth(monkeypatch: pytest.MonkeyPatch, tmp_path: Path):
    monkeypatch.setenv("no_proxy", "127.0.0.1,localhost")
    with FakeServer() as server:
        config = tmp_path / "config.toml"
        config.write_text(CONFIG.format(base=server.base_url, tmp=tmp_path))
        monkeypatch.setenv("SYNCD_CONFIG", str(config))
        monkeypatch.setenv("SYNCD_STATE_DIR", str(tmp_path / "state"))
        # The machine's keyring, as on a headless box: no recommended backend.
        monkeypatch.setattr(keyring.core, "_keyring_backend", fail.Keyring())
        yield GoogleOAuthFake(server)


def test_import_status_logout_with_the_file_store(run: Run, oauth: GoogleOAuthFake, tmp_path: Path) -> None:
    code, out, _ = run("auth", "status")
    assert code == 0
    assert "gmail (google): not logged in; kept in an unencrypted file in" in out
    assert "work (google): no secure system keyring is available" in out and 'token_store = "file"' in out
    token = tmp_path / "token.json"
    token.write_text(oauth.authorized_user_json())
    code, out, err = run("auth", "import", "gmail", "--file", str(token))
    assert code == 0 and "gmail: login imported" in out
    assert "unencrypted" in err  # the opt-in warns every time it writes
    stored = tmp_path / "state" / "tokens" / "gmail.json"
    assert stat.S_IMODE(stored.stat().st_mode) == 0o600
    assert json.loads(stored.read_text())["refresh_token"] == "rt-1"
    code, out, _ = run("auth", "status")
    assert "gmail (google): logged in" in out and "rt-1" not in out and "test-client-secret" not in out
    code, out, _ = run("auth", "logout", "gmail")
    assert code == 0 and "login removed" in out and "myaccount.google.com" in out and not stored.exists()
    code, out, _ = run("auth", "logout", "gmail")
    assert "no login was stored" in out


def test_bad_accounts_and_files_are_one_sentence(run: Run, oauth: GoogleOAuthFake, tmp_path: Path) -> None:
    code, _, err = run("auth", "login", "archive")
    assert code == 2 and "reads local files and needs no login" in err
    code, _, err = run("auth", "login", "gmial")
    assert code == 2 and "no account named 'gmial'" in err and "gmail, work" in err
    bad = tmp_path / "bad.json"
    bad.write_text('{"token": "ya29.secret"}')
    code, _, err = run("auth", "import", "gmail", "--file", str(bad))
    assert code == 1 and "lacks refresh_token" in err and "ya29" not in err
    code, _, err = run("auth", "import", "work", "--file", str(bad))
    assert code == 1 and "no secure system keyring" in err
    code, _, err = run("auth", "import", "gmail", "--file", str(tmp_path / "missing.json"))
    assert code == 2 and "cannot read" in err


def test_pull_without_login_exits_4_and_status_says_needs_login(run: Run, oauth: GoogleOAuthFake, tmp_path: Path) -> None:
    (tmp_path / "mail" / "cur").mkdir(parents=True)
    code, out, _ = run("pull", "--account", "gmail")
    assert code == 4
    assert "gmail: FAILED: account 'gmail' needs login (no login stored): run 'syncd auth login gmail'" in out
    code, out, _ = run("status")
    assert "gmail (google): needs login: run 'syncd auth login gmail'" in out
    code, out, _ = run("auth", "status")
    assert "gmail (google): needs login" in out
