"""The engine's rules (docs/rules.md), one home: every rule with its tests, section by section.

Each test builds interactions in an in-memory store through the store's ``apply_batch`` (as a pull
would), brings the engine up to date at a fixed "now", and asserts on what ``engine.people``, the due
follow-ups or ``syncd why`` say. Helpers are in ``tests/support/world.py``.
"""

from __future__ import annotations

import random
import re
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest

from connectors.base import Batch, Interaction, Participant
from syncd import engine
from syncd.config import PersonConfig, TierConfig
from syncd.engine import owners
from syncd.engine.due import DueFollowup, due_followups
from syncd.engine.lookup import resolve
from syncd.engine.persons import Persons
from syncd.engine.why import explain
from syncd.errors import UsageError
from tests.support.world import ME, NOW, World, ago, ahead, config, contacted, mail, meeting

BOB = "bob@x.org"
ANN = "ann@x.org"


def others(n: int) -> list[str]:
    return [f"p{i}@crowd.org" for i in range(n)]


# ---- the owner -----------------------------------------------------------------------------------------------


def test_owner_addresses_are_the_union_of_me_and_what_providers_reported() -> None:
    world = World(config(me=(" Alias@Example.COM ",)), owners=())
    world.store.accounts.ensure("online", "google")
    world.store.accounts.set_owner_addresses("online", [ME, "work@corp.example"])
    world.store.accounts.ensure("archive", "maildir")  # not configured any more: its guess still stands
    world.store.accounts.set_owner_addresses("archive", ["old@home.example"])
    assert owners.find(world.store, world.config).addresses == {
        ME, "alias@example.com", "work@corp.example", "old@home.example"
    }


def test_a_me_you_set_replaces_the_guess_of_that_archive() -> None:
    world = World(config(me=("alias@example.com",)), owners=("wrong.guess@example.com",))
    assert owners.find(world.store, world.config).addresses == {"alias@example.com"}


def test_mail_from_a_configured_me_address_is_outbound() -> None:
    world = World(config(me=("alias@example.com",)), owners=())
    bob = world.add(mail("alias@example.com", [BOB], ago(2))).person(BOB)
    assert bob.last_outbound is not None and bob.relationship


def test_the_owner_is_never_a_person() -> None:
    found = World().add(mail(ME, [BOB, ME], ago(2)), meeting([BOB], ago(1))).people()
    assert ME not in found


# ---- qualifying contacts: outbound, inbound, meetings --------------------------------------------------------


def test_outbound_mail_to_p_qualifies() -> None:
    world = World().add(mail(ME, ["bob@x.org"], ago(4), pid="out"))
    bob = world.person("bob@x.org")
    assert bob.last_outbound is not None and bob.last_outbound.at == ago(4)
    assert bob.last_contact == bob.last_outbound and bob.last_outbound.interaction_id == world.iid("out")


def test_outbound_mail_with_p_in_cc_qualifies() -> None:
    assert World().add(mail(ME, ["a@x.org"], ago(4), cc=["carl@x.org"])).person("carl@x.org").last_outbound


def test_outbound_mail_with_p_only_in_bcc_does_not_qualify() -> None:
    world = World().add(mail(ME, ["a@x.org"], ago(4), bcc=["hid@x.org"]))
    assert not contacted(world, "hid@x.org")


def test_inbound_mail_from_p_to_the_owner_qualifies() -> None:
    world = World().add(mail("ann@x.org", [ME], ago(2), pid="in"))
    ann = world.person("ann@x.org")
    assert ann.last_inbound is not None and ann.last_inbound.at == ago(2)
    assert ann.last_inbound.interaction_id == world.iid("in") and ann.last_outbound is None


def test_inbound_mail_with_the_owner_in_cc_qualifies() -> None:
    assert World().add(mail("ann@x.org", ["z@x.org"], ago(2), cc=[ME])).person("ann@x.org").last_inbound


def test_meeting_that_has_started_qualifies() -> None:
    world = World().add(meeting(["kim@x.org"], ago(1), pid="meet"))
    kim = world.person("kim@x.org")
    assert kim.last_meeting is not None and kim.last_meeting.at == ago(1)
    assert kim.last_meeting.interaction_id == world.iid("meet") and kim.last_contact == kim.last_meeting


def test_meeting_organised_by_p_qualifies() -> None:
    world = World().add(meeting([(ME, "accepted")], ago(1), organizer="org@x.org"))
    assert world.person("org@x.org").last_meeting is not None


def test_outbound_to_is_a_contact_and_a_relationship() -> None:
    bob = World().add(mail(ME, [BOB], ago(5), subject="Lunch?")).person(BOB)
    assert bob.relationship and bob.last_outbound is not None
    assert bob.last_contact == bob.last_outbound
    assert bob.last_outbound.at == ago(5) and bob.last_outbound.subject == "Lunch?"
    assert bob.last_outbound.kind == "outbound"


def test_outbound_cc_is_a_contact() -> None:
    assert World().add(mail(ME, [ANN], ago(5), cc=[BOB])).person(BOB).last_outbound is not None


def test_outbound_bcc_alone_is_no_contact() -> None:
    assert BOB not in World().add(mail(ME, [ANN], ago(5), bcc=[BOB])).people()


@pytest.mark.parametrize(("n", "qualifies"), [(20, True), (21, False)])
def test_outbound_recipient_cap(n: int, qualifies: bool) -> None:
    # The owner in To does not count against the cap: 20 others + the owner still qualifies.
    found = World().add(mail(ME, [BOB, ME, *others(n - 1)], ago(3))).people()
    assert (BOB in found) is qualifies


def test_outbound_is_never_bulk() -> None:
    bob = World().add(mail(ME, [BOB], ago(3), bulk="List-Id")).person(BOB)
    assert bob.last_outbound is not None


def test_unsubscribe_mail_is_no_contact() -> None:
    found = World().add(mail(ME, ["list-unsubscribe@lists.org"], ago(3), subject="unsubscribe"),
                        mail(ME, ["unsubscribe-123@news.org"], ago(3), subject="x")).people()
    assert found == {}


def test_inbound_is_a_contact_but_not_a_relationship() -> None:
    ann = World().add(mail(ANN, [ME], ago(3))).person(ANN)
    assert ann.last_inbound is not None and ann.last_contact == ann.last_inbound
    assert not ann.relationship and not ann.remind and ann.due is None
    assert ann.reason.startswith("not a relationship")


def test_inbound_with_the_owner_in_cc() -> None:
    assert World().add(mail(ANN, [BOB], ago(3), cc=[ME])).person(ANN).last_inbound is not None


def test_inbound_without_the_owner_in_to_or_cc_is_no_contact() -> None:
    # Bcc'd to the owner, or a copy in a shared folder: not addressed to them.
    assert World().add(mail(ANN, [BOB], ago(3), bcc=[ME])).people() == {}


def test_inbound_other_recipients_are_no_contact() -> None:
    found = World().add(mail(ANN, [ME, BOB], ago(3))).people()
    assert set(found) == {ANN}


@pytest.mark.parametrize(("n", "qualifies"), [(20, True), (21, False)])
def test_inbound_recipient_cap(n: int, qualifies: bool) -> None:
    found = World().add(mail(ANN, [ME, *others(n)], ago(3))).people()
    assert (ANN in found) is qualifies


@pytest.mark.parametrize(
    "reason",
    ["List-Id", "List-Unsubscribe", "Precedence: bulk", "Precedence: list", "Precedence: junk",
     "Auto-Submitted: auto-replied", "CATEGORY_PROMOTIONS", "CATEGORY_SOCIAL", "CATEGORY_UPDATES",
     "CATEGORY_FORUMS", "SPAM", "TRASH"],
)
def test_bulk_inbound_never_qualifies(reason: str) -> None:
    world = World().add(mail(ANN, [ME], ago(3), bulk=reason))
    assert world.people() == {}
    assert world.refresh().interactions == 0  # already processed by the refresh above


def test_bulk_is_counted() -> None:
    stats = World().add(mail(ANN, [ME], ago(3), bulk="List-Id")).refresh()
    assert stats.bulk == 1 and stats.interactions == 1


def test_unusable_recipients_count_against_the_cap() -> None:
    # 15 valid + 6 X.500 paths the store could not keep = 21 recipients: over the cap, and 6 counted.
    world = World().add(mail(ME, [BOB, *others(14)], ago(3), count=21))
    stats = world.refresh()
    assert stats.over_cap == 1 and stats.invalid_addresses == 6
    assert world.people() == {}


def test_a_started_meeting_is_a_contact_and_a_relationship() -> None:
    bob = World().add(meeting([BOB], ago(2), subject="Kick-off")).person(BOB)
    assert bob.relationship and bob.last_meeting is not None and bob.last_contact == bob.last_meeting
    assert bob.last_meeting.subject == "Kick-off"


def test_the_organizer_is_met_too() -> None:
    found = World().add(meeting([ME, BOB], ago(2), organizer=ANN)).people()
    assert found[ANN].last_meeting is not None and found[BOB].last_meeting is not None


def test_a_future_meeting_is_booked_not_a_contact() -> None:
    bob = World().add(meeting([BOB], NOW + timedelta(days=3))).person(BOB)
    assert bob.last_contact is None and bob.next_meeting == NOW + timedelta(days=3)


@pytest.mark.parametrize(
    "build",
    [
        lambda: meeting([BOB], ago(2), cancelled=True),
        lambda: meeting([BOB], ago(2), owner_response="declined"),
        lambda: meeting([(BOB, "declined")], ago(2)),
        lambda: meeting([(ME, "declined"), BOB], ago(2), organizer=ANN),
        lambda: meeting([*others(20), BOB], ago(2)),
    ],
    ids=["cancelled", "owner-declined", "they-declined", "owner-row-declined", "21-attendees"],
)
def test_meetings_that_do_not_count(build: object) -> None:
    found = World().add(build()).people()  # type: ignore[operator]
    assert BOB not in found


def test_twenty_attendees_count() -> None:
    assert BOB in World().add(meeting([*others(19), BOB], ago(2))).people()


def test_outbound_mail_is_a_contact_and_makes_a_relationship() -> None:
    bob = World().add(mail(ME, ["bob@x.org"], ago(5))).person("bob@x.org")
    assert bob.relationship and bob.last_outbound and bob.last_contact == bob.last_outbound
    assert bob.last_outbound.at == ago(5).replace(microsecond=0)


def test_inbound_mail_alone_is_not_a_relationship() -> None:
    ann = World().add(mail("ann@x.org", [ME], ago(3))).person("ann@x.org")
    assert ann.last_inbound is not None and not ann.relationship and not ann.remind and ann.due is None


def test_inbound_needs_the_owner_in_to_or_cc() -> None:
    people = World().add(mail(ME, ["ann@x.org"], ago(9)), mail("ann@x.org", ["zed@x.org"], ago(1))).people()
    assert people["ann@x.org"].last_inbound is None


def test_cc_counts_as_recipient() -> None:
    assert World().add(mail(ME, ["a@x.org"], ago(2), cc=["c@x.org"])).person("c@x.org").last_outbound


@pytest.mark.parametrize(("others", "qualifies"), [(20, True), (21, False)])
def test_recipient_cap_excludes_the_owner(others: int, qualifies: bool) -> None:
    recipients = [f"p{i}@x.org" for i in range(others)] + [ME]
    people = World().add(mail(ME, recipients, ago(1))).people()
    assert ("p0@x.org" in people) is qualifies


def test_unusable_recipients_push_mail_over_the_cap() -> None:
    people = World().add(mail(ME, [f"p{i}@x.org" for i in range(19)], ago(1), count=25)).people()
    assert "p0@x.org" not in people


@pytest.mark.parametrize("reason", ["List-Id", "List-Unsubscribe", "Precedence: bulk", "Auto-Submitted: auto-replied",
                                    "CATEGORY_PROMOTIONS"])
def test_bulk_inbound_never_qualifies_even_from_a_relationship(reason: str) -> None:
    world = World().add(mail(ME, ["news@x.org"], ago(30)), mail("news@x.org", [ME], ago(1), bulk=reason))
    assert world.person("news@x.org").last_inbound is None


def test_the_owners_own_mail_is_never_bulk_but_unsubscribing_is_no_contact() -> None:
    people = World().add(mail(ME, ["pat@x.org"], ago(2), bulk="List-Id"),
                         mail(ME, ["list@x.org"], ago(2), subject="unsubscribe"),
                         mail(ME, ["unsubscribe-42@list.example"], ago(2))).people()
    assert people["pat@x.org"].last_outbound is not None
    assert "list@x.org" not in people and "unsubscribe-42@list.example" not in people


def test_meeting_qualifies_once_started() -> None:
    world = World().add(meeting([("kim@x.org", "accepted")], ago(2)),
                        meeting([("kim@x.org", "accepted")], NOW + timedelta(days=3)))
    kim = world.person("kim@x.org")
    assert kim.relationship and kim.last_meeting and kim.last_meeting.at == ago(2).replace(microsecond=0)
    assert kim.next_meeting == (NOW + timedelta(days=3)).replace(microsecond=0)


@pytest.mark.parametrize("case", ["cancelled", "owner declined (response)", "owner declined (row)", "they declined",
                                  "over the attendee cap"])
def test_meetings_that_do_not_count_leave_no_last_meeting(case: str) -> None:
    guests = [("kim@x.org", "accepted")]
    kwargs: dict[str, Any] = {}
    if case == "cancelled":
        kwargs["cancelled"] = True
    elif case == "owner declined (response)":
        kwargs["owner_response"] = "declined"
    elif case == "owner declined (row)":
        guests.append((ME, "declined"))
    elif case == "they declined":
        guests = [("kim@x.org", "declined")]
    else:
        guests += [(f"g{i}@x.org", "accepted") for i in range(20)]
    people = World().add(meeting(guests, ago(2), **kwargs)).people()
    assert "kim@x.org" not in people or people["kim@x.org"].last_meeting is None


def test_role_addresses_blocklist_and_owner_are_never_people() -> None:
    world = World(engine={"blocklist": ["spam@x.org", "*@vendor.example"]})
    world.add(mail(ME, ["noreply@x.org", "bounces+7@x.org", "spam@x.org", "sales@vendor.example", "real@x.org"],
                   ago(1)))
    assert set(world.people()) == {"real@x.org"}


def test_implausible_dates_are_not_contacts_and_are_counted() -> None:
    world = World().add(mail(ME, ["old@x.org"], datetime(1979, 12, 31, tzinfo=UTC)),
                        mail(ME, ["fut@x.org"], NOW + timedelta(days=400)),
                        mail(ME, ["none@x.org"], None))
    stats = engine.refresh(world.store, world.config, NOW)
    assert (stats.implausible, stats.undated) == (2, 1)  # counted apart: a wrong date, and none
    assert world.people() == {}


# ---- qualifying contacts: what does not count ----------------------------------------------------------------


@pytest.mark.parametrize(("others", "qualifies"), [(20, True), (21, False)])
def test_outbound_recipient_cap_excludes_the_owner(others: int, qualifies: bool) -> None:
    # The owner is in To and Cc as well: 22 or 23 addresses, of which 20 or 21 are "others".
    recipients = [ME] + [f"r{i}@x.org" for i in range(others)]
    world = World().add(mail(ME, recipients, ago(3), cc=["Me@Example.com"]))
    assert contacted(world, "r0@x.org") is qualifies
    assert contacted(world, f"r{others - 1}@x.org") is qualifies


@pytest.mark.parametrize(("others", "qualifies"), [(20, True), (21, False)])
def test_inbound_recipient_cap_excludes_the_owner(others: int, qualifies: bool) -> None:
    world = World().add(mail(ME, ["pia@x.org"], ago(30)))
    world.add(mail("pia@x.org", [ME] + [f"r{i}@x.org" for i in range(others)], ago(3)))
    assert (world.person("pia@x.org").last_inbound is not None) is qualifies


def test_recipient_cap_follows_the_configured_max_recipients() -> None:
    world = World(engine={"max_recipients": 2}).add(mail(ME, ["a1@x.org", "a2@x.org", "a3@x.org"], ago(3)))
    assert not contacted(world, "a1@x.org")


@pytest.mark.parametrize("reason", [
    "List-Id", "List-Unsubscribe", "Precedence: bulk", "Precedence: list", "Precedence: junk",
    "Auto-Submitted: auto-generated", "CATEGORY_PROMOTIONS", "CATEGORY_SOCIAL", "CATEGORY_UPDATES",
    "CATEGORY_FORUMS", "SPAM", "TRASH",
])
def test_bulk_inbound_mail_never_qualifies(reason: str) -> None:
    world = World().add(mail("news@x.org", [ME], ago(2), bulk=reason))
    assert not contacted(world, "news@x.org")


def test_the_owners_sent_mail_is_never_bulk() -> None:
    world = World().add(mail(ME, ["list@x.org"], ago(2), bulk="List-Id"))
    assert world.person("list@x.org").last_outbound is not None


def test_inbound_mail_without_the_owner_in_to_or_cc_does_not_qualify() -> None:
    world = World().add(mail(ME, ["ann@x.org"], ago(40)),
                        mail("ann@x.org", ["zed@x.org"], ago(3)),
                        mail("ann@x.org", ["zed@x.org"], ago(2), bcc=[ME]))
    ann = world.person("ann@x.org")
    assert ann.last_inbound is None and ann.last_contact == ann.last_outbound


def test_meeting_not_started_is_no_last_contact_but_the_next_meeting() -> None:
    world = World().add(meeting(["kim@x.org"], ahead(3)))
    kim = world.person("kim@x.org")
    assert kim.last_meeting is None and kim.last_contact is None
    assert kim.next_meeting == ahead(3)
    # Once it has started (a later "now", nothing new pulled), it is the last contact.
    later = world.person("kim@x.org", ahead(4))
    assert later.last_meeting is not None and later.last_meeting.at == ahead(3) and later.next_meeting is None


@pytest.mark.parametrize("case", ["cancelled", "owner_response declined", "owner's attendee row declined",
                                  "P declined", "P declined as organizer"])
def test_meeting_that_does_not_qualify(case: str) -> None:
    guests: list[str | tuple[str, str]] = ["kim@x.org"]
    kwargs: dict[str, Any] = {}
    if case == "cancelled":
        kwargs["cancelled"] = True
    elif case == "owner_response declined":
        kwargs["owner_response"] = "declined"
    elif case == "owner's attendee row declined":
        kwargs["organizer"] = "boss@x.org"
        guests.append((ME, "declined"))
    elif case == "P declined":
        guests = [("kim@x.org", "declined")]
    else:  # P organises and then declines their own meeting (their attendee row says so)
        kwargs["organizer"] = "kim@x.org"
        guests = [(ME, "accepted"), ("kim@x.org", "declined")]
    world = World().add(meeting(guests, ago(2), **kwargs))
    assert not contacted(world, "kim@x.org")


def test_a_cancelled_future_meeting_is_not_a_booked_meeting() -> None:
    world = World().add(mail(ME, ["kim@x.org"], ago(100)), meeting(["kim@x.org"], ahead(2), cancelled=True))
    kim = world.person("kim@x.org")
    assert kim.next_meeting is None and kim.remind


@pytest.mark.parametrize(("attendees", "qualifies"), [(20, True), (21, False)])
def test_meeting_attendee_cap(attendees: int, qualifies: bool) -> None:
    guests: list[str | tuple[str, str]] = [f"g{i}@x.org" for i in range(attendees)]
    world = World().add(meeting(guests, ago(2)))
    assert contacted(world, "g0@x.org") is qualifies


def test_unusable_recipients_still_count_against_the_cap() -> None:
    item = mail(ME, [f"r{i}@x.org" for i in range(18)] + ["/O=CORP/OU=EXCH/CN=RECIPIENTS/CN=X"], ago(3))
    item.recipient_count = 21  # what was sent: 18 addresses, 3 entries that were no address
    assert not contacted(World().add(item), "r0@x.org")


def test_the_mail_an_unsubscribe_click_sends_is_no_contact() -> None:
    world = World().add(mail(ME, ["list@x.org"], ago(2), subject="unsubscribe"),
                        mail(ME, ["unsubscribe-7@lists.example"], ago(2)))
    assert not contacted(world, "list@x.org") and not contacted(world, "unsubscribe-7@lists.example")


# ---- addresses: roles, the blocklist, the owner's own --------------------------------------------------------


@pytest.mark.parametrize("local", ["noreply", "no-reply", "donotreply", "mailer-daemon", "postmaster", "bounce",
                                   "bounces+x", "bounces-123", "notification", "notifications_eu", "newsletter.de"])
def test_role_addresses_in_mail_and_meetings_are_never_people(local: str) -> None:
    role = f"{local}@x.org"
    world = World().add(mail(ME, [role, "real@x.org"], ago(1)), meeting([role], ago(2)))
    people = world.people()
    assert role not in people and "real@x.org" in people


@pytest.mark.parametrize("pattern", ["vendor@shop.example", "*@shop.example"])
def test_blocklisted_addresses_are_never_people(pattern: str) -> None:
    world = World(engine={"blocklist": [pattern]})
    world.add(mail(ME, ["vendor@shop.example", "real@x.org"], ago(1)), mail("vendor@shop.example", [ME], ago(1)))
    assert set(world.people()) == {"real@x.org"}


def test_domain_blocklist_leaves_other_domains_alone() -> None:
    world = World(engine={"blocklist": ["*@shop.example"]})
    world.add(mail(ME, ["vendor@shop.example.org"], ago(1)))
    assert "vendor@shop.example.org" in world.people()


def test_the_owner_in_their_own_mail_and_meetings_is_never_a_person() -> None:
    world = World().add(mail(ME, [ME, "bob@x.org"], ago(1)), meeting([(ME, "accepted"), "bob@x.org"], ago(2)))
    assert set(world.people()) == {"bob@x.org"}


@pytest.mark.parametrize(
    "role", ["noreply@x.org", "no-reply+abc@x.org", "donotreply@x.org", "mailer-daemon@x.org", "postmaster@x.org",
             "bounce@x.org", "bounces-123@x.org", "notification@x.org", "notifications.eu@x.org", "newsletter@x.org",
             "newsletter_de@x.org"],
)
def test_role_addresses_are_never_people(role: str) -> None:
    world = World().add(mail(ME, [role], ago(3)), mail(role, [ME], ago(2)))
    stats = world.refresh()
    assert world.people() == {} and stats.ignored_addresses == 1


def test_blocklist_exact_and_domain() -> None:
    world = World(config(blocklist=("boss@corp.org", "*@spam.org")))
    world.add(mail(ME, ["boss@corp.org", "x@spam.org", BOB], ago(3)))
    assert set(world.people()) == {BOB}


def test_invalid_addresses_are_never_stored() -> None:
    world = World().add(mail(ME, ["undisclosed-recipients:;", "/O=ENRON/OU=NA/CN=RECIPIENTS/CN=X", BOB], ago(3),
                             count=3))
    assert world.refresh().invalid_addresses == 2
    assert set(world.people()) == {BOB}


# ---- timestamps ----------------------------------------------------------------------------------------------


def test_a_1979_timestamp_is_not_a_contact_and_is_counted() -> None:
    world = World().add(mail(ME, ["old@x.org"], datetime(1979, 5, 1, tzinfo=UTC)),
                        meeting(["old@x.org"], datetime(1979, 5, 2, tzinfo=UTC)))
    stats = engine.refresh(world.store, world.config, NOW)
    assert stats.implausible == 2
    assert not contacted(world, "old@x.org")


def test_mail_dated_two_days_ahead_is_not_the_last_contact_and_is_counted() -> None:
    world = World().add(mail(ME, ["fut@x.org"], ago(10), pid="real"), mail(ME, ["fut@x.org"], ahead(2)))
    stats = engine.refresh(world.store, world.config, NOW)
    assert stats.implausible == 1
    fut = world.person("fut@x.org")
    assert fut.last_contact is not None and fut.last_contact.interaction_id == world.iid("real")
    assert fut.contact_days == 1


def test_mail_dated_hours_ahead_becomes_the_last_contact_once_its_time_has_come() -> None:
    world = World().add(mail(ME, ["soon@x.org"], ago(30)), mail(ME, ["soon@x.org"], ahead(0.5), pid="soon"))
    assert world.person("soon@x.org").last_contact.at == ago(30)  # type: ignore[union-attr]
    later = world.person("soon@x.org", ahead(1))  # incremental refresh, nothing new pulled
    assert later.last_contact is not None and later.last_contact.interaction_id == world.iid("soon")


def test_strings_that_are_no_address_are_never_people() -> None:
    world = World().add(mail(ME, ["undisclosed-recipients:;", "/O=CORP/CN=BOB", "bob@x.org"], ago(1)))
    assert set(world.people()) == {"bob@x.org"}


def test_implausible_timestamps_are_no_contact_and_are_counted() -> None:
    world = World().add(
        mail(ME, ["old@x.org"], datetime(1989, 12, 31, 23, tzinfo=UTC)),
        mail(ME, ["future@x.org"], NOW + timedelta(days=2)),
        mail(ME, ["none@x.org"], None),
    )
    stats = world.refresh()
    assert (stats.implausible, stats.undated) == (2, 1)  # counted apart: a wrong date, and none
    assert world.people() == {}


def test_mail_a_little_ahead_of_the_clock_counts_once_its_time_comes() -> None:
    world = World().add(mail(ME, [BOB], NOW + timedelta(hours=3)))
    assert world.refresh().implausible == 0
    assert BOB not in world.people()
    later = NOW + timedelta(hours=4)
    assert world.person(BOB, later).last_contact is not None
    assert world.people(later) == world.full(later)


def test_implausible_dates_do_not_hide_plausible_contacts() -> None:
    bob = World().add(mail(ME, [BOB], ago(10)), mail(ME, [BOB], datetime(1970, 1, 2, tzinfo=UTC))).person(BOB)
    assert bob.last_contact is not None and bob.last_contact.at == ago(10)


# ---- reciprocity ---------------------------------------------------------------------------------------------


def test_inbound_only_is_not_a_relationship() -> None:
    pitch = World().add(mail("pitch@x.org", [ME], ago(5)), mail("pitch@x.org", [ME], ago(50))).person("pitch@x.org")
    assert not pitch.relationship and not pitch.remind and pitch.due is None


def test_one_outbound_mail_makes_a_relationship() -> None:
    world = World().add(mail("ann@x.org", [ME], ago(50)))
    assert not world.person("ann@x.org").relationship
    ann = world.add(mail(ME, ["ann@x.org"], ago(40))).person("ann@x.org")
    assert ann.relationship and ann.remind


def test_a_meeting_makes_a_relationship() -> None:
    world = World().add(mail("ann@x.org", [ME], ago(50)), meeting(["ann@x.org"], ago(45)))
    assert world.person("ann@x.org").relationship


def test_syncd_set_every_makes_a_relationship() -> None:
    world = World().add(mail("ann@x.org", [ME], ago(10)))
    world.store.decisions.set_person("ann@x.org", every=timedelta(days=30))
    ann = world.person("ann@x.org")
    assert ann.relationship and ann.remind and ann.due == (ago(10) + timedelta(days=30)).date()


def test_user_settings_make_a_relationship() -> None:
    world = World().add(mail(ANN, [ME], ago(3)))
    world.store.decisions.set_person(ANN, every=timedelta(days=30))
    ann = world.person(ANN)
    assert ann.relationship and ann.remind and ann.due == (ago(3) + timedelta(days=30)).date()


def test_a_note_alone_does_not_make_a_relationship() -> None:
    world = World().add(mail(ANN, [ME], ago(3)))
    world.store.decisions.set_person(ANN, note="met at a conference")
    ann = world.person(ANN)
    assert not ann.relationship and ann.note == "met at a conference"


def test_a_config_person_is_a_relationship_even_without_contact() -> None:
    ann = World(config(people=(PersonConfig((ANN,), "Ann", None, None, None),))).person(ANN)
    assert ann.relationship and ann.last_contact is None and not ann.remind
    assert ann.reason == "no qualifying contact yet"


# ---- persons: merges and equivalences ------------------------------------------------------------------------


def test_merge_then_unmerge() -> None:
    world = World().add(mail(ME, ["bob@work.example"], ago(40)), mail(ME, ["bob@home.example"], ago(4), pid="home"))
    world.store.decisions.merge("bob@work.example", "bob@home.example")
    people = world.people()
    assert "bob@home.example" not in people
    bob = people["bob@work.example"]
    assert bob.addresses == ("bob@home.example", "bob@work.example")
    assert bob.last_contact is not None and bob.last_contact.interaction_id == world.iid("home")
    assert bob.contact_days == 2
    world.store.decisions.unmerge("bob@home.example")
    people = world.people()
    assert people["bob@work.example"].last_contact.at == ago(40)  # type: ignore[union-attr]
    assert people["bob@home.example"].last_contact.at == ago(4)  # type: ignore[union-attr]


def test_merge_chains_end_at_the_last_person() -> None:
    world = World().add(*[mail(ME, [a], ago(d)) for a, d in (("a@x.org", 30), ("b@x.org", 20), ("c@x.org", 10))])
    world.store.decisions.merge("b@x.org", "a@x.org")
    world.store.decisions.merge("c@x.org", "b@x.org")
    people = world.people()
    assert set(people) == {"c@x.org"}
    assert people["c@x.org"].addresses == ("a@x.org", "b@x.org", "c@x.org") and people["c@x.org"].contact_days == 3


def test_unmerge_of_an_address_never_merged_is_a_usage_error() -> None:
    world = World().add(mail(ME, ["bob@x.org"], ago(4)))
    with pytest.raises(UsageError, match="was not merged"):
        world.store.decisions.unmerge("bob@x.org")


def test_config_people_entries_merge_addresses() -> None:
    world = World(people=[{"addresses": ["cat@a.example", "cat@b.example"], "name": "Cat"}])
    world.add(mail(ME, ["cat@b.example"], ago(3)), mail("cat@a.example", [ME], ago(1)))
    people = world.people()
    assert "cat@b.example" not in people
    cat = people["cat@a.example"]
    assert cat.name == "Cat" and cat.addresses == ("cat@a.example", "cat@b.example")
    assert cat.last_outbound.at == ago(3) and cat.last_inbound.at == ago(1)  # type: ignore[union-attr]


@pytest.mark.parametrize("on", [False, True])
def test_provider_equivalences_merge_only_when_on(on: bool) -> None:
    world = World(engine={"provider_equivalences": on})
    world.add(mail(ME, ["Jane.Doe+work@googlemail.com"], ago(3)), mail(ME, ["janedoe@gmail.com"], ago(6)))
    keys = set(world.people())
    assert keys == ({"janedoe@gmail.com"} if on else {"jane.doe+work@googlemail.com", "janedoe@gmail.com"})


def test_same_display_name_is_not_merged() -> None:
    names = {"eva@a.example": "Eva Lind", "eva@b.example": "Eva Lind"}
    world = World().add(mail(ME, ["eva@a.example", "eva@b.example"], ago(3), names=names))
    assert {"eva@a.example", "eva@b.example"} <= set(world.people())


def test_last_contact_overall_and_per_kind() -> None:
    bob = World().add(
        mail(ME, [BOB], ago(30)), mail(BOB, [ME], ago(20)), meeting([BOB], ago(10)), mail(ME, [BOB], ago(40)),
    ).person(BOB)
    assert bob.last_outbound and bob.last_outbound.at == ago(30)
    assert bob.last_inbound and bob.last_inbound.at == ago(20)
    assert bob.last_meeting and bob.last_meeting.at == ago(10)
    assert bob.last_contact == bob.last_meeting
    assert bob.contact_days == 4


def test_the_same_message_in_two_folders_is_one_contact() -> None:
    item = mail(ME, [BOB], ago(3))
    world = World().add(item)
    world.add(mail(ME, [BOB], ago(3)), resource="sent")  # a different message
    copy = mail(ME, [BOB], ago(3), pid="copy")
    copy.message_id = item.message_id
    world.add(copy, resource="archive")
    assert world.store.count("interactions") == 2
    assert world.person(BOB).contact_days == 1


def test_user_merge_combines_last_contact_and_reciprocity() -> None:
    world = World().add(mail(ME, ["bob@home.org"], ago(50)), mail(BOB, [ME], ago(5)))
    world.store.decisions.merge(BOB, "bob@home.org")
    found = world.people()
    assert "bob@home.org" not in found
    bob = found[BOB]
    assert bob.addresses == ("bob@home.org", BOB) and bob.relationship
    assert bob.last_contact and bob.last_contact.at == ago(5)


def test_config_people_merge_their_addresses_under_the_first() -> None:
    cfg = config(people=(PersonConfig(("bob@work.org", BOB), "Bob B", None, None, "likes tea"),))
    found = World(cfg).add(mail(ME, [BOB], ago(9)), mail(BOB, [ME], ago(3))).people()
    assert set(found) == {"bob@work.org"}
    bob = found["bob@work.org"]
    assert bob.name == "Bob B" and bob.note == "likes tea" and bob.addresses == ("bob@work.org", BOB)


@pytest.mark.parametrize("on", [False, True])
def test_provider_equivalences_only_when_enabled(on: bool) -> None:
    world = World(config(provider_equivalences=on))
    world.add(mail(ME, ["john.doe@gmail.com"], ago(9)), mail(ME, ["johndoe+news@googlemail.com"], ago(3)))
    found = world.people()
    if on:
        assert set(found) == {"johndoe@gmail.com"}
        assert found["johndoe@gmail.com"].last_contact.at == ago(3)  # type: ignore[union-attr]
    else:
        assert set(found) == {"john.doe@gmail.com", "johndoe+news@googlemail.com"}


def test_display_name_is_the_most_common_one() -> None:
    world = World().add(mail(BOB, [ME], ago(3), name="Bob"), mail(BOB, [ME], ago(2), name="Robert"),
                        mail(BOB, [ME], ago(1), name="Robert"))
    assert world.person(BOB).name == "Robert"


def test_last_contact_over_all_addresses_of_a_merged_person() -> None:
    world = World().add(mail(ME, ["bob@work.example"], ago(40)), mail(ME, ["bob@home.example"], ago(4)))
    world.store.decisions.merge("bob@work.example", "bob@home.example")
    bob = world.people()["bob@work.example"]
    assert bob.addresses == ("bob@home.example", "bob@work.example")
    assert bob.last_contact and bob.last_contact.at == ago(4).replace(microsecond=0)
    assert "bob@home.example" not in world.people()
    world.store.decisions.unmerge("bob@home.example")
    assert {"bob@work.example", "bob@home.example"} <= set(world.people())


def test_config_people_merge_and_name() -> None:
    world = World(people=[{"addresses": ["ann@a.example", "ann@b.example"], "name": "Ann", "note": "calls"}])
    world.add(mail(ME, ["ann@b.example"], ago(3)))
    ann = world.person("ann@a.example")
    assert ann.name == "Ann" and ann.note == "calls" and "ann@b.example" in ann.addresses


@pytest.mark.parametrize("on", [False, True])
def test_provider_equivalences_are_off_by_default(on: bool) -> None:
    world = World(engine={"provider_equivalences": on})
    world.add(mail(ME, ["j.doe+work@googlemail.com"], ago(3)), mail(ME, ["jdoe@gmail.com"], ago(5)))
    keys = set(world.people())
    assert keys == ({"jdoe@gmail.com"} if on else {"j.doe+work@googlemail.com", "jdoe@gmail.com"})


# ---- last contact and its evidence ---------------------------------------------------------------------------


def test_last_contact_overall_and_per_kind_with_the_interaction_that_set_each() -> None:
    world = World().add(
        mail(ME, ["dee@x.org"], ago(60), pid="out-old"),
        mail(ME, ["dee@x.org"], ago(30), pid="out", subject="the proposal"),
        mail("dee@x.org", [ME], ago(80), pid="in-old"),
        mail("dee@x.org", [ME], ago(10), pid="in", subject="re: the proposal"),
        meeting(["dee@x.org"], ago(20), pid="meet", subject="kick-off"),
        meeting(["dee@x.org"], ago(5), pid="meet-declined", owner_response="declined"),
    )
    dee = world.person("dee@x.org")
    assert dee.last_outbound is not None and dee.last_inbound is not None and dee.last_meeting is not None
    assert (dee.last_outbound.interaction_id, dee.last_outbound.at, dee.last_outbound.subject) == (
        world.iid("out"), ago(30), "the proposal")
    assert (dee.last_inbound.interaction_id, dee.last_inbound.at, dee.last_inbound.kind) == (
        world.iid("in"), ago(10), "inbound")
    assert (dee.last_meeting.interaction_id, dee.last_meeting.at, dee.last_meeting.subject) == (
        world.iid("meet"), ago(20), "kick-off")
    assert dee.last_contact == dee.last_inbound
    assert dee.contact_days == 5


def test_last_contact_spans_accounts_and_the_same_message_is_one_interaction() -> None:
    world = World()
    world.store.accounts.ensure("b", "mbox")
    world.store.accounts.set_owner_addresses("b", ["me@work.example"])
    world.add(mail(ME, ["eli@x.org"], ago(20)))
    copy = mail("eli@x.org", ["me@work.example"], ago(2), pid="b-1")
    world.store.synced.apply_batch("b", Batch("mbox", "c", [copy]))
    twin = Interaction("b-2", "mail", copy.timestamp, copy.participants, message_id=copy.message_id)
    world.store.synced.apply_batch("b", Batch("archive", "c", [twin]))
    eli = world.person("eli@x.org")
    assert eli.last_inbound is not None and eli.last_inbound.at == ago(2) and eli.last_contact == eli.last_inbound
    assert world.store.count("interactions") == 2


# ---- cadence -------------------------------------------------------------------------------------------------


TIER_21 = [{"name": "inner", "every": "21d", "match": ["x.org"]}]


def every_gap(address: str, gap: int, count: int) -> list[Interaction]:
    return [mail(ME, [address], ago(5 + i * gap)) for i in range(count)]


def test_cadence_level_1_person_setting_beats_everything() -> None:
    world = World(tiers=TIER_21, people=[{"addresses": ["eve@x.org"], "every": "10d"}])
    world.add(*every_gap("eve@x.org", 20, 5))
    world.store.decisions.set_person("eve@x.org", every=timedelta(days=45))
    eve = world.person("eve@x.org")
    assert eve.every_days == 45 and eve.cadence_rule == "per-person setting (syncd set --every)"


def test_cadence_level_2_config_person_every_beats_the_tier() -> None:
    world = World(tiers=TIER_21, people=[{"addresses": ["eve@x.org"], "every": "10d"}])
    eve = world.add(*every_gap("eve@x.org", 20, 5)).person("eve@x.org")
    assert eve.every_days == 10 and "[[people]]" in eve.cadence_rule


def test_cadence_level_3_tier_every_beats_the_learned_rhythm() -> None:
    eve = World(tiers=TIER_21).add(*every_gap("eve@x.org", 20, 5)).person("eve@x.org")
    assert (eve.tier, eve.every_days, eve.cadence_rule) == ("inner", 21, "tier 'inner'")


def test_cadence_level_3_tier_matched_by_exact_address_and_glob() -> None:
    tiers = [{"name": "vip", "every": "14d", "match": ["vip@y.org"]},
             {"name": "shops", "every": "60d", "match": ["*@shop.example"]}]
    people = World(tiers=tiers).add(mail(ME, ["vip@y.org", "till@shop.example", "other@y.org"], ago(1))).people()
    assert (people["vip@y.org"].tier, people["vip@y.org"].every_days) == ("vip", 14)
    assert (people["till@shop.example"].tier, people["till@shop.example"].every_days) == ("shops", 60)
    assert people["other@y.org"].tier is None


def test_cadence_level_4_learned_rhythm_is_median_gap_times_one_and_a_half() -> None:
    # Gaps 10, 20, 20, 40 days: median 20, × 1.5 = 30.
    days = [5, 15, 35, 55, 95]
    world = World().add(*[mail(ME, ["lou@x.org"], ago(d)) for d in days])
    lou = world.person("lou@x.org")
    assert lou.every_days == 30 and lou.cadence_rule.startswith("learned rhythm") and lou.contact_days == 5


def test_learned_rhythm_counts_distinct_days_not_messages() -> None:
    # Three messages on two days: fewer than three distinct contact days, so the default applies.
    world = World().add(mail(ME, ["lou@x.org"], ago(5)), mail("lou@x.org", [ME], ago(5) + timedelta(hours=2)),
                        mail(ME, ["lou@x.org"], ago(25)))
    lou = world.person("lou@x.org")
    assert lou.contact_days == 2 and lou.every_days == 90


@pytest.mark.parametrize(("gap", "every", "config"), [
    (2, 14, {}), (200, 180, {}), (2, 20, {"min_every": "20d"}), (100, 60, {"max_every": "60d"}),
])
def test_learned_rhythm_is_clamped_to_the_configured_bounds(gap: int, every: int, config: dict[str, str]) -> None:
    world = World(engine=config).add(*every_gap("cy@x.org", gap, 4))
    assert world.person("cy@x.org").every_days == every


def test_cadence_level_5_default_every() -> None:
    dan = World().add(*every_gap("dan@x.org", 10, 2)).person("dan@x.org")
    assert dan.every_days == 90 and dan.cadence_rule.startswith("default")
    dan = World(engine={"default_every": "60d"}).add(*every_gap("dan@x.org", 10, 2)).person("dan@x.org")
    assert dan.every_days == 60


def test_due_is_last_contact_plus_cadence() -> None:
    fay = World().add(mail(ME, ["fay@x.org"], ago(50)), mail("fay@x.org", [ME], ago(20))).person("fay@x.org")
    assert fay.remind and fay.due == (ago(20) + timedelta(days=90)).date()


TIERS = (
    TierConfig("inner", every=timedelta(days=21), match=("*@friends.org",)),
    TierConfig("clients", every=timedelta(days=45), match=("x.org",)),
    TierConfig("directory", remind=False, match=("shop.example",)),
)


def test_cadence_default_with_fewer_than_three_contact_days() -> None:
    bob = World().add(mail(ME, [BOB], ago(10)), mail(ME, [BOB], ago(50))).person(BOB)
    assert bob.every_days == 90 and bob.cadence_rule.startswith("default")
    assert bob.due == (ago(10) + timedelta(days=90)).date()


def test_learned_rhythm_is_the_median_gap_times_one_and_a_half() -> None:
    # Contact days 0, 10, 30, 40, 100 before: gaps 60, 10, 20, 10 → median 15 → 22.5 → 22 (banker's) days.
    items = [mail(ME, [BOB], ago(d)) for d in (100, 40, 30, 10, 0.01)]
    items.append(mail(BOB, [ME], ago(10)))  # the same day twice is one contact day
    bob = World().add(*items).person(BOB)
    assert bob.contact_days == 5 and bob.every_days == round(15 * 1.5)
    assert bob.cadence_rule.startswith("learned rhythm: median gap 15 d")


@pytest.mark.parametrize(("gap", "every"), [(2, 14), (200, 180), (40, 60)])
def test_learned_rhythm_is_clamped(gap: int, every: int) -> None:
    bob = World().add(*[mail(ME, [BOB], ago(1 + gap * i)) for i in range(3)]).person(BOB)
    assert bob.every_days == every


def test_tier_beats_learned_rhythm_and_first_matching_tier_wins() -> None:
    world = World(config(tiers=TIERS)).add(*[mail(ME, ["ann@friends.org"], ago(1 + 3 * i)) for i in range(5)])
    world.add(mail(ME, [BOB], ago(1)))
    found = world.people()
    assert found["ann@friends.org"].every_days == 21 and found["ann@friends.org"].tier == "inner"
    assert found[BOB].every_days == 45 and found[BOB].cadence_rule == "tier 'clients'"
    both = World(config(tiers=(TIERS[1], TierConfig("later", every=timedelta(days=5), match=(BOB,)))))
    assert both.add(mail(ME, [BOB], ago(1))).person(BOB).tier == "clients"


def test_tier_set_by_the_user_beats_matching() -> None:
    world = World(config(tiers=TIERS)).add(mail(ME, [BOB], ago(1)))
    world.store.decisions.set_person(BOB, tier="inner")
    bob = world.person(BOB)
    assert bob.tier == "inner" and bob.every_days == 21


def test_per_person_setting_beats_the_tier() -> None:
    world = World(config(tiers=TIERS)).add(mail(ME, [BOB], ago(1)))
    world.store.decisions.set_person(BOB, every=timedelta(days=7))
    assert world.person(BOB).every_days == 7


def test_config_person_every_beats_tier_and_user_setting_beats_config() -> None:
    cfg = config(tiers=TIERS, people=(PersonConfig((BOB,), None, timedelta(days=33), None, None),))
    world = World(cfg).add(mail(ME, [BOB], ago(1)))
    assert world.person(BOB).every_days == 33
    world.store.decisions.set_person(BOB, every=timedelta(days=8))
    assert world.person(BOB).every_days == 8


def contacts_every(world: World, address: str, gap: int, count: int) -> World:
    return world.add(*[mail(ME, [address], ago(5 + i * gap)) for i in range(count)])


def test_learned_rhythm_sets_the_due_date() -> None:
    bea = contacts_every(World(), "bea@x.org", 20, 5).person("bea@x.org")
    assert bea.every_days == 30 and bea.cadence_rule.startswith("learned rhythm")
    assert bea.due == (bea.last_contact.at + timedelta(days=30)).date()  # type: ignore[union-attr]


@pytest.mark.parametrize(("gap", "every"), [(2, 14), (200, 180)])
def test_learned_rhythm_is_clamped_over_four_contact_days(gap: int, every: int) -> None:
    assert contacts_every(World(), "c@x.org", gap, 4).person("c@x.org").every_days == every


def test_default_rhythm_with_fewer_than_three_contact_days() -> None:
    dan = contacts_every(World(), "dan@x.org", 10, 2).person("dan@x.org")
    assert dan.every_days == 90 and dan.cadence_rule.startswith("default")


def test_cadence_precedence_person_then_tier_then_learned() -> None:
    world = contacts_every(World(tiers=[{"name": "inner", "every": "21d", "match": ["x.org"]}]), "eve@x.org", 20, 5)
    eve = world.person("eve@x.org")
    assert (eve.tier, eve.every_days, eve.cadence_rule) == ("inner", 21, "tier 'inner'")
    world.store.decisions.set_person("eve@x.org", every=timedelta(days=45))
    eve = world.person("eve@x.org")
    assert eve.every_days == 45 and eve.cadence_rule.startswith("per-person")


def test_config_person_every_beats_the_tier() -> None:
    world = World(tiers=[{"name": "t", "every": "21d", "match": ["x.org"]}],
                  people=[{"addresses": ["fay@x.org"], "every": "10d"}])
    assert world.add(mail(ME, ["fay@x.org"], ago(1))).person("fay@x.org").every_days == 10


# ---- no follow-up --------------------------------------------------------------------------------------------


def test_no_reminder_for_the_directory_tier() -> None:
    world = World(tiers=[{"name": "directory", "remind": False, "match": ["*@printshop.example"]}])
    shop = world.add(mail(ME, ["orders@printshop.example"], ago(400))).person("orders@printshop.example")
    assert shop.relationship and shop.tier == "directory" and not shop.remind and shop.due is None
    assert due_followups([shop], world.store, world.config, NOW) == []


def test_no_reminder_when_ignored() -> None:
    world = World().add(mail(ME, ["gus@x.org"], ago(200)))
    world.store.decisions.set_person("gus@x.org", ignore=True)
    gus = world.person("gus@x.org")
    assert gus.ignored and not gus.remind
    assert due_followups([gus], world.store, world.config, NOW) == []
    world.store.decisions.set_person("gus@x.org", ignore=False)
    assert world.person("gus@x.org").remind


@pytest.mark.parametrize(("meeting_in", "booked"), [(15, True), (17, True), (19, False)])
def test_no_reminder_when_a_meeting_is_booked_before_due_plus_grace(meeting_in: int, booked: bool) -> None:
    # Last contact 80 days ago, default 90 d: due in 10 days; grace 7 d: a meeting up to day 17 counts.
    world = World().add(mail(ME, ["hal@x.org"], ago(80)), meeting(["hal@x.org"], ahead(meeting_in)))
    hal = world.person("hal@x.org")
    assert hal.due == ahead(10).date()
    assert hal.remind is not booked
    assert ("meeting already booked" in hal.reason) is booked


def test_a_booked_overdue_person_stops_being_reminded_once_the_meeting_comes_within_grace() -> None:
    # Overdue since 110 days; the meeting is 20 days out (beyond today + grace), then 6 days out.
    world = World().add(mail(ME, ["hal@x.org"], ago(200)), meeting(["hal@x.org"], ahead(20)))
    assert world.person("hal@x.org").remind
    later = world.person("hal@x.org", ahead(14))
    assert not later.remind and "meeting already booked" in later.reason


def test_no_reminder_when_dormant() -> None:
    world = World().add(mail(ME, ["jo@x.org"], ago(3 * 365 + 2)))
    jo = world.person("jo@x.org")
    assert jo.dormant and not jo.remind and "dormant" in jo.reason
    assert due_followups([jo], world.store, world.config, NOW) == []
    fresh = World().add(mail(ME, ["jo@x.org"], ago(3 * 365 - 2))).person("jo@x.org")
    assert not fresh.dormant and fresh.remind


def test_a_relationship_turns_dormant_with_time_alone() -> None:
    world = World().add(mail(ME, ["jo@x.org"], ago(3 * 365 - 2)))
    assert not world.person("jo@x.org").dormant
    assert world.person("jo@x.org", ahead(5)).dormant


def test_no_reminder_when_not_a_relationship() -> None:
    world = World().add(mail("cold@x.org", [ME], ago(200)))
    cold = world.person("cold@x.org")
    assert not cold.remind and cold.due is None and "not a relationship" in cold.reason
    assert due_followups([cold], world.store, world.config, NOW) == []


def test_directory_tier_is_listed_never_reminded() -> None:
    shop = World(config(tiers=TIERS)).add(mail(ME, ["sales@shop.example"], ago(200))).person("sales@shop.example")
    assert shop.relationship and shop.tier == "directory" and not shop.remind and shop.due is None


def test_ignored_is_not_reminded() -> None:
    world = World().add(mail(ME, [BOB], ago(200)))
    world.store.decisions.set_person(BOB, ignore=True)
    bob = world.person(BOB)
    assert bob.ignored and not bob.remind and bob.reason.startswith("ignored")
    world.store.decisions.set_person(BOB, ignore=False)
    assert world.person(BOB).remind


def test_dormant_after_forget_after() -> None:
    found = World().add(mail(ME, [BOB], ago(3 * 365 + 1)), mail(ME, [ANN], ago(3 * 365 - 1))).people()
    assert found[BOB].dormant and not found[BOB].remind and found[BOB].reason.startswith("dormant")
    assert not found[ANN].dormant and found[ANN].remind


def test_a_booked_meeting_before_due_plus_grace_means_no_reminder() -> None:
    # Last contact 80 days ago, default 90 d: due in 10 days; a meeting in 15 days is within the 7-day grace.
    bob = World().add(mail(ME, [BOB], ago(80)), meeting([BOB], NOW + timedelta(days=15))).person(BOB)
    assert not bob.remind and bob.reason.startswith("meeting already booked")
    assert bob.due == (ago(80) + timedelta(days=90)).date()


def test_a_meeting_beyond_due_plus_grace_is_not_booked() -> None:
    bob = World().add(mail(ME, [BOB], ago(80)), meeting([BOB], NOW + timedelta(days=25))).person(BOB)
    assert bob.remind and bob.next_meeting is not None


def test_a_declined_future_meeting_is_not_booked() -> None:
    bob = World().add(mail(ME, [BOB], ago(80)), meeting([(BOB, "declined")], NOW + timedelta(days=12))).person(BOB)
    assert bob.remind


def test_not_a_relationship_is_not_reminded() -> None:
    ann = World().add(*[mail(ANN, [ME], ago(d)) for d in (300, 200, 100)]).person(ANN)
    assert not ann.remind and ann.due is None


def test_directory_tier_from_the_toml_is_never_reminded() -> None:
    world = World(tiers=[{"name": "directory", "remind": False, "match": ["*@printshop.example"]}])
    shop = world.add(mail(ME, ["orders@printshop.example"], ago(200))).person("orders@printshop.example")
    assert shop.relationship and not shop.remind and shop.due is None and "directory" in shop.reason


def test_ignored_people_are_not_reminded() -> None:
    world = World().add(mail(ME, ["gus@x.org"], ago(200)))
    world.store.decisions.set_person("gus@x.org", ignore=True)
    assert not world.person("gus@x.org").remind
    world.store.decisions.set_person("gus@x.org", ignore=False)
    assert world.person("gus@x.org").remind


def test_a_booked_meeting_means_no_reminder() -> None:
    world = World().add(mail(ME, ["hal@x.org"], ago(100)),  # overdue since 10 days
                        meeting([("hal@x.org", "accepted")], NOW + timedelta(days=5)))
    hal = world.person("hal@x.org")
    assert not hal.remind and "meeting already booked" in hal.reason


def test_a_meeting_far_beyond_due_plus_grace_does_not_count_as_booked() -> None:
    world = World().add(mail(ME, ["ida@x.org"], ago(100)),
                        meeting([("ida@x.org", "accepted")], NOW + timedelta(days=60)))
    assert world.person("ida@x.org").remind


def test_dormant_person_says_why() -> None:
    jo = World().add(mail(ME, ["jo@x.org"], ago(3 * 365 + 5))).person("jo@x.org")
    assert jo.dormant and not jo.remind and "dormant" in jo.reason


def test_user_added_person_is_a_relationship() -> None:
    world = World().add(mail("kay@x.org", [ME], ago(10)))
    world.store.decisions.set_person("kay@x.org", every=timedelta(days=30))
    kay = world.person("kay@x.org")
    assert kay.relationship and kay.remind and kay.due == (ago(10) + timedelta(days=30)).date()


# ---- due follow-ups: cycles, one-offs, ended series ----------------------------------------------------------


def followups(world: World) -> dict[tuple[str, str], Any]:
    statuses = list(world.people().values())
    return {(item.person, item.origin): item for item in due_followups(statuses, world.store, world.config, NOW)}


def test_one_off_reminder_carries_its_note() -> None:
    world = World().add(mail(ME, ["max@x.org"], ago(5)))
    world.store.decisions.add_reminder("max@x.org", date(2026, 3, 17), "project ends: introduce to Lee")
    item = followups(world)[("max@x.org", "reminder")]
    assert item.due == date(2026, 3, 17) and "introduce to Lee" in item.description


def test_series_ended_follow_up_after_the_last_occurrence() -> None:
    world = World().add(*[meeting(["lea@x.org"], ago(10 + 7 * week), series="proj-1") for week in range(6)])
    item = followups(world)[("lea@x.org", "series")]
    assert item.due == (ago(10) + timedelta(days=21)).date() and item.cycle == "proj-1"


def test_series_ended_uses_after_series_end() -> None:
    world = World(engine={"after_series_end": "5d"})
    world.add(*[meeting(["lea@x.org"], ago(10 + 7 * week), series="proj-1") for week in range(4)])
    assert followups(world)[("lea@x.org", "series")].due == (ago(10) + timedelta(days=5)).date()


def test_a_series_still_running_has_no_series_follow_up() -> None:
    world = World().add(*[meeting(["ray@x.org"], ago(10 - 7 * week), series="weekly") for week in range(6)])
    assert ("ray@x.org", "series") not in followups(world)


def test_series_ended_but_in_touch_since_has_no_series_follow_up() -> None:
    world = World().add(*[meeting(["lea@x.org"], ago(20 + 7 * week), series="proj-1") for week in range(4)])
    world.add(mail(ME, ["lea@x.org"], ago(3)))
    assert ("lea@x.org", "series") not in followups(world)


def _due(world: World, now: datetime = NOW) -> dict[tuple[str, str], DueFollowup]:
    statuses = list(world.people(now).values())
    return {(d.person, d.origin): d for d in due_followups(statuses, world.store, world.config, now)}


def test_cycle_follow_up_carries_last_contact_rhythm_and_note() -> None:
    world = World().add(mail(ME, [BOB], ago(100), subject="Contract"))
    world.store.decisions.set_person(BOB, note="prefers phone")
    item = _due(world)[(BOB, "cycle")]
    assert item.due == (ago(100) + timedelta(days=90)).date()
    assert item.cycle == ago(100).isoformat() and item.every_days == 90
    assert "Contract" in item.description and "prefers phone" in item.description and "90" in item.description


def test_no_cycle_follow_up_without_remind() -> None:
    world = World(config(tiers=TIERS)).add(mail(ME, ["a@shop.example"], ago(100)), mail(ANN, [ME], ago(100)))
    assert _due(world) == {}


def test_one_off_reminder() -> None:
    world = World().add(mail(ME, [BOB], ago(1)))
    rid = world.store.decisions.add_reminder(BOB, date(2026, 4, 1), "send the report")
    item = _due(world)[(BOB, "reminder")]
    assert item.cycle == str(rid) and item.due == date(2026, 4, 1) and "send the report" in item.description


def test_series_ended_follow_up() -> None:
    world = World().add(*[meeting([BOB], ago(7 * w + 5), series="weekly-1", subject="Project X") for w in range(6)])
    item = _due(world)[(BOB, "series")]
    assert item.cycle == "weekly-1" and item.due == (ago(5) + timedelta(days=21)).date()
    assert "Project X" in item.description


def test_no_series_follow_up_while_occurrences_remain() -> None:
    world = World().add(meeting([BOB], ago(5), series="s"), meeting([BOB], NOW + timedelta(days=2), series="s"))
    assert (BOB, "series") not in _due(world)


def test_no_series_follow_up_after_contact_since() -> None:
    world = World().add(meeting([BOB], ago(12), series="s"), meeting([BOB], ago(5), series="s"),
                        mail(ME, [BOB], ago(2)))
    assert (BOB, "series") not in _due(world)


def test_one_off_reminder_and_series_ended() -> None:
    world = World().add(*[meeting([("lea@x.org", "accepted")], ago(10 + 7 * i), series="proj") for i in range(6)])
    world.add(*[meeting([("max@x.org", "accepted")], ago(10 - 7 * i), series="ongoing") for i in range(6)])
    world.store.decisions.add_reminder("max@x.org", date(2026, 3, 5), "intro")
    statuses = list(world.people().values())
    due = {(d.person, d.origin): d for d in due_followups(statuses, world.store, world.config, NOW)}
    assert due[("lea@x.org", "series")].due == (ago(10) + timedelta(days=21)).date()
    assert ("max@x.org", "series") not in due  # still running
    assert due[("max@x.org", "reminder")].due == date(2026, 3, 5) and "intro" in due[("max@x.org", "reminder")].description


# ---- decisions survive a full resync -------------------------------------------------------------------------


def test_decisions_survive_a_full_resync() -> None:
    world = World(tiers=[{"name": "close", "every": "14d"}])
    world.add(mail(ME, ["nia@x.org"], ago(5), pid="n1"), mail(ME, ["ned@x.org"], ago(6), pid="n2"))
    world.store.decisions.set_person("nia@x.org", every=timedelta(days=7), note="prefers calls", name="Nia N.")
    world.store.decisions.set_person("ned@x.org", tier="close", ignore=True)
    world.store.decisions.merge("nia@x.org", "nia@home.example")
    world.store.decisions.add_reminder("nia@x.org", date(2026, 3, 17), None)
    world.people()
    # A full sync that sees nothing: every synced row goes, the decisions stay.
    world.store.synced.apply_batch("a", Batch("inbox", "c2", [], full=True, complete=True))
    assert world.store.count("interactions") == 0
    nia = world.person("nia@x.org")
    assert nia.last_contact is None and nia.every_days == 7
    # The same data back again.
    world.store.synced.apply_batch("a", Batch("inbox", "c3", [mail(ME, ["nia@x.org"], ago(5), pid="n1"),
                                                      mail(ME, ["nia@home.example"], ago(2)),
                                                      mail(ME, ["ned@x.org"], ago(6), pid="n2")],
                                       full=True, complete=True))
    people = world.people()
    nia = people["nia@x.org"]
    assert (nia.every_days, nia.note, nia.name) == (7, "prefers calls", "Nia N.")
    assert "nia@home.example" in nia.addresses and nia.last_contact.at == ago(2)  # type: ignore[union-attr]
    assert "nia@home.example" not in people
    ned = people["ned@x.org"]
    assert ned.tier == "close" and ned.every_days == 14 and ned.ignored and not ned.remind
    assert world.store.count("reminders") == 1


# ---- finding a person (resolve) ------------------------------------------------------------------------------


def named_world() -> World:
    names = {"ola@x.org": "Ola Nordmann", "olga@y.org": "Olga Berg", "ivan@z.org": "Ivan Petrov"}
    world = World().add(mail(ME, ["ola@x.org", "olga@y.org", "ivan@z.org"], ago(1), names=names))
    world.people()
    return world


def test_resolve_an_exact_address() -> None:
    world = named_world()
    assert resolve(world.store, world.config, "  Olga@Y.org ") == "olga@y.org"


def test_resolve_an_address_merged_into_someone_gives_their_key() -> None:
    world = named_world()
    world.store.decisions.merge("ola@x.org", "olga@y.org")
    assert resolve(world.store, world.config, "olga@y.org") == "ola@x.org"


def test_resolve_an_unknown_address_is_a_usage_error() -> None:
    world = named_world()
    with pytest.raises(UsageError, match=r"nobody with the address who@x\.org"):
        resolve(world.store, world.config, "who@x.org")


def test_resolve_a_unique_part_of_a_name() -> None:
    world = named_world()
    assert resolve(world.store, world.config, "petrov") == "ivan@z.org"
    assert resolve(world.store, world.config, "Nordm") == "ola@x.org"


def test_resolve_an_ambiguous_part_lists_the_candidates() -> None:
    world = named_world()
    with pytest.raises(UsageError, match="matches several people") as raised:
        resolve(world.store, world.config, "ol")
    message = str(raised.value)
    assert "Ola Nordmann <ola@x.org>" in message and "Olga Berg <olga@y.org>" in message
    assert "ivan" not in message


def test_resolve_a_part_nobody_matches_is_a_usage_error() -> None:
    world = named_world()
    with pytest.raises(UsageError, match="nobody matches"):
        resolve(world.store, world.config, "zz")


# ---- incremental refresh equals a full recompute -------------------------------------------------------------


PEOPLE = [f"p{i}@x.org" for i in range(5)] + ["q.r+t@googlemail.com", "qr@gmail.com"]


def _script(seed: int) -> list[tuple[Any, ...]]:
    """A random sequence of batches, decisions and clock moves (the same for both stores)."""
    rng = random.Random(seed)
    steps: list[tuple[Any, ...]] = []
    events: list[Interaction] = []
    clock = NOW
    for _ in range(25):
        who = rng.choice(PEOPLE)
        roll = rng.random()
        if roll < 0.25:
            when = clock - timedelta(days=rng.randrange(0, 1200), hours=rng.randrange(24))
            if rng.random() < 0.1:
                when = clock + timedelta(hours=rng.randrange(1, 60))  # dated ahead of the clock
            steps.append(("batch", [mail(ME, [who], when)]))
        elif roll < 0.4:
            when = clock - timedelta(days=rng.randrange(0, 400))
            steps.append(("batch", [mail(who, [ME], when, bulk=rng.choice([None, None, "List-Id"]))]))
        elif roll < 0.55:
            series = rng.choice([None, "s1", "s2"])
            item = meeting([who], clock + timedelta(days=rng.randrange(-200, 40)), series=series)
            events.append(item)
            steps.append(("batch", [item]))
        elif roll < 0.62 and events:
            old = rng.choice(events)  # the event changes at the provider: cancelled, or moved
            assert old.timestamp is not None
            moved = Interaction(old.provider_id, "event", old.timestamp + timedelta(days=rng.randrange(-5, 30)),
                                old.participants, cancelled=rng.random() < 0.5, series_id=old.series_id)
            steps.append(("batch", [moved]))
        elif roll < 0.66 and events:
            steps.append(("delete", rng.choice(events).provider_id))
        elif roll < 0.74:
            steps.append(("set", who, rng.choice([{"every": timedelta(days=rng.choice([7, 30]))}, {"ignore": True},
                                                  {"ignore": False}, {"tier": "close"}, {"tier": "dir"}])))
        elif roll < 0.82:
            steps.append(("merge", who, rng.choice(PEOPLE)))
        elif roll < 0.88:
            steps.append(("unmerge", who))
        elif roll < 0.91:
            steps.append(("resync",))
        else:
            clock += timedelta(days=rng.choice([1, 3, 10, 30, 400]))
        steps.append(("check", clock))
    return steps


def _play(world: World, step: tuple[Any, ...], full: bool) -> None:
    kind = step[0]
    store = world.store

    def key(address: str) -> str:
        return Persons(store, world.config).key(address)

    if kind == "batch":
        world.add(*step[1])
    elif kind == "delete":
        store.synced.apply_batch("a", Batch("inbox", "c", deleted=[step[1]]))
    elif kind == "set":
        store.decisions.set_person(key(step[1]), **step[2])
    elif kind == "merge":
        into, other = key(step[1]), key(step[2])  # as the CLI does: both arguments resolved to persons
        if into != other:
            store.decisions.merge(into, other)
    elif kind == "unmerge":
        if store.db.execute("SELECT 1 FROM person_links WHERE address = ?", (step[1],)).fetchone():
            store.decisions.unmerge(step[1])
    elif kind == "resync":
        store.synced.apply_batch("a", Batch("inbox", "c", [], full=True, complete=True))
    else:
        (engine.recompute if full else engine.refresh)(store, world.config, step[1])


CONFIGS: list[dict[str, Any]] = [
    {"tiers": [{"name": "close", "every": "30d", "match": ["p1@x.org"]}, {"name": "dir", "remind": False}]},
    {"tiers": [{"name": "close", "every": "30d"}, {"name": "dir", "remind": False, "match": ["p2@x.org"]}],
     "engine": {"provider_equivalences": True},
     "people": [{"addresses": ["p3@x.org", "p4@x.org"], "every": "20d"}]},
]


@pytest.mark.parametrize("seed", range(10))
def test_incremental_refresh_equals_a_full_recompute(seed: int) -> None:
    config = CONFIGS[seed % len(CONFIGS)]
    incremental, full = World(**config), World(**config)
    for number, step in enumerate(_script(seed)):
        _play(incremental, step, full=False)
        _play(full, step, full=True)
        if step[0] == "check":
            now = step[1]
            got = {s.key: s for s in engine.people(incremental.store, incremental.config, now)}
            want = {s.key: s for s in engine.people(full.store, full.config, now)}
            assert got == want, f"seed {seed}, step {number}"


def test_decisions_keep_a_person_listed_through_an_empty_full_resync() -> None:
    world = World().add(mail(ME, ["nia@x.org"], ago(5)))
    world.store.decisions.set_person("nia@x.org", every=timedelta(days=7), note="coffee")
    world.store.synced.apply_batch("a", Batch("inbox", "c2", [], full=True, complete=True))
    assert world.store.count("interactions") == 0
    gone = world.person("nia@x.org")  # kept: the user decided about her
    assert gone.last_contact is None and gone.every_days == 7 and gone.reason == "no qualifying contact yet"
    world.add(mail(ME, ["nia@x.org"], ago(5)))
    nia = world.person("nia@x.org")
    assert nia.every_days == 7 and nia.note == "coffee"


def test_resolve_by_address_and_name_part() -> None:
    world = World().add(Interaction("x1", "mail", ago(1), [Participant(ME, "Me", "from"),
                                                                 Participant("ola@x.org", "Ola Nordmann", "to"),
                                                                 Participant("olga@x.org", "Olga Berg", "to")]))
    world.people()
    assert resolve(world.store, world.config, "OLA@x.org") == "ola@x.org"
    assert resolve(world.store, world.config, "nordmann") == "ola@x.org"
    with pytest.raises(UsageError, match=re.escape("matches several people: Ola Nordmann <ola@x.org>; Olga Berg <olga@x.org>")):
        resolve(world.store, world.config, "ol")
    with pytest.raises(UsageError, match="nobody with the address"):
        resolve(world.store, world.config, "who@x.org")


@pytest.mark.parametrize("seed", range(4))
def test_incremental_refresh_equals_a_full_recompute_on_one_store(seed: int) -> None:
    rng = random.Random(seed)
    world = World(tiers=[{"name": "t", "every": "30d", "match": ["p1@x.org"]}])
    people = [f"p{i}@x.org" for i in range(6)]
    for step in range(12):
        who = rng.choice(people)
        choice = rng.random()
        if choice < 0.4:
            world.add(mail(ME, [who], ago(rng.randrange(1, 400))))
        elif choice < 0.6:
            world.add(mail(who, [ME], ago(rng.randrange(1, 400))))
        elif choice < 0.75:
            world.add(meeting([(who, "accepted")], NOW + timedelta(days=rng.randrange(-200, 30))))
        elif choice < 0.85:
            world.store.decisions.set_person(who, every=timedelta(days=rng.choice([7, 30, 90])))
        elif choice < 0.95:
            other = rng.choice(people)
            if other != who and resolve_safe(world, who) and resolve_safe(world, other):
                world.store.decisions.merge(who, other)
        else:
            world.store.synced.apply_batch("a", Batch("inbox", "c", [], full=True, complete=True))
        later = NOW + timedelta(days=step)
        engine.refresh(world.store, world.config, later)
        incremental = {s.key: s for s in engine.people(world.store, world.config, later)}
        engine.recompute(world.store, world.config, later)
        full = {s.key: s for s in engine.people(world.store, world.config, later)}
        assert incremental == full, f"step {step}"


def resolve_safe(world: World, address: str) -> bool:
    return world.store.db.execute("SELECT 1 FROM person_links WHERE address = ?", (address,)).fetchone() is None


# ---- why, and --as-of ----------------------------------------------------------------------------------------


def test_explain_names_the_evidence_the_rule_and_merge_suggestions() -> None:
    world = World().add(mail(ME, [BOB], ago(9), subject="Budget", name="Me"),
                        mail("bob@home.org", [ME], ago(4), name="Bob Smith"),
                        mail(BOB, [ME], ago(3), name="Bob Smith"))
    world.refresh()
    found = explain(world.store, world.config, BOB, NOW)
    text = "\n".join(found.lines + found.notes)
    assert BOB in text and "Budget" in text and "[a: inbox]" in text
    assert "default rhythm" in text and "bob@home.org" in text  # suggested, not applied
    assert "bob@home.org" in world.people()


def test_as_of_ignores_later_interactions() -> None:
    world = World().add(mail(ME, [BOB], ago(100)), mail(ME, [BOB], ago(10)), mail(ME, [ANN], ago(5)))
    world.refresh()
    then = ago(50)
    found = {s.key: s for s in engine.people(world.store, world.config, then, historical=True)}
    assert set(found) == {BOB}
    last = found[BOB].last_contact
    assert last is not None and last.at == ago(100)
    assert found[BOB].due == (ago(100) + timedelta(days=90)).date()
