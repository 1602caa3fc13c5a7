"""Google Contacts (connectors.google.contacts) through google-api-python-client against the People API fake:
labels, full and incremental syncs, paging, an expired sync token, deletions, and a login without the scope."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest

from connectors.base import AuthRequired, Birthday, CardGroup, ConnectorError, CursorExpired
from connectors.google.auth import CONTACTS_READ, GMAIL_METADATA
from connectors.google.contacts import GoogleContacts
from syncd.store import Store
from tests.fakes.known import pull_cards_into
from tests.fakes.people_contract import Rig, people_rig
from tests.fakes.server import Request, Response


@pytest.fixture
def rig() -> Iterator[Rig]:
    with people_rig() as started:
        yield started


def names(store: Store) -> dict[str, tuple[str | None, tuple[str, ...]]]:
    """address → (the card's name, its groups) as the store resolves them."""
    return {address: (facts.name, facts.groups) for address, facts in store.cards.facts(store.select(None))}


def test_a_full_sync_reads_labels_and_contacts_with_the_fields_asked_for(rig: Rig, store: Store) -> None:
    family = rig.people.add_group("Family")
    rig.people.add_person("Anna Berg", "anna@work.example", "anna@home.example", groups=[family],
                          organisation="Berg GmbH", birthday=(1970, 4, 12))
    rig.people.add_person("No Year", "ny@example.org", birthday=(0, 2, 29))
    rig.people.add_person("Phone Only", phone="+49 30 1234")
    groups, contacts = pull_cards_into(store, rig.book())
    assert groups.groups == [CardGroup(family, "Family")]  # system groups (myContacts, starred) left out
    assert groups.full and groups.complete
    anna, no_year = contacts.cards
    assert (anna.name, anna.emails, anna.organisation, anna.birthday) == (
        "Anna Berg", ["anna@work.example", "anna@home.example"], "Berg GmbH", Birthday(4, 12, 1970))
    assert family in anna.memberships and no_year.birthday == Birthday(2, 29)
    assert [s.why.split(":")[0] for s in contacts.skipped] == ["no email address"]
    assert contacts.full and contacts.complete and json.loads(contacts.cursor or "{}")["sync"]
    [call] = rig.people.calls
    assert call["personFields"] == ["names,emailAddresses,organizations,birthdays,memberships,metadata"]
    assert call["requestSyncToken"] == ["true"] and call["pageSize"] == ["1000"]
    assert names(store)["anna@home.example"] == ("Anna Berg", ("Family",))


def test_an_incremental_sync_brings_only_changes_and_deletions(rig: Rig, store: Store) -> None:
    anna = rig.people.add_person("Anna Berg", "anna@work.example")
    bob = rig.people.add_person("Bob Stone", "bob@example.org")
    pull_cards_into(store, rig.book())
    rig.people.edit_person(anna, names=[{"metadata": {"primary": True}, "displayName": "Anna Berg-Lind"}])
    rig.people.delete_person(bob)
    rig.people.add_person("Carl", "carl@example.net")
    _, contacts = pull_cards_into(store, rig.book())
    assert [c.name for c in contacts.cards] == ["Anna Berg-Lind", "Carl"] and contacts.deleted == [bob]
    assert not contacts.full
    first, second = rig.people.calls
    assert second.pop("syncToken") and first == second  # every other parameter as in the first call
    assert sorted(names(store)) == ["anna@work.example", "carl@example.net"]
    _, quiet = pull_cards_into(store, rig.book())
    assert quiet.cards == [] and quiet.deleted == []


def test_pages_of_a_full_sync_resume_nothing_and_the_last_one_completes_it(rig: Rig, store: Store) -> None:
    for n in range(2500):
        rig.people.add_person(f"Person {n}", f"p{n}@example.org")
    _, *pages = pull_cards_into(store, rig.book())
    assert [len(p.cards) for p in pages] == [1000, 1000, 500]
    assert [p.complete for p in pages] == [False, False, True]
    assert json.loads(pages[0].cursor or "{}") == {"partial": True}
    assert store.cards.count("acct") == 2500


def test_an_expired_sync_token_lists_everything_again(rig: Rig, store: Store) -> None:
    rig.people.add_person("Anna Berg", "anna@work.example")
    gone = rig.people.add_person("Bob Stone", "bob@example.org")
    pull_cards_into(store, rig.book())
    rig.people.expire_sync_tokens()
    with pytest.raises(CursorExpired) as expired:
        pull_cards_into(store, rig.book())
    assert expired.value.resource == "contacts"
    # What syncd.pull does next: forget the cursor and list again in full; a contact gone meanwhile goes.
    del rig.people.people[gone]  # removed while the token was dead: no tombstone will ever say so
    store.synced.reset_cursor("acct", "contacts")
    _, contacts = pull_cards_into(store, rig.book())
    assert contacts.full and contacts.complete
    assert sorted(names(store)) == ["anna@work.example"]


def test_a_label_renamed_or_deleted_upstream(rig: Rig, store: Store) -> None:
    family = rig.people.add_group("Family")
    rig.people.add_person("Mum", "mum@example.net", groups=[family])
    pull_cards_into(store, rig.book())
    rig.people.rename_group(family, "Relatives")
    pull_cards_into(store, rig.book())
    assert names(store)["mum@example.net"] == ("Mum", ("Relatives",))
    rig.people.delete_group(family)
    pull_cards_into(store, rig.book())
    assert names(store)["mum@example.net"] == ("Mum", ())


def test_the_first_page_of_a_full_sync_over_its_quota_is_retried(rig: Rig, store: Store) -> None:
    rig.people.add_person("Anna Berg", "anna@work.example")
    rig.people.quota_first_page(times=2)
    book = rig.book()
    pull_cards_into(store, book)
    assert store.cards.count("acct") == 1 and len(rig.sleeps) == 2


def test_a_login_without_the_contacts_permission_needs_login_naming_it() -> None:
    with people_rig(scopes=[GMAIL_METADATA]) as rig:
        with pytest.raises(AuthRequired, match=r"needs login \(the login lacks the permission contacts.readonly\)"):
            list(rig.book().pull({}, _Nothing()))
        # A token whose scopes were not recorded: Google refuses it, and syncd says the same.
        rig.slot.set(json.dumps({**json.loads(rig.slot.get() or "{}"), "scopes": []}))
        with pytest.raises(AuthRequired, match=r"contacts\.readonly"):
            list(rig.book().pull({}, _Nothing()))


def test_contacts_readonly_is_asked_only_when_contacts_are_read() -> None:
    from connectors.google.auth import scopes

    assert CONTACTS_READ not in scopes({"gmail": True})
    assert CONTACTS_READ in scopes({"gmail": True, "contacts": True})
    assert GoogleContacts.provider == "google"


class _Nothing:
    def known_ids(self, resource: str) -> set[str]:
        return set()


def _error(status: int, reason: str, message: str = "refused") -> Response:
    return Response(status, {"error": {"code": status, "message": message, "status": "FAILED_PRECONDITION",
                                       "errors": [{"reason": reason, "message": message}]}})


def _connections(request: Request) -> bool:
    return request.path.endswith("/connections")


def test_a_login_google_keeps_refusing_needs_login_and_stores_nothing(rig: Rig, store: Store) -> None:
    rig.people.add_person("Anna Berg", "anna@work.example")
    rig.server.inject(_connections, _error(401, "authError", "Request had invalid authentication credentials."),
                      times=10)
    with pytest.raises(AuthRequired, match=r"needs login \(Google refused the login\)"):
        pull_cards_into(store, rig.book())
    assert store.cards.count("acct") == 0


def test_labels_refused_for_another_reason_and_a_bad_sync_request_are_one_sentence(rig: Rig, store: Store) -> None:
    rig.people.add_person("Anna Berg", "anna@work.example")
    rig.server.inject(lambda request: request.path.endswith("/contactGroups"), _error(403, "forbidden"))
    with pytest.raises(ConnectorError) as refused:
        pull_cards_into(store, rig.book())
    assert str(refused.value) == ("Google Contacts labels: Google refused access (forbidden); check the login's "
                                  "permissions")
    pull_cards_into(store, rig.book())
    rig.server.inject(lambda request: _connections(request) and bool(request.arg("syncToken")),
                      _error(400, "badRequest", "Invalid personFields mask path."))
    with pytest.raises(ConnectorError) as bad:
        pull_cards_into(store, rig.book())
    assert str(bad.value) == "Google Contacts: Google answered HTTP 400 badRequest"
    assert store.cards.count("acct") == 1  # what was read before stays


def test_a_sync_token_answered_gone_lists_everything_again(rig: Rig, store: Store) -> None:
    rig.people.add_person("Anna Berg", "anna@work.example")
    pull_cards_into(store, rig.book())
    rig.server.inject(lambda request: _connections(request) and bool(request.arg("syncToken")),
                      _error(410, "gone", "Sync token is no longer valid."))
    with pytest.raises(CursorExpired):
        pull_cards_into(store, rig.book())


def test_an_unreadable_cursor_a_contact_without_a_resource_name_and_a_birthday_as_text(rig: Rig) -> None:
    anna = rig.people.add_person("Anna Berg", "anna@work.example")
    rig.people.edit_person(anna, birthdays=[{"metadata": {"primary": True}, "text": "1970-04-12"}])
    _, contacts = list(rig.book().pull({"contacts": "{not json"}, _Nothing()))
    assert contacts.full and [c.birthday for c in contacts.cards] == [Birthday(4, 12, 1970)]
    rig.server.inject(_connections, Response(200, {"connections": [{"names": [{"displayName": "Nobody"}]}],
                                                   "nextSyncToken": "t1"}))
    _, odd = list(rig.book().pull({}, _Nothing()))
    assert [(s.what, s.why) for s in odd.skipped] == [
        ("Google Contacts: a contact without a resource name", "unreadable contact")]


def test_nothing_listening_at_the_endpoint_is_retried_then_one_sentence(rig: Rig, store: Store) -> None:
    from tests.servers.base import free_port

    with pytest.raises(ConnectorError) as failed:
        pull_cards_into(store, rig.book(people_endpoint=f"http://127.0.0.1:{free_port()}/"))
    assert str(failed.value) == ("Google Contacts labels: the provider kept failing (ConnectionRefusedError) after 4 "
                                 "tries; try again later")
    assert rig.sleeps == [0.01, 0.02, 0.04]  # retried with backoff before giving up
