"""What changed in one WebDAV collection — a CalDAV calendar, a CardDAV address book — since the last pull.

``DAV:sync-collection`` (RFC 6578 §3.2) with the collection's last token: the hrefs changed (with their ETags)
and removed since, following a truncated answer (§3.6) with its new token; a token the server forgot (403,
409 or 412 ``valid-sync-token``) or no token at all means reading the whole collection. A server without the
REPORT is asked a depth-1 PROPFIND of ETags, compared with those the cursor kept (docs/caldav.md#sync-collection,
docs/caldav.md#ctag, docs/carddav.md#incremental-sync). The objects themselves are fetched by each
protocol's multiget.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator, Mapping, Sequence
from typing import Any, Protocol, TypeVar
from urllib.parse import quote, unquote, urlsplit
from xml.etree import ElementTree

from connectors.base import ConnectorError
from connectors.caldav.account import DavAccount, Refused, SyncTokenExpired, check_status
from connectors.caldav.discovery import DAV, propfind_body, xml_body

ETAG = f"{DAV}getetag"


MULTIGET = 200  # objects asked for per multiget REPORT


def multiget(account: DavAccount, collection: Collection, report: tuple[str, str], hrefs: Sequence[str],
             protocol: str = "CalDAV") -> Iterator[tuple[str, Any]]:
    """(href, its multistatus result or None when the answer names it not) for each of ``hrefs``, asked
    ``MULTIGET`` at a time with the multiget ``report`` (see :func:`multiget_body`); each answer parsed by
    the caldav library as the protocol reads it (calendar data, or properties holding the vCard)."""
    for start in range(0, len(hrefs), MULTIGET):
        chunk = hrefs[start:start + MULTIGET]
        response = account.xml("REPORT", collection.url, multiget_body(*report, chunk), None,
                               what=f"reading {collection.name}")
        check_status(response, account.account, collection.url, f"reading {collection.name}")
        parse = response.parse_calendar_query if protocol == "CalDAV" else response.parse_propfind
        got = {href_path(account, r.href): r for r in parsed(parse, account, collection, protocol)}
        for href in chunk:
            yield href, got.get(href)


def multiget_body(report: str, data: str, hrefs: Sequence[str]) -> bytes:
    """A multiget REPORT asking for the ETag and the object data of each href: ``report`` and ``data`` are
    ``calendar-multiget`` / ``calendar-data`` (RFC 4791 §7.9) or ``addressbook-multiget`` / ``address-data``
    (RFC 6352 §8.7), in Clark notation."""
    root = ElementTree.Element(report)
    prop = ElementTree.SubElement(root, f"{DAV}prop")
    ElementTree.SubElement(prop, ETAG)
    ElementTree.SubElement(prop, data)
    for href in hrefs:
        ElementTree.SubElement(root, f"{DAV}href").text = quote(href)
    return xml_body(root)


@dataclasses.dataclass(frozen=True)
class Collection:
    """A calendar or an address book as its home listing described it."""

    url: str
    name: str
    sync_token: str | None  # the collection's DAV:sync-token now; None: the server offers no sync-collection


@dataclasses.dataclass
class Changes:
    changed: dict[str, str | None]  # href → etag
    removed: set[str]
    token: str | None
    whole: bool  # every object of the collection is in `changed`


def changes(
    account: DavAccount, collection: Collection, token: str | None, etags: Mapping[str, str | None] | None
) -> Changes:
    """What changed since the pull that left ``token`` and ``etags`` (href → etag); ``etags`` None: everything."""
    if collection.sync_token is not None:
        try:
            return _sync(account, collection, token if etags is not None else None)
        except SyncTokenExpired:
            return _sync(account, collection, None)
        except Refused:
            pass  # the REPORT is not offered after all: list ETags as without it
    listing = _etags(account, collection)
    if etags is None:
        return Changes(dict(listing), set(), None, whole=True)
    changed = {href: etag for href, etag in listing.items() if etags.get(href) != etag}
    return Changes(changed, set(etags) - set(listing), None, whole=False)


class Listed(Protocol):
    """A calendar or an address book of a home listing."""

    @property
    def name(self) -> str: ...

    @property
    def url(self) -> str: ...

    @property
    def path(self) -> str: ...


L = TypeVar("L", bound=Listed)


def choose(listed: Sequence[L], named: Sequence[str]) -> tuple[list[L], list[str]]:
    """The collections the configuration names (display names, paths or URLs), in its order, and the names
    that match none (renamed or deleted upstream: said, not guessed)."""
    chosen: list[L] = []
    missing = []
    for wanted in named:
        path = unquote(urlsplit(wanted).path).rstrip("/")
        found = next((c for c in listed if wanted in (c.name, c.url) or c.path.rstrip("/") == path), None)
        if found is None:
            missing.append(wanted)
        elif found not in chosen:
            chosen.append(found)
    return chosen, missing


def href_path(account: DavAccount, href: str) -> str:
    """An href as the path it names on the server (how objects are keyed in cursors)."""
    return unquote(urlsplit(account.absolute(href)).path)


def is_multistatus(response: Any) -> bool:
    """Whether a 200/207 answer is a WebDAV multistatus (RFC 4918 §13). The caldav library finds no objects, not
    an error, in any other page (a proxy's or a login portal's HTML): taken as is, that would read as "every
    object is gone" and turn into deletions, or dismissals of every follow-up."""
    tree = getattr(response, "tree", None)
    return tree is not None and (tree.tag == f"{DAV}multistatus" or tree.find(f".//{DAV}multistatus") is not None)


def parsed(parse: Any, account: DavAccount, collection: Collection, protocol: str = "CalDAV") -> Any:
    """A multistatus answer parsed by the caldav library, or one sentence when it is not one."""
    try:
        if not is_multistatus(getattr(parse, "__self__", None)):
            raise ValueError("no multistatus")
        return parse()
    except Exception:  # a 207 that is no multistatus, or one whose statuses make no sense
        raise ConnectorError(f"account '{account.account}': the server's answer about {collection.name} is not "
                             f"valid {protocol}; what was read so far is kept and the next pull tries again") from None


def _sync(account: DavAccount, collection: Collection, token: str | None) -> Changes:
    changed: dict[str, str | None] = {}
    removed: set[str] = set()
    current = token
    for _ in range(1000):
        response = account.xml("REPORT", collection.url, _sync_body(current), None, what=f"syncing {collection.name}")
        if response.status in (403, 409, 412) and current:
            raise SyncTokenExpired("token")
        check_status(response, account.account, collection.url, f"syncing {collection.name}")
        result = parsed(response.parse_sync_collection, account, collection)
        for entry in result.changed:
            href = href_path(account, entry.href)
            changed[href] = entry.etag
            removed.discard(href)
        for href in (href_path(account, h) for h in result.deleted):
            removed.add(href)
            changed.pop(href, None)
        if not result.truncated or not result.sync_token or result.sync_token == current:
            return Changes(changed, removed, result.sync_token, whole=token is None)
        current = result.sync_token
    return Changes(changed, removed, current, whole=token is None)


def _etags(account: DavAccount, collection: Collection) -> dict[str, str | None]:
    response = account.xml("PROPFIND", collection.url, propfind_body([ETAG, f"{DAV}resourcetype"]), 1,
                           what=f"listing {collection.name}")
    check_status(response, account.account, collection.url, f"listing {collection.name}")
    own = urlsplit(collection.url).path.rstrip("/")
    found = {}
    for result in parsed(response.parse_propfind, account, collection):
        href = href_path(account, result.href)
        if href.rstrip("/") != own and "collection" not in str(result.properties.get(f"{DAV}resourcetype")):
            found[href] = result.properties.get(ETAG)
    return found


def _sync_body(token: str | None) -> bytes:
    root = ElementTree.Element(f"{DAV}sync-collection")
    ElementTree.SubElement(root, f"{DAV}sync-token").text = token or ""
    ElementTree.SubElement(root, f"{DAV}sync-level").text = "1"
    prop = ElementTree.SubElement(root, f"{DAV}prop")
    ElementTree.SubElement(prop, ETAG)
    return xml_body(root)
