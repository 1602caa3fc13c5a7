"""The engine, rule by rule of the product file ("Definitions"): one test per table row and per case."""

from __future__ import annotations

import itertools
import random
import re
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest

from connectors.base import Batch, Interaction, Participant
from syncd import engine
from syncd.config import parse_config
from syncd.engine.due import due_followups
from syncd.engine.lookup import resolve
from syncd.engine.status import PersonStatus
from syncd.errors import UsageError
from syncd.store import Store

ME = "me@example.com"
NOW = datetime(2026, 3, 1, 12, tzinfo=UTC)
_ids = itertools.count()


def days_ago(n: float) -> datetime:
    return NOW - timedelta(days=n)


def mail(sender: str, to: list[str], when: datetime, cc: list[str] | None = None, bulk: str | None = None,
         count: int | None = None, subject: str = "hi") -> Interaction:
    n = next(_ids)
    people = [Participant(sender, "", "from")] + [Participant(a, "", "to") for a in to]
    people += [Participant(a, "", "cc") for a in cc or []]
    return Interaction(f"m{n}", "mail", when, people, message_id=f"m{n}@t", subject=subject, bulk=bulk,
                       recipient_count=count)


def meeting(attendees: list[tuple[str, str]], when: datetime, organizer: str = ME, cancelled: bool = False,
            series: str | None = None, owner_response: str | None = None) -> Interaction:
    n = next(_ids)
    people = [Participant(organizer, "", "organizer")]
    people += [Participant(a, "", "attendee", r) for a, r in attendees]  # type: ignore[arg-type]
    return Interaction(f"e{n}", "event", when, people, subject="Meeting", cancelled=cancelled, series_id=series,
                       owner_response=owner_response)  # type: ignore[arg-type]


class World:
    def __init__(self, **config: Any) -> None:
        self.store = Store(":memory:")
        self.store.accounts.ensure("a", "maildir")
        self.store.accounts.set_owner_addresses("a", [ME])
        self.config = parse_config(config)

    def add(self, *items: Interaction) -> World:
        self.store.synced.apply_batch("a", Batch("r", "c", list(items)))
        return self

    def people(self, now: datetime = NOW) -> dict[str, PersonStatus]:
        engine.refresh(self.store, self.config, now)
        return {s.key: s for s in engine.people(self.store, self.config, now)}

    def person(self, key: str) -> PersonStatus:
        return self.people()[key]


# ---- qualifying contacts ---------------------------------------------------------------------------


def test_outbound_mail_is_a_contact_and_makes_a_relationship() -> None:
    bob = World().add(mail(ME, ["bob@x.org"], days_ago(5))).person("bob@x.org")
    assert bob.relationship and bob.last_outbound and bob.last_contact == bob.last_outbound
    assert bob.last_outbound.at == days_ago(5).replace(microsecond=0)


def test_inbound_mail_alone_is_not_a_relationship() -> None:
    ann = World().add(mail("ann@x.org", [ME], days_ago(3))).person("ann@x.org")
    assert ann.last_inbound is not None and not ann.relationship and not ann.remind and ann.due is None


def test_inbound_needs_the_owner_in_to_or_cc() -> None:
    people = World().add(mail(ME, ["ann@x.org"], days_ago(9)), mail("ann@x.org", ["zed@x.org"], days_ago(1))).people()
    assert people["ann@x.org"].last_inbound is None


def test_cc_counts_as_recipient() -> None:
    assert World().add(mail(ME, ["a@x.org"], days_ago(2), cc=["c@x.org"])).person("c@x.org").last_outbound


@pytest.mark.parametrize(("others", "qualifies"), [(20, True), (21, False)])
def test_recipient_cap_excludes_the_owner(others: int, qualifies: bool) -> None:
    recipients = [f"p{i}@x.org" for i in range(others)] + [ME]
    people = World().add(mail(ME, recipients, days_ago(1))).people()
    assert ("p0@x.org" in people) is qualifies


def test_unusable_recipients_count_against_the_cap() -> None:
    people = World().add(mail(ME, [f"p{i}@x.org" for i in range(19)], days_ago(1), count=25)).people()
    assert "p0@x.org" not in people


@pytest.mark.parametrize("reason", ["List-Id", "List-Unsubscribe", "Precedence: bulk", "Auto-Submitted: auto-replied",
                                    "CATEGORY_PROMOTIONS"])
def test_bulk_inbound_never_qualifies(reason: str) -> None:
    world = World().add(mail(ME, ["news@x.org"], days_ago(30)), mail("news@x.org", [ME], days_ago(1), bulk=reason))
    assert world.person("news@x.org").last_inbound is None


def test_the_owners_own_mail_is_never_bulk_but_unsubscribing_is_no_contact() -> None:
    people = World().add(mail(ME, ["pat@x.org"], days_ago(2), bulk="List-Id"),
                         mail(ME, ["list@x.org"], days_ago(2), subject="unsubscribe"),
                         mail(ME, ["unsubscribe-42@list.example"], days_ago(2))).people()
    assert people["pat@x.org"].last_outbound is not None
    assert "list@x.org" not in people and "unsubscribe-42@list.example" not in people


def test_meeting_qualifies_once_started() -> None:
    world = World().add(meeting([("kim@x.org", "accepted")], days_ago(2)),
                        meeting([("kim@x.org", "accepted")], NOW + timedelta(days=3)))
    kim = world.person("kim@x.org")
    assert kim.relationship and kim.last_meeting and kim.last_meeting.at == days_ago(2).replace(microsecond=0)
    assert kim.next_meeting == (NOW + timedelta(days=3)).replace(microsecond=0)


@pytest.mark.parametrize("case", ["cancelled", "owner declined (response)", "owner declined (row)", "they declined",
                                  "over the attendee cap"])
def test_meetings_that_do_not_count(case: str) -> None:
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
    people = World().add(meeting(guests, days_ago(2), **kwargs)).people()
    assert "kim@x.org" not in people or people["kim@x.org"].last_meeting is None


def test_role_addresses_blocklist_and_owner_are_never_people() -> None:
    world = World(engine={"blocklist": ["spam@x.org", "*@vendor.example"]})
    world.add(mail(ME, ["noreply@x.org", "bounces+7@x.org", "spam@x.org", "sales@vendor.example", "real@x.org"],
                   days_ago(1)))
    assert set(world.people()) == {"real@x.org"}


def test_implausible_dates_are_not_contacts_and_are_counted() -> None:
    world = World().add(mail(ME, ["old@x.org"], datetime(1979, 12, 31, tzinfo=UTC)),
                        mail(ME, ["fut@x.org"], NOW + timedelta(days=400)),
                        mail(ME, ["none@x.org"], None))  # type: ignore[arg-type]
    stats = engine.refresh(world.store, world.config, NOW)
    assert stats.implausible == 3
    assert world.people() == {}


# ---- persons ------------------------------------------------------------------------------------------


def test_last_contact_over_all_addresses_of_a_merged_person() -> None:
    world = World().add(mail(ME, ["bob@work.example"], days_ago(40)), mail(ME, ["bob@home.example"], days_ago(4)))
    world.store.decisions.merge("bob@work.example", "bob@home.example")
    bob = world.people()["bob@work.example"]
    assert bob.addresses == ("bob@home.example", "bob@work.example")
    assert bob.last_contact and bob.last_contact.at == days_ago(4).replace(microsecond=0)
    assert "bob@home.example" not in world.people()
    world.store.decisions.unmerge("bob@home.example")
    assert {"bob@work.example", "bob@home.example"} <= set(world.people())


def test_config_people_merge_and_name() -> None:
    world = World(people=[{"addresses": ["ann@a.example", "ann@b.example"], "name": "Ann", "note": "calls"}])
    world.add(mail(ME, ["ann@b.example"], days_ago(3)))
    ann = world.person("ann@a.example")
    assert ann.name == "Ann" and ann.note == "calls" and "ann@b.example" in ann.addresses


@pytest.mark.parametrize("on", [False, True])
def test_provider_equivalences_are_off_by_default(on: bool) -> None:
    world = World(engine={"provider_equivalences": on})
    world.add(mail(ME, ["j.doe+work@googlemail.com"], days_ago(3)), mail(ME, ["jdoe@gmail.com"], days_ago(5)))
    keys = set(world.people())
    assert keys == ({"jdoe@gmail.com"} if on else {"j.doe+work@googlemail.com", "jdoe@gmail.com"})


# ---- cadence --------------------------------------------------------------------------------------------


def contacts_every(world: World, address: str, gap: int, count: int) -> World:
    return world.add(*[mail(ME, [address], days_ago(5 + i * gap)) for i in range(count)])


def test_learned_rhythm_is_the_median_gap_times_one_and_a_half() -> None:
    bea = contacts_every(World(), "bea@x.org", 20, 5).person("bea@x.org")
    assert bea.every_days == 30 and bea.cadence_rule.startswith("learned rhythm")
    assert bea.due == (bea.last_contact.at + timedelta(days=30)).date()  # type: ignore[union-attr]


@pytest.mark.parametrize(("gap", "every"), [(2, 14), (200, 180)])
def test_learned_rhythm_is_clamped(gap: int, every: int) -> None:
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
    assert world.add(mail(ME, ["fay@x.org"], days_ago(1))).person("fay@x.org").every_days == 10


# ---- no-reminder cases ---------------------------------------------------------------------------------


def test_directory_tier_is_listed_never_reminded() -> None:
    world = World(tiers=[{"name": "directory", "remind": False, "match": ["*@printshop.example"]}])
    shop = world.add(mail(ME, ["orders@printshop.example"], days_ago(200))).person("orders@printshop.example")
    assert shop.relationship and not shop.remind and shop.due is None and "directory" in shop.reason


def test_ignored_people_are_not_reminded() -> None:
    world = World().add(mail(ME, ["gus@x.org"], days_ago(200)))
    world.store.decisions.set_person("gus@x.org", ignore=True)
    assert not world.person("gus@x.org").remind
    world.store.decisions.set_person("gus@x.org", ignore=False)
    assert world.person("gus@x.org").remind


def test_a_booked_meeting_means_no_reminder() -> None:
    world = World().add(mail(ME, ["hal@x.org"], days_ago(100)),  # overdue since 10 days
                        meeting([("hal@x.org", "accepted")], NOW + timedelta(days=5)))
    hal = world.person("hal@x.org")
    assert not hal.remind and "meeting already booked" in hal.reason


def test_a_meeting_far_beyond_due_plus_grace_does_not_count_as_booked() -> None:
    world = World().add(mail(ME, ["ida@x.org"], days_ago(100)),
                        meeting([("ida@x.org", "accepted")], NOW + timedelta(days=60)))
    assert world.person("ida@x.org").remind


def test_dormant_after_forget_after() -> None:
    jo = World().add(mail(ME, ["jo@x.org"], days_ago(3 * 365 + 5))).person("jo@x.org")
    assert jo.dormant and not jo.remind and "dormant" in jo.reason


def test_user_added_person_is_a_relationship() -> None:
    world = World().add(mail("kay@x.org", [ME], days_ago(10)))
    world.store.decisions.set_person("kay@x.org", every=timedelta(days=30))
    kay = world.person("kay@x.org")
    assert kay.relationship and kay.remind and kay.due == (days_ago(10) + timedelta(days=30)).date()


# ---- one-offs and series ---------------------------------------------------------------------------------


def test_one_off_reminder_and_series_ended() -> None:
    world = World().add(*[meeting([("lea@x.org", "accepted")], days_ago(10 + 7 * i), series="proj") for i in range(6)])
    world.add(*[meeting([("max@x.org", "accepted")], days_ago(10 - 7 * i), series="ongoing") for i in range(6)])
    world.store.decisions.add_reminder("max@x.org", date(2026, 3, 5), "intro")
    statuses = list(world.people().values())
    due = {(d.person, d.origin): d for d in due_followups(statuses, world.store, world.config, NOW)}
    assert due[("lea@x.org", "series")].due == (days_ago(10) + timedelta(days=21)).date()
    assert ("max@x.org", "series") not in due  # still running
    assert due[("max@x.org", "reminder")].due == date(2026, 3, 5) and "intro" in due[("max@x.org", "reminder")].description


# ---- decisions, resolution, incrementality -------------------------------------------------------------


def test_decisions_survive_a_full_resync() -> None:
    world = World().add(mail(ME, ["nia@x.org"], days_ago(5)))
    world.store.decisions.set_person("nia@x.org", every=timedelta(days=7), note="coffee")
    world.store.synced.apply_batch("a", Batch("r", "c2", [], full=True, complete=True))
    assert world.store.count("interactions") == 0
    gone = world.person("nia@x.org")  # kept: the user decided about her
    assert gone.last_contact is None and gone.every_days == 7 and gone.reason == "no qualifying contact yet"
    world.add(mail(ME, ["nia@x.org"], days_ago(5)))
    nia = world.person("nia@x.org")
    assert nia.every_days == 7 and nia.note == "coffee"


def test_resolve_by_address_and_name_part() -> None:
    world = World().add(Interaction("x1", "mail", days_ago(1), [Participant(ME, "Me", "from"),
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
def test_incremental_refresh_equals_a_full_recompute(seed: int) -> None:
    rng = random.Random(seed)
    world = World(tiers=[{"name": "t", "every": "30d", "match": ["p1@x.org"]}])
    people = [f"p{i}@x.org" for i in range(6)]
    for step in range(12):
        who = rng.choice(people)
        choice = rng.random()
        if choice < 0.4:
            world.add(mail(ME, [who], days_ago(rng.randrange(1, 400))))
        elif choice < 0.6:
            world.add(mail(who, [ME], days_ago(rng.randrange(1, 400))))
        elif choice < 0.75:
            world.add(meeting([(who, "accepted")], NOW + timedelta(days=rng.randrange(-200, 30))))
        elif choice < 0.85:
            world.store.decisions.set_person(who, every=timedelta(days=rng.choice([7, 30, 90])))
        elif choice < 0.95:
            other = rng.choice(people)
            if other != who and resolve_safe(world, who) and resolve_safe(world, other):
                world.store.decisions.merge(who, other)
        else:
            world.store.synced.apply_batch("a", Batch("r", "c", [], full=True, complete=True))
        later = NOW + timedelta(days=step)
        engine.refresh(world.store, world.config, later)
        incremental = {s.key: s for s in engine.people(world.store, world.config, later)}
        engine.recompute(world.store, world.config, later)
        full = {s.key: s for s in engine.people(world.store, world.config, later)}
        assert incremental == full, f"step {step}"


def resolve_safe(world: World, address: str) -> bool:
    return world.store.db.execute("SELECT 1 FROM person_links WHERE address = ?", (address,)).fetchone() is None
