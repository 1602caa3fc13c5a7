"""Finding a CalDAV account's calendars from the URL it was given (docs/caldav.md#discovery: RFC 4791 §6.2,
RFC 5397, RFC 6764 §5).

From a server's base URL (``https://caldav.fastmail.com/``, ``https://cloud.example.org/``): the
current-user-principal is asked of that URL, and of ``/.well-known/caldav`` when the URL names no principal
(Nextcloud and others answer only there); the principal names its calendar-home-set, whose members are the
calendars. A calendar's own URL may be given instead: the account is then that one calendar.

One PROPFIND of the home (depth 1) brings every calendar with its DAV:sync-token (RFC 6578) and CTag
(calendarserver.org's getctag), so a pull with nothing new is that single request once the home is known.
"""

from __future__ import annotations

import dataclasses
from typing import Any
from urllib.parse import unquote, urlsplit
from xml.etree import ElementTree

from connectors.base import SourceUnavailable
from connectors.caldav.account import DavAccount

DAV, CALDAV, CS = "{DAV:}", "{urn:ietf:params:xml:ns:caldav}", "{http://calendarserver.org/ns/}"
PRINCIPAL = f"{DAV}current-user-principal"
HOME = f"{CALDAV}calendar-home-set"
ADDRESSES = f"{CALDAV}calendar-user-address-set"
CALENDAR_PROPS = [f"{DAV}resourcetype", f"{DAV}displayname", f"{DAV}sync-token", f"{CS}getctag",
                  f"{CALDAV}supported-calendar-component-set", f"{DAV}current-user-privilege-set"]
# Where syncd makes its own follow-ups calendar in the home: a fixed name, so it is found again whatever
# the user renames it to (the display name is only a label).
FOLLOWUPS = "syncd-followups"
WRITE = {f"{DAV}write", f"{DAV}write-content", f"{DAV}all", f"{DAV}bind"}


@dataclasses.dataclass(frozen=True)
class Calendar:
    url: str
    path: str  # the resource name in syncd's store
    name: str
    sync_token: str | None
    ctag: str | None
    events: bool  # holds VEVENTs (or does not say)
    writable: bool | None  # None: the server does not say

    @property
    def followups(self) -> bool:
        return self.path.rstrip("/").rsplit("/", 1)[-1] == FOLLOWUPS


@dataclasses.dataclass(frozen=True)
class Home:
    url: str | None  # the calendar home (None: the account is one calendar given by URL)
    calendars: list[Calendar]
    addresses: list[str]  # the owner's addresses the server reports (mailto: dropped)


def xml_body(root: ElementTree.Element) -> bytes:
    """A request body: ``root`` as UTF-8 XML with its declaration."""
    body = ElementTree.tostring(root, encoding="utf-8", xml_declaration=True)
    assert isinstance(body, bytes)  # any encoding but "unicode" gives bytes; the stubs say Any
    return body


def propfind_body(props: list[str]) -> bytes:
    """<propfind><prop>...</prop></propfind> for properties named in Clark notation ({namespace}name)."""
    root = ElementTree.Element(f"{DAV}propfind")
    prop = ElementTree.SubElement(root, f"{DAV}prop")
    for name in props:
        ElementTree.SubElement(prop, name)
    return xml_body(root)


def propfind(account: DavAccount, url: str, props: list[str], depth: int, what: str) -> list[Any]:
    body = propfind_body(props)
    response = account.xml("PROPFIND", url, body, depth, what=what)
    if response.status not in (200, 207):
        return []
    try:
        return list(response.parse_propfind())
    except Exception:  # a 200 page that is not a multistatus: no CalDAV here
        return []


def _calendar(account: DavAccount, result: Any) -> Calendar | None:
    props = result.properties
    kinds = props.get(f"{DAV}resourcetype") or []
    if f"{CALDAV}calendar" not in kinds:
        return None
    components = props.get(f"{CALDAV}supported-calendar-component-set")
    privileges = props.get(f"{DAV}current-user-privilege-set")
    url = account.absolute(result.href)
    path = unquote(urlsplit(url).path)
    return Calendar(
        url=url, path=path, name=str(props.get(f"{DAV}displayname") or path.rstrip("/").rsplit("/", 1)[-1]),
        sync_token=props.get(f"{DAV}sync-token"), ctag=props.get(f"{CS}getctag"),
        events=not components or "VEVENT" in components,
        writable=bool(WRITE & set(privileges)) if isinstance(privileges, list) and privileges else None,
    )


def find_principal(account: DavAccount, first: list[Any], well_known: str, what: str) -> str:
    """The principal's URL: named by the account's URL (``first``: its PROPFIND), else by the well-known URI
    (RFC 6764 §5) that servers such as Nextcloud answer only at."""
    principal = first[0].properties.get(PRINCIPAL) if first else None
    if not principal:
        found = propfind(account, account.absolute(well_known), [PRINCIPAL], 0, what)
        principal = found[0].properties.get(PRINCIPAL) if found else None
    if not principal:
        name = account.protocol
        raise SourceUnavailable(f"account '{account.account}': {account.url} is not a {name} server (it names no "
                                f"principal); set accounts.{account.account}.url to your provider's {name} address")
    return account.absolute(str(principal))


def list_home(account: DavAccount, home: str) -> list[Calendar] | None:
    """The calendars in ``home``; None when it is not (or no longer) a collection this user can list."""
    results = propfind(account, home, CALENDAR_PROPS, 1, "listing calendars")
    if not results:
        return None
    own = urlsplit(home).path.rstrip("/")
    return [c for r in results if (c := _calendar(account, r)) is not None and c.path.rstrip("/") != own]


def discover(account: DavAccount, known_home: str | None = None) -> Home:
    """The account's calendars: from ``known_home`` (one request) when it still answers, else found anew."""
    if known_home:
        calendars = list_home(account, known_home)
        if calendars is not None:
            return Home(known_home, calendars, [])
    first = propfind(account, account.url, [PRINCIPAL, *CALENDAR_PROPS], 0, "looking for the calendars")
    given = _calendar(account, first[0]) if first else None
    if given is not None:  # the URL is a calendar
        return Home(None, [given], [])
    principal = find_principal(account, first, "/.well-known/caldav", "looking for the calendars")
    about = propfind(account, principal, [HOME, ADDRESSES], 0, "reading the principal")
    props = about[0].properties if about else {}
    home = props.get(HOME)
    if isinstance(home, list):
        home = home[0] if home else None
    if not home:
        raise SourceUnavailable(f"account '{account.account}': the server names no calendar home for this user")
    home_url = account.absolute(str(home))
    calendars = list_home(account, home_url)
    if calendars is None:
        raise SourceUnavailable(f"account '{account.account}': the calendar home {home_url} cannot be listed")
    raw = props.get(ADDRESSES) or []
    addresses = [a[7:] for a in (raw if isinstance(raw, list) else [raw])
                 if isinstance(a, str) and a.lower().startswith("mailto:")]
    return Home(home_url, calendars, addresses)
