"""Google Contacts for the address-book contract (tests/connectors/test_address_book_contract.py), and the rig
the Google Contacts tests share: one loopback server with Google's token endpoint and the People API fake, the
account logged in (an authorized-user JSON in a :class:`MemorySlot`), connector settings pointing at them.
Backoff never really sleeps: throttles get a fake sleep that only records the waits."""

from __future__ import annotations

import contextlib
import dataclasses
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from connectors.base import AddressBook
from connectors.google.auth import CONTACTS_READ, GMAIL_METADATA
from connectors.google.contacts import GoogleContacts
from connectors.throttle import RateBudget, RetryPolicy, Throttle
from tests.fakes.google_oauth import GoogleOAuthFake
from tests.fakes.people import PeopleFake
from tests.fakes.server import FakeServer, loopback_only
from tests.fakes.slot import MemorySlot


@dataclasses.dataclass
class Rig:
    server: FakeServer
    oauth: GoogleOAuthFake
    people: PeopleFake
    slot: MemorySlot
    sleeps: list[float] = dataclasses.field(default_factory=list)

    def settings(self, **extra: Any) -> dict[str, Any]:
        return {"people_endpoint": self.people.endpoint, "token_uri": self.oauth.token_uri, "contacts": True,
                "gmail": False, "calendars": (), "me": (), **extra}

    def throttle(self) -> Throttle:
        return Throttle(RateBudget(90, 60, sleep=self.sleeps.append),
                        RetryPolicy(attempts=4, base=0.01, cap=0.05, jitter=0.0), sleep=self.sleeps.append)

    def book(self, **extra: Any) -> GoogleContacts:
        return GoogleContacts("acct", self.settings(**extra), self.slot, throttle=self.throttle())


@contextlib.contextmanager
def people_rig(scopes: list[str] | None = None) -> Iterator[Rig]:
    with loopback_only():
        server = FakeServer()
        oauth = GoogleOAuthFake(server)
        people = PeopleFake(server, oauth)
        server.start()
        try:
            oauth.add_refresh_token("rt-1", list([GMAIL_METADATA, CONTACTS_READ] if scopes is None else scopes))
            yield Rig(server, oauth, people, MemorySlot(oauth.authorized_user_json("rt-1")))
        finally:
            server.stop()


@contextlib.contextmanager
def contract_book(tmp_path: Path) -> Iterator[AddressBook]:
    """Google Contacts holding the contract's address book (see the contract for who is in it)."""
    del tmp_path  # the fake keeps its state in memory
    with people_rig() as rig:
        family = rig.people.add_group("Family")
        rig.people.add_person("Anna Berg", "anna@work.example", "anna@home.example", groups=[family],
                              birthday=(1970, 4, 12))
        rig.people.add_person("Bob Stone", "bob@example.org", organisation="Stone Ltd")
        rig.people.add_person("Phone Only", phone="+49 30 1234")
        yield rig.book()
