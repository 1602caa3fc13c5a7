"""Microsoft Entra (the v2.0 login endpoints), faked as the object msal takes as ``http_client``.

msal only accepts an ``https://host/<tenant>`` authority, so a loopback HTTP fake is impossible; msal's
``http_client`` hook is the seam instead (docs/msal.md#offline-testing). This object answers the
calls msal 1.39 makes for the device-code and refresh flows: OIDC discovery, instance discovery, the
device-code endpoint and the token endpoint (device_code grant with ``authorization_pending`` first,
refresh_token grant with rotation, ``invalid_grant`` after :meth:`revoke`). Access tokens it issues are
the ones :meth:`guard` (a :class:`~tests.fakes.server.FakeServer` guard for the Graph fake) accepts.
"""

from __future__ import annotations

import base64
import itertools
import json
import threading
import time
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit

import requests

from tests.fakes.server import Request, Response

CLIENT_ID = "00000000-0000-4000-8000-00000000c11e"
AUTHORITY = "https://login.microsoftonline.com/common"
HOST = "login.microsoftonline.com"
TENANT_ID = "9188040d-6c67-4c5b-b112-36a304b66dad"  # the consumers tenant id, as Outlook.com accounts have
USER_OID = "00000000-0000-0000-1234-56789abcdef0"


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


class FakeHttpResponse:
    """What msal reads from a ``requests.Response``: status_code, text, headers, raise_for_status()."""

    def __init__(self, status_code: int, body: Any, headers: Mapping[str, str] | None = None) -> None:
        self.status_code = status_code
        self.text = body if isinstance(body, str) else json.dumps(body)
        self.headers = dict(headers or {"Content-Type": "application/json"})

    def raise_for_status(self) -> None:
        if self.status_code >= 400:
            raise requests.HTTPError(f"HTTP {self.status_code}", response=None)

    def json(self) -> Any:
        return json.loads(self.text)


class FakeEntra:
    def __init__(self, username: str = "sam@example.com", client_id: str = CLIENT_ID, *, pending_polls: int = 1,
                 expires_in: int = 3599, enforce_consent: bool = False) -> None:
        self.username = username
        self.client_id = client_id
        self.pending_polls = pending_polls  # device-code polls answered authorization_pending before success
        self.expires_in = expires_in
        self.access: set[str] = set()  # valid access tokens (the Graph fake's guard reads this)
        self.refresh_tokens: set[str] = set()
        self.device_codes: dict[str, list[Any]] = {}  # device code → [polls still pending, scope asked for]
        self.log: list[tuple[str, str, dict[str, Any]]] = []  # (method, url, form) of every call
        self.refreshes = 0
        self.down = False  # every call raises a connection error, as with no network
        # With enforce_consent, a refresh may ask only for scopes the user consented to at the device-code login
        # (else invalid_grant / consent_required, AADSTS65001, as Entra answers for a permission never granted).
        self.enforce_consent = enforce_consent
        self.consented: set[str] = set()
        self.fail_status: int | None = None  # the token endpoint answers this (5xx) while set
        self._counter = itertools.count(1)
        self._lock = threading.Lock()

    # ---- what tests arrange ------------------------------------------------------------------------------

    def revoke(self) -> None:
        """The user removed the app's consent (or changed the password): refresh tokens stop working."""
        with self._lock:
            self.refresh_tokens.clear()
            self.access.clear()

    def expire_access_tokens(self) -> None:
        """Every access token issued so far stops working at the Graph fake (401): the client must refresh."""
        with self._lock:
            self.access.clear()

    def token_calls(self, grant: str | None = None) -> list[dict[str, Any]]:
        return [form for method, url, form in self.log
                if url.endswith("/oauth2/v2.0/token") and (grant is None or form.get("grant_type") == grant)]

    def guard(self, request: Request) -> Response | None:
        header = request.headers.get("authorization", "")
        with self._lock:
            if header.startswith("Bearer ") and header[7:] in self.access:
                return None
        return Response(401, {"error": {"code": "InvalidAuthenticationToken",
                                        "message": "Access token has expired or is not yet valid."}},
                        {"WWW-Authenticate": 'Bearer realm="", error="invalid_token"'})

    # ---- msal's http_client interface ---------------------------------------------------------------------

    def get(self, url: str, params: Mapping[str, Any] | None = None, headers: Any = None, **_: Any) -> FakeHttpResponse:
        return self._answer("GET", url, dict(params or {}))

    def post(self, url: str, params: Mapping[str, Any] | None = None, data: Any = None, headers: Any = None,
             **_: Any) -> FakeHttpResponse:
        return self._answer("POST", url, dict(data or {}))

    def close(self) -> None:
        pass

    # ---- the endpoints -----------------------------------------------------------------------------------

    def _answer(self, method: str, url: str, form: dict[str, Any]) -> FakeHttpResponse:
        parts = urlsplit(url)
        with self._lock:
            self.log.append((method, url, form))
        if parts.hostname != HOST:
            # msal must never be sent anywhere else (the test would otherwise reach the network).
            raise AssertionError(f"msal called an unexpected host: {parts.hostname}")
        if self.down:
            raise requests.ConnectionError("connection refused (fake Entra is down)")
        path = parts.path
        if path.endswith("/v2.0/.well-known/openid-configuration"):
            return FakeHttpResponse(200, self._openid_configuration(path.split("/")[1]))
        if path == "/common/discovery/instance":
            return FakeHttpResponse(200, {
                "tenant_discovery_endpoint": f"{AUTHORITY}/v2.0/.well-known/openid-configuration",
                "api-version": "1.1",
                "metadata": [{"preferred_network": HOST, "preferred_cache": "login.windows.net",
                              "aliases": [HOST, "login.windows.net", "login.microsoft.com", "sts.windows.net"]}],
            })
        if path.endswith("/oauth2/v2.0/devicecode") and method == "POST":
            return self._devicecode(form)
        if path.endswith("/oauth2/v2.0/token") and method == "POST":
            if self.fail_status is not None:
                return FakeHttpResponse(self.fail_status, {"error": "server_error",
                                                           "error_description": "AADSTS90033: service unavailable"})
            return self._token(form)
        return FakeHttpResponse(404, {"error": "not_found", "error_description": f"no route for {path}"})

    def _openid_configuration(self, tenant: str) -> dict[str, Any]:
        base = f"https://{HOST}/{tenant}"
        return {
            "authorization_endpoint": f"{base}/oauth2/v2.0/authorize",
            "token_endpoint": f"{base}/oauth2/v2.0/token",
            "device_authorization_endpoint": f"{base}/oauth2/v2.0/devicecode",
            "issuer": f"https://{HOST}/{{tenantid}}/v2.0",
            "end_session_endpoint": f"{base}/oauth2/v2.0/logout",
        }

    def _devicecode(self, form: dict[str, Any]) -> FakeHttpResponse:
        if form.get("client_id") != self.client_id:
            return _error(400, "unauthorized_client", "AADSTS700016: Application not found in the directory.")
        n = next(self._counter)
        device_code = f"dc-{n}"
        with self._lock:
            self.device_codes[device_code] = [self.pending_polls, str(form.get("scope") or "")]
        user_code = f"FAKE{n:04d}"
        return FakeHttpResponse(200, {
            "user_code": user_code, "device_code": device_code,
            "verification_uri": "https://microsoft.com/devicelogin",
            "expires_in": 900, "interval": 0,  # no waiting between polls in tests
            "message": f"To sign in, use a web browser to open the page https://microsoft.com/devicelogin "
                       f"and enter the code {user_code} to authenticate.",
        })

    def _token(self, form: dict[str, Any]) -> FakeHttpResponse:
        if form.get("client_id") != self.client_id:
            return _error(400, "unauthorized_client", "AADSTS700016: Application not found in the directory.")
        grant = form.get("grant_type")
        scope = str(form.get("scope") or "")
        if grant == "urn:ietf:params:oauth:grant-type:device_code":
            with self._lock:
                entry = self.device_codes.get(str(form.get("device_code")))
                if entry is None:
                    return _error(400, "expired_token", "AADSTS70019: the verification code expired.")
                if entry[0] > 0:
                    entry[0] -= 1  # the user has not finished signing in yet
                    return _error(400, "authorization_pending", "AADSTS70016: OAuth 2.0 device flow error.")
                del self.device_codes[str(form.get("device_code"))]
                self.consented |= _scope_names(str(entry[1]))
            # The device-code token request carries no scope: the grant is what the devicecode call asked for.
            return FakeHttpResponse(200, self._tokens(str(entry[1])))
        if grant == "refresh_token":
            with self._lock:
                refresh_token = str(form.get("refresh_token"))
                if refresh_token not in self.refresh_tokens:
                    return FakeHttpResponse(400, {
                        "error": "invalid_grant", "suberror": "bad_token",
                        "error_description": "AADSTS70000: The provided grant has expired or been revoked.",
                        "error_codes": [70000]})
                if self.enforce_consent and _scope_names(scope) - self.consented:
                    return FakeHttpResponse(400, {
                        "error": "invalid_grant", "suberror": "consent_required", "error_codes": [65001],
                        "error_description": f"AADSTS65001: The user or administrator has not consented to use the "
                                             f"application with ID '{self.client_id}' named 'syncd'. Send an "
                                             "interactive authorization request for this user and resource."})
                self.refresh_tokens.discard(refresh_token)  # rotation: the old refresh token is spent
                self.refreshes += 1
            return FakeHttpResponse(200, self._tokens(scope))
        return _error(400, "unsupported_grant_type", f"AADSTS70003: grant type {grant} is not supported.")

    def _tokens(self, scope: str) -> dict[str, Any]:
        n = next(self._counter)
        access, refresh = f"eyJ0-at-{n}", f"rt-{n}"
        with self._lock:
            self.access.add(access)
            self.refresh_tokens.add(refresh)
        now = int(time.time())
        claims = {"aud": self.client_id, "iss": f"https://{HOST}/{TENANT_ID}/v2.0", "iat": now, "nbf": now,
                  "exp": now + 3600, "name": "Sam Example", "oid": USER_OID, "preferred_username": self.username,
                  "sub": "fake-subject", "tid": TENANT_ID, "ver": "2.0"}
        id_token = ".".join([_b64url(b'{"alg":"none","typ":"JWT"}'), _b64url(json.dumps(claims).encode()), "sig"])
        return {
            "token_type": "Bearer", "scope": scope, "expires_in": self.expires_in, "ext_expires_in": self.expires_in,
            "access_token": access, "refresh_token": refresh, "id_token": id_token,
            "client_info": _b64url(json.dumps({"uid": USER_OID, "utid": TENANT_ID}).encode()),
        }


def _scope_names(scope: str) -> set[str]:
    """The permissions a scope string names, without the ones msal adds itself and without a resource host."""
    reserved = {"offline_access", "openid", "profile"}
    return {name.rsplit("/", 1)[-1].lower() for name in scope.split()} - reserved


def _error(status: int, error: str, description: str) -> FakeHttpResponse:
    return FakeHttpResponse(status, {"error": error, "error_description": description})
