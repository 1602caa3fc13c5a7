"""Outlook contacts through Microsoft Graph, as an address book (``contacts = true`` on a microsoft account).

Permission ``Contacts.Read`` (docs/microsoft-graph.md#contacts), asked only for accounts that read contacts.
Requests go through the mailbox's one throttle (:mod:`connectors.microsoft.graph`).

RESOURCES:

* ``contactFolders``: the contact folders (those inside the default Contacts folder, and theirs), listed whole
  on every pull (a request or two) as a full sync. Each is a group named by its display name: Outlook users
  group contacts by folder as much as by category, so a tier's ``groups`` matches either
  (docs/rules.md#groups-as-tiers). A folder renamed upstream renames its group.
* ``contacts``: the default Contacts folder, through ``GET /me/contacts/delta``;
* ``contacts:<folder id>``: every other folder, through ``GET /me/contactFolders/{id}/contacts/delta``.

Delta works as for mail (docs/microsoft-graph.md#mail-delta, :mod:`connectors.microsoft.mail`): ``$select`` on
the first request only, links replayed verbatim, each page a batch whose cursor is the link that follows
it; ``@removed`` entries, applied only to contacts the store holds under that folder (a contact moved to
another folder is removed here and added there, in either order); replays merge idempotently; 410 or
``SyncStateNotFound`` resyncs that folder alone. A folder that is gone takes its contacts with it.

A CARD: ``displayName`` (else given name and surname), every address of ``emailAddresses``, ``companyName``,
``categories`` (the groups written on it), its folder (a group it belongs to, when not the default one),
and ``birthday``, a UTC midnight whose date is taken as it is, never moved into a time zone.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from typing import Any
from urllib.parse import quote

from connectors.base import (
    AddressBook,
    Card,
    CardBatch,
    CardGroup,
    ConnectorError,
    CursorExpired,
    KnownIds,
    Skip,
)
from connectors.microsoft.graph import DeltaExpired, GraphConnector, GraphError, delta_link_of
from connectors.vcardparse import birthday_from_text

SELECT = "displayName,givenName,surname,emailAddresses,companyName,birthday,categories,parentFolderId"
PAGE_SIZE = 1000
FOLDERS = "contactFolders"
DEFAULT = "contacts"
CURSOR_VERSION = 1


def folder_group(folder_id: str) -> str:
    """The provider id of the group a contact folder makes (folder ids and contact ids never collide)."""
    return f"folder:{folder_id}"


class OutlookContacts(GraphConnector, AddressBook):
    provider = "microsoft"

    def pull(self, cursors: Mapping[str, str], known: KnownIds) -> Iterator[CardBatch]:
        folders = self._folders()
        yield CardBatch(FOLDERS, "listed", groups=[CardGroup(folder_group(i), name) for i, name in folders],
                        full=True, complete=True)
        yield from self._delta(DEFAULT, "me/contacts/delta", None, cursors.get(DEFAULT), known)
        for folder_id, _ in folders:
            resource = f"{DEFAULT}:{folder_id}"
            first = f"me/contactFolders/{quote(folder_id, safe='')}/contacts/delta"
            yield from self._delta(resource, first, folder_id, cursors.get(resource), known)
        current = {f"{DEFAULT}:{folder_id}" for folder_id, _ in folders}
        for resource in sorted(r for r in cursors if r.startswith(f"{DEFAULT}:") and r not in current):
            yield _gone(resource, known)

    # ---- folders ------------------------------------------------------------------------------------------------

    def _folders(self) -> list[tuple[str, str]]:
        """(id, display name) of every contact folder below the default one, parents first."""
        found: list[tuple[str, str]] = []
        pending = ["me/contactFolders"]
        while pending:
            path = pending.pop(0)
            for page in self.client.pages(path, params={"$select": "id,displayName"},
                                          what="Outlook contact folders"):
                for folder in page.value:
                    ident, name = str(folder.get("id") or ""), str(folder.get("displayName") or "").strip()
                    if ident and (ident, name) not in found:
                        found.append((ident, name))
                        pending.append(f"me/contactFolders/{quote(ident, safe='')}/childFolders")
        return found

    # ---- contacts of one folder ------------------------------------------------------------------------------

    def _delta(
        self, resource: str, first: str, folder_id: str | None, previous: str | None, known: KnownIds
    ) -> Iterator[CardBatch]:
        state = _load_cursor(previous)
        params: dict[str, str] | None
        if state is None:
            url, params, full = first, {"$select": SELECT}, True
        else:
            url, params, full = delta_link_of(self.client, resource, str(state["link"])), None, bool(state["full"])
        held: set[str] | None = None
        try:
            for page in self.client.pages(url, params=params, headers={"Prefer": f"odata.maxpagesize={PAGE_SIZE}"},
                                          what=f"Outlook contacts ({resource})"):
                done = page.delta_link is not None
                link = page.delta_link or page.next_link
                if link is None:
                    raise ConnectorError(f"Outlook contacts ({resource}): Graph answered a page with neither a next "
                                         "nor a delta link")
                cursor = json.dumps({"v": CURSOR_VERSION, "link": link, "full": full and not done})
                batch = CardBatch(resource, cursor, full=full, complete=full and done)
                removed = _convert(page.value, folder_id, batch)
                if removed:
                    # Only contacts this folder holds are gone: a moved one is already the other folder's.
                    held = known.known_ids(resource) if held is None else held
                    batch.deleted = [ident for ident in removed if ident in held]
                    held.difference_update(batch.deleted)
                if held is not None:
                    held.update(card.provider_id for card in batch.cards)
                yield batch
        except DeltaExpired as exc:
            raise CursorExpired(resource, str(exc)) from None
        except GraphError as exc:
            if exc.status != 404 or folder_id is None:
                raise
            yield _gone(resource, known)  # deleted between the listing and its delta


def _gone(resource: str, known: KnownIds) -> CardBatch:
    return CardBatch(resource, None, deleted=sorted(known.known_ids(resource)), full=True, complete=True)


def _load_cursor(text: str | None) -> dict[str, Any] | None:
    try:
        state = json.loads(text) if text else None
    except ValueError:
        return None  # an unreadable cursor means a full round, never a crash
    if not isinstance(state, dict) or state.get("v") != CURSOR_VERSION or not state.get("link"):
        return None
    return state


def _convert(value: list[dict[str, Any]], folder_id: str | None, batch: CardBatch) -> list[str]:
    """One page into ``batch``; returns the ids reported removed. The last entry for an id wins (replays)."""
    latest: dict[str, Card | Skip | None] = {}
    for entry in value:
        ident = str(entry.get("id") or "")
        if not ident:
            batch.skipped.append(Skip(f"Outlook contacts ({batch.resource}): a contact without an id",
                                      "unreadable contact"))
            continue
        latest.pop(ident, None)
        latest[ident] = None if "@removed" in entry else _card(entry, ident, folder_id, batch.resource)
    batch.cards = [item for item in latest.values() if isinstance(item, Card)]
    batch.skipped += [item for item in latest.values() if isinstance(item, Skip)]
    return [ident for ident, item in latest.items() if item is None]


def _card(contact: dict[str, Any], ident: str, folder_id: str | None, resource: str) -> Card | Skip:
    name = str(contact.get("displayName") or "").strip() or " ".join(
        str(contact.get(part) or "").strip() for part in ("givenName", "surname")).strip()
    emails = [str((e or {}).get("address") or "").strip() for e in contact.get("emailAddresses") or []]
    emails = [e for e in emails if "@" in e]
    if not emails:
        what = f"Outlook contacts ({resource}): {ident[:24]}" + (f" ({name})" if name else "")
        return Skip(what, "no email address: a card syncd cannot match to anyone")
    birthday = contact.get("birthday")
    return Card(
        provider_id=ident, name=name, emails=emails, organisation=str(contact.get("companyName") or "").strip() or None,
        groups=[str(c).strip() for c in contact.get("categories") or [] if str(c).strip()],
        memberships=[folder_group(folder_id)] if folder_id else [],
        birthday=birthday_from_text(str(birthday)[:10]) if birthday else None,
    )
