"""The product file's "Definitions", one small test per rule, against the engine's public entry points.

Every test builds interactions in an in-memory store (``Store.apply_batch``), runs ``engine.refresh`` at a
fixed "now" and asserts on the :class:`syncd.engine.standing.PersonStatus` that ``engine.people`` returns.
"""

from __future__ import annotations

import itertools
import random
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest

from connectors.base import Batch, Interaction, Participant
from syncd import engine
from syncd.config import parse_config
from syncd.engine.due import due_followups
from syncd.engine.lookup import resolve
from syncd.engine.refresh import Persons
from syncd.engine.status import PersonStatus
from syncd.errors import UsageError
from syncd.store import Store

ME = "me@example.com"
NOW = datetime(2025, 6, 15, 12, 0, tzinfo=UTC)
_serial = itertools.count(1)


def ago(days: float) -> datetime:
    return NOW - timedelta(days=days)


def ahead(days: float) -> datetime:
    return NOW + timedelta(days=days)


def email(sender: str, to: list[str], when: datetime | None, *, cc: list[str] | None = None,
          bcc: list[str] | None = None, bulk: str | None = None, subject: str = "hello",
          names: dict[str, str] | None = None, pid: str | None = None) -> Interaction:
    n = next(_serial)
    names = names or {}
    parts = [Participant(sender, names.get(sender, ""), "from")]
    parts += [Participant(a, names.get(a, ""), "to") for a in to]
    parts += [Participant(a, names.get(a, ""), "cc") for a in cc or []]
    parts += [Participant(a, names.get(a, ""), "bcc") for a in bcc or []]
    return Interaction(pid or f"mail-{n}", "mail", when, parts, message_id=f"msg-{n}@rules.test",
                       subject=subject, bulk=bulk)


def event(guests: list[str | tuple[str, str]], when: datetime, *, organizer: str = ME, cancelled: bool = False,
          owner_response: str | None = None, series: str | None = None, pid: str | None = None,
          subject: str = "sync") -> Interaction:
    n = next(_serial)
    parts = [Participant(organizer, "", "organizer")]
    for guest in guests:
        address, response = (guest, "accepted") if isinstance(guest, str) else guest
        parts.append(Participant(address, "", "attendee", response))  # type: ignore[arg-type]
    return Interaction(pid or f"event-{n}", "event", when, parts, subject=subject, cancelled=cancelled,
                       series_id=series, owner_response=owner_response)  # type: ignore[arg-type]


class World:
    """One store with one account whose owner is ``ME``, and one configuration."""

    def __init__(self, **config: Any) -> None:
        self.store = Store(":memory:")
        self.store.accounts.ensure("a", "maildir")
        self.store.accounts.set_owner_addresses("a", [ME])
        self.config = parse_config({"accounts": {}, **config})

    def add(self, *items: Interaction, resource: str = "inbox") -> World:
        self.store.synced.apply_batch("a", Batch(resource, "c", list(items)))
        return self

    def people(self, now: datetime = NOW) -> dict[str, PersonStatus]:
        engine.refresh(self.store, self.config, now)
        return {status.key: status for status in engine.people(self.store, self.config, now)}

    def person(self, key: str, now: datetime = NOW) -> PersonStatus:
        return self.people(now)[key]

    def iid(self, provider_id: str) -> int:
        row = self.store.db.execute(
            "SELECT interaction_id FROM sightings WHERE account = 'a' AND provider_id = ?", (provider_id,)
        ).fetchone()
        return int(row[0])


def contacted(world: World, key: str) -> bool:
    """Whether any qualifying contact with ``key`` exists (the person is listed with a last contact)."""
    person = world.people().get(key)
    return person is not None and person.last_contact is not None


# ---- qualifying contacts: the three table rows ----------------------------------------------------------


def test_outbound_mail_to_p_qualifies() -> None:
    world = World().add(email(ME, ["bob@x.org"], ago(4), pid="out"))
    bob = world.person("bob@x.org")
    assert bob.last_outbound is not None and bob.last_outbound.at == ago(4)
    assert bob.last_contact == bob.last_outbound and bob.last_outbound.interaction_id == world.iid("out")


def test_outbound_mail_with_p_in_cc_qualifies() -> None:
    assert World().add(email(ME, ["a@x.org"], ago(4), cc=["carl@x.org"])).person("carl@x.org").last_outbound


def test_outbound_mail_with_p_only_in_bcc_does_not_qualify() -> None:
    world = World().add(email(ME, ["a@x.org"], ago(4), bcc=["hid@x.org"]))
    assert not contacted(world, "hid@x.org")


def test_inbound_mail_from_p_to_the_owner_qualifies() -> None:
    world = World().add(email("ann@x.org", [ME], ago(2), pid="in"))
    ann = world.person("ann@x.org")
    assert ann.last_inbound is not None and ann.last_inbound.at == ago(2)
    assert ann.last_inbound.interaction_id == world.iid("in") and ann.last_outbound is None


def test_inbound_mail_with_the_owner_in_cc_qualifies() -> None:
    assert World().add(email("ann@x.org", ["z@x.org"], ago(2), cc=[ME])).person("ann@x.org").last_inbound


def test_meeting_that_has_started_qualifies() -> None:
    world = World().add(event(["kim@x.org"], ago(1), pid="meet"))
    kim = world.person("kim@x.org")
    assert kim.last_meeting is not None and kim.last_meeting.at == ago(1)
    assert kim.last_meeting.interaction_id == world.iid("meet") and kim.last_contact == kim.last_meeting


def test_meeting_organised_by_p_qualifies() -> None:
    world = World().add(event([(ME, "accepted")], ago(1), organizer="org@x.org"))
    assert world.person("org@x.org").last_meeting is not None


# ---- qualifying contacts: the negative cases ---------------------------------------------------------------


@pytest.mark.parametrize(("others", "qualifies"), [(20, True), (21, False)])
def test_outbound_recipient_cap_excludes_the_owner(others: int, qualifies: bool) -> None:
    # The owner is in To and Cc as well: 22 or 23 addresses, of which 20 or 21 are "others".
    recipients = [ME] + [f"r{i}@x.org" for i in range(others)]
    world = World().add(email(ME, recipients, ago(3), cc=["Me@Example.com"]))
    assert contacted(world, "r0@x.org") is qualifies
    assert contacted(world, f"r{others - 1}@x.org") is qualifies


@pytest.mark.parametrize(("others", "qualifies"), [(20, True), (21, False)])
def test_inbound_recipient_cap_excludes_the_owner(others: int, qualifies: bool) -> None:
    world = World().add(email(ME, ["pia@x.org"], ago(30)))
    world.add(email("pia@x.org", [ME] + [f"r{i}@x.org" for i in range(others)], ago(3)))
    assert (world.person("pia@x.org").last_inbound is not None) is qualifies


def test_recipient_cap_follows_the_configured_max_recipients() -> None:
    world = World(engine={"max_recipients": 2}).add(email(ME, ["a1@x.org", "a2@x.org", "a3@x.org"], ago(3)))
    assert not contacted(world, "a1@x.org")


@pytest.mark.parametrize("reason", [
    "List-Id", "List-Unsubscribe", "Precedence: bulk", "Precedence: list", "Precedence: junk",
    "Auto-Submitted: auto-generated", "CATEGORY_PROMOTIONS", "CATEGORY_SOCIAL", "CATEGORY_UPDATES",
    "CATEGORY_FORUMS", "SPAM", "TRASH",
])
def test_bulk_inbound_mail_never_qualifies(reason: str) -> None:
    world = World().add(email("news@x.org", [ME], ago(2), bulk=reason))
    assert not contacted(world, "news@x.org")


def test_the_owners_sent_mail_is_never_bulk() -> None:
    world = World().add(email(ME, ["list@x.org"], ago(2), bulk="List-Id"))
    assert world.person("list@x.org").last_outbound is not None


def test_inbound_mail_without_the_owner_in_to_or_cc_does_not_qualify() -> None:
    world = World().add(email(ME, ["ann@x.org"], ago(40)),
                        email("ann@x.org", ["zed@x.org"], ago(3)),
                        email("ann@x.org", ["zed@x.org"], ago(2), bcc=[ME]))
    ann = world.person("ann@x.org")
    assert ann.last_inbound is None and ann.last_contact == ann.last_outbound


def test_meeting_not_started_is_no_last_contact_but_the_next_meeting() -> None:
    world = World().add(event(["kim@x.org"], ahead(3)))
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
    world = World().add(event(guests, ago(2), **kwargs))
    assert not contacted(world, "kim@x.org")


def test_a_cancelled_future_meeting_is_not_a_booked_meeting() -> None:
    world = World().add(email(ME, ["kim@x.org"], ago(100)), event(["kim@x.org"], ahead(2), cancelled=True))
    kim = world.person("kim@x.org")
    assert kim.next_meeting is None and kim.remind


@pytest.mark.parametrize(("attendees", "qualifies"), [(20, True), (21, False)])
def test_meeting_attendee_cap(attendees: int, qualifies: bool) -> None:
    guests: list[str | tuple[str, str]] = [f"g{i}@x.org" for i in range(attendees)]
    world = World().add(event(guests, ago(2)))
    assert contacted(world, "g0@x.org") is qualifies


def test_unusable_recipients_still_count_against_the_cap() -> None:
    item = email(ME, [f"r{i}@x.org" for i in range(18)] + ["/O=CORP/OU=EXCH/CN=RECIPIENTS/CN=X"], ago(3))
    item.recipient_count = 21  # what was sent: 18 addresses, 3 entries that were no address
    assert not contacted(World().add(item), "r0@x.org")


def test_the_mail_an_unsubscribe_click_sends_is_no_contact() -> None:
    world = World().add(email(ME, ["list@x.org"], ago(2), subject="unsubscribe"),
                        email(ME, ["unsubscribe-7@lists.example"], ago(2)))
    assert not contacted(world, "list@x.org") and not contacted(world, "unsubscribe-7@lists.example")


# ---- role addresses, blocklist, the owner --------------------------------------------------------------------


@pytest.mark.parametrize("local", ["noreply", "no-reply", "donotreply", "mailer-daemon", "postmaster", "bounce",
                                   "bounces+x", "bounces-123", "notification", "notifications_eu", "newsletter.de"])
def test_role_addresses_are_never_people(local: str) -> None:
    role = f"{local}@x.org"
    world = World().add(email(ME, [role, "real@x.org"], ago(1)), event([role], ago(2)))
    people = world.people()
    assert role not in people and "real@x.org" in people


@pytest.mark.parametrize("pattern", ["vendor@shop.example", "*@shop.example"])
def test_blocklisted_addresses_are_never_people(pattern: str) -> None:
    world = World(engine={"blocklist": [pattern]})
    world.add(email(ME, ["vendor@shop.example", "real@x.org"], ago(1)), email("vendor@shop.example", [ME], ago(1)))
    assert set(world.people()) == {"real@x.org"}


def test_domain_blocklist_leaves_other_domains_alone() -> None:
    world = World(engine={"blocklist": ["*@shop.example"]})
    world.add(email(ME, ["vendor@shop.example.org"], ago(1)))
    assert "vendor@shop.example.org" in world.people()


def test_the_owner_is_never_a_person() -> None:
    world = World().add(email(ME, [ME, "bob@x.org"], ago(1)), event([(ME, "accepted"), "bob@x.org"], ago(2)))
    assert set(world.people()) == {"bob@x.org"}


# ---- implausible timestamps ----------------------------------------------------------------------------------


def test_a_1979_timestamp_is_not_a_contact_and_is_counted() -> None:
    world = World().add(email(ME, ["old@x.org"], datetime(1979, 5, 1, tzinfo=UTC)),
                        event(["old@x.org"], datetime(1979, 5, 2, tzinfo=UTC)))
    stats = engine.refresh(world.store, world.config, NOW)
    assert stats.implausible == 2
    assert not contacted(world, "old@x.org")


def test_mail_dated_two_days_ahead_is_not_the_last_contact_and_is_counted() -> None:
    world = World().add(email(ME, ["fut@x.org"], ago(10), pid="real"), email(ME, ["fut@x.org"], ahead(2)))
    stats = engine.refresh(world.store, world.config, NOW)
    assert stats.implausible == 1
    fut = world.person("fut@x.org")
    assert fut.last_contact is not None and fut.last_contact.interaction_id == world.iid("real")
    assert fut.contact_days == 1


def test_mail_dated_hours_ahead_becomes_the_last_contact_once_its_time_has_come() -> None:
    world = World().add(email(ME, ["soon@x.org"], ago(30)), email(ME, ["soon@x.org"], ahead(0.5), pid="soon"))
    assert world.person("soon@x.org").last_contact.at == ago(30)  # type: ignore[union-attr]
    later = world.person("soon@x.org", ahead(1))  # incremental refresh, nothing new pulled
    assert later.last_contact is not None and later.last_contact.interaction_id == world.iid("soon")


def test_strings_that_are_no_address_are_never_people() -> None:
    world = World().add(email(ME, ["undisclosed-recipients:;", "/O=CORP/CN=BOB", "bob@x.org"], ago(1)))
    assert set(world.people()) == {"bob@x.org"}


# ---- reciprocity -------------------------------------------------------------------------------------------------


def test_inbound_only_is_not_a_relationship() -> None:
    pitch = World().add(email("pitch@x.org", [ME], ago(5)), email("pitch@x.org", [ME], ago(50))).person("pitch@x.org")
    assert not pitch.relationship and not pitch.remind and pitch.due is None


def test_one_outbound_mail_makes_a_relationship() -> None:
    world = World().add(email("ann@x.org", [ME], ago(50)))
    assert not world.person("ann@x.org").relationship
    ann = world.add(email(ME, ["ann@x.org"], ago(40))).person("ann@x.org")
    assert ann.relationship and ann.remind


def test_a_meeting_makes_a_relationship() -> None:
    world = World().add(email("ann@x.org", [ME], ago(50)), event(["ann@x.org"], ago(45)))
    assert world.person("ann@x.org").relationship


def test_syncd_set_every_makes_a_relationship() -> None:
    world = World().add(email("ann@x.org", [ME], ago(10)))
    world.store.decisions.set_person("ann@x.org", every=timedelta(days=30))
    ann = world.person("ann@x.org")
    assert ann.relationship and ann.remind and ann.due == (ago(10) + timedelta(days=30)).date()


# ---- persons: merges ----------------------------------------------------------------------------------------------


def test_merge_then_unmerge() -> None:
    world = World().add(email(ME, ["bob@work.example"], ago(40)), email(ME, ["bob@home.example"], ago(4), pid="home"))
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
    world = World().add(*[email(ME, [a], ago(d)) for a, d in (("a@x.org", 30), ("b@x.org", 20), ("c@x.org", 10))])
    world.store.decisions.merge("b@x.org", "a@x.org")
    world.store.decisions.merge("c@x.org", "b@x.org")
    people = world.people()
    assert set(people) == {"c@x.org"}
    assert people["c@x.org"].addresses == ("a@x.org", "b@x.org", "c@x.org") and people["c@x.org"].contact_days == 3


def test_unmerge_of_an_address_never_merged_is_a_usage_error() -> None:
    world = World().add(email(ME, ["bob@x.org"], ago(4)))
    with pytest.raises(UsageError, match="was not merged"):
        world.store.decisions.unmerge("bob@x.org")


def test_config_people_entries_merge_addresses() -> None:
    world = World(people=[{"addresses": ["cat@a.example", "cat@b.example"], "name": "Cat"}])
    world.add(email(ME, ["cat@b.example"], ago(3)), email("cat@a.example", [ME], ago(1)))
    people = world.people()
    assert "cat@b.example" not in people
    cat = people["cat@a.example"]
    assert cat.name == "Cat" and cat.addresses == ("cat@a.example", "cat@b.example")
    assert cat.last_outbound.at == ago(3) and cat.last_inbound.at == ago(1)  # type: ignore[union-attr]


@pytest.mark.parametrize("on", [False, True])
def test_provider_equivalences_merge_only_when_on(on: bool) -> None:
    world = World(engine={"provider_equivalences": on})
    world.add(email(ME, ["Jane.Doe+work@googlemail.com"], ago(3)), email(ME, ["janedoe@gmail.com"], ago(6)))
    keys = set(world.people())
    assert keys == ({"janedoe@gmail.com"} if on else {"jane.doe+work@googlemail.com", "janedoe@gmail.com"})


def test_same_display_name_is_not_merged() -> None:
    names = {"eva@a.example": "Eva Lind", "eva@b.example": "Eva Lind"}
    world = World().add(email(ME, ["eva@a.example", "eva@b.example"], ago(3), names=names))
    assert {"eva@a.example", "eva@b.example"} <= set(world.people())


# ---- last contact and its evidence --------------------------------------------------------------------------


def test_last_contact_overall_and_per_kind_with_the_interaction_that_set_each() -> None:
    world = World().add(
        email(ME, ["dee@x.org"], ago(60), pid="out-old"),
        email(ME, ["dee@x.org"], ago(30), pid="out", subject="the proposal"),
        email("dee@x.org", [ME], ago(80), pid="in-old"),
        email("dee@x.org", [ME], ago(10), pid="in", subject="re: the proposal"),
        event(["dee@x.org"], ago(20), pid="meet", subject="kick-off"),
        event(["dee@x.org"], ago(5), pid="meet-declined", owner_response="declined"),
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
    world.add(email(ME, ["eli@x.org"], ago(20)))
    copy = email("eli@x.org", ["me@work.example"], ago(2), pid="b-1")
    world.store.synced.apply_batch("b", Batch("mbox", "c", [copy]))
    twin = Interaction("b-2", "mail", copy.timestamp, copy.participants, message_id=copy.message_id)
    world.store.synced.apply_batch("b", Batch("archive", "c", [twin]))
    eli = world.person("eli@x.org")
    assert eli.last_inbound is not None and eli.last_inbound.at == ago(2) and eli.last_contact == eli.last_inbound
    assert world.store.count("interactions") == 2


# ---- cadence: one test per level ----------------------------------------------------------------------------


TIER_21 = [{"name": "inner", "every": "21d", "match": ["x.org"]}]


def every_gap(address: str, gap: int, count: int) -> list[Interaction]:
    return [email(ME, [address], ago(5 + i * gap)) for i in range(count)]


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
    people = World(tiers=tiers).add(email(ME, ["vip@y.org", "till@shop.example", "other@y.org"], ago(1))).people()
    assert (people["vip@y.org"].tier, people["vip@y.org"].every_days) == ("vip", 14)
    assert (people["till@shop.example"].tier, people["till@shop.example"].every_days) == ("shops", 60)
    assert people["other@y.org"].tier is None


def test_cadence_level_4_learned_rhythm_is_median_gap_times_one_and_a_half() -> None:
    # Gaps 10, 20, 20, 40 days: median 20, × 1.5 = 30.
    days = [5, 15, 35, 55, 95]
    world = World().add(*[email(ME, ["lou@x.org"], ago(d)) for d in days])
    lou = world.person("lou@x.org")
    assert lou.every_days == 30 and lou.cadence_rule.startswith("learned rhythm") and lou.contact_days == 5


def test_learned_rhythm_counts_distinct_days_not_messages() -> None:
    # Three messages on two days: fewer than three distinct contact days, so the default applies.
    world = World().add(email(ME, ["lou@x.org"], ago(5)), email("lou@x.org", [ME], ago(5) + timedelta(hours=2)),
                        email(ME, ["lou@x.org"], ago(25)))
    lou = world.person("lou@x.org")
    assert lou.contact_days == 2 and lou.every_days == 90


@pytest.mark.parametrize(("gap", "every", "config"), [
    (2, 14, {}), (200, 180, {}), (2, 20, {"min_every": "20d"}), (100, 60, {"max_every": "60d"}),
])
def test_learned_rhythm_is_clamped(gap: int, every: int, config: dict[str, str]) -> None:
    world = World(engine=config).add(*every_gap("cy@x.org", gap, 4))
    assert world.person("cy@x.org").every_days == every


def test_cadence_level_5_default_every() -> None:
    dan = World().add(*every_gap("dan@x.org", 10, 2)).person("dan@x.org")
    assert dan.every_days == 90 and dan.cadence_rule.startswith("default")
    dan = World(engine={"default_every": "60d"}).add(*every_gap("dan@x.org", 10, 2)).person("dan@x.org")
    assert dan.every_days == 60


def test_due_is_last_contact_plus_cadence() -> None:
    fay = World().add(email(ME, ["fay@x.org"], ago(50)), email("fay@x.org", [ME], ago(20))).person("fay@x.org")
    assert fay.remind and fay.due == (ago(20) + timedelta(days=90)).date()


# ---- no reminder -----------------------------------------------------------------------------------------------


def test_no_reminder_for_the_directory_tier() -> None:
    world = World(tiers=[{"name": "directory", "remind": False, "match": ["*@printshop.example"]}])
    shop = world.add(email(ME, ["orders@printshop.example"], ago(400))).person("orders@printshop.example")
    assert shop.relationship and shop.tier == "directory" and not shop.remind and shop.due is None
    assert due_followups([shop], world.store, world.config, NOW) == []


def test_no_reminder_when_ignored() -> None:
    world = World().add(email(ME, ["gus@x.org"], ago(200)))
    world.store.decisions.set_person("gus@x.org", ignore=True)
    gus = world.person("gus@x.org")
    assert gus.ignored and not gus.remind
    assert due_followups([gus], world.store, world.config, NOW) == []
    world.store.decisions.set_person("gus@x.org", ignore=False)
    assert world.person("gus@x.org").remind


@pytest.mark.parametrize(("meeting_in", "booked"), [(15, True), (17, True), (19, False)])
def test_no_reminder_when_a_meeting_is_booked_before_due_plus_grace(meeting_in: int, booked: bool) -> None:
    # Last contact 80 days ago, default 90 d: due in 10 days; grace 7 d: a meeting up to day 17 counts.
    world = World().add(email(ME, ["hal@x.org"], ago(80)), event(["hal@x.org"], ahead(meeting_in)))
    hal = world.person("hal@x.org")
    assert hal.due == ahead(10).date()
    assert hal.remind is not booked
    assert ("meeting already booked" in hal.reason) is booked


def test_a_booked_overdue_person_stops_being_reminded_once_the_meeting_comes_within_grace() -> None:
    # Overdue since 110 days; the meeting is 20 days out (beyond today + grace), then 6 days out.
    world = World().add(email(ME, ["hal@x.org"], ago(200)), event(["hal@x.org"], ahead(20)))
    assert world.person("hal@x.org").remind
    later = world.person("hal@x.org", ahead(14))
    assert not later.remind and "meeting already booked" in later.reason


def test_no_reminder_when_dormant() -> None:
    world = World().add(email(ME, ["jo@x.org"], ago(3 * 365 + 2)))
    jo = world.person("jo@x.org")
    assert jo.dormant and not jo.remind and "dormant" in jo.reason
    assert due_followups([jo], world.store, world.config, NOW) == []
    fresh = World().add(email(ME, ["jo@x.org"], ago(3 * 365 - 2))).person("jo@x.org")
    assert not fresh.dormant and fresh.remind


def test_a_relationship_turns_dormant_with_time_alone() -> None:
    world = World().add(email(ME, ["jo@x.org"], ago(3 * 365 - 2)))
    assert not world.person("jo@x.org").dormant
    assert world.person("jo@x.org", ahead(5)).dormant


def test_no_reminder_when_not_a_relationship() -> None:
    world = World().add(email("cold@x.org", [ME], ago(200)))
    cold = world.person("cold@x.org")
    assert not cold.remind and cold.due is None and "not a relationship" in cold.reason
    assert due_followups([cold], world.store, world.config, NOW) == []


# ---- one-off follow-ups ------------------------------------------------------------------------------------------


def followups(world: World) -> dict[tuple[str, str], Any]:
    statuses = list(world.people().values())
    return {(item.person, item.origin): item for item in due_followups(statuses, world.store, world.config, NOW)}


def test_one_off_reminder() -> None:
    world = World().add(email(ME, ["max@x.org"], ago(5)))
    world.store.decisions.add_reminder("max@x.org", date(2025, 7, 1), "project ends: introduce to Lee")
    item = followups(world)[("max@x.org", "reminder")]
    assert item.due == date(2025, 7, 1) and "introduce to Lee" in item.description


def test_series_ended_follow_up_after_the_last_occurrence() -> None:
    world = World().add(*[event(["lea@x.org"], ago(10 + 7 * week), series="proj-1") for week in range(6)])
    item = followups(world)[("lea@x.org", "series")]
    assert item.due == (ago(10) + timedelta(days=21)).date() and item.cycle == "proj-1"


def test_series_ended_uses_after_series_end() -> None:
    world = World(engine={"after_series_end": "5d"})
    world.add(*[event(["lea@x.org"], ago(10 + 7 * week), series="proj-1") for week in range(4)])
    assert followups(world)[("lea@x.org", "series")].due == (ago(10) + timedelta(days=5)).date()


def test_a_series_still_running_has_no_series_follow_up() -> None:
    world = World().add(*[event(["ray@x.org"], ago(10 - 7 * week), series="weekly") for week in range(6)])
    assert ("ray@x.org", "series") not in followups(world)


def test_series_ended_but_in_touch_since_has_no_series_follow_up() -> None:
    world = World().add(*[event(["lea@x.org"], ago(20 + 7 * week), series="proj-1") for week in range(4)])
    world.add(email(ME, ["lea@x.org"], ago(3)))
    assert ("lea@x.org", "series") not in followups(world)


# ---- decisions survive a full resync --------------------------------------------------------------------------


def test_decisions_survive_a_full_resync() -> None:
    world = World(tiers=[{"name": "close", "every": "14d"}])
    world.add(email(ME, ["nia@x.org"], ago(5), pid="n1"), email(ME, ["ned@x.org"], ago(6), pid="n2"))
    world.store.decisions.set_person("nia@x.org", every=timedelta(days=7), note="prefers calls", name="Nia N.")
    world.store.decisions.set_person("ned@x.org", tier="close", ignore=True)
    world.store.decisions.merge("nia@x.org", "nia@home.example")
    world.store.decisions.add_reminder("nia@x.org", date(2025, 7, 1), None)
    world.people()
    # A full sync that sees nothing: every synced row goes, the decisions stay.
    world.store.synced.apply_batch("a", Batch("inbox", "c2", [], full=True, complete=True))
    assert world.store.count("interactions") == 0
    nia = world.person("nia@x.org")
    assert nia.last_contact is None and nia.every_days == 7
    # The same data back again.
    world.store.synced.apply_batch("a", Batch("inbox", "c3", [email(ME, ["nia@x.org"], ago(5), pid="n1"),
                                                      email(ME, ["nia@home.example"], ago(2)),
                                                      email(ME, ["ned@x.org"], ago(6), pid="n2")],
                                       full=True, complete=True))
    people = world.people()
    nia = people["nia@x.org"]
    assert (nia.every_days, nia.note, nia.name) == (7, "prefers calls", "Nia N.")
    assert "nia@home.example" in nia.addresses and nia.last_contact.at == ago(2)  # type: ignore[union-attr]
    assert "nia@home.example" not in people
    ned = people["ned@x.org"]
    assert ned.tier == "close" and ned.every_days == 14 and ned.ignored and not ned.remind
    assert world.store.count("reminders") == 1


# ---- incremental refresh equals a full recompute ----------------------------------------------------------------


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
            steps.append(("batch", [email(ME, [who], when)]))
        elif roll < 0.4:
            when = clock - timedelta(days=rng.randrange(0, 400))
            steps.append(("batch", [email(who, [ME], when, bulk=rng.choice([None, None, "List-Id"]))]))
        elif roll < 0.55:
            series = rng.choice([None, "s1", "s2"])
            item = event([who], clock + timedelta(days=rng.randrange(-200, 40)), series=series)
            events.append(item)
            steps.append(("batch", [item]))
        elif roll < 0.62 and events:
            old = rng.choice(events)  # the event changes at the provider: cancelled, or moved
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


# ---- resolve -----------------------------------------------------------------------------------------------------


def named_world() -> World:
    names = {"ola@x.org": "Ola Nordmann", "olga@y.org": "Olga Berg", "ivan@z.org": "Ivan Petrov"}
    world = World().add(email(ME, ["ola@x.org", "olga@y.org", "ivan@z.org"], ago(1), names=names))
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
