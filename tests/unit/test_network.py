"""Who is reminded by default: strength, the small network, groups and desks, lapsed relationships
(docs/rules.md#kept-warm-and-small-network, #strength, #groups-and-desks, #lapsed). Unlike the other
engine tests these run with the default configuration, where the small network exists."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from connectors.base import Interaction
from syncd import engine
from syncd.cli.people import select
from syncd.config import PersonConfig, TierConfig
from syncd.engine.due import due_followups
from syncd.engine.strength import Parts, score, terms
from tests.support.world import ME, NOW, World, ago, config, mail, meeting

BOB = "bob@x.org"


def default_world(**engine: Any) -> World:
    return World(config(**{"warm_min_days": 2, **engine}))  # the default (the helpers keep all warm)


# ---- strength --------------------------------------------------------------------------------------------


def test_strength_is_its_parts_weighted() -> None:
    parts = Parts(contact_days=20, direct_days=9, meeting_days=2, they_wrote=True, you_wrote=True,
                  last_contact=int((NOW - timedelta(days=180)).timestamp()))
    values = terms(parts, NOW)
    assert values == {"days": 0.8, "both_ways": 1.0, "direct": 0.75, "recency": 0.5, "meetings": 0.5}
    assert score(parts, NOW) == round(0.35 * 0.8 + 0.2 + 0.15 * 0.75 + 0.2 * 0.5 + 0.1 * 0.5, 3)
    assert score(Parts(), NOW) == 0.0


def test_the_closest_colleague_is_far_stronger_than_a_one_shot_cc() -> None:
    world = default_world()
    for day in range(1, 40, 3):
        world.add(mail(ME, [BOB], ago(day)), mail(BOB, [ME], ago(day) + timedelta(hours=2)))
    world.add(mail(ME, ["boss@x.org"], ago(2), cc=["lawyer@x.org"]))
    found = world.people()
    assert found[BOB].strength > 0.75 > 0.3 > found["lawyer@x.org"].strength
    assert found[BOB].parts.both_ways and found[BOB].contact_days == found[BOB].parts.contact_days == 13
    assert found["lawyer@x.org"].parts.direct_days == 0 and found["boss@x.org"].parts.direct_days == 1


def test_strength_is_read_for_the_readers_now() -> None:
    world = default_world().add(mail(ME, [BOB], ago(1)), mail(BOB, [ME], ago(1)))
    today = world.person(BOB).strength
    # The cached standing, read a year on without a refresh: recency has faded, nothing else.
    a_year_on = next(s for s in engine.people(world.store, world.config, NOW + timedelta(days=365)) if s.key == BOB)
    assert a_year_on.strength < today
    assert a_year_on.parts == world.person(BOB).parts


def _history() -> st.SearchStrategy[list[tuple[str, str, int, bool]]]:
    who = st.sampled_from(["bob@x.org", "ann@y.org", "cat@z.org"])
    kind = st.sampled_from(["out", "in", "cc", "meet"])
    return st.lists(st.tuples(who, kind, st.integers(0, 400), st.booleans()), max_size=12)


def _item(who: str, kind: str, days: int, extra: bool) -> Interaction:
    when = ago(days + 0.5)
    if kind == "out":
        return mail(ME, [who], when, cc=["other@w.org"] if extra else ())
    if kind == "in":
        return mail(who, [ME], when)
    if kind == "cc":
        return mail(ME, ["other@w.org"], when, cc=[who])
    return meeting([who], when)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(history=_history(), added=st.tuples(st.sampled_from(["bob@x.org", "ann@y.org", "cat@z.org"]),
                                           st.sampled_from(["out", "in", "cc", "meet"]), st.integers(0, 400),
                                           st.booleans()))
def test_adding_an_interaction_never_lowers_anyones_strength(
    history: list[tuple[str, str, int, bool]], added: tuple[str, str, int, bool]
) -> None:
    world = default_world().add(*(_item(*h) for h in history))
    before = {k: s.strength for k, s in world.people().items()}
    after = {k: s.strength for k, s in world.add(_item(*added)).people().items()}
    for key, strength in before.items():
        assert after[key] >= strength, (key, strength, after[key])


# ---- kept warm or small network --------------------------------------------------------------------------


def test_one_mail_never_answered_is_the_small_network() -> None:
    world = default_world().add(mail(ME, [BOB], ago(10)))
    bob = world.person(BOB)
    assert bob.relationship and not bob.kept_warm and not bob.remind and bob.due is None
    assert bob.reason.startswith("small network (one contact, never answered)")
    assert f"syncd set {BOB} --every 60d" in bob.reason
    assert select([bob], None, None, NOW) == [bob]  # still listed and findable


def test_contact_both_ways_on_two_days_is_kept_warm() -> None:
    world = default_world().add(mail(ME, [BOB], ago(10)), mail(BOB, [ME], ago(10)))
    bob = world.person(BOB)
    assert not bob.kept_warm and "contact both ways on 1 day, warm from 2" in bob.reason
    bob = world.add(mail(BOB, [ME], ago(4))).person(BOB)
    assert bob.kept_warm and bob.remind and bob.due is not None
    assert not default_world().add(*(mail(ME, [BOB], ago(d)) for d in (3, 9, 20))).person(BOB).kept_warm


def test_the_threshold_is_configurable_and_zero_keeps_everyone_warm() -> None:
    items = (mail(ME, [BOB], ago(10)), mail(BOB, [ME], ago(10)))
    assert default_world(warm_min_days=1).add(*items).person(BOB).remind
    assert default_world(warm_min_days=0).add(mail(ME, [BOB], ago(10))).person(BOB).remind
    assert not default_world(warm_min_days=5).add(*items, mail(BOB, [ME], ago(3))).person(BOB).remind


def test_a_meeting_or_any_decision_of_yours_keeps_someone_warm() -> None:
    assert default_world().add(meeting([BOB], ago(5))).person(BOB).remind
    for decide in (
        lambda w: w.store.decisions.set_person(BOB, every=timedelta(days=30)),
        lambda w: w.store.decisions.add_reminder(BOB, (NOW + timedelta(days=40)).date(), None),
    ):
        world = default_world().add(mail(ME, [BOB], ago(10)))
        decide(world)
        assert world.person(BOB).remind
    tiered = World(config(warm_min_days=2, tiers=(TierConfig("close", every=timedelta(days=30), match=("x.org",)),)))
    assert tiered.add(mail(ME, [BOB], ago(10))).person(BOB).remind
    listed = World(config(warm_min_days=2, people=(PersonConfig((BOB,)),)))
    assert listed.add(mail(ME, [BOB], ago(10))).person(BOB).remind


# ---- groups and desks ------------------------------------------------------------------------------------


def test_list_and_desk_addresses_are_never_people_to_remind_but_are_listed_with_all() -> None:
    world = default_world()
    for address in ("enron.everyone_ena@x.org", "dl-portland@x.org", "reception@x.org", "sales.team@x.org"):
        world.add(mail(ME, [address], ago(9)), mail(address, [ME], ago(3)), mail(ME, [address], ago(2)))
    found = world.people()
    assert all(s.group and not s.remind for s in found.values())
    assert "a list, desk or shared address" in found["reception@x.org"].reason
    assert select(list(found.values()), None, None, NOW) == []
    assert len(select(list(found.values()), "all", None, NOW)) == 4


def test_an_address_only_ever_among_many_recipients_is_a_group() -> None:
    crowd = [f"p{i}@x.org" for i in range(11)]
    world = default_world().add(mail(ME, ["ops@y.org", *crowd], ago(5)), mail(ME, ["ops@y.org", *crowd], ago(3)))
    assert world.person("ops@y.org").group and world.person("p1@x.org").group
    world.add(mail(ME, ["ops@y.org"], ago(1)))  # written to alone once: a person after all
    assert not world.person("ops@y.org").group and world.person("p1@x.org").group


def test_your_decision_makes_a_person_of_a_group_address() -> None:
    world = default_world().add(mail(ME, ["team@x.org"], ago(5)), mail("team@x.org", [ME], ago(4)))
    world.store.decisions.set_person("team@x.org", every=timedelta(days=30))
    team = world.person("team@x.org")
    assert not team.group and team.remind


# ---- lapsed ------------------------------------------------------------------------------------------------


def test_overdue_by_more_than_three_rhythms_is_lapsed_and_listed_for_review() -> None:
    world = default_world()
    world.add(*(mail(ME, [BOB], ago(200 + d)) for d in (0, 10, 20)), mail(BOB, [ME], ago(205)))
    bob = world.person(BOB)  # rhythm 14 d (median gap 5 × 1.5, at least 14), last contact 200 days ago
    assert bob.every_days == 14 and bob.remind and bob.lapsed
    assert bob.reason.startswith("lapsed: due") and "syncd remind" in bob.reason
    assert select([bob], "lapsed", None, NOW) == [bob]
    fresh = default_world().add(*(mail(ME, [BOB], ago(d)) for d in (30, 40, 50)), mail(BOB, [ME], ago(35))).person(BOB)
    assert fresh.remind and not fresh.lapsed  # 16 days overdue: about one rhythm


def test_lapsing_is_noticed_with_time_alone() -> None:
    world = default_world().add(mail(ME, [BOB], ago(100)), mail(BOB, [ME], ago(95)))
    assert not world.person(BOB).lapsed  # default 90 d rhythm: due 10 days ago
    later = NOW + timedelta(days=300)
    stats = world.refresh(later)
    assert stats.persons == 1 and world.person(BOB, later).lapsed


def test_the_default_engine_keeps_everyone_not_two_way_out_of_the_follow_ups() -> None:
    world = default_world().add(mail(ME, [BOB], ago(100)), mail(ME, ["ann@x.org"], ago(200)),
                                mail("ann@x.org", [ME], ago(150)), mail(ME, ["ann@x.org"], ago(120)))
    world.refresh()
    statuses = engine.people(world.store, world.config, NOW)
    assert [d.person for d in due_followups(statuses, world.store, world.config, NOW)] == ["ann@x.org"]
