"""Address books in the engine: cards make persons and name them, groups make tiers, and someone only in the
address book stays out of reminders unless a tier or a decision says otherwise (docs/rules.md#address-books)."""

from __future__ import annotations

from datetime import date, timedelta

import pytest

from connectors.base import Birthday, CardGroup
from syncd import engine
from syncd.cli.people import person_record, select
from syncd.config import PersonConfig, TierConfig
from syncd.engine.due import due_followups
from syncd.engine.status import from_text, to_text
from syncd.errors import UsageError
from tests.support.world import ME, NOW, World, ago, card, config, mail

ANNA_WORK, ANNA_HOME = "anna@work.example", "anna@home.example"
FAMILY = TierConfig("family", every=timedelta(days=30), groups=("family",))
SUPPLIERS = TierConfig("directory", remind=False, groups=("Suppliers",))


def anna_in_mail() -> World:
    return World().add(
        mail(ME, [ANNA_WORK], ago(40)),
        mail(ANNA_HOME, [ME], ago(10), name="A. Berg (private)"),
        mail(ANNA_WORK, [ME], ago(20), name="Berg, Anna"),
    )


def test_a_card_makes_one_person_of_its_addresses_and_the_name_given_there_wins() -> None:
    world = anna_in_mail().book(card("u1", ANNA_WORK, ANNA_HOME, name="Anna Berg-Lind", organisation="Berg GmbH"))
    people = world.people()
    assert ANNA_HOME not in people
    anna = people[ANNA_WORK]
    assert anna.name == "Anna Berg-Lind" and anna.addresses == (ANNA_HOME, ANNA_WORK)
    assert anna.last_contact is not None and anna.last_contact.at == ago(10)  # over both addresses
    assert anna.organisation == "Berg GmbH" and anna.known_since == NOW
    assert world.full() == people  # the incremental refresh and a full recompute agree


def test_the_user_s_own_naming_in_syncd_still_wins_over_the_card() -> None:
    world = anna_in_mail().book(card("u1", ANNA_WORK, ANNA_HOME, name="Anna Berg-Lind"))
    world.store.decisions.set_person(ANNA_WORK, name="Annie")
    assert world.person(ANNA_WORK).name == "Annie"
    world.with_config(people=(PersonConfig((ANNA_HOME,), name="Dr. Berg"),))
    assert world.full()[ANNA_WORK].name == "Annie"


def test_unmerge_takes_an_address_out_of_its_card_and_survives_every_resync() -> None:
    world = anna_in_mail().book(card("u1", ANNA_WORK, ANNA_HOME, name="Anna Berg-Lind"))
    world.people()
    world.store.decisions.unmerge(ANNA_HOME)
    people = world.people()
    assert people[ANNA_HOME].addresses == (ANNA_HOME,) and people[ANNA_WORK].addresses == (ANNA_WORK,)
    world.book(card("u1", ANNA_WORK, ANNA_HOME, name="Anna Berg-Lind", groups=["Family"]))  # changed upstream
    assert ANNA_HOME in world.people() and ANNA_HOME in world.full()
    with pytest.raises(UsageError, match="not merged"):
        world.store.decisions.unmerge(ANNA_HOME)  # already out
    world.store.decisions.merge(ANNA_WORK, ANNA_HOME)  # a newer decision of the user's: together again
    assert world.people()[ANNA_WORK].addresses == (ANNA_HOME, ANNA_WORK)
    world.store.decisions.unmerge(ANNA_HOME)  # undoes the merge; the card's join stays undone too
    assert ANNA_HOME in world.people()


def test_a_user_merge_wins_over_the_card() -> None:
    world = anna_in_mail().add(mail(ME, ["bob@example.org"], ago(5)))
    world.book(card("u1", ANNA_WORK, ANNA_HOME, name="Anna Berg-Lind"))
    world.store.decisions.merge("bob@example.org", ANNA_HOME)
    people = world.people()
    assert people["bob@example.org"].addresses == (ANNA_HOME, "bob@example.org")
    assert people[ANNA_WORK].addresses == (ANNA_WORK,)


def test_cards_sharing_an_address_in_two_address_books_are_one_person() -> None:
    world = anna_in_mail()
    world.book(card("u1", ANNA_WORK, name="Anna Berg-Lind"), account="google")
    world.book(card("x", "anna.b@mobile.example", ANNA_WORK, name="Anna (phone)"), account="phone",
               seen=NOW + timedelta(hours=1))
    anna = world.people()[ANNA_WORK]  # the earlier card gives the key and the name
    assert anna.addresses == ("anna.b@mobile.example", ANNA_WORK) and anna.name == "Anna Berg-Lind"


def test_the_owner_s_own_card_and_role_addresses_make_no_person() -> None:
    world = World().book(card("me", ME, "me@home.example", "noreply@shop.example", name="Me Myself"))
    world.store.accounts.set_owner_addresses("a", [ME, "me@home.example"])
    assert world.full() == {}


def test_someone_only_in_the_address_book_is_listed_with_all_never_reminded() -> None:
    world = World().book(card("u2", "carl@example.net", name="Carl", birthday=Birthday(5, 1)))
    carl = world.people()["carl@example.net"]
    assert not carl.relationship and not carl.remind and carl.due is None
    assert carl.reason.startswith("only in your address book")
    assert select([carl], None, None, NOW) == [] and select([carl], "all", None, NOW) == [carl]
    assert person_record(carl)["birthday"] == "--05-01"


def test_a_tier_naming_their_group_brings_them_in_counted_from_when_the_card_was_first_read() -> None:
    world = World(config(tiers=[FAMILY])).book(card("u2", "mum@example.net", name="Mum", groups=["Family"]))
    mum = world.people()["mum@example.net"]
    assert mum.relationship and mum.tier == "family" and mum.every_days == 30
    assert mum.remind and mum.due == (NOW + timedelta(days=30)).date()
    assert mum.reason.startswith("no contact yet: their card was first read")
    [followup] = due_followups([mum], world.store, world.config, NOW + timedelta(days=31))
    assert followup.origin == "cycle" and followup.cycle == f"card:{NOW.isoformat()}"
    # A first contact starts the cycle from the contact.
    world.add(mail(ME, ["mum@example.net"], NOW + timedelta(days=3)))
    mum = world.person("mum@example.net", now=NOW + timedelta(days=4))
    assert mum.due == (NOW + timedelta(days=33)).date() and mum.reason.startswith("last contact")


def test_set_brings_someone_only_in_the_address_book_in_too() -> None:
    world = World().book(card("u2", "carl@example.net", name="Carl"))
    world.store.decisions.set_person("carl@example.net", every=timedelta(days=60))
    carl = world.people()["carl@example.net"]
    assert carl.relationship and carl.remind and carl.due == (NOW + timedelta(days=60)).date()


def test_a_directory_group_keeps_them_listed_never_reminded() -> None:
    world = World(config(tiers=[SUPPLIERS, FAMILY])).add(mail(ME, ["shop@print.example"], ago(3)))
    world.book(card("s", "shop@print.example", name="Print Shop", groups=["suppliers"]),
               card("t", "plumber@example.com", name="Plumber", groups=["Suppliers"]))
    people = world.people()
    for key in ("shop@print.example", "plumber@example.com"):
        assert people[key].relationship and people[key].tier == "directory" and not people[key].remind
        assert "never reminded" in people[key].reason
    assert {s.key for s in select(list(people.values()), None, None, NOW)} == set(people)


def test_tiers_match_in_config_order_groups_and_addresses_alike() -> None:
    by_address = TierConfig("inner", every=timedelta(days=14), match=("mum@example.net",))
    world = World(config(tiers=[by_address, FAMILY])).book(card("u2", "mum@example.net", groups=["Family"]))
    assert world.people()["mum@example.net"].tier == "inner"


def test_a_group_renamed_upstream_stops_matching_and_nothing_else_changes() -> None:
    world = World(config(tiers=[FAMILY])).add(mail(ME, ["mum@example.net"], ago(3)))
    family = CardGroup("grp-1", "Family", ["mum-uid"])
    mum = card("u2", "mum@example.net", name="Mum", uid="mum-uid", organisation="Home")
    world.book(family, mum)
    before = world.people()["mum@example.net"]
    assert before.tier == "family" and before.groups == ("Family",)
    world.book(CardGroup("grp-1", "Relatives", ["mum-uid"]), mum)  # renamed: only the group card changes
    after = world.people()["mum@example.net"]
    assert after.tier is None and after.groups == ("Relatives",)
    assert (after.name, after.addresses, after.organisation, after.last_contact) == (
        before.name, before.addresses, before.organisation, before.last_contact)
    world.book(mum)  # the group deleted upstream
    assert world.people()["mum@example.net"].groups == ()
    assert world.full() == world.people()


def test_a_label_the_cards_point_at_renamed_or_deleted() -> None:
    world = World(config(tiers=[FAMILY])).add(mail(ME, ["mum@example.net"], ago(3)))
    mum = card("people/c1", "mum@example.net", memberships=["contactGroups/9"])
    world.book(CardGroup("contactGroups/9", "Family"), resource="contactGroups")
    world.book(mum, resource="contacts")
    assert world.people()["mum@example.net"].tier == "family"
    world.book(CardGroup("contactGroups/9", "Family (old)"), resource="contactGroups")
    assert world.people()["mum@example.net"].tier is None
    world.book(resource="contactGroups")  # deleted
    assert world.people()["mum@example.net"].groups == ()


def test_a_card_deleted_upstream_takes_its_names_and_merge_the_mail_history_stays() -> None:
    world = anna_in_mail().book(card("u1", ANNA_WORK, ANNA_HOME, name="Anna Berg-Lind", groups=["Family"]))
    world.people()
    world.book()  # the card is gone
    people = world.people()
    assert people[ANNA_WORK].addresses == (ANNA_WORK,) and people[ANNA_HOME].addresses == (ANNA_HOME,)
    assert people[ANNA_WORK].name == "Anna Berg" and people[ANNA_WORK].groups == ()  # from the headers again
    assert people[ANNA_WORK].last_outbound is not None and people[ANNA_HOME].last_inbound is not None
    assert people[ANNA_WORK].known_since is None


def test_someone_only_in_a_deleted_card_is_gone() -> None:
    world = World().book(card("u2", "carl@example.net", name="Carl"))
    assert "carl@example.net" in world.people()
    world.book()
    assert world.people() == {} and world.full() == {}


def test_a_card_read_again_unchanged_touches_nobody() -> None:
    world = anna_in_mail().book(card("u1", ANNA_WORK, name="Anna Berg-Lind"))
    world.people()
    world.book(card("u1", ANNA_WORK, name="Anna Berg-Lind"))
    assert world.store.contacts.touched() == set()
    world.book(card("u1", ANNA_WORK, name="Anna B."))
    assert world.store.contacts.touched() == {ANNA_WORK}


def test_the_standing_keeps_what_the_cards_say_between_runs() -> None:
    world = World(config(tiers=[FAMILY])).book(
        card("u2", "mum@example.net", name="Mum", groups=["Family"], organisation="Home", birthday=Birthday(2, 29, 1952)))
    mum = world.people()["mum@example.net"]
    assert from_text(to_text(mum)) == mum
    assert person_record(mum)["groups"] == ["Family"] and person_record(mum)["organisation"] == "Home"


def test_people_by_group_in_any_case() -> None:
    world = World(config(tiers=[FAMILY])).book(
        card("u2", "mum@example.net", groups=["Family"]), card("u3", "carl@example.net", groups=["Friends"]))
    world.refresh()
    statuses = engine.people(world.store, world.config, NOW)
    assert [s.key for s in select(statuses, "all", None, NOW, group="FAMILY")] == ["mum@example.net"]
    assert [s.key for s in select(statuses, "all", None, NOW, group="friends")] == ["carl@example.net"]
    assert select(statuses, None, None, NOW, group="friends") == []  # not a relationship without --all


def test_historical_view_lists_address_book_people_too() -> None:
    world = World(config(tiers=[FAMILY])).book(card("u2", "mum@example.net", groups=["Family"]))
    past = engine.people(world.store, world.config, NOW + timedelta(days=40), historical=True)
    assert [(s.key, s.due) for s in past] == [("mum@example.net", date(2026, 3, 31))]


def test_a_card_that_becomes_a_group_and_back_and_a_deletion_of_what_was_never_read() -> None:
    from connectors.base import Card, CardBatch
    from syncd.store import Store

    store = Store(":memory:")
    store.accounts.ensure("acct", "vcard")
    store.cards.apply_batch("acct", CardBatch("book.vcf", "1", cards=[
        Card("x", "Anna Berg", ["anna@example.org"], uid="x"), Card("m", "Mum", ["mum@example.net"], uid="m")]))
    # The same entry rewritten as a group card (an exporter's KIND:group) that lists Mum.
    store.cards.apply_batch("acct", CardBatch("book.vcf", "2", groups=[CardGroup("x", "Family", ["m"])]))
    facts = dict(store.cards.facts(store.select(None)))
    assert sorted(facts) == ["mum@example.net"] and facts["mum@example.net"].groups == ("Family",)
    store.cards.apply_batch("acct", CardBatch("book.vcf", "3", cards=[
        Card("x", "Anna Berg", ["anna@example.org"], uid="x")], deleted=["never-read"]))
    facts = dict(store.cards.facts(store.select(None)))
    assert sorted(facts) == ["anna@example.org", "mum@example.net"] and facts["mum@example.net"].groups == ()
