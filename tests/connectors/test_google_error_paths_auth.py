"""google_auth's error branches: refresh failures and odd answers through google-auth and httplib2 against the
loopback token endpoint and Calendar fake, login failures through google-auth-oauthlib, and the pure helpers.
"""

from __future__ import annotations

import builtins
import json
import socket
import threading
import types
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import requests

from connectors.base import AuthRequired, ConnectorError
from connectors.google import auth as google_auth
from syncd.store import Store
from tests.fakes.gcal import OWNER
from tests.fakes.gcal_contract import Rig, calendar_rig
from tests.fakes.google_oauth import CLIENT_ID, CLIENT_SECRET, GoogleOAuthFake
from tests.fakes.known import StoreKnown
from tests.fakes.server import Request, Response
from tests.fakes.slot import MemorySlot

NOW = datetime(2026, 3, 2, 12, tzinfo=UTC)


@pytest.fixture
def rig() -> Iterator[Rig]:
    with calendar_rig() as started:
        started.calendar.add_meeting(start=NOW - timedelta(days=1),
                                     attendees=[(OWNER, "accepted"), ("ann@example.org", "accepted")])
        yield started


def pull(rig: Rig) -> Store:
    store = Store(":memory:")
    store.accounts.ensure("acct", "google")
    for batch in rig.source(now=NOW).pull(store.synced.cursors("acct"), StoreKnown(store)):
        store.synced.apply_batch("acct", batch)
    return store


def expired_login(rig: Rig, **changes: Any) -> None:
    """What the token store holds an hour after the last run: the access token has expired."""
    info = json.loads(rig.oauth.authorized_user_json("rt-1", valid=False))
    rig.slot.value = json.dumps({**info, **changes})


def token_requests(rig: Rig) -> list[Request]:
    return rig.server.requests("POST", r"/token\Z")


# ---- refreshing ------------------------------------------------------------------------------------------


def test_a_token_endpoint_that_is_down_for_a_while_is_waited_out(rig: Rig, monkeypatch: pytest.MonkeyPatch) -> None:
    import google.auth._exponential_backoff as backoff

    library_sleeps: list[float] = []
    monkeypatch.setattr(backoff, "time", types.SimpleNamespace(sleep=library_sleeps.append))  # google-auth's own
    expired_login(rig)
    down = Response(503, {"error": "temporarily_unavailable", "error_description": "try later"})
    rig.server.inject(lambda r: r.path == "/token", down, times=3)  # every try google-auth makes itself
    store = pull(rig)
    assert store.count("sightings") == 1
    assert len(token_requests(rig)) == 4 and rig.oauth.refreshes == 1
    assert len(rig.sleeps) == 1  # syncd's throttle retried once, on its (fake) sleep
    assert json.loads(rig.slot.value or "{}")["token"] in rig.oauth.access  # the new token was saved


def test_a_changed_oauth_client_is_needs_login(rig: Rig) -> None:
    expired_login(rig, client_secret="the-secret-before-it-was-reset")
    with pytest.raises(AuthRequired) as failure:
        pull(rig)
    assert str(failure.value) == ("account 'acct' needs login (the OAuth client was deleted or changed): "
                                  "run 'syncd auth login acct'")
    assert "the-secret-before" not in str(failure.value) and rig.server.requests("GET") == []


def test_another_refusal_of_the_refresh_is_needs_login(rig: Rig) -> None:
    expired_login(rig)
    rig.server.inject(lambda r: r.path == "/token",
                      Response(400, {"error": "invalid_scope", "error_description": "Bad scope."}), times=1)
    with pytest.raises(AuthRequired) as failure:
        pull(rig)
    assert str(failure.value) == ("account 'acct' needs login (the token could not be refreshed): "
                                  "run 'syncd auth login acct'")
    assert rig.sleeps == [] and rig.server.requests("GET") == []


def test_an_unreadable_expiry_is_refreshed_when_google_refuses_the_token(rig: Rig) -> None:
    expired_login(rig, expiry="when the cows come home")
    assert google_auth.load_credentials("acct", rig.settings(), rig.slot).expiry is None
    store = pull(rig)  # sent as is, refused with 401, refreshed, sent again
    assert store.count("sightings") == 1 and rig.oauth.refreshes == 1
    saved = json.loads(rig.slot.value or "{}")
    assert datetime.fromisoformat(saved["expiry"].rstrip("Z")) > datetime.now(UTC).replace(tzinfo=None)


# ---- odd answers -------------------------------------------------------------------------------------------


def test_a_proxys_html_error_page_is_retried_and_reported_by_status(rig: Rig) -> None:
    page = Response(502, "<html><body>502 Bad Gateway</body></html>", {"Content-Type": "text/html"})
    rig.server.inject(lambda r: r.path.endswith("/events"), page, times=100)
    with pytest.raises(ConnectorError) as failure:
        pull(rig)
    assert str(failure.value) == ("Google Calendar primary: the provider kept failing (HTTP 502) after 6 tries; "
                                  "try again later")
    assert len(rig.sleeps) == 5


def test_a_body_that_does_not_decompress_is_retried(rig: Rig) -> None:
    mangled = Response(200, b"this is not gzip", {"Content-Type": "application/json", "Content-Encoding": "gzip"})
    rig.server.inject(lambda r: r.path.endswith("/events"), mangled, times=1)
    store = pull(rig)
    assert store.count("sightings") == 1 and len(rig.sleeps) == 1
    assert len(rig.server.requests("GET", r"/events\Z")) == 2


def test_http_error_reason_of_odd_bodies() -> None:
    from googleapiclient.errors import HttpError
    from httplib2 import Response as HttpResponse

    def reason(status: int, content: bytes) -> str:
        return google_auth.http_error_reason(HttpError(HttpResponse({"status": status}), content))

    assert reason(502, b"<html>Bad Gateway</html>") == ""
    assert reason(400, b'{"error": {"errors": []}}') == ""
    assert reason(404, b'{"error": "not_found"}') == ""
    assert reason(429, b'{"error": {"code": 429, "status": "RESOURCE_EXHAUSTED"}}') == "RESOURCE_EXHAUSTED"


# ---- login -------------------------------------------------------------------------------------------------


def login_settings(tmp_path: Path, oauth: GoogleOAuthFake) -> dict[str, Any]:
    path = tmp_path / "client.json"
    path.write_text(json.dumps({"installed": {
        "client_id": CLIENT_ID, "client_secret": CLIENT_SECRET, "auth_uri": oauth.server.base_url + "/auth",
        "token_uri": "https://oauth2.googleapis.com/token", "redirect_uris": ["http://localhost"]}}))
    return {"client_secret": str(path), "token_uri": oauth.token_uri, "gmail": True, "calendars": ("primary",)}


def test_an_unreadable_client_file_is_one_sentence(tmp_path: Path) -> None:
    missing = tmp_path / "client.json"
    with pytest.raises(ConnectorError) as failure:
        google_auth.login("g", {"client_secret": str(missing)}, MemorySlot())
    assert str(failure.value) == f"cannot read the OAuth client file {missing}: No such file or directory"
    missing.write_text("<html>Google Cloud Console</html>")  # saved the page, not the download
    with pytest.raises(ConnectorError) as failure:
        google_auth.login("g", {"client_secret": str(missing)}, MemorySlot())
    assert str(failure.value) == f"{missing} is not an OAuth client JSON file (download it again)"


def test_a_busy_login_port_says_to_pick_another(oauth: GoogleOAuthFake, tmp_path: Path) -> None:
    slot = MemorySlot()
    with socket.socket() as busy:
        busy.bind(("localhost", 0))
        busy.listen()
        port = busy.getsockname()[1]
        with pytest.raises(ConnectorError) as failure:
            google_auth.login("g", login_settings(tmp_path, oauth), slot, no_browser=True, port=port,
                              echo=lambda _: None, timeout_seconds=5)
    assert str(failure.value) == f"cannot listen on localhost:{port} (Address already in use); pick another --port"
    assert slot.writes == 0


def test_a_login_nobody_finishes_times_out_in_one_sentence(oauth: GoogleOAuthFake, tmp_path: Path,
                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(builtins, "print", lambda *a, **k: None)
    slot = MemorySlot()
    with pytest.raises(ConnectorError) as failure:
        google_auth.login("g", login_settings(tmp_path, oauth), slot, no_browser=True, port=0,
                          echo=lambda _: None, timeout_seconds=0.05)
    assert str(failure.value) == "Google login failed: Timed out waiting for response from authorization server"
    assert slot.writes == 0


def test_a_login_the_user_declines_is_one_sentence(oauth: GoogleOAuthFake, tmp_path: Path,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    printed: list[str] = []
    monkeypatch.setattr(builtins, "print", lambda *a, **k: printed.append(" ".join(map(str, a))))
    slot, done = MemorySlot(), {}

    def log_in() -> None:
        try:
            google_auth.login("g", login_settings(tmp_path, oauth), slot, no_browser=True, port=0,
                              echo=lambda _: None, timeout_seconds=20)
        except ConnectorError as exc:
            done["error"] = exc

    thread = threading.Thread(target=log_in)
    thread.start()
    for _ in range(400):
        if any("/auth?" in line for line in printed):
            break
        threading.Event().wait(0.01)
    url = next(line.split("\n")[-1] for line in printed if "/auth?" in line)
    approved = oauth.approve(url)  # where Google would send the browser; the user pressed "Cancel" instead
    redirect, _, query = approved.partition("?")
    state = dict(part.split("=", 1) for part in query.split("&"))["state"]
    requests.get(f"{redirect}?error=access_denied&state={state}", timeout=10)
    thread.join(20)
    assert not thread.is_alive()
    assert str(done["error"]).startswith("Google login failed: (access_denied)")
    assert slot.writes == 0 and oauth.refresh_tokens == {}


def paste_login(oauth: GoogleOAuthFake, tmp_path: Path, slot: MemorySlot, answer: Any) -> str:
    asked: list[str] = []
    return google_auth.login("g", login_settings(tmp_path, oauth), slot, paste=True, port=8765,
                             echo=lambda text: asked.append(text.split("\n")[1]),
                             read_line=lambda prompt: answer(asked[-1]))


def test_a_login_without_a_refresh_token_is_refused(oauth: GoogleOAuthFake, tmp_path: Path) -> None:
    scopes = " ".join(google_auth.scopes({"gmail": True, "calendars": ("primary",)}))
    oauth.server.inject(lambda r: r.path == "/token",
                        Response(200, {"access_token": "at-only", "expires_in": 3599, "scope": scopes,
                                       "token_type": "Bearer"}), times=1)
    slot = MemorySlot()
    with pytest.raises(ConnectorError) as failure:
        paste_login(oauth, tmp_path, slot, oauth.approve)
    assert str(failure.value) == ("Google sent no refresh token; remove syncd's access in your Google account, "
                                  "log in again")
    assert slot.writes == 0


def test_a_pasted_address_with_a_used_code_is_one_sentence(oauth: GoogleOAuthFake, tmp_path: Path) -> None:
    def stale_code(url: str) -> str:
        approved = oauth.approve(url)
        return approved.replace("code=", "code=used-", 1)  # e.g. pasted twice: Google took the code already

    slot = MemorySlot()
    with pytest.raises(ConnectorError) as failure:
        paste_login(oauth, tmp_path, slot, stale_code)
    assert str(failure.value) == "Google login failed: (invalid_grant) Malformed auth code."
    assert slot.writes == 0


# ---- importing and describing ------------------------------------------------------------------------------


def test_import_of_json_that_is_no_token_file() -> None:
    slot = MemorySlot()
    for text in ('["refresh_token"]', '"token"', "42"):
        with pytest.raises(ConnectorError, match=r"\Athe file is not an authorized-user token file\Z"):
            google_auth.import_secret("g", {}, slot, text)
    assert slot.writes == 0


def test_describe_an_unreadable_login_or_expiry() -> None:
    assert google_auth.describe("{broken") == "stored login is unreadable"
    text = json.dumps({"refresh_token": "rt-secret", "scopes": [google_auth.GMAIL_METADATA], "expiry": "soon"})
    assert google_auth.describe(text) == "logged in (gmail.metadata)"
