"""Google's OAuth token endpoint, faked: refresh and authorization-code (PKCE) grants, revocation, expiry.

Its :meth:`GoogleOAuthFake.guard` goes into the API fakes' ``guards``, so Gmail and Calendar fakes answer
401 to an access token this endpoint did not issue, or that expired or was revoked (docs/google-oauth.md).
"""

from __future__ import annotations

import base64
import hashlib
import itertools
import json
from datetime import UTC, datetime, timedelta
from urllib.parse import parse_qs, urlsplit

from tests.fakes.server import FakeServer, Request, Response

CLIENT_ID = "syncd-test.apps.googleusercontent.com"
CLIENT_SECRET = "test-client-secret"


class GoogleOAuthFake:
    def __init__(self, server: FakeServer, path: str = "/token") -> None:
        self.server = server
        self.path = path
        self.refresh_tokens: dict[str, list[str]] = {}  # refresh token → scopes
        self.access: dict[str, str] = {}  # valid access token → its refresh token
        self.codes: dict[str, tuple[str, str, list[str]]] = {}  # code → (challenge, redirect_uri, scopes)
        self.refreshes = 0
        self._counter = itertools.count(1)
        server.route("POST", path)(self._token)

    @property
    def token_uri(self) -> str:
        return self.server.base_url + self.path

    # ---- what tests arrange ------------------------------------------------------------------------------

    def add_refresh_token(self, refresh_token: str = "rt-1", scopes: list[str] | None = None) -> str:
        self.refresh_tokens[refresh_token] = list(scopes or [])
        return refresh_token

    def issue(self, refresh_token: str) -> str:
        token = f"at-{next(self._counter)}"
        self.access[token] = refresh_token
        return token

    def authorized_user_json(self, refresh_token: str = "rt-1", *, valid: bool = True) -> str:
        """What the token store holds after a login: an access token (valid, or already expired) and the rest."""
        if refresh_token not in self.refresh_tokens:
            self.add_refresh_token(refresh_token)
        token = self.issue(refresh_token) if valid else "at-expired"
        expiry = datetime.now(UTC) + (timedelta(hours=1) if valid else -timedelta(hours=1))
        return json.dumps({
            "token": token, "refresh_token": refresh_token, "token_uri": self.token_uri,
            "client_id": CLIENT_ID, "client_secret": CLIENT_SECRET,
            "scopes": self.refresh_tokens[refresh_token], "expiry": expiry.replace(tzinfo=None).isoformat() + "Z",
        })

    def revoke(self, refresh_token: str = "rt-1") -> None:
        """The user removed access (or the password changed): refreshes fail with invalid_grant."""
        self.refresh_tokens.pop(refresh_token, None)
        self.access = {t: r for t, r in self.access.items() if r != refresh_token}

    def expire_access_tokens(self) -> None:
        """Every access token issued so far stops working: the next API call gets 401 and must refresh."""
        self.access.clear()

    def guard(self, request: Request) -> Response | None:
        header = request.headers.get("authorization", "")
        if header.startswith("Bearer ") and header[7:] in self.access:
            return None
        return Response(401, {"error": {"code": 401, "message": "Request had invalid authentication credentials.",
                                        "errors": [{"reason": "authError", "domain": "global"}],
                                        "status": "UNAUTHENTICATED"}})

    def approve(self, authorization_url: str, scopes: list[str] | None = None) -> str:
        """Play the user consenting at Google: returns the redirect URL the browser would be sent to."""
        query = {k: v[0] for k, v in parse_qs(urlsplit(authorization_url).query).items()}
        code = f"code-{next(self._counter)}"
        granted = scopes if scopes is not None else query.get("scope", "").split()
        self.codes[code] = (query.get("code_challenge", ""), query["redirect_uri"], granted)
        return f"{query['redirect_uri']}?state={query.get('state', '')}&code={code}&scope={'+'.join(granted)}"

    # ---- the endpoint ------------------------------------------------------------------------------------

    def _token(self, request: Request) -> Response:
        form = {k: v[0] for k, v in parse_qs(request.body.decode()).items()}
        basic = request.headers.get("authorization", "")
        if basic.startswith("Basic "):  # requests-oauthlib sends the client's credentials this way (RFC 6749 §2.3.1)
            client_id, _, client_secret = base64.b64decode(basic[6:]).decode().partition(":")
            form.setdefault("client_id", client_id)
            form.setdefault("client_secret", client_secret)
        if form.get("client_id") != CLIENT_ID or form.get("client_secret") != CLIENT_SECRET:
            return _error(401, "invalid_client", "The OAuth client was not found.")
        grant = form.get("grant_type")
        if grant == "refresh_token":
            refresh_token = form.get("refresh_token", "")
            if refresh_token not in self.refresh_tokens:
                return _error(400, "invalid_grant", "Token has been expired or revoked.")
            self.refreshes += 1
            return Response(200, {"access_token": self.issue(refresh_token), "expires_in": 3599,
                                  "scope": " ".join(self.refresh_tokens[refresh_token]), "token_type": "Bearer"})
        if grant == "authorization_code":
            entry = self.codes.pop(form.get("code", ""), None)
            if entry is None:
                return _error(400, "invalid_grant", "Malformed auth code.")
            challenge, redirect_uri, granted = entry
            verifier = form.get("code_verifier", "")
            expected = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).decode().rstrip("=")
            if challenge and expected != challenge:
                return _error(400, "invalid_grant", "Invalid code verifier.")
            if form.get("redirect_uri") != redirect_uri:
                return _error(400, "redirect_uri_mismatch", "Bad Request")
            refresh_token = self.add_refresh_token(f"rt-{next(self._counter)}", granted)
            return Response(200, {"access_token": self.issue(refresh_token), "refresh_token": refresh_token,
                                  "expires_in": 3599, "scope": " ".join(granted), "token_type": "Bearer"})
        return _error(400, "unsupported_grant_type", f"Invalid grant_type: {grant}")


def _error(status: int, error: str, description: str) -> Response:
    return Response(status, {"error": error, "error_description": description})
