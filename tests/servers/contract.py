"""The connector contract (tests/connectors/test_contract.py) for the open-standard providers, on real servers: an IMAP
source on Dovecot holding the bundled sample mailbox, CalDAV sources holding the sample calendar and CalDAV
targets, on Radicale and on Xandikos; and the address-book contract (tests/connectors/test_address_book_contract.py)
for CardDAV address books on both."""

from __future__ import annotations

import contextlib
import json
import shutil
from collections.abc import Callable, Iterator
from datetime import UTC, date, datetime
from pathlib import Path

from connectors.base import AddressBook, CalendarTarget, Source
from connectors.caldav.source import CalDavSource
from connectors.caldav.target import CalDavTarget
from connectors.carddav.book import CardDavBook
from connectors.imap.source import ImapSource
from syncd.sample import OWNER, write_sample
from tests.fakes.slot import MemorySlot
from tests.servers import dav, shared
from tests.servers.cards import CardClient
from tests.servers.dovecot import PASSWORD

ANCHOR = date(2026, 3, 2)


def _sample(tmp_path: Path) -> Path:
    write_sample(tmp_path / "sample", anchor=ANCHOR)
    return tmp_path / "sample"


@contextlib.contextmanager
def imap_source(tmp_path: Path) -> Iterator[Source]:
    server = shared.dovecot()
    user = server.new_user("contract")
    shutil.copytree(_sample(tmp_path) / "mail", server.maildir(user))
    server.hand_over(user)
    yield ImapSource("acct", server.settings(user, me=(OWNER,)), MemorySlot(json.dumps({"password": PASSWORD})))


def _calendar_settings(tmp_path: Path) -> dict[str, object]:
    return {"me": (OWNER,), "now": datetime(ANCHOR.year, ANCHOR.month, ANCHOR.day, 12, tzinfo=UTC)}


@contextlib.contextmanager
def radicale_source(tmp_path: Path) -> Iterator[Source]:
    account = dav.radicale_account(shared.radicale())
    dav.load(account.calendar("Work"), (_sample(tmp_path) / "calendar.ics").read_bytes())
    yield CalDavSource("acct", account.settings(**_calendar_settings(tmp_path)), account.slot)


@contextlib.contextmanager
def xandikos_source(tmp_path: Path) -> Iterator[Source]:
    with shared.fresh_xandikos() as server:
        account = dav.xandikos_account(server)
        dav.load(account.calendar("Work"), (_sample(tmp_path) / "calendar.ics").read_bytes())
        yield CalDavSource("acct", account.settings(**_calendar_settings(tmp_path)), account.slot)


@contextlib.contextmanager
def radicale_target(tmp_path: Path) -> Iterator[Callable[[], CalendarTarget]]:
    del tmp_path
    account = dav.radicale_account(shared.radicale())
    yield lambda: CalDavTarget("acct", account.settings(calendar_name="Follow-ups"), account.slot)


@contextlib.contextmanager
def xandikos_target(tmp_path: Path) -> Iterator[Callable[[], CalendarTarget]]:
    del tmp_path
    with shared.fresh_xandikos() as server:
        account = dav.xandikos_account(server)
        yield lambda: CalDavTarget("acct", account.settings(calendar_name="Follow-ups"), account.slot)


def _fill(client: CardClient) -> None:
    from tests.connectors.test_address_book_contract import VCARD

    for n, text in enumerate(part for part in VCARD.split("END:VCARD\r\n") if part.strip()):
        if "\nUID:" not in text:  # a CardDAV server wants one in every card (RFC 6352 §5.1)
            text = text.replace("\nFN:", f"\nUID:card{n}\r\nFN:", 1)
        client.put(f"card{n}", text + "END:VCARD\r\n")


@contextlib.contextmanager
def radicale_book(tmp_path: Path) -> Iterator[AddressBook]:
    del tmp_path
    server = shared.radicale()
    account = dav.radicale_account(server)
    client = CardClient.make_book(account, f"{server.url}{account.username}/", "Contacts")
    _fill(client)
    yield CardDavBook("acct", account.settings(), account.slot)


@contextlib.contextmanager
def xandikos_book(tmp_path: Path) -> Iterator[AddressBook]:
    del tmp_path
    with shared.fresh_xandikos() as server:
        account = dav.xandikos_account(server)
        client = CardClient.make_book(account, f"{server.url}user/contacts/", "Contacts")
        _fill(client)
        yield CardDavBook("acct", account.settings(address_books=("Contacts",)), account.slot)
