"""One-offs always land (docs/rules.md#one-off-follow-ups) and `syncd why` tells what the plan does with
a person's follow-ups (docs/rules.md#placement): in the calendar when, beyond the horizon until when,
waiting for room, dismissed, or folded into a one-off."""

from __future__ import annotations

import dataclasses
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from syncd import engine
from syncd.config import FollowupsConfig
from syncd.engine.due import due_followups
from syncd.engine.why import explain
from syncd.plan import forecast
from syncd.plan.reconcile import reconcile
from tests.support.memtarget import MemTarget
from tests.support.world import ME, NOW, World, ago, mail

UTC_FOLLOWUPS = FollowupsConfig(timezone=ZoneInfo("UTC"), per_day=1)
BOB, ANN = "bob@x.org", "ann@x.org"


def world(*people: tuple[str, float]) -> World:
    """People with one mail each way ``days`` ago, kept warm (the helpers' default), followups in UTC."""
    w = World()
    w.config = dataclasses.replace(w.config, followups=UTC_FOLLOWUPS)
    for who, days in people:
        w.add(mail(ME, [who], ago(days)), mail(who, [ME], ago(days - 0.5)))
    return w


def due_of(w: World, now: datetime = NOW) -> list[tuple[str, str, date]]:
    w.refresh(now)
    statuses = engine.people(w.store, w.config, now)
    return sorted((d.person, d.origin, d.due) for d in due_followups(statuses, w.store, w.config, now))


def sync(w: World, target: MemTarget, now: datetime = NOW) -> None:
    w.refresh(now)
    statuses = engine.people(w.store, w.config, now)
    reconcile(due_followups(statuses, w.store, w.config, now), w.store, target, now, w.config.followups)


def why(w: World, key: str, now: datetime = NOW) -> str:
    """What ``syncd why`` prints: the evidence, then what the plan does with the person's follow-ups."""
    w.refresh(now)
    found = explain(w.store, w.config, key, now)
    plan = forecast.lines(w.store, w.config, found.status, found.everyone, now) if found.status else []
    return "\n".join([*found.lines, *plan, *found.notes])


# ---- one-offs ----------------------------------------------------------------------------------------------


def test_a_one_off_stands_in_for_a_regular_follow_up_within_14_days_either_side() -> None:
    w = world((BOB, 80))  # 90-day rhythm: due in 10 days
    assert [origin for _, origin, _ in due_of(w)] == ["cycle"]
    w.store.decisions.add_reminder(BOB, NOW.date() + timedelta(days=20), "after the launch")  # 10 days after: folded
    assert [origin for _, origin, _ in due_of(w)] == ["reminder"]
    w.store.decisions.add_reminder(ANN, NOW.date() + timedelta(days=60), None)
    w.add(mail(ME, [ANN], ago(85)), mail(ANN, [ME], ago(84)))  # due in 5 days, the one-off in 60: both
    assert [(p, o) for p, o, _ in due_of(w) if p == ANN] == [(ANN, "cycle"), (ANN, "reminder")]


def test_an_overdue_regular_follow_up_counts_as_coming_today() -> None:
    w = world((BOB, 200))  # overdue by 110 days
    w.store.decisions.add_reminder(BOB, NOW.date() + timedelta(days=5), None)
    assert [origin for _, origin, _ in due_of(w)] == ["reminder"]


def test_a_one_off_lands_on_its_day_whatever_the_queue_holds_once() -> None:
    w = world(*((f"p{i}@x.org", 120 + i) for i in range(12)))  # a backlog, one a day (per_day = 1)
    w.add(mail(ME, [BOB], ago(300)))  # a one-shot contact otherwise: the one-off keeps them warm
    target = MemTarget()
    sync(w, target)
    on = NOW.date() + timedelta(days=2)
    assert sum(e.start.date() == on for e in target.events.values()) == 1  # the day is full
    w.store.decisions.add_reminder(BOB, on, "the contract")
    sync(w, target, NOW + timedelta(hours=1))
    sync(w, target, NOW + timedelta(hours=2))
    ones = [e for e in target.events.values() if e.person == BOB]
    assert len(ones) == 1 and ones[0].start.date() == on
    assert sum(e.start.date() == on for e in target.events.values()) == 2  # the cap gave way


def test_why_shows_one_offs_and_where_they_land() -> None:
    w = world((BOB, 10))
    w.store.decisions.add_reminder(BOB, NOW.date() + timedelta(days=3), "the contract")
    text = why(w, BOB)
    assert f"one-off on {(NOW.date() + timedelta(days=3)).isoformat()}: the contract" in text
    assert "one-off due" in text and "the next pull puts it in the calendar for" in text


# ---- why is true to the plan ---------------------------------------------------------------------------------


def test_why_says_when_a_follow_up_is_in_the_calendar() -> None:
    w = world((BOB, 100))
    sync(w, MemTarget())
    assert "follow-up due" in why(w, BOB) and "in the calendar for" in why(w, BOB)


def test_why_says_when_one_beyond_the_horizon_is_written() -> None:
    w = world((BOB, 30))  # due in about 60 days
    text = why(w, BOB)
    due = w.person(BOB).due
    assert due is not None
    assert f"beyond the 14-day horizon: it is written on the first pull from {due - timedelta(days=14)}" in text
    assert "a follow-up is planned" not in text


def test_why_says_a_follow_up_waits_for_room() -> None:
    w = world(*((f"p{i}@x.org", 120 + i) for i in range(15)))  # 15 overdue, one a day, 10 working days
    texts = [why(w, f"p{i}@x.org") for i in range(15)]
    assert sum("waiting for room" in t for t in texts) >= 4
    assert sum("the next pull puts it in the calendar" in t for t in texts) >= 9


def test_why_says_a_follow_up_was_dismissed_and_when_the_next_one_comes() -> None:
    w = world((BOB, 100))
    target = MemTarget()
    sync(w, target)
    target.user_deletes(next(iter(target.events)))
    sync(w, target, NOW + timedelta(hours=1))
    text = why(w, BOB, NOW + timedelta(hours=2))
    assert "you dismissed the follow-up due" in text


def test_why_says_a_regular_follow_up_is_folded_into_a_one_off() -> None:
    w = world((BOB, 85))
    w.store.decisions.add_reminder(BOB, NOW.date() + timedelta(days=7), None)
    assert "is folded into your one-off on" in why(w, BOB)


def test_why_says_an_owner_address_is_you() -> None:
    w = world((BOB, 10))
    assert why(w, ME).startswith(f"{ME} is one of your own addresses")
