"""Cards from CardDAV address books (RFC 6352), incrementally (RFC 6578): the address book of a ``carddav`` account.

RESOURCE = one address book, by its path on the server. Default: every address book in the user's home;
``address_books`` names others (display names, paths or URLs). PROVIDER ID = the object's path (an href):
a CardDAV object holds one vCard (RFC 6352 §5.1), so the href names the card, and a removal (a 404 member of
sync-collection) needs nothing else to find it. A group card's members are named by their UIDs, which the
store keeps beside the href.

CURSOR (per address book, JSON): its DAV:sync-token and CTag and the address-book home (so the next pull needs
no discovery); on a server without sync-collection also each object's ETag, to compare the next listing with.
A pull lists the home once (one PROPFIND for every address book); an address book whose sync-token (or, without
one, CTag) is unchanged costs nothing more. A changed one is asked what changed since its token
(:mod:`connectors.caldav.collection`), then its changed cards come by ``addressbook-multiget``, 200 at a time
(docs/carddav.md#reading-cards). A token the server forgot means reading the address book whole.

Cards are parsed by :mod:`connectors.vcardparse` (vCard 3.0 and 4.0, whichever the server stores): a card that
does not parse is skipped and named, and what was read of it before is kept.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
from collections.abc import Iterator, Mapping
from typing import Any
from xml.etree import ElementTree

from connectors.base import AddressBook, Card, CardBatch, CardGroup, KnownIds, SecretSlot, Skip
from connectors.caldav.account import DavAccount
from connectors.caldav.collection import ETAG, Collection, changes, choose, multiget
from connectors.carddav.discovery import CARDDAV, Book, Home, discover
from connectors.throttle import Throttle
from connectors.vcardparse import parse

MULTIGET_REPORT = (f"{CARDDAV}addressbook-multiget", f"{CARDDAV}address-data")
BATCH_SIZE = 2000
PARTIAL = json.dumps({"partial": True})


@dataclasses.dataclass
class BookState:
    token: str | None = None
    ctag: str | None = None
    home: str | None = None
    etags: dict[str, str | None] | None = None  # href → ETag, kept only for a server without sync-collection

    @classmethod
    def load(cls, text: str | None) -> BookState | None:
        try:
            data = json.loads(text) if text else None
        except ValueError:
            return None  # an unreadable cursor means reading the address book whole, never a crash
        if not isinstance(data, dict) or data.get("partial"):
            return None
        return cls(**{f.name: data[f.name] for f in dataclasses.fields(cls) if f.name in data})

    def dump(self) -> str:
        return json.dumps(dataclasses.asdict(self), sort_keys=True)


class CardDavBook(AddressBook):
    provider = "carddav"

    def __init__(self, name: str, settings: Mapping[str, Any], secret: SecretSlot | None = None, *,
                 throttle: Throttle | None = None) -> None:
        super().__init__(name, settings, secret)
        self.account = DavAccount(name, settings, secret, throttle=throttle, protocol="CardDAV")

    def pull(self, cursors: Mapping[str, str], known: KnownIds) -> Iterator[CardBatch]:
        states = {resource: BookState.load(text) for resource, text in cursors.items()}
        cached = next((s.home for s in states.values() if s is not None and s.home), None)
        home = discover(self.account, cached)
        chosen, missing = self._choose(home)
        for wanted in missing:
            why = f"not on the server (renamed or deleted?); check accounts.{self.name}.address_books"
            yield CardBatch(wanted, cursors.get(wanted), skipped=[Skip(wanted, f"address book missing: {why}")])
        for book in chosen:
            yield from self._book(book, home, states.get(book.path), cursors.get(book.path), known)
        for resource in sorted(set(cursors) - {b.path for b in chosen} - set(missing)):
            # No longer read (deleted upstream, or left out of address_books): its cards go.
            yield CardBatch(resource, None, deleted=sorted(known.known_ids(resource)), full=True, complete=True)

    def _choose(self, home: Home) -> tuple[list[Book], list[str]]:
        named = tuple(self.settings.get("address_books") or ())
        return choose(home.books, named) if named else (list(home.books), [])

    # ---- one address book -------------------------------------------------------------------------------------

    def _book(self, book: Book, home: Home, state: BookState | None, previous: str | None,
              known: KnownIds) -> Iterator[CardBatch]:
        resource = book.path
        if state is not None and ((book.sync_token and book.sync_token == state.token)
                                  or (not book.sync_token and book.ctag and book.ctag == state.ctag)):
            return  # the home listing was this address book's whole pull
        collection = Collection(book.url, book.name, book.sync_token)
        # With a sync token the server says what changed; without one, ETags are compared with the last ones.
        since = None if state is None else (state.etags if state.etags is not None else {})
        found = changes(self.account, collection, state.token if state else None, since)
        etags = dict(state.etags or {}) if state is not None and not found.whole else {}
        batch = CardBatch(resource, PARTIAL if found.whole else previous, full=found.whole)
        for href in sorted(found.removed):
            batch.deleted.append(href)
            etags.pop(href, None)
        for href, data, etag in self._fetch(collection, sorted(found.changed)):
            if data is None:  # gone between the listing and the multiget
                batch.deleted.append(href)
                etags.pop(href, None)
                continue
            etags[href] = etag
            read = [item for item in parse(data, f"{resource}{href.rsplit('/', 1)[-1]}")]
            cards = [item for item in read if isinstance(item, Card | CardGroup)]
            for n, item in enumerate(cards):
                item.provider_id = href if n == 0 else f"{href}#{n + 1}"  # one card an object, as RFC 6352 says
            batch.cards += [item for item in cards if isinstance(item, Card)]
            batch.groups += [item for item in cards if isinstance(item, CardGroup)]
            batch.skipped += [item for item in read if isinstance(item, Skip)]
            if not cards and any(s.why.startswith("unreadable") for s in read if isinstance(s, Skip)):
                batch.seen.append(href)  # broken now: what was read of it before stays
            if len(batch.cards) + len(batch.groups) >= BATCH_SIZE:
                yield batch
                batch = CardBatch(resource, batch.cursor, full=found.whole)
        batch.complete = found.whole
        batch.cursor = BookState(token=found.token, ctag=book.ctag, home=home.url,
                                 etags=None if found.token else etags).dump()
        yield batch

    def _fetch(self, collection: Collection, hrefs: list[str]) -> Iterator[tuple[str, str | None, str | None]]:
        """(href, vCard text or None when gone, etag) for each href, by addressbook-multiget (RFC 6352 §8.7)."""
        for href, result in multiget(self.account, collection, MULTIGET_REPORT, hrefs, "CardDAV"):
            data = result.properties.get(f"{CARDDAV}address-data") if result is not None else None
            if result is None or result.status == 404 or not isinstance(data, str):
                yield href, None, None
            else:
                yield href, data, result.properties.get(ETAG)


with contextlib.suppress(Exception):  # a readable default prefix in the XML the server logs
    ElementTree.register_namespace("CR", "urn:ietf:params:xml:ns:carddav")
