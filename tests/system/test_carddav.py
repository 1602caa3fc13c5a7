"""The CardDAV address book on real servers (Radicale and Xandikos, on loopback), with cards another client writes:
discovery, a first pull, an idle pull of one request, changes and deletions by sync-collection, a group renamed,
a forgotten sync token, an address book chosen by name or missing, and a wrong password."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from connectors.base import AuthRequired, CardBatch, SourceUnavailable
from connectors.carddav.book import BookState, CardDavBook
from connectors.throttle import RetryPolicy, Throttle
from syncd.store import Store
from tests.fakes.known import pull_cards_into
from tests.fakes.slot import MemorySlot
from tests.servers import dav, shared
from tests.servers.cards import CardClient, card, group
from tests.servers.faults import HttpProxy, Rule

pytestmark = pytest.mark.slow


class World:
    """A CardDAV account with one address book of its own (written by another client), syncd's book, a store."""

    def __init__(self, account: dav.DavAccount, home: str, name: str = "Contacts") -> None:
        self.account = account
        self.name = name
        self.client = CardClient.make_book(account, home, name)
        self.store = Store(":memory:")
        self.store.accounts.ensure("acct", "carddav")

    def book(self, **extra: Any) -> CardDavBook:
        settings = self.account.settings(**{"address_books": (self.name,), **extra})
        return CardDavBook("acct", settings, self.account.slot,
                           throttle=Throttle(None, RetryPolicy(attempts=2, base=0.0, cap=0.0, jitter=0.0)))

    def pull(self, book: CardDavBook | None = None) -> list[CardBatch]:
        return pull_cards_into(self.store, book or self.book())

    def people(self) -> dict[str, tuple[str | None, tuple[str, ...]]]:
        facts = self.store.cards.facts(self.store.select(None))
        return {address: (f.name, f.groups) for address, f in facts}


@pytest.fixture(params=["radicale", "xandikos"])
def world(request: pytest.FixtureRequest) -> Iterator[World]:
    if request.param == "radicale":
        server = shared.radicale()
        account = dav.radicale_account(server)
        yield World(account, f"{server.url}{account.username}/")
        return
    with shared.fresh_xandikos() as xandikos:
        yield World(dav.xandikos_account(xandikos), f"{xandikos.url}user/contacts/")


def test_a_first_pull_reads_every_card_and_group_card(world: World) -> None:
    world.client.put("anna", card("anna", "Anna Berg", "anna@work.example", "anna@home.example",
                                  categories="Family", extra="BDAY:1970-04-12\nORG:Berg GmbH"))
    world.client.put("bob", card("bob", "Bob Stone", "bob@example.org"))
    world.client.put("phone", card("phone", "Phone Only", extra="TEL:+49 30 1234"))
    world.client.put("suppliers", group("suppliers", "Suppliers", "bob"))
    [batch] = world.pull()
    assert batch.full and batch.complete
    assert sorted(c.name for c in batch.cards) == ["Anna Berg", "Bob Stone"]
    assert [g.name for g in batch.groups] == ["Suppliers"]
    assert [s.why.split(":")[0] for s in batch.skipped] == ["no email address"]
    assert all(c.provider_id.endswith(".vcf") for c in batch.cards)  # the href names the card
    assert world.people() == {
        "anna@work.example": ("Anna Berg", ("Family",)), "anna@home.example": ("Anna Berg", ("Family",)),
        "bob@example.org": ("Bob Stone", ("Suppliers",)),
    }
    facts = dict(world.store.cards.facts(world.store.select(None)))
    assert (facts["anna@work.example"].birthday, facts["anna@work.example"].organisation) == ("1970-04-12", "Berg GmbH")


def test_an_idle_pull_is_one_request_and_changes_come_by_sync_collection(world: World) -> None:
    world.client.put("anna", card("anna", "Anna Berg", "anna@example.org"))
    world.client.put("bob", card("bob", "Bob Stone", "bob@example.org"))
    world.pull()
    book = world.book()
    assert world.pull(book) == []
    assert book.account.requests == 1  # the home's listing: the sync-token did not move
    world.client.put("anna", card("anna", "Anna Berg-Lind", "anna@example.org"))
    world.client.delete("bob")
    world.client.put("carl", card("carl", "Carl", "carl@example.net"))
    [batch] = world.pull()
    assert not batch.full
    assert sorted(c.name for c in batch.cards) == ["Anna Berg-Lind", "Carl"] and len(batch.deleted) == 1
    assert world.people() == {"anna@example.org": ("Anna Berg-Lind", ()), "carl@example.net": ("Carl", ())}
    assert BookState.load(batch.cursor) is not None and BookState.load(batch.cursor).etags is None  # type: ignore[union-attr]


def test_a_group_card_renamed_upstream_renames_the_group_of_its_members(world: World) -> None:
    world.client.put("mum", card("mum", "Mum", "mum@example.net"))
    world.client.put("family", group("family", "Family", "mum"))
    world.pull()
    world.client.put("family", group("family", "Relatives", "mum"))
    [batch] = world.pull()
    assert [c.name for c in batch.cards] == [] and [g.name for g in batch.groups] == ["Relatives"]
    assert world.people() == {"mum@example.net": ("Mum", ("Relatives",))}
    world.client.delete("family")
    world.pull()
    assert world.people() == {"mum@example.net": ("Mum", ())}


def test_a_forgotten_sync_token_reads_the_address_book_whole(world: World) -> None:
    world.client.put("anna", card("anna", "Anna", "anna@example.org"))
    [first] = world.pull()
    state = BookState.load(first.cursor)
    assert state is not None
    cursors = world.store.synced.cursors("acct")
    [resource] = cursors
    world.store.db.execute("UPDATE cursors SET cursor = ? WHERE resource = ?",
                           (json.dumps({**json.loads(cursors[resource]), "token": "http://example/sync/0"}), resource))
    world.client.put("bob", card("bob", "Bob", "bob@example.org"))
    [batch] = world.pull()
    assert batch.full and batch.complete and sorted(world.people()) == ["anna@example.org", "bob@example.org"]


def test_an_address_book_that_is_not_there_is_named(world: World) -> None:
    [batch] = pull_cards_into(world.store, world.book(address_books=("Nowhere",)))
    assert batch.skipped[0].why.startswith("address book missing")


def test_a_wrong_password_needs_login(world: World) -> None:
    if world.account.password == "anything":
        pytest.skip("Xandikos has no users: any password is taken")
    settings = world.account.settings(address_books=(world.name,))
    book = CardDavBook("acct", settings, MemorySlot(json.dumps({"password": "wrong"})))
    with pytest.raises(AuthRequired, match="refused the password"):
        pull_cards_into(world.store, book)


def _asking(where: str, asked: bytes) -> Callable[[str, str, bytes], bool]:
    return lambda method, path, body: path == where and asked in body


def test_a_principal_without_an_address_book_home_and_a_home_that_cannot_be_listed_are_one_sentence() -> None:
    server = shared.radicale()
    account = dav.radicale_account(server)
    world = World(account, f"{server.url}{account.username}/")
    world.client.put("anna", card("anna", "Anna Berg", "anna@example.org"))
    user = account.username
    failures = {
        b"addressbook-home-set": "the server names no address-book home for this user",
        b"getctag": "the address-book home {proxy}{user}/ cannot be listed",
    }
    for asked, said in failures.items():
        # Radicale's principal is its home: only the request that asks for ``asked`` there fails.
        proxy = HttpProxy(int(account.url.rsplit(":", 1)[1].strip("/")))
        proxy.add(Rule(_asking(f"/{user}/", asked), status=404, times=None))
        try:
            with pytest.raises(SourceUnavailable) as failed:
                world.pull(world.book(url=proxy.url))
        finally:
            proxy.stop()
        assert str(failed.value) == f"account 'acct': {said.format(proxy=proxy.url, user=user)}"
    assert world.people() == {}


def test_cursors_that_do_not_read_mean_reading_the_address_book_whole() -> None:
    for unreadable in (None, "", "{not json", "[1, 2]", '"text"', '{"partial": true}'):
        assert BookState.load(unreadable) is None, unreadable
    assert BookState.load('{"token": "t1", "from an older version": 1}') == BookState(token="t1")


def test_an_address_book_deleted_upstream_takes_its_cards_with_it() -> None:
    server = shared.radicale()
    account = dav.radicale_account(server)
    world = World(account, f"{server.url}{account.username}/")
    world.client.put("anna", card("anna", "Anna Berg", "anna@example.org"))
    world.pull(world.book(address_books=()))  # every address book of the account
    assert sorted(world.people()) == ["anna@example.org"]
    assert CardClient._session(account).delete(world.client.book_url).status_code in (200, 204)
    world.pull(world.book(address_books=()))
    assert world.people() == {}


def test_a_card_deleted_between_the_listing_and_the_multiget_is_gone_without_a_word() -> None:
    server = shared.radicale()
    account = dav.radicale_account(server)
    world = World(account, f"{server.url}{account.username}/")
    world.client.put("anna", card("anna", "Anna Berg", "anna@example.org"))
    world.client.put("bob", card("bob", "Bob Stone", "bob@example.org"))
    world.pull()
    world.client.put("anna", card("anna", "Anna Berg-Lind", "anna@example.org"))  # changed: read again next
    deleted: list[str] = []

    def delete_first(method: str, path: str, body: bytes) -> bool:
        if b"addressbook-multiget" in body and not deleted:  # another client deletes it just now
            world.client.delete("anna")
            deleted.append("anna")
        return False  # the server answers, as it is now

    proxy = HttpProxy(int(account.url.rsplit(":", 1)[1].strip("/")))
    proxy.add(Rule(delete_first, times=None))
    try:
        batches = world.pull(world.book(url=proxy.url))
    finally:
        proxy.stop()
    assert deleted == ["anna"] and sorted(world.people()) == ["bob@example.org"]
    assert not [s for b in batches for s in b.skipped]
