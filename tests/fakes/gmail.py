"""A stateful Gmail (docs/gmail.md) on a :class:`FakeServer`, for syncd's Gmail connector.

It keeps messages (labels, headers, internalDate, threadId) and a history log whose ids grow but skip
numbers (docs/gmail.md#incremental-sync). It answers ``getProfile``, ``messages.list`` (newest first, pageToken, maxResults,
labelIds, includeSpamTrash), ``messages.get`` (format, repeated metadataHeaders), ``history.list`` and the
multipart batch endpoint ``/batch/gmail/v1`` in the wire format googleapiclient's ``BatchHttpRequest``
parses (docs/gmail.md#batch-requests). The metadata scope's refusals (``q``, ``format=full|raw``) answer
403 with Google's bodies (docs/gmail.md#metadata-scope); a per-user quota in either regime (the 2026 one:
6,000 units a minute, 20 a get; the legacy one: 15,000, 5 a get; docs/gmail.md#quota-regimes) is
enforced in a moving window and answers 403 userRateLimitExceeded (or 429) as Google does
(docs/gmail.md#rate-limit-errors): a refused call is not counted, each part of a batch is counted on its
own; ``oauth.guard`` refuses unknown bearer tokens.
"""

from __future__ import annotations

import base64
import dataclasses
import itertools
import json
import random
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable
from email.message import EmailMessage
from email.message import Message as Message_
from email.parser import Parser
from typing import Any
from urllib.parse import parse_qs, urlsplit

from tests.fakes.google_oauth import GoogleOAuthFake
from tests.fakes.server import FakeServer, Request, Response

API = "/gmail/v1/users/me"
# Units per call and per-user limits of Google's two regimes (docs/gmail.md#method-costs, #quota-regimes).
REGIMES = {
    "2026": (6000, {"messages.get": 20, "messages.list": 5, "history.list": 2, "getProfile": 1}),
    "legacy": (15000, {"messages.get": 5, "messages.list": 5, "history.list": 2, "getProfile": 1}),
}


def google_error(status: int, message: str, reason: str, domain: str = "global", state: str = "") -> Response:
    """Google's JSON error body (docs/gmail.md#incremental-sync, #metadata-scope, #rate-limit-errors)."""
    names = {400: "INVALID_ARGUMENT", 401: "UNAUTHENTICATED", 403: "PERMISSION_DENIED", 404: "NOT_FOUND",
             429: "RESOURCE_EXHAUSTED", 500: "INTERNAL", 503: "UNAVAILABLE"}
    return Response(status, {"error": {"code": status, "message": message,
                                       "errors": [{"message": message, "domain": domain, "reason": reason}],
                                       "status": state or names.get(status, "UNKNOWN")}})


NOT_FOUND = google_error(404, "Requested entity was not found.", "notFound")
Q_FORBIDDEN = google_error(403, "Metadata scope does not support 'q' parameter", "forbidden")


@dataclasses.dataclass
class Message:
    id: str
    thread_id: str
    internal_date: int  # ms since the epoch
    labels: list[str]
    headers: list[tuple[str, str]]
    history_id: int = 0


class GmailFake:
    def __init__(self, server: FakeServer, oauth: GoogleOAuthFake | None = None, *,
                 email: str = "sam@example.com", quota: float | None = None, quota_status: int = 403,
                 metadata_scope: bool = True, seed: int = 7, regime: str = "2026", window: float = 60.0,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.server = server
        self.email = email
        self.metadata_scope = metadata_scope
        self.messages: dict[str, Message] = {}
        self.history: list[dict[str, Any]] = []  # records, ids ascending
        self.history_id = 1000
        self.oldest_history = 0  # startHistoryId below this answers 404 (Google keeps about a week)
        self.token_epoch = 0  # bumping it makes every issued pageToken stale (400)
        self.quota = quota  # units per window per user; None: unlimited
        self.costs = dict(REGIMES[regime][1])
        self.window = window  # Google's minute; a benchmark shortens it
        self.clock = clock  # tests share a fake clock with the client's budget, so the windows agree exactly
        self.quota_status = quota_status
        self.spent: deque[tuple[float, float]] = deque()
        self.spent_in_window = 0.0
        self.refused = 0  # requests the quota refused
        self.accepted_units = 0.0  # units counted (refused calls are not)
        self.accepted_calls = 0
        self._order: list[tuple[int, str]] | None = None  # the newest-first index, rebuilt after a change
        self.batch_sizes: list[int] = []
        self.calls: dict[str, int] = {}
        self._ids = itertools.count(0x18C0000000000000)
        self._rng = random.Random(seed)
        self._lock = threading.RLock()
        if oauth is not None:
            guard = oauth.guard
            # Only Gmail's own paths: the token endpoint on the same server takes no bearer token.
            server.guards.append(lambda r: guard(r) if r.path.startswith(("/gmail/", "/batch/gmail/")) else None)
        server.guards.append(self._quota_guard)
        server.route("GET", API + "/profile")(self._profile)
        server.route("GET", API + "/messages")(self._list)
        server.route("GET", API + r"/messages/(?P<id>[^/]+)")(self._get)
        server.route("GET", API + "/history")(self._history)
        server.route("POST", "/batch/gmail/v1")(self._batch)

    @property
    def endpoint(self) -> str:
        return self.server.base_url + "/"

    # ---- what tests arrange ------------------------------------------------------------------------------

    def _next_history(self) -> int:
        self.history_id += self._rng.randint(1, 9)  # increasing, not contiguous (docs/gmail.md#incremental-sync)
        return self.history_id

    def _record(self, **change: Any) -> None:
        self._order = None
        self.history.append({"id": str(self._next_history()), **change})

    def add(self, sender: str, to: Iterable[str] = (), *, cc: Iterable[str] = (), when_ms: int,
            labels: Iterable[str] = ("INBOX",), subject: str = "hello", thread: str | None = None,
            extra: Iterable[tuple[str, str]] = (), message_id: str | None = None,
            headers: list[tuple[str, str]] | None = None) -> str:
        """A message arrives (or is sent): a messagesAdded record. Returns its Gmail id."""
        with self._lock:
            gid = f"{next(self._ids):016x}"
            if headers is None:
                headers = [("From", sender), ("To", ", ".join(to))]
                if cc:
                    headers.append(("Cc", ", ".join(cc)))
                headers += [("Subject", subject), ("Date", "Mon, 2 Mar 2026 09:00:00 +0000"),
                            ("Message-ID", f"<{message_id or gid}@mail.example.com>"), ("X-Mailer", "fake"),
                            *extra]
            message = Message(gid, thread or gid, when_ms, list(labels), headers)
            self._record(messagesAdded=[{"message": {"id": gid, "threadId": message.thread_id,
                                                     "labelIds": list(message.labels)}}])
            message.history_id = self.history_id
            self.messages[gid] = message
            return gid

    def delete(self, gid: str) -> None:
        with self._lock:
            message = self.messages.pop(gid)
            self._record(messagesDeleted=[{"message": {"id": gid, "threadId": message.thread_id}}])

    def relabel(self, gid: str, add: Iterable[str] = (), remove: Iterable[str] = ()) -> None:
        with self._lock:
            message = self.messages[gid]
            added = [label for label in add if label not in message.labels]
            removed = [label for label in remove if label in message.labels]
            message.labels = [label for label in message.labels if label not in removed] + added
            ref = {"id": gid, "threadId": message.thread_id, "labelIds": list(message.labels)}
            if added:
                self._record(labelsAdded=[{"message": ref, "labelIds": added}])
            if removed:
                self._record(labelsRemoved=[{"message": ref, "labelIds": removed}])
            message.history_id = self.history_id

    def expire_history(self) -> None:
        """Every history id issued so far is too old: history.list answers 404 (docs/gmail.md#incremental-sync)."""
        with self._lock:
            self.oldest_history = self._next_history()
            self.history.clear()

    def listed(self) -> dict[str, Message]:
        """What messages.list returns (no spam or trash), without drafts: what syncd should hold."""
        return {gid: m for gid, m in self.messages.items()
                if not {"SPAM", "TRASH", "DRAFT"} & set(m.labels)}

    def requests(self, what: str) -> int:
        return self.calls.get(what, 0)

    # ---- quota (docs/gmail.md#quota) ---------------------------------------------------------------------

    @staticmethod
    def method_of(request: Request) -> str | None:
        path = request.path
        if not path.startswith(API):
            return None
        rest = path[len(API):]
        if rest == "/profile":
            return "getProfile"
        if rest == "/messages":
            return "messages.list"
        if rest.startswith("/messages/"):
            return "messages.get"
        if rest == "/history":
            return "history.list"
        return None

    def set_regime(self, regime: str, quota: float | None = None) -> None:
        """The project's regime from now on: its costs and (unless ``quota`` says otherwise) its per-user limit."""
        with self._lock:
            limit, costs = REGIMES[regime]
            self.costs = dict(costs)
            self.quota = limit if quota is None else quota

    def _quota_guard(self, request: Request) -> Response | None:
        method = self.method_of(request)
        if method is None:
            return None
        with self._lock:
            self.calls[method] = self.calls.get(method, 0) + 1
            cost = self.costs[method]
            if self.quota is None:
                self.accepted_units += cost
                self.accepted_calls += 1
                return None
            now = self.clock()
            while self.spent and self.spent[0][0] <= now - self.window:
                self.spent_in_window -= self.spent.popleft()[1]
            if self.spent_in_window + cost > self.quota:
                self.refused += 1
                if self.quota_status == 429:
                    return google_error(429, "Too many concurrent requests for user", "rateLimitExceeded",
                                        "usageLimits")
                return google_error(403, "User-rate limit exceeded.", "userRateLimitExceeded", "usageLimits")
            self.spent.append((now, cost))
            self.spent_in_window += cost
            self.accepted_units += cost
            self.accepted_calls += 1
        return None

    def reset_quota(self) -> None:
        """The minute is over: the quota window is empty again."""
        with self._lock:
            self.spent.clear()
            self.spent_in_window = 0.0

    # ---- endpoints -----------------------------------------------------------------------------------

    def _profile(self, request: Request) -> Response:
        with self._lock:
            threads = {m.thread_id for m in self.messages.values()}
            return Response(200, {"emailAddress": self.email, "messagesTotal": len(self.messages),
                                  "threadsTotal": len(threads), "historyId": str(self.history_id)})

    def _token(self, *key: Any) -> str:
        return base64.urlsafe_b64encode(json.dumps([self.token_epoch, *key]).encode()).decode()

    def _untoken(self, token: str) -> list[Any] | None:
        try:
            data = json.loads(base64.urlsafe_b64decode(token.encode()))
        except ValueError:
            return None
        if not isinstance(data, list) or not data or data[0] != self.token_epoch:
            return None
        return data[1:]

    def _list(self, request: Request) -> Response:
        if "q" in request.query:
            return Q_FORBIDDEN  # even an empty q= (docs/gmail.md#metadata-scope)
        try:
            size = min(int(request.arg("maxResults", "100") or 100), 500)
        except ValueError:
            return google_error(400, "Invalid value for maxResults", "invalidArgument")
        spam_trash = (request.arg("includeSpamTrash", "false") or "").lower() == "true"
        wanted = set(request.query.get("labelIds", []))
        with self._lock:
            if self._order is None or len(self._order) != len(self.messages):
                self._order = sorted(((m.internal_date, m.id) for m in self.messages.values()), reverse=True)
            order = self._order
            begin = 0
            token = request.arg("pageToken")
            if token:
                after = self._untoken(token)
                if after is None:
                    return google_error(400, "Invalid pageToken", "invalidArgument")
                key = (int(after[0]), str(after[1]))
                lo, hi = 0, len(order)
                while lo < hi:  # the first row older than the token's (the order is descending)
                    mid = (lo + hi) // 2
                    if order[mid] >= key:
                        lo = mid + 1
                    else:
                        hi = mid
                begin = lo
            page: list[tuple[int, str]] = []
            more = False
            for index in range(begin, len(order)):
                row = order[index]
                labels = set(self.messages[row[1]].labels)
                if (spam_trash or not {"SPAM", "TRASH"} & labels) and wanted <= labels:
                    if len(page) == size:
                        more = True
                        break
                    page.append(row)
            body: dict[str, Any] = {"resultSizeEstimate": len(order) - begin}
            if page:  # Google leaves "messages" out of an empty answer
                body["messages"] = [{"id": gid, "threadId": self.messages[gid].thread_id} for _, gid in page]
            if more:
                body["nextPageToken"] = self._token(*page[-1])
            return Response(200, body)

    def _get(self, request: Request) -> Response:
        fmt = (request.arg("format", "full") or "full").lower()
        if self.metadata_scope and fmt in ("full", "raw"):
            return google_error(403, f"Metadata scope doesn't allow format {fmt.upper()}", "forbidden")
        assert request.match is not None
        with self._lock:
            message = self.messages.get(request.match["id"])
            if message is None:
                return NOT_FOUND
            body: dict[str, Any] = {"id": message.id, "threadId": message.thread_id, "labelIds": list(message.labels),
                                    "historyId": str(message.history_id), "internalDate": str(message.internal_date),
                                    "sizeEstimate": 1234}
            if fmt in ("metadata", "full"):
                names = {n.lower() for n in request.query.get("metadataHeaders", [])}
                headers = [{"name": n, "value": v} for n, v in message.headers if not names or n.lower() in names]
                body["payload"] = {"mimeType": "text/plain", "headers": headers}
            return Response(200, body)

    def _history(self, request: Request) -> Response:
        start_text = request.arg("startHistoryId")
        if not start_text or not start_text.isdigit():
            return google_error(400, "Invalid startHistoryId", "invalidArgument")
        start = int(start_text)
        size = min(int(request.arg("maxResults", "100") or 100), 500)
        types = set(request.query.get("historyTypes", []))
        kinds = {"messageAdded": "messagesAdded", "messageDeleted": "messagesDeleted",
                 "labelAdded": "labelsAdded", "labelRemoved": "labelsRemoved"}
        with self._lock:
            if start < self.oldest_history or start > self.history_id:
                return NOT_FOUND
            records = [r for r in self.history if int(r["id"]) > start
                       and (not types or any(kinds[t] in r for t in types if t in kinds))]
            token = request.arg("pageToken")
            if token:
                after = self._untoken(token)
                if after is None:
                    return google_error(400, "Invalid pageToken", "invalidArgument")
                records = [r for r in records if int(r["id"]) > int(after[0])]
            page = records[:size]
            body: dict[str, Any] = {"historyId": str(self.history_id)}
            if page:
                body["history"] = page
            if len(records) > size:
                body["nextPageToken"] = self._token(int(page[-1]["id"]))
            return Response(200, body)

    # ---- the batch endpoint (docs/gmail.md#batch-requests) ------------------------------------------------------

    def _batch(self, request: Request) -> Response:
        content_type = request.headers.get("content-type", "")
        if not content_type.startswith("multipart/mixed"):
            return google_error(400, "Batch requests must be multipart/mixed", "badRequest")
        parsed = Parser().parsestr(f"Content-Type: {content_type}\r\n\r\n" + request.body.decode("utf-8"))
        parts = parsed.get_payload()
        if not isinstance(parts, list) or not parts:
            return google_error(400, "Empty batch", "badRequest")
        if len(parts) > 100:  # "You're limited to 100 calls in a single batch request"
            return google_error(400, "Too many requests in batch (limit 100)", "badRequest")
        self.batch_sizes.append(len(parts))
        boundary = f"batch_{self._rng.getrandbits(64):016x}"
        out = []
        for part in parts:
            assert isinstance(part, EmailMessage | Message_)
            inner = part.get_payload()
            assert isinstance(inner, str)
            response = self.server.dispatch(_inner_request(inner))
            if response.status == -1:
                return response  # a DROP fault on a part drops the whole connection
            data, headers = response.encoded()
            head = "".join(f"{k}: {v}\r\n" for k, v in headers.items())
            reason = {200: "OK", 404: "Not Found", 403: "Forbidden", 429: "Too Many Requests",
                      401: "Unauthorized", 500: "Internal Server Error", 503: "Service Unavailable"}
            cid = str(part["Content-ID"] or "").strip().strip("<>")
            out.append(
                f"--{boundary}\r\nContent-Type: application/http\r\nContent-ID: <response-{cid}>\r\n\r\n"
                f"HTTP/1.1 {response.status} {reason.get(response.status, 'Error')}\r\n{head}"
                f"Content-Length: {len(data)}\r\n\r\n{data.decode('utf-8')}\r\n"
            )
        body = "".join(out) + f"--{boundary}--\r\n"
        return Response(200, body.encode("utf-8"), {"Content-Type": f"multipart/mixed; boundary={boundary}"})


def _inner_request(text: str) -> Request:
    """One part of a batch: ``GET /path?query HTTP/1.1`` and headers (googleapiclient writes ``\\n``)."""
    head, _, body = text.replace("\r\n", "\n").partition("\n\n")
    lines = head.split("\n")
    method, target, _ = [*lines[0].split(" ", 2), "", ""][:3]
    headers = {}
    for line in lines[1:]:
        name, colon, value = line.partition(":")
        if colon:
            headers[name.strip().lower()] = value.strip()
    parts = urlsplit(target)
    return Request(method, parts.path, parse_qs(parts.query, keep_blank_values=True), headers, body.encode())


# ---- a whole set-up for tests and the benchmark ----------------------------------------------------------


@dataclasses.dataclass
class GmailWorld:
    """A started server with Google's token endpoint and a Gmail fake, and the settings and slot syncd uses."""

    server: FakeServer
    oauth: GoogleOAuthFake
    gmail: GmailFake
    slot: Any
    settings: dict[str, Any]

    def close(self) -> None:
        self.server.stop()


def start_world(*, latency: float = 0.0, quota: float | None = None, email: str = "sam@example.com",
                me: tuple[str, ...] = (), regime: str = "2026", window: float = 60.0,
                clock: Callable[[], float] = time.monotonic, **settings: Any) -> GmailWorld:
    from tests.fakes.slot import MemorySlot

    server = FakeServer(latency=latency)
    oauth = GoogleOAuthFake(server)
    gmail = GmailFake(server, oauth, email=email, quota=quota, regime=regime, window=window, clock=clock)
    server.start()
    no_delay(server)
    slot = MemorySlot(oauth.authorized_user_json(scopes_for_metadata(oauth)))
    base: dict[str, Any] = {"gmail_endpoint": gmail.endpoint, "token_uri": oauth.token_uri, "gmail_quota": quota or 15000,
            "initial_window": None, "me": me, "calendars": []}
    base.update(settings)
    return GmailWorld(server, oauth, gmail, slot, base)


def no_delay(server: FakeServer) -> None:
    """Answer without Nagle's delay: the handler writes headers and body apart, and the client's delayed ACK
    then holds the body back about 40 ms per request (measured: 45 ms per loopback GET without this).
    This server's handler class only (FakeServer is shared; it could set this itself)."""
    handler = getattr(getattr(server, "_server", None), "RequestHandlerClass", None)
    if handler is not None:
        handler.disable_nagle_algorithm = True


def scopes_for_metadata(oauth: GoogleOAuthFake, refresh_token: str = "rt-1") -> str:
    oauth.add_refresh_token(refresh_token, ["https://www.googleapis.com/auth/gmail.metadata"])
    return refresh_token
