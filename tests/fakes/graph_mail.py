"""Microsoft Graph mail, faked: ``/v1.0/me`` and per-folder message delta, with Graph's awkward parts.

It registers routes on a given :class:`~tests.fakes.server.FakeServer`, so the calendar fake can share the
server (one mailbox, one budget, one concurrency limit). What it reproduces (docs/microsoft-graph.md#mail, docs/microsoft-graph.md#throttling):

- delta per folder; query options honoured on the first request only (a ``$skiptoken``/``$deltatoken``
  request carrying other options is refused with 400, so a client that re-sends them is caught);
- absolute ``@odata.nextLink`` / ``@odata.deltaLink`` on the fake's own origin (``link_origin`` can point
  them elsewhere, to test that a client refuses to follow them);
- page size from ``Prefer: odata.maxpagesize`` (default 10, at most 1000, at most ``page_cap``);
- ``@removed`` for deletions (reason ``deleted``) and moves out of a folder (reason ``changed``);
- replays: with ``replay_every=n`` every n-th item of a round is sent again at the end of the round;
- 410 ``SyncStateNotFound`` for unknown or expired tokens (:meth:`expire_tokens`);
- a per-mailbox budget (10,000 requests per 10 minutes by default; scale it down in tests) answered
  with 429 and an exact ``Retry-After``;
- whether each request carried ``Prefer: IdType="ImmutableId"`` (``without_immutable_ids``).

The bearer check is a guard the caller passes (``auth=FakeEntra().guard``).
"""

from __future__ import annotations

import collections
import dataclasses
import itertools
import math
import re
import time
from collections.abc import Callable, Iterable
from datetime import UTC, datetime
from typing import Any

from tests.fakes.server import FakeServer, Request, Response

WELL_KNOWN = ("inbox", "sentitems", "drafts", "deleteditems", "junkemail", "archive")
DEFAULT_PAGE = 10  # Graph's default page size for messages (docs/microsoft-graph.md#mail)
MAX_PAGE = 1000


def _iso(when: datetime) -> str:
    return when.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def recipient(address: str, name: str = "") -> dict[str, Any]:
    return {"emailAddress": {"name": name or address, "address": address}}


@dataclasses.dataclass
class _Round:
    """One delta round: the changes it reports (its skip tokens say how far a page is) and where the next starts."""

    folder: str
    items: list[tuple[str, str | None]]  # (message id, removal reason or None)
    ends_at: int  # the change sequence the round's deltaLink resumes after
    select: list[str] | None


class GraphMailFake:
    def __init__(
        self,
        server: FakeServer,
        *,
        owner: str = "sam@example.com",
        auth: Callable[[Request], Response | None] | None = None,
        budget: int | None = 10_000,
        window: float = 600.0,
        clock: Callable[[], float] = time.monotonic,
        replay_every: int = 0,
        page_cap: int = MAX_PAGE,
    ) -> None:
        self.server = server
        self.owner = owner
        self.folders: dict[str, dict[str, dict[str, Any]]] = {name: {} for name in ("inbox", "sentitems")}
        self.versions: dict[str, dict[str, int]] = {name: {} for name in self.folders}  # id → change seq
        self.tombstones: dict[str, dict[str, tuple[int, str]]] = {name: {} for name in self.folders}
        self.seq = 0
        self.replay_every = replay_every
        self.page_cap = page_cap  # Prefer is a hint: Graph may serve smaller pages (tests get many pages cheaply)
        self.link_origin: str | None = None  # None: links point at the fake itself
        self.budget = budget
        self.window = window
        self.clock = clock
        self.spent: collections.deque[float] = collections.deque()
        self.throttled = 0
        self.without_immutable_ids = 0  # requests that lacked Prefer: IdType="ImmutableId"
        # skiptoken → (round, where its page starts). Tokens stay valid when used, as Graph's do, so a
        # client may retry a link whose answer it lost (a reset, a crash before its commit).
        self._rounds: dict[str, tuple[_Round, int]] = {}
        self._deltas: dict[str, tuple[str, int, list[str] | None]] = {}  # deltatoken → (folder, seq, select)
        self._ids = itertools.count(1)
        self._tokens = itertools.count(1)
        server.guards.append(self._graph_guard)
        if auth is not None:
            server.guards.append(lambda request: auth(request) if request.path.startswith("/v1.0/") else None)
        server.route("GET", r"/v1\.0/me")(self._me)
        server.route("GET", r"/v1\.0/me/mailFolders/([^/]+)/messages/delta")(self._delta)

    # ---- what tests arrange ------------------------------------------------------------------------------

    def add(
        self, folder: str, *, sender: str, to: Iterable[str] = (), cc: Iterable[str] = (), when: datetime,
        received: datetime | None = None, message_id: str | None = None, draft: bool = False,
        inference: str = "focused", names: dict[str, str] | None = None, message_id_raw: str | None = None,
    ) -> str:
        """Put a message into ``folder``; returns its (immutable) id."""
        n = next(self._ids)
        ident = f"AAMkAD{n:07d}-Imm_{n % 7}="  # case-sensitive, with the characters real ids carry
        names = names or {}
        message = {
            "id": ident,
            "from": recipient(sender, names.get(sender, "")),
            "sender": recipient(sender, names.get(sender, "")),
            "toRecipients": [recipient(a, names.get(a, "")) for a in to],
            "ccRecipients": [recipient(a, names.get(a, "")) for a in cc],
            "sentDateTime": _iso(when),
            "receivedDateTime": _iso(received or when),
            "inferenceClassification": inference,
            "internetMessageId": message_id_raw or f"<{message_id or f'm{n}@example.net'}>",
            "conversationId": f"conv-{n}",
            "parentFolderId": folder,
            "isDraft": draft,
            "isRead": True,
            "subject": f"subject {n}",  # never selected by syncd; here to catch a $select that asks for it
            "bodyPreview": "body text syncd must never see",
        }
        with self.server.lock:
            self.folders.setdefault(folder, {})[ident] = message
            self._touch(folder, ident)
        return ident

    def delete(self, ident: str) -> None:
        with self.server.lock:
            folder = self._folder_of(ident)
            del self.folders[folder][ident]
            self._bury(folder, ident, "deleted")

    def move(self, ident: str, to_folder: str) -> None:
        """A move keeps the immutable id (docs/microsoft-graph.md#immutable-ids); the old folder reports it removed."""
        with self.server.lock:
            folder = self._folder_of(ident)
            message = self.folders[folder].pop(ident)
            self._bury(folder, ident, "changed")
            message["parentFolderId"] = to_folder
            self.folders.setdefault(to_folder, {})[ident] = message
            self._touch(to_folder, ident)

    def mark_read(self, ident: str, read: bool = True) -> None:
        """A change that is not about metadata syncd reads: delta reports the message again (a replay)."""
        with self.server.lock:
            folder = self._folder_of(ident)
            self.folders[folder][ident]["isRead"] = read
            self._touch(folder, ident)

    def expire_tokens(self) -> None:
        """Every skip and delta token is forgotten: the next link answers 410 SyncStateNotFound."""
        with self.server.lock:
            self._rounds.clear()
            self._deltas.clear()

    def messages(self, folders: Iterable[str] | None = None) -> dict[str, dict[str, Any]]:
        """Every message now in the mailbox (or in ``folders``), by id."""
        with self.server.lock:
            return {ident: m for name, box in self.folders.items() if folders is None or name in folders
                    for ident, m in box.items()}

    def delta_requests(self) -> list[Request]:
        return self.server.requests("GET", r"/messages/delta$")

    # ---- internals ---------------------------------------------------------------------------------------

    def _folder_of(self, ident: str) -> str:
        return next(name for name, box in self.folders.items() if ident in box)

    def _touch(self, folder: str, ident: str) -> None:
        self.seq += 1
        self.versions.setdefault(folder, {})[ident] = self.seq
        self.tombstones.setdefault(folder, {}).pop(ident, None)

    def _bury(self, folder: str, ident: str, reason: str) -> None:
        self.seq += 1
        self.versions[folder].pop(ident, None)
        self.tombstones.setdefault(folder, {})[ident] = (self.seq, reason)

    def _graph_guard(self, request: Request) -> Response | None:
        if not request.path.startswith("/v1.0/"):
            return None
        if 'idtype="immutableid"' not in request.headers.get("prefer", "").lower():
            with self.server.lock:
                self.without_immutable_ids += 1
        if self.budget is None:
            return None
        with self.server.lock:
            now = self.clock()
            while self.spent and self.spent[0] <= now - self.window:
                self.spent.popleft()
            if len(self.spent) >= self.budget:
                self.throttled += 1
                wait = max(1, math.ceil(self.spent[0] + self.window - now))
                return Response(429, {"error": {"code": "ApplicationThrottled",
                                                "message": "Application is over its request limit."}},
                                {"Retry-After": str(wait)})
            self.spent.append(now)
        return None

    def _origin(self) -> str:
        return self.link_origin or self.server.base_url

    def _me(self, request: Request) -> Response:
        return Response(200, {"id": "00000000-0000-0000-1234-56789abcdef0", "displayName": "Sam Example",
                              "userPrincipalName": self.owner, "mail": self.owner})

    def _delta(self, request: Request) -> Response:
        assert request.match is not None
        folder_arg = request.match.group(1)
        folder = folder_arg.lower() if folder_arg.lower() in WELL_KNOWN else folder_arg
        skiptoken, deltatoken = request.arg("$skiptoken"), request.arg("$deltatoken")
        others = sorted(k for k in request.query if k not in ("$skiptoken", "$deltatoken"))
        if (skiptoken is not None or deltatoken is not None) and others:
            # "Query options must be given on the first request only" (docs/microsoft-graph.md#mail).
            return _error(400, "BadRequest", f"query options {others} are not allowed with a state token")
        with self.server.lock:
            if folder not in self.folders:
                return _error(404, "ErrorItemNotFound", "The specified object was not found in the store.")
            if skiptoken is not None:
                known_round = self._rounds.get(skiptoken)
                if known_round is None or known_round[0].folder != folder:
                    return _expired()
                state, offset = known_round
            elif deltatoken is not None:
                known = self._deltas.get(deltatoken)
                if known is None or known[0] != folder:
                    return _expired()
                state, offset = self._start(folder, known[1], known[2]), 0
            else:
                select = request.arg("$select")
                state, offset = self._start(folder, None, select.split(",") if select else None), 0
            size = min(_page_size(request.headers.get("prefer", "")), self.page_cap)
            page = state.items[offset:offset + size]
            offset += len(page)
            value = [self._render(folder, ident, reason, state.select) for ident, reason in page]
            base = f"{self._origin()}/v1.0/me/mailFolders/{folder_arg}/messages/delta"
            body: dict[str, Any] = {"@odata.context": f"{self._origin()}/v1.0/$metadata#Collection(message)",
                                    "value": value}
            if offset < len(state.items):
                token = f"sk{next(self._tokens)}"
                self._rounds[token] = (state, offset)
                body["@odata.nextLink"] = f"{base}?$skiptoken={token}"
            else:
                token = f"dt{next(self._tokens)}"
                self._deltas[token] = (folder, state.ends_at, state.select)
                body["@odata.deltaLink"] = f"{base}?$deltatoken={token}"
        return Response(200, body)

    def _start(self, folder: str, since: int | None, select: list[str] | None) -> _Round:
        """The changes of a round: everything (from scratch) or what changed after ``since``, oldest first."""
        versions = self.versions.get(folder, {})
        if since is None:
            changes: list[tuple[int, str, str | None]] = sorted(
                ((seq, ident, None) for ident, seq in versions.items()), key=lambda c: c[0])
        else:
            unchanged: list[tuple[int, str, str | None]] = [(seq, ident, None) for ident, seq in versions.items()
                                                             if seq > since]
            changes = sorted(unchanged
                             + [(seq, ident, reason) for ident, (seq, reason) in self.tombstones.get(folder, {}).items()
                                if seq > since], key=lambda c: c[0])
        items: list[tuple[str, str | None]] = [(ident, reason) for _, ident, reason in changes]
        if self.replay_every:
            # "An item can appear more than once" (docs/microsoft-graph.md#mail): every n-th again at the end of the round,
            # so the repeat lands on a later page than the first sighting.
            items += items[self.replay_every - 1::self.replay_every]
        return _Round(folder, items, self.seq, select)

    def _render(self, folder: str, ident: str, reason: str | None, select: list[str] | None) -> dict[str, Any]:
        message = self.folders.get(folder, {}).get(ident)
        if reason is not None or message is None:
            # Removed (or removed after the round started): Graph sends only the id and why.
            return {"id": ident, "@removed": {"reason": reason or "deleted"}}
        if select is None:
            return dict(message)
        return {key: message[key] for key in ["id", *select] if key in message}


def _page_size(prefer: str) -> int:
    match = re.search(r"odata\.maxpagesize=(\d+)", prefer)
    return min(int(match.group(1)), MAX_PAGE) if match else DEFAULT_PAGE


def _error(status: int, code: str, message: str) -> Response:
    return Response(status, {"error": {"code": code, "message": message,
                                       "innerError": {"date": _iso(datetime.now(UTC)), "request-id": "fake"}}})


def _expired() -> Response:
    return _error(410, "SyncStateNotFound", "The sync state generation is not found; generation=0;")
