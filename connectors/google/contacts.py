"""Google Contacts through the People API v1, as an address book (``contacts = true`` on a google account).

It speaks through google-api-python-client's bundled discovery document (``people`` v1) on the account's
credentials (:mod:`connectors.google.auth`, scope ``contacts.readonly``), every request through one
throttle per account (``contacts_quota`` requests a minute; backoff on 429 and 5xx, the first page of a
full sync having a fixed quota of its own: docs/google-people.md#sync-tokens).

RESOURCES:

* ``contactGroups``: the user's own labels ("Family", "Suppliers"), listed whole on every pull (one
  request for up to 1,000 labels) as a full sync, so a label renamed upstream changes its name and one
  deleted goes (docs/google-people.md#contact-groups). Google's system groups (``myContacts``,
  ``starred``) are not the user's categories and are left out.
* ``contacts``: ``people.connections.list`` with ``requestSyncToken``; CURSOR = ``{"sync": nextSyncToken}``,
  which comes on the last page only. Later pulls send it with exactly the first call's parameters and get
  only what changed, deleted contacts as ``metadata.deleted``. A sync token expires 7 days after its full
  sync: Google answers 400 with reason ``EXPIRED_SYNC_TOKEN`` and the contacts are listed again in full
  (:class:`CursorExpired`). Pages of a full listing carry a cursor that resumes nothing, so an interrupted
  full sync starts over.

PROVIDER ID = the resource name (``people/c123``). A contact's groups are its memberships by resource
name, resolved to names in the store, so a renamed label changes in one place.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from typing import Any

from connectors.base import (
    AddressBook,
    AuthRequired,
    Birthday,
    Card,
    CardBatch,
    CardGroup,
    ConnectorError,
    CursorExpired,
    KnownIds,
    SecretSlot,
    Skip,
)
from connectors.google import auth as google_auth
from connectors.throttle import Throttle
from connectors.vcardparse import birthday_from_text

DEFAULT_ENDPOINT = "https://people.googleapis.com/"
PAGE_SIZE = 1000  # the maximum for both lists (docs/google-people.md#listing-contacts)
PERSON_FIELDS = "names,emailAddresses,organizations,birthdays,memberships,metadata"
GROUPS = "contactGroups"
CONTACTS = "contacts"
PARTIAL = json.dumps({"partial": True})
USER_GROUP = "USER_CONTACT_GROUP"


class GoogleContacts(AddressBook):
    provider = "google"

    def __init__(self, name: str, settings: Mapping[str, Any], secret: SecretSlot | None = None, *,
                 throttle: Throttle | None = None) -> None:
        super().__init__(name, settings, secret)
        self._throttle = throttle

    def pull(self, cursors: Mapping[str, str], known: KnownIds) -> Iterator[CardBatch]:
        credentials = google_auth.load_credentials(self.name, self.settings, self.secret)
        endpoint = str(self.settings.get("people_endpoint") or DEFAULT_ENDPOINT)
        self.service = google_auth.build_service("people", "v1", endpoint, google_auth.authorized_http(credentials))
        quota = int(self.settings.get("contacts_quota") or 90)
        self.throttle = self._throttle or google_auth.account_throttle(self.name, "people", endpoint, quota)
        yield from self._groups()
        yield from self._contacts(cursors.get(CONTACTS))

    def _call(self, request: Any, what: str, *, expect: tuple[int, ...] = ()) -> Any:
        from googleapiclient.errors import HttpError

        try:
            answer = self.throttle.call(request.execute, classify=google_auth.classify, units=1, what=what)
            return google_auth.api_answer(what, answer) or {}
        except HttpError as exc:
            status = google_auth.status_of(exc)
            if status in expect:
                raise
            if status == 401:  # still refused after google-auth's refresh: the login no longer works
                raise AuthRequired(self.name, "Google refused the login") from None
            if status == 403 and google_auth.http_error_reason(exc) == "ACCESS_TOKEN_SCOPE_INSUFFICIENT":
                raise AuthRequired(self.name, "the login lacks the permission contacts.readonly") from None
            raise google_auth.describe_error(what, exc) from None
        except ConnectorError:
            raise
        except Exception as exc:  # a transport or refresh failure classify did not retry: one sentence
            raise google_auth.describe_error(what, exc) from None

    # ---- labels ---------------------------------------------------------------------------------------------

    def _groups(self) -> Iterator[CardBatch]:
        groups: list[CardGroup] = []
        page: str | None = None
        while True:
            answer = self._call(self.service.contactGroups().list(
                pageSize=PAGE_SIZE, groupFields="name,groupType", pageToken=page), "Google Contacts labels")
            for group in answer.get("contactGroups") or []:
                if group.get("groupType") == USER_GROUP and group.get("resourceName") and group.get("name"):
                    groups.append(CardGroup(str(group["resourceName"]), str(group["name"])))
            page = answer.get("nextPageToken")
            if not page:
                break
        yield CardBatch(GROUPS, "listed", groups=groups, full=True, complete=True)

    # ---- contacts -------------------------------------------------------------------------------------------

    def _contacts(self, previous: str | None) -> Iterator[CardBatch]:
        from googleapiclient.errors import HttpError

        token = _sync_token(previous)
        full = token is None
        params: dict[str, Any] = {"resourceName": "people/me", "personFields": PERSON_FIELDS, "pageSize": PAGE_SIZE,
                                  "requestSyncToken": True}
        if token is not None:
            params["syncToken"] = token
        page: str | None = None
        while True:
            try:
                answer = self._call(self.service.people().connections().list(**params, pageToken=page),
                                    "Google Contacts", expect=(400, 410))
            except HttpError as exc:
                if token is not None and _expired(exc):
                    raise CursorExpired(CONTACTS, "Google's sync token for the contacts expired") from None
                raise google_auth.describe_error("Google Contacts", exc) from None
            batch = CardBatch(CONTACTS, None, full=full)
            for person in answer.get("connections") or []:
                _take(person, batch)
            page = answer.get("nextPageToken")
            if page:
                # Mid-listing: a full sync's page resumes nothing; an incremental one keeps the old token,
                # which covers less than what was yielded (a repeat is harmless).
                batch.cursor = PARTIAL if full else previous
                yield batch
                continue
            sync = answer.get("nextSyncToken")
            batch.cursor = json.dumps({"sync": sync}) if sync else PARTIAL
            batch.complete = full
            yield batch
            return


def _sync_token(cursor: str | None) -> str | None:
    try:
        state = json.loads(cursor) if cursor else {}
    except ValueError:
        return None  # an unreadable cursor means a full sync, never a crash
    return str(state["sync"]) if isinstance(state, dict) and state.get("sync") else None


def _expired(exc: Any) -> bool:
    """An expired sync token: 400 with reason EXPIRED_SYNC_TOKEN, matched by reason or message rather than by
    status alone (docs/google-people.md#sync-tokens); 410 as Calendar answers it, to be safe."""
    if google_auth.status_of(exc) == 410:
        return True
    text = str(getattr(exc, "content", b"") or b"")
    return "EXPIRED_SYNC_TOKEN" in text or "Sync token is expired" in text


def _primary(entries: Any) -> list[dict[str, Any]]:
    """A person's field entries, the primary one first (docs/google-people.md#listing-contacts)."""
    found = [e for e in entries or [] if isinstance(e, dict)]
    return sorted(found, key=lambda e: not (e.get("metadata") or {}).get("primary"))


def _take(person: Mapping[str, Any], batch: CardBatch) -> None:
    resource = str(person.get("resourceName") or "")
    if not resource:
        batch.skipped.append(Skip("Google Contacts: a contact without a resource name", "unreadable contact"))
        return
    if (person.get("metadata") or {}).get("deleted"):
        batch.deleted.append(resource)
        return
    names = _primary(person.get("names"))
    name = str(names[0].get("displayName") or "").strip() if names else ""
    emails = [str(e.get("value") or "").strip() for e in _primary(person.get("emailAddresses"))]
    emails = [e for e in emails if "@" in e]
    if not emails:
        what = f"Google Contacts: {resource}" + (f" ({name})" if name else "")
        batch.skipped.append(Skip(what, "no email address: a card syncd cannot match to anyone"))
        return
    organisations = [str(o.get("name") or "").strip() for o in _primary(person.get("organizations"))]
    memberships = [
        str((m.get("contactGroupMembership") or {}).get("contactGroupResourceName") or "")
        for m in person.get("memberships") or [] if isinstance(m, dict)
    ]
    batch.cards.append(Card(
        provider_id=resource, name=name, emails=emails, organisation=next((o for o in organisations if o), None),
        memberships=[m for m in memberships if m], birthday=_birthday(person.get("birthdays")),
    ))


def _birthday(entries: Any) -> Birthday | None:
    """``date`` is {year, month, day}, year 0 or missing for "no year"; ``text`` is a deprecated fallback."""
    for entry in _primary(entries):
        date = entry.get("date") or {}
        try:
            if date.get("month") and date.get("day"):
                year = int(date.get("year") or 0)
                return Birthday(int(date["month"]), int(date["day"]), year if year >= 1800 else None)
        except (TypeError, ValueError):
            pass
        if entry.get("text"):
            found = birthday_from_text(str(entry["text"]))
            if found is not None:
                return found
    return None
