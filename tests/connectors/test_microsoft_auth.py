"""Microsoft login through real msal against the fake Entra (msal's http_client hook, docs/msal.md)."""

from __future__ import annotations

import json
from typing import Any

import pytest

from connectors.base import AuthRequired, ConnectorError
from connectors.microsoft import auth as microsoft_auth
from tests.fakes.entra import AUTHORITY, CLIENT_ID, FakeEntra
from tests.fakes.slot import MemorySlot

RESERVED = {"offline_access", "openid", "profile"}


def _settings(**extra: Any) -> dict[str, Any]:
    return {"client_id": CLIENT_ID, "authority": AUTHORITY, "graph_endpoint": "https://graph.microsoft.com",
            "mail": True, "calendar": True, **extra}


def _logged_in(entra: FakeEntra, **extra: Any) -> MemorySlot:
    slot = MemorySlot()
    microsoft_auth.login("work", _settings(**extra), slot, echo=lambda _: None, http_client=entra)
    return slot


def _refresh_tokens(cache_text: str | None) -> set[str]:
    data = json.loads(cache_text or "{}")
    return {entry["secret"] for entry in data.get("RefreshToken", {}).values()}


# ---- scopes -------------------------------------------------------------------------------------------


def test_scopes_are_least_privilege_and_never_reserved() -> None:
    assert microsoft_auth.scopes(_settings()) == ["Mail.ReadBasic", "Calendars.Read", "User.Read"]
    assert microsoft_auth.scopes(_settings(calendar=False)) == ["Mail.ReadBasic", "User.Read"]
    assert microsoft_auth.scopes(_settings(mail=False, followups_target=True)) == ["Calendars.ReadWrite", "User.Read"]
    for settings in (_settings(), _settings(followups_target=True)):
        assert not RESERVED & set(microsoft_auth.scopes(settings))


def test_national_cloud_scopes_name_their_graph_host() -> None:
    scopes = microsoft_auth.scopes(_settings(graph_endpoint="https://graph.microsoft.us", calendar=False))
    assert scopes == ["https://graph.microsoft.us/Mail.ReadBasic", "https://graph.microsoft.us/User.Read"]


# ---- device-code login --------------------------------------------------------------------------------


def test_device_code_login_shows_the_code_waits_and_stores_the_cache() -> None:
    entra = FakeEntra("sam@example.com", pending_polls=2)
    shown: list[str] = []
    slot = MemorySlot()
    user = microsoft_auth.login("work", _settings(), slot, echo=shown.append, http_client=entra)
    assert user == "sam@example.com"
    assert len(shown) == 1 and "https://microsoft.com/devicelogin" in shown[0] and "FAKE" in shown[0]
    # authorization_pending twice, then the tokens: msal polled until the user finished.
    assert len(entra.token_calls("urn:ietf:params:oauth:grant-type:device_code")) == 3
    devicecode = next(form for method, url, form in entra.log if url.endswith("/devicecode"))
    assert set(str(devicecode["scope"]).split()) == {"Mail.ReadBasic", "Calendars.Read", "User.Read"} | RESERVED
    assert slot.writes == 1 and _refresh_tokens(slot.value)
    assert microsoft_auth.describe(slot.value) == "Microsoft account sam@example.com"


def test_login_refused_by_entra_is_one_sentence() -> None:
    entra = FakeEntra(client_id="another-app")
    with pytest.raises(ConnectorError, match="refused to start a device-code login: unauthorized_client"):
        microsoft_auth.login("work", _settings(), MemorySlot(), echo=lambda _: None, http_client=entra)


def test_login_without_network_is_one_sentence() -> None:
    entra = FakeEntra()
    entra.down = True
    with pytest.raises(ConnectorError, match="cannot reach the Microsoft login service"):
        microsoft_auth.login("work", _settings(), MemorySlot(), echo=lambda _: None, http_client=entra)


# ---- silent tokens ------------------------------------------------------------------------------------


def test_token_comes_from_the_cache_without_calling_entra() -> None:
    entra = FakeEntra()
    slot = _logged_in(entra)
    before = len(entra.token_calls())
    token = microsoft_auth.token_provider("work", _settings(), slot, http_client=entra)
    first = token(False)
    assert first in entra.access
    assert [token(False) for _ in range(20)] == [first] * 20
    assert len(entra.token_calls()) == before  # the access token from the login is still good


def test_forced_refresh_saves_the_rotated_cache() -> None:
    entra = FakeEntra()
    slot = _logged_in(entra)
    old_refresh = _refresh_tokens(slot.value)
    token = microsoft_auth.token_provider("work", _settings(), slot, http_client=entra)
    old = token(False)
    new = token(True)  # what GraphClient asks after a 401
    assert new != old and new in entra.access
    assert entra.refreshes == 1
    saved = _refresh_tokens(slot.value)
    assert saved and not saved & old_refresh, "the rotated refresh token was written back"
    # A new process reading the slot refreshes with the new refresh token (the old one is spent).
    entra.expire_access_tokens()
    again = microsoft_auth.token_provider("work", _settings(), slot, http_client=entra)
    assert again(True) in entra.access


def test_expired_access_token_is_renewed_before_use() -> None:
    entra = FakeEntra(expires_in=60)  # inside msal's and syncd's five-minute margins: always renewed
    slot = _logged_in(entra)
    token = microsoft_auth.token_provider("work", _settings(), slot, http_client=entra)
    assert token(False) in entra.access
    assert entra.refreshes == 1


def test_revoked_login_needs_login() -> None:
    entra = FakeEntra()
    slot = _logged_in(entra)
    entra.revoke()
    token = microsoft_auth.token_provider("work", _settings(), slot, http_client=entra)
    with pytest.raises(AuthRequired, match=r"needs login .*revoked") as caught:
        token(True)
    assert caught.value.account == "work"
    assert "rt-" not in str(caught.value) and "eyJ0" not in str(caught.value)


@pytest.mark.parametrize("stored", [None, "", "{not json", json.dumps({"Account": {}, "RefreshToken": {}})])
def test_missing_or_empty_login_needs_login(stored: str | None) -> None:
    token = microsoft_auth.token_provider("work", _settings(), MemorySlot(stored), http_client=FakeEntra())
    with pytest.raises(AuthRequired, match="needs login"):
        token(False)


def test_token_endpoint_down_or_failing_is_try_later_not_login() -> None:
    entra = FakeEntra()
    slot = _logged_in(entra)
    token = microsoft_auth.token_provider("work", _settings(), slot, http_client=entra)
    token(False)
    entra.fail_status = 503
    with pytest.raises(ConnectorError, match="cannot reach the Microsoft login service") as caught:
        token(True)
    assert not isinstance(caught.value, AuthRequired)
    entra.fail_status = None
    entra.down = True
    with pytest.raises(ConnectorError, match="try again later") as caught:
        token(True)
    assert not isinstance(caught.value, AuthRequired)
    entra.down = False
    # The next pull recovers without a new login. (A new provider, as the next pull builds: msal's own
    # throttling replays a 5xx to the same app for a while rather than hammering a failing endpoint.)
    later = microsoft_auth.token_provider("work", _settings(), slot, http_client=entra)
    assert later(True) in entra.access


# ---- import and describe ------------------------------------------------------------------------------


def test_import_of_a_cache_made_elsewhere() -> None:
    entra = FakeEntra("sam@example.com")
    elsewhere = _logged_in(entra)
    slot = MemorySlot()
    assert microsoft_auth.import_secret("work", _settings(), slot, str(elsewhere.value)) == "sam@example.com"
    assert slot.value == elsewhere.value
    token = microsoft_auth.token_provider("work", _settings(), slot, http_client=entra)
    assert token(True) in entra.access


def test_import_refuses_what_is_no_usable_cache() -> None:
    entra = FakeEntra()
    text = json.loads(str(_logged_in(entra).value))
    no_refresh = dict(text, RefreshToken={})
    no_account = dict(text, Account={})
    for bad, why in (("not json", "not an MSAL token cache"), (json.dumps([1]), "not an MSAL token cache"),
                     (json.dumps(no_refresh), "no refresh token"), (json.dumps(no_account), "no account")):
        slot = MemorySlot()
        with pytest.raises(ConnectorError, match=why):
            microsoft_auth.import_secret("work", _settings(), slot, bad)
        assert slot.value is None


def test_import_refuses_a_cache_of_another_app_registration() -> None:
    text = str(_logged_in(FakeEntra()).value)
    with pytest.raises(ConnectorError, match="another app registration"):
        microsoft_auth.import_secret("work", _settings(client_id="someone-elses-app"), MemorySlot(), text)


def test_describe_names_the_user_and_no_secret() -> None:
    entra = FakeEntra("sam@example.com")
    text = str(_logged_in(entra).value)
    described = microsoft_auth.describe(text)
    assert "sam@example.com" in described
    for secret in _refresh_tokens(text) | entra.access:
        assert secret not in described
    assert microsoft_auth.describe(None) == "not logged in"
    assert "unreadable" in microsoft_auth.describe("{")


def test_token_errors_are_needs_login_or_one_sentence_about_the_app() -> None:
    from connectors.microsoft.auth import _failure

    for error in ("invalid_grant", "interaction_required", "consent_required", "login_required"):
        assert isinstance(_failure("work", {"error": error}), AuthRequired)
    app = _failure("work", {"error": "invalid_client", "error_description": "AADSTS7000218: secret required"})
    assert not isinstance(app, AuthRequired) and "check client_id" in str(app)
    other = _failure("work", {"error": "temporarily_unavailable", "error_description": "AADSTS1\nTrace ID: 1"})
    assert not isinstance(other, AuthRequired) and "\n" not in str(other)


def test_a_device_login_the_user_never_finished_is_one_sentence() -> None:
    entra = FakeEntra(pending_polls=1)
    original = entra._token

    def code_expired(form: dict[str, Any]) -> Any:
        entra.device_codes.clear()  # the user walked away: the code expired
        return original(form)

    entra._token = code_expired  # type: ignore[method-assign]
    slot = MemorySlot()
    with pytest.raises(ConnectorError, match="Microsoft login did not complete: expired_token") as caught:
        microsoft_auth.login("work", _settings(), slot, echo=lambda _: None, http_client=entra)
    assert "\n" not in str(caught.value) and slot.value is None


def test_a_cache_with_two_accounts_or_none_signed_in() -> None:
    entra = FakeEntra("sam@example.com")
    text = json.loads(str(_logged_in(entra).value))
    (key, account), = text["Account"].items()
    two = dict(text, Account={key: account, key + "-2": dict(account, username="kim@example.com")})
    with pytest.raises(ConnectorError, match="holds 2 accounts"):
        microsoft_auth.import_secret("work", _settings(), MemorySlot(), json.dumps(two))
    assert microsoft_auth.describe(json.dumps(two)) == "Microsoft account sam@example.com, kim@example.com"
    no_account = MemorySlot(json.dumps(dict(text, Account={})))
    with pytest.raises(AuthRequired, match="no signed-in account"):
        microsoft_auth.token_provider("work", _settings(), no_account, http_client=entra)(False)
    assert microsoft_auth.describe(no_account.value) == "no account in the stored login (log in again)"
    assert microsoft_auth.describe("garbage") == "unreadable login (log in again)"


def test_a_login_without_the_asked_scopes_needs_login() -> None:
    entra = FakeEntra()
    slot = _logged_in(entra)  # consented to read only
    token = microsoft_auth.token_provider("work", _settings(followups_target=True), slot, http_client=entra)
    entra.revoke()  # and the refresh token cannot be used to ask for more
    with pytest.raises(AuthRequired):
        token(False)


def test_a_malformed_authority_is_a_configuration_sentence() -> None:
    with pytest.raises(ConnectorError, match="Microsoft login is misconfigured"):
        microsoft_auth.login("work", _settings(authority="https://login.microsoftonline.com"), MemorySlot(),
                             echo=lambda _: None, http_client=FakeEntra())
