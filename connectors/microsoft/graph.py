"""Microsoft Graph over plain HTTP (requests): the one client the Outlook mail and calendar connectors share.

What every request needs (docs/microsoft-graph.md): ``Prefer: IdType="ImmutableId"`` on every request (it
applies only to the request carrying it, #immutable-ids), the bearer token only for the configured Graph
origin (``@odata.nextLink`` and ``@odata.deltaLink`` are absolute URLs and are followed verbatim, but never
to another host, #next-links), throttling through :mod:`connectors.throttle` (10,000 requests per 10
minutes and 4 at once per mailbox; a 429's ``Retry-After`` waited out exactly, #throttling), one token
refresh on 401, and 410 / SyncStateNotFound as :class:`DeltaExpired` so the caller resyncs that resource.

:meth:`GraphClient.batch` sends up to 20 requests in one JSON batch (#json-batching): each request is
answered, and counted against the mailbox's limits, on its own, so the caller settles each answer.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Any
from urllib.parse import urlsplit

from connectors.base import AuthRequired, Connector, ConnectorError, CursorExpired, SecretSlot
from connectors.throttle import RateBudget, Retry, RetryPolicy, Throttle, parse_retry_after, shared_throttle

TokenProvider = Callable[[bool], str]  # force_refresh → access token; raises AuthRequired when a login is needed
RESYNC_CODES = {"syncstatenotfound", "syncstateinvalid", "resyncrequired"}
IMMUTABLE_IDS = 'IdType="ImmutableId"'
# Outlook's limits per app and mailbox (docs/microsoft-graph.md#throttling): a setting may lower them, never
# raise them.
MAX_REQUESTS_PER_10MIN = 10_000
MAX_CONCURRENT = 4
MAX_BATCH = 20  # requests in one JSON batch (docs/microsoft-graph.md#json-batching)

def mailbox_throttle(endpoint: str, account: str, requests_per_10min: int, concurrency: int) -> Throttle:
    """The one throttle of a mailbox, shared by its mail source, calendar source and follow-ups target:
    Outlook counts requests and concurrency per mailbox, not per client."""
    return shared_throttle(
        ("microsoft", endpoint.rstrip("/").lower(), account),
        lambda: Throttle(RateBudget(min(requests_per_10min, MAX_REQUESTS_PER_10MIN), 600), RetryPolicy(),
                         concurrency=min(concurrency, MAX_CONCURRENT)),
    )


class DeltaExpired(ConnectorError):
    """410 Gone or a sync-state error: the delta/next link can no longer be used; restart that resource."""


class GraphError(ConnectorError):
    """A Graph error that is not transient, with its HTTP status and Graph error code."""

    def __init__(self, message: str, status: int, code: str) -> None:
        super().__init__(message)
        self.status = status
        self.code = code


class AnswerLost(ConnectorError):
    """A JSON batch went out but its answer did not come back whole: any of its requests may have been made."""


@dataclasses.dataclass(frozen=True)
class Call:
    """One request of a JSON batch: its id in the batch, method, path below the version root, JSON body."""

    id: str
    method: str
    path: str
    body: Any = None


@dataclasses.dataclass(frozen=True)
class Answer:
    """One request's answer inside a batch's answer: status 0 means it had none (the batch's answer lacked it)."""

    status: int
    body: Any = None
    retry_after: float | None = None

    @property
    def error(self) -> tuple[str, str]:
        """(Graph error code, message) of a failed answer."""
        error = (self.body or {}).get("error") if isinstance(self.body, dict) else None
        if not isinstance(error, dict):
            return "", ""
        return str(error.get("code") or ""), str(error.get("message") or "")[:200]


@dataclasses.dataclass
class _Transient(Exception):
    why: str
    after: float | None = None
    unsent: bool = False  # Graph certainly did not act on it (429, a 401 before the token was refreshed)
    throttled: bool = False  # refused for the rate (429)


@dataclasses.dataclass
class Page:
    value: list[dict[str, Any]]
    next_link: str | None
    delta_link: str | None


class GraphClient:
    def __init__(
        self,
        endpoint: str,
        token: TokenProvider,
        *,
        account: str = "",
        requests_per_10min: int = MAX_REQUESTS_PER_10MIN,
        concurrency: int = MAX_CONCURRENT,
        throttle: Throttle | None = None,
        timeout: float = 60.0,
        session: Any = None,
    ) -> None:
        import requests

        self.root = endpoint.rstrip("/")
        self.base = self.root + "/v1.0"
        parts = urlsplit(self.root)
        self.origin = (parts.scheme, parts.netloc.lower())
        self.account = account
        self.token = token
        self.timeout = timeout
        self.session = session or requests.Session()
        self.session.trust_env = True  # proxies from the environment, like any CLI; tests set no_proxy
        # An auth handler of our own, so requests never consults ~/.netrc, which would replace the bearer header.
        self.session.auth = _keep_headers
        self.throttle = throttle or mailbox_throttle(endpoint, account, requests_per_10min, concurrency)

    # ---- public -----------------------------------------------------------------------------------------

    def url(self, path: str) -> str:
        return path if path.startswith(("http://", "https://")) else f"{self.base}/{path.lstrip('/')}"

    def request(
        self,
        method: str,
        path_or_url: str,
        *,
        params: Mapping[str, str] | None = None,
        json: Any = None,
        headers: Mapping[str, str] | None = None,
        what: str = "Microsoft Graph",
    ) -> Any:
        """One call, throttled and retried; returns the decoded JSON body (None for 204)."""
        url = self.url(path_or_url)
        self._check_origin(url)
        refreshed = [False]

        def attempt() -> Any:
            return self._send(method, url, params, json, headers, refreshed)

        return self.throttle.call(attempt, classify=_classify, units=1, what=what)

    def batch(self, calls: Sequence[Call], *, what: str = "Microsoft Graph") -> dict[str, Answer]:
        """Send ``calls`` (at most :data:`MAX_BATCH`) as one ``POST /$batch``; every call's answer, by id.

        Each call counts against the mailbox's budget. A 429 on the batch itself (nothing was done) is waited
        out and sent again; an answer that is lost or unreadable raises :class:`AnswerLost`, and the caller
        finds out what was made before sending anything again.
        """
        if not 0 < len(calls) <= MAX_BATCH:
            raise ValueError(f"a JSON batch holds 1 to {MAX_BATCH} requests")
        requests = []
        for call in calls:
            # Each inner request carries its own headers: the batch's own apply to the batch only.
            item: dict[str, Any] = {"id": call.id, "method": call.method, "url": "/" + call.path.lstrip("/"),
                                    "headers": {"Prefer": IMMUTABLE_IDS}}
            if call.body is not None:
                item["headers"]["Content-Type"] = "application/json"
                item["body"] = call.body
            requests.append(item)
        url = f"{self.base}/$batch"
        refreshed = [False]

        def attempt() -> Any:
            return self._send("POST", url, None, {"requests": requests}, None, refreshed)

        try:
            answer = self.throttle.call(attempt, classify=_unsent_only, units=len(calls), what=what)
        except _Transient as exc:
            raise AnswerLost(f"{what}: the answer was lost ({exc.why})") from None
        items = answer.get("responses") if isinstance(answer, dict) else None
        found: dict[str, Answer] = {}
        for item in items if isinstance(items, list) else []:
            if isinstance(item, dict) and isinstance(item.get("status"), int):
                headers = {str(k).lower(): str(v) for k, v in (item.get("headers") or {}).items()}
                # Ids are not case-sensitive (docs/microsoft-graph.md#json-batching); ours are digits anyway.
                found[str(item.get("id")).lower()] = Answer(item["status"], item.get("body"),
                                                           parse_retry_after(headers.get("retry-after")))
        # Answers come in any order; one missing is as good as lost.
        return {call.id: found.get(call.id.lower(), Answer(0)) for call in calls}

    def pages(
        self, path_or_url: str, *, params: Mapping[str, str] | None = None, headers: Mapping[str, str] | None = None,
        what: str = "Microsoft Graph",
    ) -> Iterator[Page]:
        """Every page from ``path_or_url`` on, following ``@odata.nextLink`` (query options only on the first call)."""
        url: str | None = self.url(path_or_url)
        first = True
        while url is not None:
            body = self.request("GET", url, params=params if first else None, headers=headers, what=what) or {}
            first = False
            next_link = body.get("@odata.nextLink")
            yield Page(list(body.get("value") or []), next_link, body.get("@odata.deltaLink"))
            url = next_link

    # ---- internals --------------------------------------------------------------------------------------

    def _check_origin(self, url: str) -> None:
        parts = urlsplit(url)
        if (parts.scheme, parts.netloc.lower()) != self.origin:
            # A link to another host would receive the bearer token (docs/microsoft-graph.md#next-links).
            raise ConnectorError(
                f"Graph sent a link to {parts.scheme}://{parts.netloc}, not to the configured {self.root}; not followed"
            )

    def _send(
        self, method: str, url: str, params: Mapping[str, str] | None, body: Any,
        extra: Mapping[str, str] | None, refreshed: list[bool],
    ) -> Any:
        import requests

        prefer = [IMMUTABLE_IDS]
        headers = {"Accept": "application/json"}
        for key, value in (extra or {}).items():
            if key.lower() == "prefer":
                prefer.append(value)
            else:
                headers[key] = value
        headers["Prefer"] = ", ".join(prefer)
        headers["Authorization"] = f"Bearer {self.token(False)}"
        try:
            response = self.session.request(
                method, url, params=params, json=body, headers=headers, timeout=self.timeout, allow_redirects=False
            )
            response.content  # noqa: B018 - read the whole body here, so a reset mid-body is retried too
        except requests.RequestException as exc:
            # Refused, reset (also mid-body: ChunkedEncodingError), timed out: the same request again.
            raise _Transient(type(exc).__name__) from exc
        status = response.status_code
        if status == 401 and not refreshed[0]:
            refreshed[0] = True  # the access token expired early or was revoked: refresh once, then try again
            self.token(True)
            raise _Transient("HTTP 401, token refreshed", 0.0, unsent=True)
        if status == 401 and self.account:
            raise AuthRequired(self.account, "Microsoft Graph refused even a freshly refreshed token")
        if status < 300:
            if status == 204 or not response.content:
                return None
            try:
                return response.json()
            except ValueError:
                raise _Transient(f"HTTP {status} with a body that is not JSON") from None
        code, message = _error(response)
        throttled = status == 429 or code.lower() in {"applicationthrottled", "mailboxconcurrency"}
        if throttled or status >= 500:
            raise _Transient(f"HTTP {status} {code}".strip(), parse_retry_after(response.headers.get("Retry-After")),
                             unsent=throttled, throttled=throttled)
        if status == 410 or code.lower() in RESYNC_CODES:
            raise DeltaExpired(f"the sync state expired ({code or 'HTTP 410'})")
        raise GraphError(f"Microsoft Graph answered HTTP {status} {code}: {message}".strip(), status, code)


def _keep_headers(request: Any) -> Any:
    return request


def _error(response: Any) -> tuple[str, str]:
    try:
        error = response.json().get("error") or {}
        return str(error.get("code") or ""), str(error.get("message") or "")[:200]
    except (ValueError, AttributeError):
        return "", ""


def _classify(exc: BaseException) -> Retry | None:
    if isinstance(exc, _Transient):
        return Retry(exc.why, exc.after, throttled=exc.throttled)
    return None


def _unsent_only(exc: BaseException) -> Retry | None:
    """For a batch: only what Graph certainly did not act on is sent again (a lost answer is the caller's)."""
    if isinstance(exc, _Transient) and exc.unsent:
        return _classify(exc)
    return None


def delta_link_of(client: GraphClient, resource: str, link: str) -> str:
    """A saved next or delta link, when it still points at the configured Graph; else the resource starts over.

    The endpoint may have been reconfigured since the link was saved: following it would carry the bearer
    token to another host (docs/microsoft-graph.md#next-links).
    """
    parts = urlsplit(link)
    if (parts.scheme, parts.netloc.lower()) != client.origin:
        raise CursorExpired(resource, "the saved delta link is for another Graph endpoint")
    return link


def account_client(
    name: str, settings: Mapping[str, Any], secret: SecretSlot | None, token: TokenProvider | None = None,
    throttle: Throttle | None = None, *, writes: bool = False,
) -> GraphClient:
    """One account's client: its login (MSAL, unless a token callable is given), Graph root and mailbox throttle."""
    if token is None:
        from connectors.microsoft import auth as microsoft_auth  # lazily: only real accounts need MSAL

        # A target writes events: its token must carry Calendars.ReadWrite, which microsoft_auth asks for when
        # the account holds the follow-ups (``followups_target``); a source reads with Calendars.Read.
        # ``msal_http_client`` (code only, never a config key) lets tests hand MSAL a fake Entra.
        token = microsoft_auth.token_provider(name, {**settings, "followups_target": True} if writes else settings,
                                              secret, http_client=settings.get("msal_http_client"))
    return GraphClient(
        str(settings.get("graph_endpoint") or "https://graph.microsoft.com"),
        token,
        account=name,
        requests_per_10min=int(settings.get("rate_limit") or 10_000),
        concurrency=int(settings.get("concurrency") or 4),
        throttle=throttle,
    )


class GraphConnector(Connector):
    """A connector of a Microsoft account (a source, an address book): the account's Graph client, made on first
    use. ``token`` or a whole ``client`` replace the MSAL login (tests, embedding); by default the access token
    comes from :func:`connectors.microsoft.auth.token_provider`, whose MSAL http_client can be set with the
    ``msal_http_client`` setting (only code can: it is no config key)."""

    def __init__(
        self, name: str, settings: Mapping[str, Any], secret: SecretSlot | None = None, *,
        token: TokenProvider | None = None, client: GraphClient | None = None,
    ) -> None:
        super().__init__(name, settings, secret)
        self._token = token
        self._client = client

    @property
    def client(self) -> GraphClient:
        if self._client is None:
            self._client = account_client(self.name, self.settings, self.secret, self._token)
        return self._client
