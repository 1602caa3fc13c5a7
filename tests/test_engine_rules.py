"""The engine against the product file's "Definitions", one test per table row, per case and per rule."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest

from syncd import engine
from syncd.config import PersonConfig, TierConfig
from syncd.engine.due import due_followups
from syncd.engine.refresh import owner_addresses
from syncd.engine.why import explain
from tests.engine_helpers import ME, NOW, World, ago, config, mail, meeting

BOB = "bob@x.org"
ANN = "ann@x.org"


def others(n: int) -> list[str]:
    return [f"p{i}@crowd.org" for i in range(n)]


# ---- owner ------------------------------------------------------------------------------------------


def test_owner_addresses_are_the_union_of_me_and_what_providers_reported() -> None:
    world = World(config(me=(" Alias@Example.COM ",)), owners=(ME, "work@corp.example"))
    assert owner_addresses(world.store, world.config) == {ME, "alias@example.com", "work@corp.example"}


def test_mail_from_a_configured_me_address_is_outbound() -> None:
    world = World(config(me=("alias@example.com",)), owners=())
    bob = world.add(mail("alias@example.com", [BOB], ago(2))).person(BOB)
    assert bob.last_outbound is not None and bob.relationship


def test_the_owner_is_never_a_person() -> None:
    found = World().add(mail(ME, [BOB, ME], ago(2)), meeting([BOB], ago(1))).people()
    assert ME not in found


# ---- outbound -----------------------------------------------------------------------------------


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


# ---- inbound -------------------------------------------------------------------------------------


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


# ---- meetings ------------------------------------------------------------------------------------


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


# ---- addresses -----------------------------------------------------------------------------------


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


# ---- timestamps ----------------------------------------------------------------------------------


def test_implausible_timestamps_are_no_contact_and_are_counted() -> None:
    world = World().add(
        mail(ME, ["old@x.org"], datetime(1989, 12, 31, 23, tzinfo=UTC)),
        mail(ME, ["future@x.org"], NOW + timedelta(days=2)),
        mail(ME, ["none@x.org"], None),
    )
    stats = world.refresh()
    assert stats.implausible == 3
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


# ---- persons and last contact --------------------------------------------------------------------


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


# ---- reciprocity ---------------------------------------------------------------------------------


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


# ---- cadence -------------------------------------------------------------------------------------

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


# ---- no follow-up --------------------------------------------------------------------------------


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


# ---- due follow-ups ------------------------------------------------------------------------------


def _due(world: World, now: datetime = NOW) -> dict[tuple[str, str], engine.DueFollowup]:
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


# ---- why -----------------------------------------------------------------------------------------


def test_explain_names_the_evidence_the_rule_and_merge_suggestions() -> None:
    world = World().add(mail(ME, [BOB], ago(9), subject="Budget", name="Me"),
                        mail("bob@home.org", [ME], ago(4), name="Bob Smith"),
                        mail(BOB, [ME], ago(3), name="Bob Smith"))
    world.refresh()
    text = "\n".join(explain(world.store, world.config, BOB, NOW))
    assert BOB in text and "Budget" in text and "[a: inbox]" in text
    assert "default rhythm" in text and "bob@home.org" in text  # suggested, not applied
    assert "bob@home.org" in world.people()


# ---- as of ---------------------------------------------------------------------------------------


def test_as_of_ignores_later_interactions() -> None:
    world = World().add(mail(ME, [BOB], ago(100)), mail(ME, [BOB], ago(10)), mail(ME, [ANN], ago(5)))
    world.refresh()
    then = ago(50)
    found = {s.key: s for s in engine.people(world.store, world.config, then, historical=True)}
    assert set(found) == {BOB}
    last = found[BOB].last_contact
    assert last is not None and last.at == ago(100)
    assert found[BOB].due == (ago(100) + timedelta(days=90)).date()
