"""Finding a CardDAV account's address books from the URL it was given (docs/carddav.md#discovery: RFC 6352 §7.1,
RFC 6764 §5), the way :mod:`connectors.caldav.discovery` finds calendars.

From a server's base URL the current-user-principal is asked of that URL, and of ``/.well-known/carddav`` when
the URL names none; the principal names its ``addressbook-home-set``, whose members are the address books. An
address book's own URL may be given instead. One PROPFIND of the home (depth 1) brings every address book
with its DAV:sync-token (RFC 6578) and CTag, so a pull with nothing new is that single request.
"""

from __future__ import annotations

import dataclasses
from typing import Any
from urllib.parse import unquote, urlsplit

from connectors.base import SourceUnavailable
from connectors.caldav.account import DavAccount
from connectors.caldav.discovery import CS, DAV, PRINCIPAL, find_principal, propfind

CARDDAV = "{urn:ietf:params:xml:ns:carddav}"
HOME = f"{CARDDAV}addressbook-home-set"
BOOK_PROPS = [f"{DAV}resourcetype", f"{DAV}displayname", f"{DAV}sync-token", f"{CS}getctag"]


@dataclasses.dataclass(frozen=True)
class Book:
    url: str
    path: str  # the resource name in syncd's store
    name: str
    sync_token: str | None
    ctag: str | None


@dataclasses.dataclass(frozen=True)
class Home:
    url: str | None  # the address-book home (None: the account is one address book given by URL)
    books: list[Book]


def _book(account: DavAccount, result: Any) -> Book | None:
    props = result.properties
    if f"{CARDDAV}addressbook" not in (props.get(f"{DAV}resourcetype") or []):
        return None
    url = account.absolute(result.href)
    path = unquote(urlsplit(url).path)
    return Book(url=url, path=path, name=str(props.get(f"{DAV}displayname") or path.rstrip("/").rsplit("/", 1)[-1]),
                sync_token=props.get(f"{DAV}sync-token"), ctag=props.get(f"{CS}getctag"))


def list_home(account: DavAccount, home: str) -> list[Book] | None:
    """The address books in ``home``; None when it is not (or no longer) a collection this user can list."""
    results = propfind(account, home, BOOK_PROPS, 1, "listing address books")
    if not results:
        return None
    own = urlsplit(home).path.rstrip("/")
    return [b for r in results if (b := _book(account, r)) is not None and b.path.rstrip("/") != own]


def discover(account: DavAccount, known_home: str | None = None) -> Home:
    """The account's address books: from ``known_home`` (one request) when it still answers, else found anew."""
    if known_home:
        books = list_home(account, known_home)
        if books is not None:
            return Home(known_home, books)
    first = propfind(account, account.url, [PRINCIPAL, *BOOK_PROPS], 0, "looking for the address books")
    given = _book(account, first[0]) if first else None
    if given is not None:  # the URL is an address book
        return Home(None, [given])
    principal = find_principal(account, first, "/.well-known/carddav", "looking for the address books")
    about = propfind(account, principal, [HOME], 0, "reading the principal")
    home = about[0].properties.get(HOME) if about else None
    if isinstance(home, list):
        home = home[0] if home else None
    if not home:
        raise SourceUnavailable(f"account '{account.account}': the server names no address-book home for this user")
    home_url = account.absolute(str(home))
    books = list_home(account, home_url)
    if books is None:
        raise SourceUnavailable(f"account '{account.account}': the address-book home {home_url} cannot be listed")
    return Home(home_url, books)
