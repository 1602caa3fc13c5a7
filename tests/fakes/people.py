"""Google People API v1 (Google Contacts), faked statefully on a :class:`FakeServer` (docs/google-people.md).

It follows the discovery document bundled with google-api-python-client (``people.v1.json``), for what the
address-book connector depends on:

* ``people.connections.list`` (``GET /v1/people/me/connections``): ``personFields`` required (400
  otherwise) and applied as a field mask; ``pageSize`` 1–1000 (default 100); ``pageToken`` bound to the
  parameters of the call that made it (400 when they differ); ``requestSyncToken`` gives ``nextSyncToken``
  on the last page only; ``syncToken`` lists only what changed since, deleted contacts as a person with
  ``metadata.deleted`` true; a sync token the fake forgot (:meth:`expire_sync_tokens`, Google's 7 days)
  answers 400 with a ``google.rpc.ErrorInfo`` whose reason is ``EXPIRED_SYNC_TOKEN``
  (docs/google-people.md#sync-tokens); the first page of a full sync can answer 429 (:meth:`quota_first_page`);
* ``contactGroups.list`` (``GET /v1/contactGroups``): user and system groups, ``pageSize`` (default 30),
  ``pageToken``, ``groupFields`` (docs/google-people.md#contact-groups); renaming keeps the resource name;
* the OAuth fake's bearer tokens, and a 403 ``ACCESS_TOKEN_SCOPE_INSUFFICIENT`` for a token without a
  contacts scope.
"""

from __future__ import annotations

import copy
import itertools
import secrets
from collections.abc import Iterable
from typing import Any

from tests.fakes.google_oauth import GoogleOAuthFake
from tests.fakes.server import FakeServer, Request, Response

PREFIX = "/v1"
CONTACT_SCOPES = {"https://www.googleapis.com/auth/contacts", "https://www.googleapis.com/auth/contacts.readonly"}
PERSON_FIELDS = {"names", "emailAddresses", "organizations", "birthdays", "memberships", "metadata", "phoneNumbers"}


def error(status: int, state: str, message: str, reason: str | None = None) -> Response:
    body: dict[str, Any] = {"code": status, "message": message, "status": state}
    if reason is not None:
        body["details"] = [{"@type": "type.googleapis.com/google.rpc.ErrorInfo", "reason": reason,
                            "domain": "googleapis.com"}]
    return Response(status, {"error": body})


class PeopleFake:
    def __init__(self, server: FakeServer, oauth: GoogleOAuthFake | None = None) -> None:
        self.server = server
        self.oauth = oauth
        self.people: dict[str, dict[str, Any]] = {}  # resource name → person, with "_seq"; deleted ones kept
        self.groups: dict[str, dict[str, Any]] = {
            "contactGroups/myContacts": {"resourceName": "contactGroups/myContacts", "name": "myContacts",
                                         "formattedName": "My Contacts", "groupType": "SYSTEM_CONTACT_GROUP"},
            "contactGroups/starred": {"resourceName": "contactGroups/starred", "name": "starred",
                                      "formattedName": "Starred", "groupType": "SYSTEM_CONTACT_GROUP"},
        }
        self.seq = 0
        self.tokens: dict[str, int] = {}  # live sync token → the change number it covers
        self.pages: dict[str, tuple[dict[str, str], list[dict[str, Any]], str | None]] = {}
        self.calls: list[dict[str, list[str]]] = []  # the query of every connections.list
        self._ids = itertools.count(1)
        if oauth is not None:
            server.guards.append(self._guard)
        server.route("GET", PREFIX + r"/people/me/connections")(server.locked(self._connections))
        server.route("GET", PREFIX + r"/contactGroups")(server.locked(self._groups))

    @property
    def endpoint(self) -> str:
        return self.server.base_url + "/"

    def _guard(self, request: Request) -> Response | None:
        if not request.path.startswith(PREFIX) or self.oauth is None:
            return None
        refused = self.oauth.guard(request)
        if refused is not None:
            return refused
        token = request.headers.get("authorization", "")[7:]
        granted = set(self.oauth.refresh_tokens.get(self.oauth.access.get(token) or "", []))
        if granted and not granted & CONTACT_SCOPES:
            return error(403, "PERMISSION_DENIED", "Request had insufficient authentication scopes.",
                         "ACCESS_TOKEN_SCOPE_INSUFFICIENT")
        return None

    # ---- what tests arrange (the user editing Google Contacts) -------------------------------------------

    def add_group(self, name: str) -> str:
        with self.server.lock:
            resource = f"contactGroups/{secrets.token_hex(6)}"
            self.groups[resource] = {"resourceName": resource, "name": name, "formattedName": name,
                                     "groupType": "USER_CONTACT_GROUP"}
            return resource

    def rename_group(self, resource: str, name: str) -> None:
        with self.server.lock:
            self.groups[resource].update(name=name, formattedName=name)

    def delete_group(self, resource: str) -> None:
        """Deleting a label leaves its contacts (their memberships to it go, changing them)."""
        with self.server.lock:
            del self.groups[resource]
            for person in self.people.values():
                kept = [m for m in person.get("memberships", [])
                        if m["contactGroupMembership"]["contactGroupResourceName"] != resource]
                if len(kept) != len(person.get("memberships", [])):
                    person["memberships"] = kept
                    self._touch(person)

    def add_person(
        self, name: str | None, *emails: str, groups: Iterable[str] = (), organisation: str | None = None,
        birthday: tuple[int, int, int] | None = None, phone: str | None = None,
    ) -> str:
        """A contact; ``birthday`` is (year, month, day) with year 0 for "no year" (docs/google-people.md)."""
        with self.server.lock:
            resource = f"people/c{next(self._ids):06d}"
            person: dict[str, Any] = {"resourceName": resource, "metadata": {"sources": [{"type": "CONTACT"}],
                                                                          "objectType": "PERSON"}}
            if name is not None:
                given, _, family = name.partition(" ")
                person["names"] = [{"metadata": {"primary": True}, "displayName": name, "givenName": given,
                                    "familyName": family}]
            if emails:
                person["emailAddresses"] = [
                    {"metadata": {"primary": i == 0}, "value": e, "type": "home"} for i, e in enumerate(emails)]
            if organisation:
                person["organizations"] = [{"metadata": {"primary": True}, "name": organisation}]
            if birthday:
                year, month, day = birthday
                date = {"month": month, "day": day, **({"year": year} if year else {})}
                person["birthdays"] = [{"metadata": {"primary": True}, "date": date}]
            if phone:
                person["phoneNumbers"] = [{"value": phone}]
            person["memberships"] = [
                {"contactGroupMembership": {"contactGroupResourceName": g, "contactGroupId": g.split("/")[1]}}
                for g in ["contactGroups/myContacts", *groups]]
            self._touch(person)
            self.people[resource] = person
            return resource

    def edit_person(self, resource: str, **fields: Any) -> None:
        with self.server.lock:
            person = self.people[resource]
            person.update(copy.deepcopy(fields))
            self._touch(person)

    def delete_person(self, resource: str) -> None:
        with self.server.lock:
            person = self.people[resource]
            person["metadata"] = {**person["metadata"], "deleted": True}
            self._touch(person)

    def expire_sync_tokens(self) -> None:
        """Google forgets every sync token (7 days after the full sync that made it)."""
        with self.server.lock:
            self.tokens.clear()

    def quota_first_page(self, times: int = 1) -> None:
        """The first page of a full sync answers 429 (its own fixed quota) the next ``times`` times."""
        def first_page_of_full_sync(request: Request) -> bool:
            return request.path.endswith("/connections") and not request.arg("syncToken") and not request.arg(
                "pageToken")

        self.server.inject(first_page_of_full_sync, error(429, "RESOURCE_EXHAUSTED", "Quota exceeded"), times)

    # ---- internals ----------------------------------------------------------------------------------------

    def _touch(self, person: dict[str, Any]) -> None:
        self.seq += 1
        person["_seq"] = self.seq
        person["etag"] = f"%E{self.seq}"

    @staticmethod
    def _masked(person: dict[str, Any], fields: set[str]) -> dict[str, Any]:
        if person.get("metadata", {}).get("deleted"):
            return {"resourceName": person["resourceName"], "etag": person["etag"],
                    "metadata": copy.deepcopy(person["metadata"])}
        shown = {k: copy.deepcopy(v) for k, v in person.items() if k in fields}
        return {"resourceName": person["resourceName"], "etag": person["etag"], **shown}

    def _page(self, request: Request, items: list[dict[str, Any]], sync: str | None, size: int,
              bound: dict[str, str], key: str) -> Response:
        page, rest = items[:size], items[size:]
        body: dict[str, Any] = {key: page, "totalItems": len(items)}
        if rest:
            token = secrets.token_urlsafe(8)
            self.pages[token] = (bound, rest, sync)
            body["nextPageToken"] = token
        elif sync is not None:
            body["nextSyncToken"] = sync
        return Response(200, body)

    def _connections(self, request: Request) -> Response:
        self.calls.append(copy.deepcopy(request.query))
        params = {k: v[0] for k, v in request.query.items() if k not in ("pageToken", "alt")}
        fields = {f.strip() for f in (request.arg("personFields") or "").split(",") if f.strip()}
        if not fields:
            return error(400, "INVALID_ARGUMENT", "personFields mask is required. Please specify one or more "
                         "valid paths. Valid paths are documented at https://developers.google.com/people/api/rest/v1/people/get.")
        if fields - PERSON_FIELDS:
            return error(400, "INVALID_ARGUMENT", f"Invalid personFields mask path: \"{sorted(fields - PERSON_FIELDS)[0]}\".")
        try:
            size = int(request.arg("pageSize") or 100)
        except ValueError:
            return error(400, "INVALID_ARGUMENT", "Invalid value at 'page_size'")
        if not 1 <= size <= 1000:
            return error(400, "INVALID_ARGUMENT", "pageSize must be between 1 and 1000.")
        page_token = request.arg("pageToken")
        if page_token:
            found = self.pages.pop(page_token, None)
            if found is None:
                return error(400, "INVALID_ARGUMENT", "Request contains an invalid argument.")
            bound, rest, sync = found
            if bound != params:
                return error(400, "INVALID_ARGUMENT", "Parameters provided with a page token must match the call "
                             "that provided the page token.")
            return self._page(request, rest, sync, size, bound, "connections")
        since = 0
        token = request.arg("syncToken")
        if token:
            if token not in self.tokens:
                return error(400, "FAILED_PRECONDITION", "Sync token is expired. Clear local cache and retry call "
                             "without the sync token.", "EXPIRED_SYNC_TOKEN")
            since = self.tokens[token]
        people = sorted(self.people.values(), key=lambda p: p["_seq"])  # LAST_MODIFIED_ASCENDING
        changed = [p for p in people if p["_seq"] > since and (token or not p["metadata"].get("deleted"))]
        sync = None
        if request.arg("requestSyncToken") == "true":
            sync = secrets.token_urlsafe(12)
            self.tokens[sync] = self.seq
        return self._page(request, [self._masked(p, fields) for p in changed], sync, size, params, "connections")

    def _groups(self, request: Request) -> Response:
        params = {k: v[0] for k, v in request.query.items() if k not in ("pageToken", "alt")}
        size = int(request.arg("pageSize") or 30)
        if not 1 <= size <= 1000:
            return error(400, "INVALID_ARGUMENT", "pageSize must be between 1 and 1000.")
        page_token = request.arg("pageToken")
        if page_token:
            found = self.pages.pop(page_token, None)
            if found is None or found[0] != params:
                return error(400, "INVALID_ARGUMENT", "Request contains an invalid argument.")
            return self._page(request, found[1], None, size, params, "contactGroups")
        groups = []
        for group in self.groups.values():
            members = sum(1 for p in self.people.values() if not p["metadata"].get("deleted") and any(
                m["contactGroupMembership"]["contactGroupResourceName"] == group["resourceName"]
                for m in p.get("memberships", [])))
            groups.append({**copy.deepcopy(group), "memberCount": members, "etag": f"g{members}"})
        return self._page(request, groups, None, size, params, "contactGroups")
