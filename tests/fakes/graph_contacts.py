"""Microsoft Graph contacts, faked: contact folders and per-folder contact delta (docs/microsoft-graph.md#contacts).

It registers routes on a given :class:`~tests.fakes.server.FakeServer` (the mail fake's, so the mailbox has one
budget and one login). What it reproduces, because the address-book connector depends on it:

- ``GET /me/contactFolders`` (the folders inside the default Contacts folder) and
  ``GET /me/contactFolders/{id}/childFolders``;
- delta of the default folder (``GET /me/contacts/delta``, which works though undocumented) and of any
  folder (``GET /me/contactFolders/{id}/contacts/delta``), with the rules of mail delta
  (docs/microsoft-graph.md#mail-delta): query options on the first request only (400 otherwise), absolute
  next and delta links on the fake's own origin, page size from ``Prefer: odata.maxpagesize`` (default 10),
  ``@removed`` for deletions and for moves out of a folder, replays (``replay_every``), 410
  ``SyncStateNotFound`` once the sync state is forgotten (:meth:`expire_tokens`), a ``$select`` honoured;
- a contact's ``categories``, ``companyName``, ``birthday`` (midnight UTC of the day) and ``parentFolderId``.
"""

from __future__ import annotations

import dataclasses
import itertools
from collections.abc import Iterable
from datetime import date
from typing import Any

from tests.fakes.graph_mail import _error, _expired, _page_size
from tests.fakes.server import FakeServer, Request, Response

DEFAULT = "AQMkADAwATM0MDAAcontactsroot"  # the default Contacts folder's id


@dataclasses.dataclass
class _Pass:
    """One delta pass over a folder: the (id, removal reason) it reports, and the change number it ends at."""

    folder: str
    changes: list[tuple[str, str | None]]
    until: int
    select: list[str] | None


class GraphContactsFake:
    def __init__(self, server: FakeServer, *, replay_every: int = 0, page_cap: int = 1000) -> None:
        self.server = server
        self.folders: dict[str, dict[str, Any]] = {}  # id → {id, displayName, parentFolderId}
        self.contacts: dict[str, dict[str, Any]] = {}  # id → contact (its folder in parentFolderId)
        self.changed: dict[tuple[str, str], int] = {}  # (folder, contact id) → change number
        self.removed: dict[tuple[str, str], tuple[int, str]] = {}  # (folder, id) → (change number, reason)
        self.seq = 0
        self.replay_every = replay_every
        self.page_cap = page_cap
        self._passes: dict[str, tuple[_Pass, int]] = {}
        self._states: dict[str, tuple[str, int, list[str] | None]] = {}
        self._ids = itertools.count(1)
        server.route("GET", r"/v1\.0/me/contactFolders")(server.locked(self._list_folders))
        server.route("GET", r"/v1\.0/me/contactFolders/([^/]+)/childFolders")(server.locked(self._list_folders))
        server.route("GET", r"/v1\.0/me/contacts/delta")(server.locked(self._delta))
        server.route("GET", r"/v1\.0/me/contactFolders/([^/]+)/contacts/delta")(server.locked(self._delta))

    # ---- what tests arrange (the user in Outlook) ---------------------------------------------------------------

    def add_folder(self, name: str, parent: str = DEFAULT) -> str:
        with self.server.lock:
            ident = f"AQMkADfolder{next(self._ids):04d}"
            self.folders[ident] = {"id": ident, "displayName": name, "parentFolderId": parent}
            return ident

    def rename_folder(self, ident: str, name: str) -> None:
        with self.server.lock:
            self.folders[ident]["displayName"] = name

    def delete_folder(self, ident: str) -> None:
        """The folder and its contacts go (Outlook moves them to Deleted Items, out of every contact folder)."""
        with self.server.lock:
            del self.folders[ident]
            for contact in [c for c in self.contacts.values() if c["parentFolderId"] == ident]:
                self.delete(contact["id"])

    def add(
        self, name: str, *emails: str, folder: str = DEFAULT, categories: Iterable[str] = (),
        company: str | None = None, birthday: date | None = None, given: str = "", surname: str = "",
    ) -> str:
        with self.server.lock:
            ident = f"AAMkADcontact{next(self._ids):05d}="
            self.contacts[ident] = {
                "id": ident, "displayName": name, "givenName": given, "surname": surname,
                "emailAddresses": [{"name": name, "address": e} for e in emails],
                "companyName": company, "categories": list(categories), "parentFolderId": folder,
                "birthday": f"{birthday.isoformat()}T00:00:00Z" if birthday else None,
                "personalNotes": "notes syncd must never read", "mobilePhone": "+49 170 1234",
            }
            self._touch(folder, ident)
            return ident

    def edit(self, ident: str, **fields: Any) -> None:
        with self.server.lock:
            self.contacts[ident].update(fields)
            self._touch(self.contacts[ident]["parentFolderId"], ident)

    def move(self, ident: str, folder: str) -> None:
        with self.server.lock:
            contact = self.contacts[ident]
            self._bury(contact["parentFolderId"], ident, "changed")
            contact["parentFolderId"] = folder
            self._touch(folder, ident)

    def delete(self, ident: str) -> None:
        with self.server.lock:
            contact = self.contacts.pop(ident)
            self._bury(contact["parentFolderId"], ident, "deleted")

    def expire_tokens(self) -> None:
        """Graph forgets every sync state: the next link answers 410 SyncStateNotFound."""
        with self.server.lock:
            self._passes.clear()
            self._states.clear()

    def delta_requests(self) -> list[Request]:
        return self.server.requests("GET", r"/contacts/delta$")

    # ---- internals --------------------------------------------------------------------------------------------

    def _touch(self, folder: str, ident: str) -> None:
        self.seq += 1
        self.changed[(folder, ident)] = self.seq
        self.removed.pop((folder, ident), None)

    def _bury(self, folder: str, ident: str, reason: str) -> None:
        self.seq += 1
        self.changed.pop((folder, ident), None)
        self.removed[(folder, ident)] = (self.seq, reason)

    def _list_folders(self, request: Request) -> Response:
        parent = request.match.group(1) if request.match is not None and request.match.groups() else DEFAULT
        if parent != DEFAULT and parent not in self.folders:
            return _error(404, "ErrorItemNotFound", "The specified object was not found in the store.")
        value = [dict(f) for f in self.folders.values() if f["parentFolderId"] == parent]
        return Response(200, {"@odata.context": f"{self.server.base_url}/v1.0/$metadata#contactFolders",
                              "value": value})

    def _delta(self, request: Request) -> Response:
        folder = request.match.group(1) if request.match is not None and request.match.groups() else DEFAULT
        skip, state = request.arg("$skiptoken"), request.arg("$deltatoken")
        others = sorted(k for k in request.query if k not in ("$skiptoken", "$deltatoken"))
        if (skip is not None or state is not None) and others:
            return _error(400, "BadRequest", f"query options {others} are not allowed with a state token")
        if folder != DEFAULT and folder not in self.folders:
            return _error(404, "ErrorItemNotFound", "The specified object was not found in the store.")
        if skip is not None:
            found = self._passes.get(skip)
            if found is None or found[0].folder != folder:
                return _expired()
            current, offset = found
        elif state is not None:
            known = self._states.get(state)
            if known is None or known[0] != folder:
                return _expired()
            current, offset = self._pass(folder, known[1], known[2]), 0
        else:
            select = request.arg("$select")
            current, offset = self._pass(folder, None, select.split(",") if select else None), 0
        size = min(_page_size(request.headers.get("prefer", "")), self.page_cap)
        page = current.changes[offset:offset + size]
        offset += len(page)
        base = request.path if request.path.startswith("http") else f"{self.server.base_url}{request.path}"
        body: dict[str, Any] = {"value": [self._render(ident, reason, current.select) for ident, reason in page]}
        token = f"t{next(self._ids)}"
        if offset < len(current.changes):
            self._passes[token] = (current, offset)
            body["@odata.nextLink"] = f"{base}?$skiptoken={token}"
        else:
            self._states[token] = (folder, current.until, current.select)
            body["@odata.deltaLink"] = f"{base}?$deltatoken={token}"
        return Response(200, body)

    def _pass(self, folder: str, since: int | None, select: list[str] | None) -> _Pass:
        live: list[tuple[int, str, str | None]] = [
            (seq, ident, None) for (f, ident), seq in self.changed.items() if f == folder and (since is None or seq > since)]
        gone: list[tuple[int, str, str | None]] = [] if since is None else [(seq, ident, reason) for (f, ident), (seq, reason) in self.removed.items()
                                         if f == folder and seq > since]
        changes: list[tuple[str, str | None]] = [(ident, reason) for _, ident, reason in sorted(live + gone)]
        if self.replay_every:
            changes += changes[self.replay_every - 1::self.replay_every]
        return _Pass(folder, changes, self.seq, select)

    def _render(self, ident: str, reason: str | None, select: list[str] | None) -> dict[str, Any]:
        contact = self.contacts.get(ident)
        if reason is not None or contact is None:
            return {"id": ident, "@removed": {"reason": reason or "deleted"}}
        return {k: v for k, v in contact.items() if select is None or k == "id" or k in select}
