"""Google login against the fake token endpoint: the loopback redirect driven by the test, paste, import, refresh."""

from __future__ import annotations

import json
import threading
from pathlib import Path
from typing import Any

import pytest
import requests
from google.auth.transport.requests import Request as AuthRequest

from connectors.base import AuthRequired, ConnectorError
from connectors.google import auth as google_auth
from tests.fakes.google_oauth import CLIENT_ID, CLIENT_SECRET, GoogleOAuthFake
from tests.fakes.slot import MemorySlot


def _client_file(tmp_path: Path, oauth: GoogleOAuthFake) -> Path:
    path = tmp_path / "client.json"
    path.write_text(json.dumps({"installed": {
        "client_id": CLIENT_ID, "client_secret": CLIENT_SECRET, "auth_uri": oauth.server.base_url + "/auth",
        "token_uri": "https://oauth2.googleapis.com/token", "redirect_uris": ["http://localhost"],
    }}))
    return path


def _settings(tmp_path: Path, oauth: GoogleOAuthFake, **extra: Any) -> dict[str, Any]:
    return {"client_secret": _client_file(tmp_path, oauth), "token_uri": oauth.token_uri, "gmail": True,
            "calendars": ("primary",), **extra}


def test_loopback_login_stores_a_refreshable_token_with_least_privilege(oauth: GoogleOAuthFake, tmp_path: Path) -> None:
    slot, printed = MemorySlot(), list[str]()
    done: dict[str, Any] = {}

    def log_in() -> None:
        try:
            done["who"] = google_auth.login("gmail", _settings(tmp_path, oauth), slot, no_browser=True, port=0,
                                            echo=printed.append, timeout_seconds=20)
        except Exception as exc:  # surfaced by the assertion below
            done["error"] = exc

    # run_local_server prints the consent address with print(); capture it from the prompt template.
    original = print
    urls: list[str] = []
    import builtins

    builtins.print = lambda *a, **k: urls.append(" ".join(map(str, a)))
    try:
        thread = threading.Thread(target=log_in)
        thread.start()
        for _ in range(200):
            if any("/auth?" in u for u in urls):
                break
            threading.Event().wait(0.05)
        url = next(line.split("\n")[-1] for line in urls if "/auth?" in line)
        redirect = oauth.approve(url)  # the user consents; the browser is sent to the loopback listener
        assert requests.get(redirect, timeout=10).status_code == 200
        thread.join(20)
    finally:
        builtins.print = original
    assert "error" not in done, done.get("error")
    stored = json.loads(slot.value or "{}")
    assert stored["refresh_token"].startswith("rt-") and stored["token_uri"] == oauth.token_uri
    assert set(stored["scopes"]) == {google_auth.GMAIL_METADATA, google_auth.CALENDAR_READ}
    assert "code_challenge=" in url and "access_type=offline" in url  # PKCE, and a refresh token asked for
    assert any("ssh -L" in line for line in printed)


def test_paste_login_and_scopes_for_a_followups_target(oauth: GoogleOAuthFake, tmp_path: Path) -> None:
    slot = MemorySlot()
    granted: list[str] = []

    def paste(prompt: str) -> str:
        return oauth.approve(asked[-1])

    asked: list[str] = []
    settings = _settings(tmp_path, oauth, followups_target=True)
    google_auth.login("gmail", settings, slot, paste=True, port=8765, echo=lambda text: asked.append(text.split("\n")[1]),
                      read_line=paste)
    granted = json.loads(slot.value or "{}")["scopes"]
    assert set(granted) == {google_auth.GMAIL_METADATA, google_auth.CALENDAR_APP_CREATED,
                            google_auth.CALENDAR_LIST_READ, google_auth.CALENDAR_READ}
    assert "redirect_uri=http%3A%2F%2Flocalhost%3A8765%2F" in asked[-1]
    existing = google_auth.scopes({**settings, "followups_calendar_id": "primary"})
    assert existing == [google_auth.GMAIL_METADATA, google_auth.CALENDAR_EVENTS]  # events covers reading too


def test_paste_of_something_else_is_refused(oauth: GoogleOAuthFake, tmp_path: Path) -> None:
    with pytest.raises(ConnectorError, match="not the address"):
        google_auth.login("gmail", _settings(tmp_path, oauth), MemorySlot(), paste=True, echo=lambda _: None,
                          read_line=lambda _: "I clicked allow")


def test_login_without_a_client_file_explains_where_to_get_one(tmp_path: Path) -> None:
    with pytest.raises(ConnectorError, match="Desktop app"):
        google_auth.login("gmail", {}, MemorySlot())
    (tmp_path / "bad.json").write_text('{"web": 1}')
    with pytest.raises(ConnectorError, match="not an OAuth client"):
        google_auth.login("gmail", {"client_secret": tmp_path / "bad.json"}, MemorySlot())


def test_refresh_is_saved_and_revocation_means_needs_login(oauth: GoogleOAuthFake) -> None:
    slot = MemorySlot(oauth.authorized_user_json(valid=False))
    creds = google_auth.load_credentials("gmail", {"token_uri": oauth.token_uri}, slot)
    creds.refresh(AuthRequest())
    assert json.loads(slot.value or "{}")["token"] == creds.token and slot.writes == 1
    oauth.revoke()
    with pytest.raises(AuthRequired, match=r"account 'gmail' needs login \(the token was revoked") as caught:
        creds.refresh(AuthRequest())
    assert "rt-1" not in str(caught.value)


def test_missing_or_unreadable_login(oauth: GoogleOAuthFake) -> None:
    with pytest.raises(AuthRequired, match="no login stored"):
        google_auth.load_credentials("gmail", {}, MemorySlot())
    with pytest.raises(AuthRequired, match="unreadable"):
        google_auth.load_credentials("gmail", {}, MemorySlot('{"token": "x"}'))


def test_import_checks_the_file_and_describe_never_shows_a_secret(oauth: GoogleOAuthFake) -> None:
    slot = MemorySlot()
    text = oauth.authorized_user_json()
    google_auth.import_secret("gmail", {}, slot, text)
    assert slot.value is not None
    summary = google_auth.describe(slot.value)
    assert summary.startswith("logged in") and "rt-1" not in summary and CLIENT_SECRET not in summary
    with pytest.raises(ConnectorError, match="lacks refresh_token"):
        google_auth.import_secret("gmail", {}, slot, '{"client_id": "x", "client_secret": "y"}')
    with pytest.raises(ConnectorError, match="not JSON"):
        google_auth.import_secret("gmail", {}, slot, "token=abc")
    both = json.loads(text) | {"scopes": [google_auth.GMAIL_METADATA, "https://www.googleapis.com/auth/gmail.readonly"]}
    with pytest.raises(ConnectorError, match=r"gmail\.metadata and gmail\.readonly"):
        google_auth.import_secret("gmail", {}, slot, json.dumps(both))
    assert google_auth.describe(None) == "not logged in"


def test_batch_uri_follows_the_configured_endpoint() -> None:
    assert google_auth.batch_uri("http://127.0.0.1:9/", "gmail", "v1") == "http://127.0.0.1:9/batch/gmail/v1"
    assert google_auth.batch_uri("https://www.googleapis.com/calendar/v3/", "calendar", "v3") == (
        "https://www.googleapis.com/batch/calendar/v3")
    assert google_auth.batch_uri("https://proxy.example/google/", "gmail", "v1") == (
        "https://proxy.example/google/batch/gmail/v1")  # a proxy's path prefix is kept
    assert google_auth.batch_uri("https://proxy.example/g/calendar/v3", "calendar", "v3") == (
        "https://proxy.example/g/batch/calendar/v3")


def test_transient_failures_are_retried_and_the_rest_are_not() -> None:
    import http.client

    from google.auth.exceptions import RefreshError, TransportError

    assert google_auth.classify(http.client.IncompleteRead(b"{", 999)) is not None  # reset mid-body
    assert google_auth.classify(TransportError("connection refused")) is not None
    assert google_auth.classify(RefreshError("temporarily_unavailable", retryable=True)) is not None
    assert google_auth.classify(RefreshError("invalid_grant")) is None
    assert google_auth.classify(ValueError("bug")) is None


def test_a_login_without_a_permission_the_configuration_needs_is_needs_login(oauth: GoogleOAuthFake) -> None:
    oauth.add_refresh_token("rt-1", [google_auth.GMAIL_METADATA, google_auth.CALENDAR_READ])
    slot = MemorySlot(oauth.authorized_user_json("rt-1"))
    settings = {"token_uri": oauth.token_uri, "followups_target": True}
    with pytest.raises(AuthRequired, match=r"lacks the permission calendar\.app\.created"):
        google_auth.load_credentials("gmail", settings, slot)
    assert google_auth.load_credentials("gmail", {"token_uri": oauth.token_uri}, slot) is not None


def test_google_apis_are_never_followed_through_a_redirect(oauth: GoogleOAuthFake) -> None:
    creds = google_auth.load_credentials("gmail", {"token_uri": oauth.token_uri},
                                         MemorySlot(oauth.authorized_user_json()))
    assert google_auth.authorized_http(creds).http.follow_redirects is False
