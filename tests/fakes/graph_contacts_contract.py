"""Outlook contacts for the address-book contract (tests/connectors/test_address_book_contract.py), and the rig
the Outlook contacts tests share: the Graph fakes on one loopback server (the mail fake's guard gives the
mailbox its budget and the bearer check), logged in through the fake Entra."""

from __future__ import annotations

import contextlib
import dataclasses
from collections.abc import Iterator
from datetime import date
from pathlib import Path
from typing import Any

from connectors.base import AddressBook
from connectors.microsoft.auth import login
from connectors.microsoft.contacts import OutlookContacts
from tests.fakes.entra import FakeEntra
from tests.fakes.graph_contacts import GraphContactsFake
from tests.fakes.graph_mail import GraphMailFake
from tests.fakes.graph_mail_contract import OWNER, settings
from tests.fakes.server import FakeServer
from tests.fakes.slot import MemorySlot


@dataclasses.dataclass
class Rig:
    server: FakeServer
    entra: FakeEntra
    contacts: GraphContactsFake
    slot: MemorySlot

    def settings(self, **extra: Any) -> dict[str, Any]:
        return settings(self.server, self.entra, **{"mail": False, "calendar": False, "contacts": True, **extra})

    def book(self, **extra: Any) -> OutlookContacts:
        return OutlookContacts("acct", self.settings(**extra), self.slot)


@contextlib.contextmanager
def contacts_rig(*, logged_in_with_contacts: bool = True, replay_every: int = 0) -> Iterator[Rig]:
    entra = FakeEntra(OWNER, enforce_consent=True)
    with FakeServer(max_concurrent=4) as server:
        GraphMailFake(server, owner=OWNER, auth=entra.guard)
        contacts = GraphContactsFake(server, replay_every=replay_every)
        slot = MemorySlot()
        rig = Rig(server, entra, contacts, slot)
        login("acct", rig.settings(contacts=logged_in_with_contacts), slot, echo=lambda _: None, http_client=entra)
        yield rig


@contextlib.contextmanager
def contract_book(tmp_path: Path) -> Iterator[AddressBook]:
    """Outlook holding the contract's address book (see the contract for who is in it)."""
    del tmp_path
    with contacts_rig() as rig:
        family = rig.contacts.add_folder("Family")
        rig.contacts.add("Anna Berg", "anna@work.example", "anna@home.example", folder=family,
                         birthday=date(1970, 4, 12))
        rig.contacts.add("Bob Stone", "bob@example.org", company="Stone Ltd")
        rig.contacts.add("Phone Only")
        yield rig.book()
