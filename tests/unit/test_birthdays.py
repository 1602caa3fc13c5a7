"""Birthdays from the address books: a yearly follow-up on the day, under the same reconcile rules as every
follow-up (docs/rules.md#birthdays)."""

from __future__ import annotations

import dataclasses
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

from connectors.base import Birthday
from syncd import engine
from syncd.config import FollowupsConfig, TierConfig
from syncd.engine.due import DueFollowup, due_followups, next_birthday
from syncd.plan.placement import slot_start
from syncd.plan.reconcile import reconcile
from tests.support.memtarget import MemTarget
from tests.support.world import ME, World, card, config, mail

BERLIN = ZoneInfo("Europe/Berlin")
NOW = datetime(2026, 4, 1, 7, tzinfo=UTC)  # a Wednesday, before the 09:30 slot
FAMILY = TierConfig("family", every=timedelta(days=30), groups=("Family",))
SUPPLIERS = TierConfig("suppliers", remind=False, groups=("Suppliers",))


def family_world(
    *, birthdays: bool = True, title: str = "Wish {name} a happy birthday", per_day: int = 3,
    last_call: datetime = NOW - timedelta(days=2),
) -> World:
    followups = FollowupsConfig(timezone=BERLIN, birthdays=birthdays, birthday_title=title, per_day=per_day)
    cfg = dataclasses.replace(config(tiers=[FAMILY, SUPPLIERS]), followups=followups)
    world = World(cfg)
    world.add(mail(ME, ["mum@example.net"], last_call))
    world.book(
        card("m", "mum@example.net", name="Mum", groups=["Family"], birthday=Birthday(4, 11, 1956)),  # a Saturday
        card("s", "shop@print.example", name="Print Shop", groups=["Suppliers"], birthday=Birthday(4, 5)),
        card("c", "carl@example.net", name="Carl", birthday=Birthday(4, 6)),  # only in the book, no tier
        seen=NOW - timedelta(days=3),
    )
    return world


def wanted(world: World, now: datetime = NOW) -> list[DueFollowup]:
    engine.refresh(world.store, world.config, now)
    return due_followups(engine.people(world.store, world.config, now), world.store, world.config, now)


def run(world: World, target: MemTarget, now: datetime = NOW) -> None:
    reconcile(wanted(world, now), world.store, target, now, world.config.followups)


def birthday_events(target: MemTarget) -> dict[str, tuple[datetime, str]]:
    return {e.key: (e.start, e.title) for e in target.events.values() if "Birthday:" in e.description}


def test_off_by_default() -> None:
    assert [w for w in wanted(family_world(birthdays=False)) if w.origin == "birthday"] == []


def test_a_birthday_of_someone_reminded_lands_on_the_day_itself_at_the_slot() -> None:
    world = family_world()
    [birthday] = [w for w in wanted(world) if w.origin == "birthday"]
    assert (birthday.person, birthday.due, birthday.cycle) == ("mum@example.net", date(2026, 4, 11), "2026")
    assert birthday.description.startswith("Birthday: 2026-04-11 (turns 70)\n")
    target = MemTarget()
    run(world, target)
    [(start, title)] = birthday_events(target).values()
    assert start == slot_start(date(2026, 4, 11), world.config.followups)  # a Saturday: the day, not Monday
    assert title == "Wish Mum a happy birthday"


def test_not_for_the_directory_nor_for_someone_only_in_the_address_book() -> None:
    people = {w.person for w in wanted(family_world()) if w.origin == "birthday"}
    assert people == {"mum@example.net"}


def test_ahead_of_the_per_day_cap() -> None:
    world = family_world(per_day=1, birthdays=False)
    saturday = datetime(2026, 4, 11, tzinfo=UTC)
    world.add(mail(ME, ["friend@example.org"], saturday - timedelta(days=90)))  # due on the birthday
    everyday = dataclasses.replace(world.config.followups, working_days=frozenset(range(7)))
    world.with_config(followups=everyday)
    target = MemTarget()
    run(world, target)
    assert [e.start.date() for e in target.events.values()] == [date(2026, 4, 11)]  # the day is full
    world.with_config(followups=dataclasses.replace(everyday, birthdays=True))
    run(world, target)
    assert sorted(e.start.date() for e in target.events.values()) == [date(2026, 4, 11)] * 2
    assert len(birthday_events(target)) == 1


def test_moved_is_a_snooze_kept_even_after_the_day() -> None:
    world = family_world()
    target = MemTarget()
    run(world, target)
    [key] = birthday_events(target)
    target.user_moves(key, timedelta(days=2))  # to Monday the 13th
    run(world, target, now=datetime(2026, 4, 12, 7, tzinfo=UTC))
    run(world, target, now=datetime(2026, 4, 13, 6, tzinfo=UTC))
    assert target.events[key].start == slot_start(date(2026, 4, 13), world.config.followups)


def test_deleted_is_dismissed_for_that_year_and_next_year_comes() -> None:
    world = family_world()
    target = MemTarget()
    run(world, target)
    [key] = birthday_events(target)
    target.user_deletes(key)
    run(world, target, now=datetime(2026, 4, 2, 7, tzinfo=UTC))
    run(world, target, now=datetime(2026, 4, 10, 7, tzinfo=UTC))
    assert birthday_events(target) == {}
    world.add(mail(ME, ["mum@example.net"], datetime(2027, 3, 20, tzinfo=UTC)))  # still kept up
    run(world, target, now=datetime(2027, 4, 1, 7, tzinfo=UTC))
    [(start, _)] = birthday_events(target).values()
    assert start.date() == date(2027, 4, 11)


def test_a_birthday_gone_by_is_not_written_late_nor_counted_as_waiting() -> None:
    later = datetime(2026, 4, 14, 7, tzinfo=UTC)
    waiting = []
    for birthdays in (False, True):
        world, target = family_world(birthdays=birthdays), MemTarget()
        result = reconcile(wanted(world, later), world.store, target, later, world.config.followups)
        assert birthday_events(target) == {}
        waiting.append(result.plan.waiting)
    assert waiting[0] == waiting[1]


def test_a_check_in_due_around_the_birthday_is_folded_into_it() -> None:
    world = family_world(last_call=datetime(2026, 3, 15, tzinfo=UTC))  # due 2026-04-14, three days after
    assert sorted(w.origin for w in wanted(world) if w.person == "mum@example.net") == ["birthday"]
    world = family_world(last_call=datetime(2026, 2, 10, tzinfo=UTC))  # due 2026-03-12: overdue, so today's
    assert sorted(w.origin for w in wanted(world) if w.person == "mum@example.net") == ["birthday"]
    world = family_world(last_call=datetime(2026, 3, 31, tzinfo=UTC))  # due 2026-04-30, 19 days after
    assert sorted(w.origin for w in wanted(world) if w.person == "mum@example.net") == ["birthday", "cycle"]


def test_the_title_template_and_its_fallback() -> None:
    world = family_world(title="🎂 {name}")
    target = MemTarget()
    run(world, target)
    assert [t for _, t in birthday_events(target).values()] == ["🎂 Mum"]


def test_29_february_is_kept_on_the_28th_in_other_years() -> None:
    leap = Birthday(2, 29, 1960)
    assert next_birthday(leap, date(2027, 1, 1)) == date(2027, 2, 28)
    assert next_birthday(leap, date(2028, 1, 1)) == date(2028, 2, 29)
    assert next_birthday(Birthday(1, 5), date(2026, 12, 30)) == date(2027, 1, 5)


def test_ignored_people_get_none() -> None:
    world = family_world()
    world.store.decisions.set_person("mum@example.net", ignore=True)
    assert [w for w in wanted(world) if w.origin == "birthday"] == []
