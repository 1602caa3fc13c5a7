"""The address-book contract, run against every registered address book.

Each holds the same small book — Anna Berg (two addresses, in a "Family" group, born 1970-04-12), Bob Stone
(of Stone Ltd), and a card with a phone number only — and must yield well-formed card batches, put every
address of a card on it, name what it skips, and resume from its own cursors without changing anything.
``BOOKS`` names, per provider, context managers (``module:function``) taking ``tmp_path`` and yielding the
address book; a provider with several servers (CardDAV: Radicale and Xandikos) meets the contract on each.
"""

from __future__ import annotations

import contextlib
import importlib
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

import connectors
from connectors.base import AddressBook, Card, CardBatch
from syncd.store import Store
from tests.fakes.known import StoreKnown, pull_cards_into

VCARD = """BEGIN:VCARD\r
VERSION:4.0\r
UID:anna\r
FN:Anna Berg\r
EMAIL;PREF=1:anna@work.example\r
EMAIL:anna@home.example\r
CATEGORIES:Family\r
BDAY:19700412\r
END:VCARD\r
BEGIN:VCARD\r
VERSION:3.0\r
UID:bob\r
FN:Bob Stone\r
ORG:Stone Ltd\r
EMAIL;TYPE=INTERNET:bob@example.org\r
END:VCARD\r
BEGIN:VCARD\r
VERSION:2.1\r
FN:Phone Only\r
TEL;CELL:+49 30 1234\r
END:VCARD\r
"""


@contextlib.contextmanager
def vcard_book(tmp_path: Path) -> Iterator[AddressBook]:
    path = tmp_path / "contacts.vcf"
    path.write_text(VCARD)
    yield connectors.open_address_book(connectors.PROVIDERS["vcard"], "acct", {"path": path}, None)


BOOKS: dict[str, list[str]] = {
    "vcard": ["tests.connectors.test_address_book_contract:vcard_book"],
    "google": ["tests.fakes.people_contract:contract_book"],
    "microsoft": ["tests.fakes.graph_contacts_contract:contract_book"],
    "carddav": ["tests.servers.contract:radicale_book", "tests.servers.contract:xandikos_book"],
}


def _params() -> list[Any]:
    out = []
    for provider, specs in sorted(BOOKS.items()):
        for spec in specs:
            server = spec.partition(":")[2].split("_")[0]
            out.append(pytest.param(spec, id=f"{provider}-{server}" if len(specs) > 1 else provider))
    return out


def test_every_registered_address_book_meets_the_contract() -> None:
    assert set(BOOKS) == {name for name, provider in connectors.PROVIDERS.items() if provider.address_book}


@pytest.fixture(params=_params())
def book(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[AddressBook]:
    module, _, function = str(request.param).partition(":")
    opener: Callable[[Path], Any] = getattr(importlib.import_module(module), function)
    with opener(tmp_path) as opened:
        yield opened


def _store(book: AddressBook) -> Store:
    store = Store(":memory:")
    store.accounts.ensure("acct", book.provider)
    return store


def test_address_book_yields_well_formed_batches(book: AddressBook) -> None:
    store = _store(book)
    batches = pull_cards_into(store, book)
    assert all(isinstance(batch, CardBatch) and batch.resource for batch in batches)
    cards = {card.name: card for batch in batches for card in batch.cards}
    assert set(cards) == {"Anna Berg", "Bob Stone"}
    assert all(isinstance(card, Card) and card.provider_id for card in cards.values())
    assert sorted(cards["Anna Berg"].emails) == ["anna@home.example", "anna@work.example"]
    assert cards["Bob Stone"].organisation == "Stone Ltd"
    skipped = [skip for batch in batches for skip in batch.skipped]
    assert [skip.why.split(":")[0] for skip in skipped] == ["no email address"]
    facts = dict(store.cards.facts(store.select(None)))
    anna = facts["anna@home.example"]
    assert (anna.name, anna.groups, anna.birthday) == ("Anna Berg", ("Family",), "1970-04-12")


def test_address_book_resumes_from_its_cursors_without_changes(book: AddressBook) -> None:
    store = _store(book)
    pull_cards_into(store, book)
    what = "SELECT account, provider_id, resource, kind, uid, name, organisation, birthday, first_seen, digest FROM cards"
    rows = store.db.execute(f"{what} ORDER BY provider_id").fetchall()
    again = list(book.pull(store.synced.cursors("acct"), StoreKnown(store, cards=True)))
    assert sum(store.cards.apply_batch("acct", batch) for batch in again) == 0  # nothing new, changed or gone
    assert store.db.execute(f"{what} ORDER BY provider_id").fetchall() == rows
