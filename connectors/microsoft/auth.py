"""Microsoft login with MSAL: device-code login, silent refresh, and the token cache in syncd's token store.

The account's secret is MSAL's ``SerializableTokenCache`` JSON (one account, its refresh token and access
tokens). MSAL does not persist it by itself (docs/msal.md), so every ``acquire_*`` that changed it writes it
back to the :class:`~connectors.base.SecretSlot`: refresh tokens rotate, and a lost rotation is a lost login.

Least privilege (docs/microsoft-graph.md#mail, docs/microsoft-graph.md#calendar): ``Mail.ReadBasic`` (mail metadata,
no bodies), ``Calendars.Read`` (or ``Calendars.ReadWrite`` when the account is the follow-ups target),
``Contacts.Read`` only when the account reads its contacts (docs/microsoft-graph.md#contacts), ``User.Read`` for the
owner's address. Never ``offline_access``/``openid``/``profile``: MSAL adds them and raises if given
(docs/msal.md).
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any
from urllib.parse import urlsplit

from connectors.base import AuthRequired, ConnectorError, SecretSlot

GLOBAL_GRAPH_HOST = "graph.microsoft.com"
# Errors that only a new interactive login fixes (docs/msal.md#silent-refresh); everything else is "try later".
LOGIN_ERRORS = {"invalid_grant", "interaction_required", "consent_required", "login_required"}
# Errors about the app registration itself: logging in again would fail the same way.
CLIENT_ERRORS = {"invalid_client", "unauthorized_client"}
# An access token this close to its expiry is renewed before use, so a long request does not outlive it.
EXPIRY_MARGIN = 300.0


def scopes(settings: Mapping[str, Any]) -> list[str]:
    wanted = []
    if settings.get("mail", True):
        wanted.append("Mail.ReadBasic")
    if settings.get("followups_target"):
        wanted.append("Calendars.ReadWrite")  # it also reads, so it replaces Calendars.Read
    elif settings.get("calendar", True):
        wanted.append("Calendars.Read")
    if settings.get("contacts"):
        wanted.append("Contacts.Read")
    wanted.append("User.Read")
    endpoint = str(settings.get("graph_endpoint") or f"https://{GLOBAL_GRAPH_HOST}")
    parts = urlsplit(endpoint)
    if (parts.hostname or "").lower() != GLOBAL_GRAPH_HOST:
        # A national cloud's token must name its own Graph host as the resource
        # (docs/microsoft-graph.md#national-clouds).
        root = f"{parts.scheme}://{parts.netloc}"
        wanted = [f"{root}/{scope}" for scope in wanted]
    return wanted


def _app(settings: Mapping[str, Any], cache: Any, http_client: Any) -> Any:
    import msal
    from msal.authority import WELL_KNOWN_AUTHORITY_HOSTS

    authority = str(settings.get("authority") or "https://login.microsoftonline.com/common")
    # For a host msal does not know, it would first ask login.microsoftonline.com to validate it (instance
    # discovery): traffic to a host the user did not configure. The configured authority is trusted as is.
    known = (urlsplit(authority).hostname or "").lower() in WELL_KNOWN_AUTHORITY_HOSTS
    try:
        return msal.PublicClientApplication(
            str(settings["client_id"]),
            authority=authority,
            token_cache=cache,
            http_client=http_client,
            instance_discovery=None if known else False,
        )
    except ValueError as exc:  # msal's answer to a malformed or unknown authority
        raise ConnectorError(f"Microsoft login is misconfigured: {_first_line(exc)}") from None
    except Exception as exc:
        raise _network_error(exc) from None


def _cache(text: str | None) -> Any:
    import msal

    cache = msal.SerializableTokenCache()
    if text:
        cache.deserialize(text)
    return cache


def _network_error(exc: BaseException) -> ConnectorError:
    # requests' messages can carry URLs with query strings but never tokens (they travel in POST bodies).
    return ConnectorError(f"cannot reach the Microsoft login service ({type(exc).__name__}); try again later")


def _first_line(exc: BaseException) -> str:
    return (str(exc).splitlines() or [type(exc).__name__])[0][:200]


def _save(cache: Any, secret: SecretSlot) -> None:
    if cache.has_state_changed:
        secret.set(cache.serialize())
        cache.has_state_changed = False


def _ungranted(cache: Any, wanted: list[str]) -> list[str]:
    """The wanted scopes no access token in the cache was ever granted (short names), when the cache tells."""
    granted: set[str] = set()
    for entry in (json.loads(cache.serialize()).get("AccessToken") or {}).values():
        granted |= {scope.rsplit("/", 1)[-1].lower() for scope in str(entry.get("target") or "").split()}
    short = [scope.rsplit("/", 1)[-1] for scope in wanted]
    return [scope for scope in short if granted and scope.lower() not in granted]


def _failure(account: str, result: Mapping[str, Any], ungranted: Sequence[str] = ()) -> ConnectorError:
    error = str(result.get("error") or "")
    description = _first_line(Exception(str(result.get("error_description") or error)))
    if error in CLIENT_ERRORS:
        return ConnectorError(
            f"Microsoft refused the app registration of account '{account}' ({error}): check client_id and that "
            "the app allows public client flows"
        )
    if error in LOGIN_ERRORS and (result.get("suberror") == "consent_required" or "AADSTS65001" in description):
        # A permission the configuration now needs (Contacts.Read for an account that now reads contacts)
        # was never consented to: only a new login asks for it (docs/msal.md#silent-refresh).
        missing = ", ".join(ungranted) or "a permission the configuration now needs"
        return AuthRequired(account, f"the login lacks the permission {missing}")
    if error in LOGIN_ERRORS:
        why = "the login was revoked or has expired" if error == "invalid_grant" else f"Microsoft asks for {error}"
        return AuthRequired(account, why)
    return ConnectorError(f"Microsoft login failed for account '{account}': {error}: {description}")


def token_provider(
    account: str, settings: Mapping[str, Any], secret: SecretSlot | None, *, http_client: Any = None
) -> Callable[[bool], str]:
    """A callable(force_refresh) → access token, for :class:`connectors.microsoft.graph.GraphClient`.

    The app and the token are kept between calls: Graph asks before every request, the token endpoint is
    hit only when the token is near expiry or Graph answered 401 (``force_refresh``).
    """
    wanted = scopes(settings)
    lock = threading.Lock()
    state: dict[str, Any] = {"app": None, "cache": None, "token": None, "expires": 0.0}

    def token(force_refresh: bool) -> str:
        with lock:
            if not force_refresh and state["token"] and time.time() < state["expires"] - EXPIRY_MARGIN:
                return str(state["token"])
            if secret is None:
                raise AuthRequired(account, "no token store")
            if state["app"] is None:
                text = secret.get()
                if not text:
                    raise AuthRequired(account, "no login stored")
                try:
                    state["cache"] = _cache(text)
                except ValueError:
                    raise AuthRequired(account, "the stored login is unreadable") from None
                state["app"] = _app(settings, state["cache"], http_client)
            app = state["app"]
            try:
                accounts = app.get_accounts()
                if not accounts:
                    raise AuthRequired(account, "no signed-in account in the stored login")
                result = app.acquire_token_silent_with_error(wanted, account=accounts[0], force_refresh=force_refresh)
            except ConnectorError:
                raise
            except Exception as exc:  # requests' connection errors, msal's 5xx MsalServiceError
                raise _network_error(exc) from None
            finally:
                _save(state["cache"], secret)
            if result is None:
                # msal found neither an access token nor a refresh token for these scopes.
                raise AuthRequired(account, "no usable token for the configured scopes")
            if "access_token" not in result:
                raise _failure(account, result, _ungranted(state["cache"], wanted))
            state["token"] = result["access_token"]
            state["expires"] = time.time() + float(result.get("expires_in") or 0)
            return str(state["token"])

    return token


def login(
    account: str, settings: Mapping[str, Any], secret: SecretSlot, *, echo: Callable[[str], Any] = print,
    http_client: Any = None, **_: Any,
) -> str:
    """Device-code login: shows the URL and code, waits for the user to finish, stores the cache."""
    cache = _cache(None)
    app = _app(settings, cache, http_client)
    try:
        flow = app.initiate_device_flow(scopes=scopes(settings))
    except Exception as exc:
        raise _network_error(exc) from None
    if "user_code" not in flow:
        raise ConnectorError(
            f"Microsoft refused to start a device-code login: {flow.get('error')}: "
            f"{_first_line(Exception(str(flow.get('error_description') or '')))} "
            "(is 'Allow public client flows' enabled for the app registration?)"
        )
    echo(str(flow["message"]))
    try:
        result = app.acquire_token_by_device_flow(flow)  # blocks, polling every flow["interval"] seconds
    except Exception as exc:
        raise _network_error(exc) from None
    if "access_token" not in result:
        raise ConnectorError(f"Microsoft login did not complete: {result.get('error')}: "
                             f"{_first_line(Exception(str(result.get('error_description') or '')))}")
    secret.set(cache.serialize())
    claims = result.get("id_token_claims") or {}
    accounts = app.get_accounts()
    return str(claims.get("preferred_username") or (accounts[0]["username"] if accounts else account))


def _summary(text: str, client_id: str | None = None) -> tuple[list[str], bool]:
    """Usernames of the accounts in an MSAL cache JSON, and whether it holds a refresh token (for ``client_id``)."""
    data = json.loads(text)
    if not isinstance(data, dict):
        raise ValueError("not an MSAL token cache")
    users = [str(entry.get("username") or "") for entry in (data.get("Account") or {}).values()
             if isinstance(entry, dict)]
    has_refresh = any(isinstance(entry, dict) and entry.get("secret")
                      and (client_id is None or entry.get("client_id") == client_id or entry.get("family_id"))
                      for entry in (data.get("RefreshToken") or {}).values())
    return users, has_refresh


def import_secret(account: str, settings: Mapping[str, Any], secret: SecretSlot, text: str) -> str:
    """Store an MSAL cache JSON made elsewhere (e.g. on a machine with a browser); returns its username."""
    try:
        users, has_refresh = _summary(text)
        _cache(text)  # msal must be able to read it, too
    except (ValueError, AttributeError, TypeError):
        raise ConnectorError("the file is not an MSAL token cache (JSON with Account and RefreshToken)") from None
    if not users:
        raise ConnectorError("the MSAL token cache holds no account; log in with it first")
    if not has_refresh:
        raise ConnectorError("the MSAL token cache holds no refresh token, so syncd could not stay logged in")
    client_id = str(settings.get("client_id") or "") or None
    if client_id and not _summary(text, client_id)[1]:
        # msal looks refresh tokens up by client id: another app's would be "needs login" at the first pull.
        raise ConnectorError(f"the MSAL token cache was made with another app registration, not client_id {client_id}")
    if len(users) > 1:
        raise ConnectorError(f"the MSAL token cache holds {len(users)} accounts; syncd needs one per account")
    secret.set(text)
    return users[0] or account


def describe(text: str | None) -> str:
    """Who the stored login is, for ``syncd auth status`` (never any token)."""
    if not text:
        return "not logged in"
    try:
        users, has_refresh = _summary(text)
    except (ValueError, AttributeError, TypeError):
        return "unreadable login (log in again)"
    if not users:
        return "no account in the stored login (log in again)"
    who = ", ".join(user or "unknown user" for user in users)
    return f"Microsoft account {who}" + ("" if has_refresh else " (no refresh token: log in again)")
