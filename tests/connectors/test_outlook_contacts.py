"""Outlook contacts (connectors.microsoft.contacts) over real HTTP against the Graph fakes: folders and categories
as groups, per-folder delta with moves, replays and expiry, and a login lacking Contacts.Read."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import date

import pytest

from connectors.base import AuthRequired, Birthday, CardGroup, ConnectorError, CursorExpired
from connectors.microsoft.contacts import folder_group
from syncd.store import Store
from tests.fakes.graph_contacts_contract import Rig, contacts_rig
from tests.fakes.known import pull_cards_into
from tests.fakes.server import Request, Response


@pytest.fixture
def rig() -> Iterator[Rig]:
    with contacts_rig() as started:
        yield started


def groups_of(store: Store) -> dict[str, tuple[str | None, tuple[str, ...]]]:
    return {address: (facts.name, facts.groups) for address, facts in store.cards.facts(store.select(None))}


def test_a_first_pull_reads_folders_categories_and_the_fields_syncd_needs(rig: Rig, store: Store) -> None:
    suppliers = rig.contacts.add_folder("Suppliers")
    local = rig.contacts.add_folder("Local", parent=suppliers)
    rig.contacts.add("Anna Berg", "anna@work.example", "anna@home.example", categories=["Family"],
                     company="Berg GmbH", birthday=date(1970, 4, 12))
    rig.contacts.add("", "print@shop.example", folder=suppliers, given="Print", surname="Shop")
    rig.contacts.add("Plumber", "plumber@example.com", folder=local)
    rig.contacts.add("Phone Only")
    folders, default, in_suppliers, _in_local = pull_cards_into(store, rig.book())
    assert folders.groups == [CardGroup(folder_group(suppliers), "Suppliers"), CardGroup(folder_group(local), "Local")]
    [anna] = default.cards
    assert (anna.name, anna.emails, anna.organisation, anna.groups, anna.birthday, anna.memberships) == (
        "Anna Berg", ["anna@work.example", "anna@home.example"], "Berg GmbH", ["Family"], Birthday(4, 12, 1970), [])
    assert [s.why.split(":")[0] for s in default.skipped] == ["no email address"]
    assert [c.name for c in in_suppliers.cards] == ["Print Shop"]  # no display name: given name and surname
    assert groups_of(store)["print@shop.example"] == ("Print Shop", ("Suppliers",))
    assert groups_of(store)["plumber@example.com"] == ("Plumber", ("Local",))
    first = rig.contacts.delta_requests()[0]
    assert first.arg("$select") == ("displayName,givenName,surname,emailAddresses,companyName,birthday,categories,"
                                    "parentFolderId")
    assert 'idtype="immutableid"' in first.headers["prefer"].lower()


def test_changes_deletions_and_moves_between_folders_in_either_order(rig: Rig, store: Store) -> None:
    family = rig.contacts.add_folder("Family")
    anna = rig.contacts.add("Anna", "anna@example.org")
    bob = rig.contacts.add("Bob", "bob@example.org", folder=family)
    pull_cards_into(store, rig.book())
    rig.contacts.move(anna, family)  # default folder first: its removal is read before the addition
    rig.contacts.move(bob, "AQMkADAwATM0MDAAcontactsroot")  # and Bob the other way round
    rig.contacts.edit(anna, categories=["Close"])
    pull_cards_into(store, rig.book())
    assert groups_of(store) == {"anna@example.org": ("Anna", ("Close", "Family")), "bob@example.org": ("Bob", ())}
    rig.contacts.delete(bob)
    _, default, _ = pull_cards_into(store, rig.book())
    assert default.deleted == [bob] and sorted(groups_of(store)) == ["anna@example.org"]


def test_replays_are_harmless(store: Store) -> None:
    with contacts_rig(replay_every=2) as rig:
        for n in range(5):
            rig.contacts.add(f"P{n}", f"p{n}@example.org")
        pull_cards_into(store, rig.book())
        assert store.cards.count("acct") == 5


def test_an_expired_sync_state_resyncs_that_folder(rig: Rig, store: Store) -> None:
    rig.contacts.add("Anna", "anna@example.org")
    pull_cards_into(store, rig.book())
    rig.contacts.expire_tokens()
    with pytest.raises(CursorExpired) as expired:
        pull_cards_into(store, rig.book())
    assert expired.value.resource == "contacts"
    store.synced.reset_cursor("acct", "contacts")
    _, default = pull_cards_into(store, rig.book())
    assert default.full and default.complete and [c.name for c in default.cards] == ["Anna"]


def test_a_folder_renamed_or_deleted_upstream(rig: Rig, store: Store) -> None:
    family = rig.contacts.add_folder("Family")
    rig.contacts.add("Mum", "mum@example.net", folder=family)
    pull_cards_into(store, rig.book())
    rig.contacts.rename_folder(family, "Relatives")
    pull_cards_into(store, rig.book())
    assert groups_of(store)["mum@example.net"] == ("Mum", ("Relatives",))
    rig.contacts.delete_folder(family)
    batches = pull_cards_into(store, rig.book())
    assert batches[-1].resource == f"contacts:{family}" and batches[-1].complete
    assert groups_of(store) == {}


def test_a_login_that_never_consented_to_contacts_needs_login_naming_it(store: Store) -> None:
    missing = r"needs login \(the login lacks the permission Contacts\.Read\)"
    with contacts_rig(logged_in_with_contacts=False) as rig, pytest.raises(AuthRequired, match=missing):
        pull_cards_into(store, rig.book())


def _delta_of(folder: str | None) -> Callable[[Request], bool]:
    path = "/v1.0/me/contacts/delta" if folder is None else f"/v1.0/me/contactFolders/{folder}/contacts/delta"
    return lambda request: request.path == path


def test_a_folder_gone_between_the_listing_and_its_delta_takes_its_contacts_until_it_answers(
        rig: Rig, store: Store) -> None:
    family = rig.contacts.add_folder("Family")
    rig.contacts.add("Mum", "mum@example.net", folder=family)
    pull_cards_into(store, rig.book())
    rig.server.inject(_delta_of(family), Response(404, {"error": {"code": "ErrorItemNotFound",
                                                                  "message": "The specified object was not found."}}))
    batches = pull_cards_into(store, rig.book())
    assert [b.resource for b in batches if b.deleted] == [f"contacts:{family}"] and groups_of(store) == {}
    pull_cards_into(store, rig.book())
    assert groups_of(store) == {"mum@example.net": ("Mum", ("Family",))}


def test_a_page_without_links_is_one_sentence_and_a_contact_without_an_id_is_named(rig: Rig, store: Store) -> None:
    rig.contacts.add("Anna Berg", "anna@example.org")
    rig.server.inject(_delta_of(None), Response(200, {"value": []}))
    with pytest.raises(ConnectorError) as failed:
        pull_cards_into(store, rig.book())
    assert str(failed.value) == ("Outlook contacts (contacts): Graph answered a page with neither a next nor a "
                                 "delta link")
    link = f"{rig.server.base_url}/v1.0/me/contacts/delta?$deltatoken=odd"
    rig.server.inject(_delta_of(None), Response(200, {"value": [{"displayName": "No Id"}], "@odata.deltaLink": link}))
    [contacts] = [b for b in pull_cards_into(store, rig.book()) if b.resource == "contacts"]
    assert [(s.what, s.why) for s in contacts.skipped] == [
        ("Outlook contacts (contacts): a contact without an id", "unreadable contact")]


def test_an_unreadable_cursor_reads_the_folder_whole(rig: Rig) -> None:
    rig.contacts.add("Anna Berg", "anna@example.org")
    [contacts] = [b for b in rig.book().pull({"contacts": "{not json"}, _Nothing()) if b.resource == "contacts"]
    assert contacts.full and [c.name for c in contacts.cards] == ["Anna Berg"]


class _Nothing:
    def known_ids(self, resource: str) -> set[str]:
        return set()
