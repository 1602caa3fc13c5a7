"""Another client's hands on a CardDAV address book: plain HTTP requests (the caldav package has no address-book
objects, docs/carddav.md#python-clients) making an address book, and putting, changing or deleting cards the way
a phone or desktop app would."""

from __future__ import annotations

import dataclasses
import uuid

import requests

from tests.servers.dav import DavAccount

MKCOL = """<?xml version="1.0" encoding="utf-8"?>
<D:mkcol xmlns:D="DAV:" xmlns:C="urn:ietf:params:xml:ns:carddav"><D:set><D:prop>
<D:resourcetype><D:collection/><C:addressbook/></D:resourcetype><D:displayname>{name}</D:displayname>
</D:prop></D:set></D:mkcol>"""


def card(uid: str, name: str, *emails: str, categories: str = "", extra: str = "") -> str:
    lines = ["BEGIN:VCARD", "VERSION:3.0", f"UID:{uid}", f"FN:{name}", f"N:{name};;;;"]
    lines += [f"EMAIL;TYPE=INTERNET:{email}" for email in emails]
    lines += [f"CATEGORIES:{categories}"] if categories else []
    lines += [line for line in extra.split("\n") if line]
    return "\r\n".join([*lines, "END:VCARD"]) + "\r\n"


def group(uid: str, name: str, *members: str) -> str:
    """Apple's form of a group card (docs/vcard.md#groups), which every server stores as it is."""
    lines = ["BEGIN:VCARD", "VERSION:3.0", f"UID:{uid}", f"FN:{name}", f"N:{name};;;;",
             "X-ADDRESSBOOKSERVER-KIND:group", *(f"X-ADDRESSBOOKSERVER-MEMBER:urn:uuid:{m}" for m in members)]
    return "\r\n".join([*lines, "END:VCARD"]) + "\r\n"


@dataclasses.dataclass
class CardClient:
    account: DavAccount
    book_url: str

    @classmethod
    def make_book(cls, account: DavAccount, home: str, name: str) -> CardClient:
        """A new address book in ``home`` (RFC 5689 extended MKCOL, as Radicale and Xandikos take it)."""
        url = f"{home.rstrip('/')}/{uuid.uuid4().hex[:12]}/"
        session = cls._session(account)
        session.request("PROPFIND", account.url, headers={"Depth": "0"})  # Radicale makes the user's tree on first use
        answer = session.request("MKCOL", url, data=MKCOL.format(name=name).encode(),
                                               headers={"Content-Type": "application/xml"})
        assert answer.status_code in (201, 200), (answer.status_code, answer.text[:200])
        return cls(account, url)

    @staticmethod
    def _session(account: DavAccount) -> requests.Session:
        session = requests.Session()
        session.auth = (account.username, account.password)
        session.verify = account.ca_file or True
        return session

    def put(self, uid: str, text: str) -> None:
        answer = self._session(self.account).put(f"{self.book_url}{uid}.vcf", data=text.encode(),
                                                 headers={"Content-Type": "text/vcard; charset=utf-8"})
        assert answer.status_code in (201, 204), (answer.status_code, answer.text[:200])

    def delete(self, uid: str) -> None:
        answer = self._session(self.account).delete(f"{self.book_url}{uid}.vcf")
        assert answer.status_code in (200, 204), answer.status_code
