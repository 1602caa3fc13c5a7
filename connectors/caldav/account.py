"""One CalDAV (or CardDAV) account's connection: the caldav package's DAVClient for HTTP, authentication (Basic or
Digest, as the server asks) and the WebDAV XML, wrapped so that

* the password goes only to the configured host over https (or to this machine): a calendar on another host
  is reached only over https and within the configured host's parent domain (iCloud keeps calendars on
  ``pNN-caldav.icloud.com`` behind ``caldav.icloud.com``); anything else is refused in one sentence;
* every request goes through the shared throttle (:mod:`connectors.throttle`): a 429/503 is waited out as
  the server's Retry-After says, a dropped connection retried with backoff (every write syncd makes is
  conditional, so a retried one can never apply twice);
* every failure is one sentence: a refused password is "needs login", an untrusted certificate names
  ``ca_file``, a page that is not WebDAV says so (docs/caldav.md#errors-on-write).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any
from urllib.parse import urljoin, urlsplit

from connectors import tls
from connectors.base import ConnectorError, SecretSlot, SourceUnavailable
from connectors.password import password, refused
from connectors.throttle import Retry, RetryPolicy, Throttle, shared_throttle

TIMEOUT_SECONDS = 60
XML = {"Content-Type": 'application/xml; charset="utf-8"'}


class SyncTokenExpired(ConnectorError):
    """The server no longer knows a sync token (RFC 6578 §3.2, DAV:valid-sync-token): list the calendar again."""


class Refused(ConnectorError):
    """The server answered 403 without naming a precondition: this user may not do that here."""


class DavAccount:
    def __init__(self, account: str, settings: Mapping[str, Any], slot: SecretSlot | None, *,
                 secret: str | None = None, throttle: Throttle | None = None, protocol: str = "CalDAV") -> None:
        self.account = account
        self.protocol = protocol  # "CardDAV" for address books: said in its failures
        self.settings = settings
        self.url = str(settings["url"])
        if not self.url.endswith("/") and not urlsplit(self.url).path.endswith(".ics"):
            self.url += "/"
        parts = urlsplit(self.url)
        self.host = (parts.hostname or "").lower()
        self.scheme = parts.scheme
        self._slot = slot
        self._secret = secret
        self._client: Any = None
        self._negotiate = False  # True once the server refused Basic: the client then asks which scheme it wants
        self.requests = 0  # HTTP requests answered (authentication challenges included)
        self.throttle = throttle or shared_throttle(
            ("caldav", account, self.host), lambda: Throttle(None, RetryPolicy(attempts=5, base=1.0, cap=30.0)))

    # ---- the client --------------------------------------------------------------------------------------

    @property
    def client(self) -> Any:
        if self._client is None:
            from caldav.davclient import DAVClient

            if self.scheme != "https" and not tls.is_loopback(self.host):
                raise SourceUnavailable(f"account '{self.account}': {self.url} is not https; the password would "
                                        "travel in the clear (plain http only for a server on this machine)")
            secret = self._secret if self._secret is not None else password(self.account, self.settings, self._slot)
            ca_file = self.settings.get("ca_file")
            client = DAVClient(
                url=self.url, username=str(self.settings.get("username") or ""), password=secret,
                # Basic from the first request (over https or to this machine only, see above) saves the 401
                # round trip of every session; a server that wants Digest is asked again (see request).
                auth_type=None if self._negotiate else "basic",
                ssl_verify_cert=str(ca_file) if ca_file else True, timeout=TIMEOUT_SECONDS,
                enable_rfc6764=False,  # no DNS look-ups: the URL is given (and tests stay on loopback)
                rate_limit_handle=False,  # 429/503 go to the shared throttle instead
            )
            self._client = client
            self._count(client)
        return self._client

    def _count(self, client: Any) -> None:
        session = client.session
        send = session.request

        def counted(*args: Any, **kwargs: Any) -> Any:
            self.requests += 1
            return send(*args, **kwargs)

        session.request = counted

    def absolute(self, href: str) -> str:
        return urljoin(self.url, href)

    def allowed(self, url: str) -> bool:
        """Whether credentials may go to ``url`` (see the module docstring)."""
        parts = urlsplit(url)
        host = (parts.hostname or "").lower()
        if host == self.host and parts.scheme == self.scheme:
            return True
        if parts.scheme != "https":
            return False
        parent = self.host.split(".", 1)[1] if self.host.count(".") >= 2 else self.host
        return host == parent or host.endswith("." + parent)

    # ---- requests ---------------------------------------------------------------------------------------

    def request(self, method: str, url: str, body: str | bytes = "", headers: Mapping[str, str] | None = None,
                *, what: str) -> Any:
        """One request, retried through the throttle; returns caldav's DAVResponse (any status but 401/403)."""
        if not self.allowed(url):
            raise ConnectorError(f"account '{self.account}': the server pointed syncd at {url}, outside "
                                 f"{self.host}; syncd sends the password nowhere else")
        client = self.client
        text = body.decode() if isinstance(body, bytes) else body
        call: Callable[[], Any] = lambda: client.request(url, method, text, dict(headers or {}))  # noqa: E731
        try:
            return self.throttle.call(call, classify=self._classify, what=f"account '{self.account}': {what}")
        except ConnectorError:
            raise
        except Exception as exc:  # mapped to one sentence; see _failure
            if not self._negotiate and getattr(exc, "status", None) == 401:
                self._negotiate, self._client = True, None  # perhaps Digest: let the server say, then try again
                return self.request(method, url, body, headers, what=what)
            raise self._failure(exc, what) from None

    def xml(self, method: str, url: str, body: str | bytes, depth: int | None, *, what: str) -> Any:
        headers = dict(XML)
        if depth is not None:
            headers["Depth"] = str(depth)
        return self.request(method, url, body, headers, what=what)

    @staticmethod
    def _classify(exc: BaseException) -> Retry | None:
        from caldav.lib import error

        if isinstance(exc, error.RateLimitError):
            return Retry("the server asked to slow down", exc.retry_after_seconds)
        if tls.is_certificate_problem(exc):
            return None
        name = type(exc).__name__
        if name in ("ConnectionError", "Timeout", "ReadTimeout", "ConnectTimeout", "ChunkedEncodingError",
                    "ProtocolError", "RemoteDisconnected", "IncompleteRead"):
            return Retry(f"no answer ({name})")
        return None

    def _failure(self, exc: BaseException, what: str) -> ConnectorError:
        from caldav.lib import error

        where = f"account '{self.account}'"
        if isinstance(exc, error.AuthorizationError):
            if exc.status == 401 or (exc.status is None and "401" in str(exc.reason)):
                return refused(self.account, self.settings)
            if any(p.endswith("valid-sync-token") for p in exc.preconditions):
                return SyncTokenExpired(f"{where}: the server forgot where the last sync ended")
            collection = "address book" if self.protocol == "CardDAV" else "calendar"
            return Refused(f"{where}: the server refused access while {what} (HTTP {exc.status or 403}); "
                           f"check that the user may use this {collection}")
        if tls.is_certificate_problem(exc):
            return SourceUnavailable(tls.untrusted(self.url, self.account, "certificate verify failed"))
        reason = tls.failure_reason(exc)
        if reason is not None:  # most often https to a port that speaks plain http
            return SourceUnavailable(f"{where}: TLS with {self.url} failed while {what} ({reason}); check "
                                     f"accounts.{self.account}.url")
        if isinstance(exc, NotImplementedError):  # no authentication scheme the client knows
            return SourceUnavailable(f"{where}: {self.url} asks for a login method syncd does not know "
                                     "(only Basic and Digest)")
        if type(exc).__name__ in ("XMLSyntaxError", "ParseError", "ResponseError"):
            return ConnectorError(f"{where}: {self.url} answered something that is not {self.protocol} while {what}; "
                                  f"check accounts.{self.account}.url")
        detail = " ".join(str(exc).split())[:160] or type(exc).__name__
        return ConnectorError(f"{where}: the connection to {self.host} failed while {what} ({detail})")


def check_status(response: Any, account: str, url: str, what: str, ok: tuple[int, ...] = (200, 207)) -> None:
    """A response whose status is not one of ``ok`` becomes one sentence."""
    status = int(response.status)
    if status in ok:
        return
    if status == 507:
        raise ConnectorError(f"account '{account}': the server is out of space for this account (HTTP 507) while "
                             f"{what}; free some space there; nothing else was changed")
    if status == 404:
        raise ConnectorError(f"account '{account}': {url} does not exist on the server (HTTP 404) while {what}; "
                             f"check accounts.{account}.url")
    raise ConnectorError(f"account '{account}': the server answered HTTP {status} while {what}")


def secret_check(account: str, settings: Mapping[str, Any], secret: str, protocol: str = "CalDAV") -> DavAccount:
    """A connection for `syncd auth login`, with the password being checked (no retries: a person waits)."""
    return DavAccount(account, settings, None, secret=secret, throttle=Throttle(None, RetryPolicy(attempts=1)),
                      protocol=protocol)

