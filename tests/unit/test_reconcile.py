"""The reconciler: the calendar event as the user's control, safety rails, and crash recovery."""

from __future__ import annotations

import dataclasses
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from connectors.base import FollowupEvent
from connectors.local.ics_target import IcsFileTarget
from syncd.config import FollowupsConfig
from syncd.engine.due import DueFollowup, Origin
from syncd.plan.actions import ApplyResult
from syncd.plan.apply import apply
from syncd.plan.occasions import followup_key
from syncd.plan.placement import slot_start
from syncd.plan.reconcile import plan, reconcile
from syncd.store import Store
from tests.support.memtarget import ForeignEvent, MemTarget, TargetCrash

BERLIN = ZoneInfo("Europe/Berlin")
CFG = FollowupsConfig(timezone=BERLIN)
MONDAY = datetime(2026, 3, 2, 7, 0, tzinfo=UTC)  # 08:00 in Berlin, before the 09:30 slot


def due(person: str, day: date, cycle: str = "c1", strength: int = 1, every: int | None = 30,
        origin: Origin = "cycle", description: str | None = None) -> DueFollowup:
    return DueFollowup(person, person.split("@")[0].title(), origin, cycle, day, every, strength,
                       description if description is not None else f"about {person}")


def key(person: str, cycle: str = "c1", n: int = 0, origin: str = "cycle") -> str:
    return followup_key(person, origin, cycle, n)


def states(store: Store) -> dict[str, str]:
    return dict(store.db.execute("SELECT key, state FROM followups").fetchall())


def table(store: Store) -> list[tuple[Any, ...]]:
    return store.db.execute("SELECT * FROM followups ORDER BY key").fetchall()


@pytest.fixture
def target() -> MemTarget:
    return MemTarget()


def run(store: Store, target: MemTarget, wanted: list[DueFollowup], now: datetime = MONDAY,
        cfg: FollowupsConfig = CFG, **kw: bool) -> ApplyResult:
    return reconcile(wanted, store, target, now, cfg, **kw)


def quiet(result: ApplyResult) -> bool:
    return (result.created, result.updated, result.deleted) == (0, 0, 0) and not result.plan.settles


# ---- writing and idempotence -----------------------------------------------------------------------


def test_creates_the_event_then_a_second_run_changes_nothing(store: Store, target: MemTarget) -> None:
    cfg = FollowupsConfig(timezone=BERLIN, reminder=timedelta(minutes=10), title="Ping {name}")
    first = run(store, target, [due("a@x.com", date(2026, 3, 1))], cfg=cfg)
    assert first.created == 1 and first.applied
    event = target.events[key("a@x.com")]
    assert (event.title, event.description, event.duration_minutes, event.reminder_minutes) == (
        "Ping A", "about a@x.com", 15, 10)
    assert event.start == event.planned_start == slot_start(date(2026, 3, 2), cfg)
    assert states(store) == {key("a@x.com"): "active"}
    rows, writes = table(store), target.writes
    second = run(store, target, [due("a@x.com", date(2026, 3, 1))], cfg=cfg)
    assert quiet(second) and target.writes == writes and table(store) == rows
    assert second.describe()[0] == "follow-ups: 0 created, 0 updated, 0 deleted"


def test_dry_run_writes_nothing_and_prints_the_plan(store: Store, target: MemTarget) -> None:
    result = run(store, target, [due("a@x.com", date(2026, 3, 1))], dry_run=True)
    assert result.created == 1 and not result.applied
    assert target.events == {} and target.writes == 0 and table(store) == []
    lines = result.describe(dry_run=True)
    assert "1 to create" in lines[0]
    assert "create" in lines[1] and "2026-03-02 09:30" in lines[1] and "Reach out to A" in lines[1]
    assert "due 2026-03-01 (1 day overdue)" in lines[1]


def test_the_plan_counts_days_overdue_in_words(store: Store, target: MemTarget) -> None:
    wanted = [due("a@x.com", date(2026, 2, 28)), due("b@x.com", date(2026, 3, 1)), due("c@x.com", date(2026, 3, 2))]
    text = "\n".join(run(store, target, wanted, dry_run=True).describe(dry_run=True))
    assert "due 2026-02-28 (2 days overdue)" in text and "due 2026-03-01 (1 day overdue)" in text
    assert "due 2026-03-02 (" not in text and "1 days" not in text  # due today: not overdue


def test_dry_run_after_a_user_deletion_records_no_dismissal(store: Store, target: MemTarget) -> None:
    run(store, target, [due("a@x.com", date(2026, 3, 1))])
    target.user_deletes(key("a@x.com"))
    rows = table(store)
    result = run(store, target, [due("a@x.com", date(2026, 3, 1))], dry_run=True)
    assert result.dismissed == 1 and table(store) == rows


def test_plan_is_pure(store: Store, target: MemTarget) -> None:
    run(store, target, [due("a@x.com", date(2026, 3, 1))])
    records, listed = store.followups.load(), target.list_own()
    target.user_deletes(key("a@x.com"))
    before = dict(records)
    first = plan([due("a@x.com", date(2026, 3, 1))], records, [], MONDAY, CFG)
    again = plan([due("a@x.com", date(2026, 3, 1))], records, [], MONDAY, CFG)
    assert records == before and first == again and listed


def test_beyond_the_horizon_waits_then_lands(store: Store, target: MemTarget) -> None:
    wanted = [due("a@x.com", date(2026, 3, 25))]
    result = run(store, target, wanted)
    assert result.created == 0 and result.plan.waiting == 1 and "due later than the horizon" in result.describe()[0]
    assert run(store, target, wanted, now=MONDAY + timedelta(days=14)).created == 1
    assert target.events[key("a@x.com")].start.date() == date(2026, 3, 25)


# ---- the event as the control ----------------------------------------------------------------------


def test_contact_starts_a_new_cycle_and_removes_the_old_event(store: Store, target: MemTarget) -> None:
    run(store, target, [due("a@x.com", date(2026, 3, 5), cycle="c1")])
    result = run(store, target, [due("a@x.com", date(2026, 4, 10), cycle="c2")])
    assert result.deleted == 1 and "contact since" in result.plan.actions[0].reason
    assert target.events == {}
    assert states(store) == {key("a@x.com"): "done"}


def test_an_old_cycles_event_already_past_stays_as_history(store: Store, target: MemTarget) -> None:
    run(store, target, [due("a@x.com", date(2026, 3, 1), cycle="c1")])
    later = MONDAY + timedelta(days=3)
    result = run(store, target, [due("a@x.com", date(2026, 5, 1), cycle="c2")], now=later)
    assert result.deleted == 0 and key("a@x.com") in target.events
    assert states(store)[key("a@x.com")] == "done"
    assert quiet(run(store, target, [due("a@x.com", date(2026, 5, 1), cycle="c2")], now=later))


def test_a_passed_follow_up_without_contact_stays_where_it_is(store: Store, target: MemTarget) -> None:
    run(store, target, [due("a@x.com", date(2026, 3, 1))])
    before = target.snapshot()
    assert quiet(run(store, target, [due("a@x.com", date(2026, 3, 1))], now=MONDAY + timedelta(days=10)))
    assert target.snapshot() == before  # not re-placed on a later day: one event per cycle


def test_a_moved_event_is_a_snooze_and_only_its_text_is_refreshed(store: Store, target: MemTarget) -> None:
    run(store, target, [due("a@x.com", date(2026, 3, 1))])
    target.user_moves(key("a@x.com"), timedelta(days=10, hours=3))
    moved_to = target.events[key("a@x.com")].start
    changed = [due("a@x.com", date(2026, 3, 1), description="new notes")]
    result = run(store, target, changed)
    assert result.updated == 1 and "stays where you moved it" in result.plan.actions[0].reason
    assert target.events[key("a@x.com")].start == moved_to
    assert target.events[key("a@x.com")].description == "new notes"
    assert quiet(run(store, target, changed, now=MONDAY + timedelta(days=20)))


def test_a_move_is_recognised_even_when_the_target_cannot_store_the_planned_start(store: Store) -> None:
    target = MemTarget(keeps_planned=False)
    run(store, target, [due("a@x.com", date(2026, 3, 1))])
    target.user_moves(key("a@x.com"), timedelta(days=2))
    moved_to = target.events[key("a@x.com")].start
    assert quiet(run(store, target, [due("a@x.com", date(2026, 3, 1))]))
    assert target.events[key("a@x.com")].start == moved_to


def test_a_deleted_event_dismisses_the_cycle_until_one_cadence_later(store: Store, target: MemTarget) -> None:
    wanted = [due("a@x.com", date(2026, 3, 1), every=30)]
    run(store, target, wanted)
    target.user_deletes(key("a@x.com"))
    result = run(store, target, wanted)
    assert result.dismissed == 1 and result.created == 0 and "dismissed by you" in result.describe()[0]
    assert states(store) == {key("a@x.com"): "dismissed"}
    assert target.events == {}  # the next one is for 2026-04-01: beyond the 14-day horizon
    assert quiet(run(store, target, wanted))
    later = run(store, target, wanted, now=MONDAY + timedelta(days=25))
    assert later.created == 1 and "one cadence after" in later.plan.actions[0].reason
    # One cadence after the day it was shown (2 March: the due date itself was a Sunday).
    assert target.events[key("a@x.com", n=1)].start == slot_start(date(2026, 4, 1), CFG)
    target.user_deletes(key("a@x.com", n=1))
    run(store, target, wanted, now=MONDAY + timedelta(days=25))
    assert run(store, target, wanted, now=MONDAY + timedelta(days=55)).created == 1
    assert target.events[key("a@x.com", n=2)].start.date() == date(2026, 5, 1)


def test_a_calendar_gone_or_replaced_gets_its_followups_again_and_earlier_dismissals_stay(
        store: Store, target: MemTarget) -> None:
    wanted = [due("a@x.com", date(2026, 3, 1)), due("b@x.com", date(2026, 3, 1))]
    run(store, target, wanted)
    target.user_deletes(key("b@x.com"))
    assert run(store, target, wanted).dismissed == 1
    target.events.clear()
    target.name_of_calendar = None  # the dedicated calendar was deleted: none is there until a write makes it
    result = run(store, target, wanted)
    assert (result.created, result.dismissed) == (1, 0) and "written again" in " ".join(result.messages)
    assert states(store) == {key("a@x.com"): "active", key("b@x.com"): "dismissed"}
    assert store.followups.load()[key("a@x.com")].calendar == "memory, made again"  # where() after the write
    target.name_of_calendar = "another"  # then another calendar is configured
    target.events.clear()
    assert run(store, target, wanted).created == 1
    assert store.followups.load()[key("a@x.com")].calendar == "another"
    assert quiet(run(store, target, wanted))


def test_dismissing_a_long_overdue_one_does_not_bring_the_next_back_at_once(store: Store, target: MemTarget) -> None:
    wanted = [due("a@x.com", date(2026, 1, 1), every=30)]  # 60 days overdue
    run(store, target, wanted)
    target.user_deletes(key("a@x.com"))
    assert run(store, target, wanted).created == 0
    assert run(store, target, wanted, now=MONDAY + timedelta(days=30)).created == 1
    assert target.events[key("a@x.com", n=1)].start.date() == date(2026, 4, 1)


def test_contact_after_a_dismissal_starts_afresh(store: Store, target: MemTarget) -> None:
    run(store, target, [due("a@x.com", date(2026, 3, 1), cycle="c1")])
    target.user_deletes(key("a@x.com", "c1"))
    run(store, target, [due("a@x.com", date(2026, 3, 1), cycle="c1")])
    result = run(store, target, [due("a@x.com", date(2026, 3, 4), cycle="c2")])
    assert result.created == 1 and set(target.events) == {key("a@x.com", "c2")}
    assert states(store)[key("a@x.com", "c1")] == "done"


def test_a_deleted_one_off_is_over(store: Store, target: MemTarget) -> None:
    wanted = [due("a@x.com", date(2026, 3, 3), origin="reminder", cycle="7", every=None)]
    run(store, target, wanted)
    target.user_deletes(key("a@x.com", "7", origin="reminder"))
    for days in (0, 40):
        assert run(store, target, wanted, now=MONDAY + timedelta(days=days)).created == 0
    assert target.events == {}
    run(store, target, [])
    assert states(store) == {key("a@x.com", "7", origin="reminder"): "done"}


def test_a_restored_event_is_the_users_again(store: Store, target: MemTarget) -> None:
    wanted = [due("a@x.com", date(2026, 3, 1))]
    run(store, target, wanted)
    gone = target.user_deletes(key("a@x.com"))
    run(store, target, wanted)
    target.user_restores(gone)
    run(store, target, wanted)
    assert states(store) == {key("a@x.com"): "active"} and set(target.events) == {key("a@x.com")}


def test_a_person_no_longer_due_loses_the_event(store: Store, target: MemTarget) -> None:
    run(store, target, [due("a@x.com", date(2026, 3, 5)), due("b@x.com", date(2026, 3, 5))])
    result = run(store, target, [due("b@x.com", date(2026, 3, 5))])
    assert result.deleted == 1 and "ignored" in result.plan.actions[0].reason
    assert set(target.events) == {key("b@x.com")}
    assert states(store) == {key("a@x.com"): "done", key("b@x.com"): "active"}


def test_foreign_events_are_never_touched(store: Store, target: MemTarget) -> None:
    target.foreign["mine"] = ForeignEvent("mine", "Dentist", MONDAY)
    before = dict(target.foreign)
    run(store, target, [due("a@x.com", date(2026, 3, 5))])
    run(store, target, [], force=True)
    assert target.foreign == before


# ---- stability and placement against what is there -------------------------------------------------


def test_a_placed_event_keeps_its_day_when_others_arrive(store: Store, target: MemTarget) -> None:
    cfg = FollowupsConfig(timezone=BERLIN, per_day=1)
    run(store, target, [due("a@x.com", date(2026, 3, 2))], cfg=cfg)
    before = target.snapshot()
    # A more overdue person would win Monday if planned from scratch; A keeps it, B goes to Tuesday.
    run(store, target, [due("a@x.com", date(2026, 3, 2)), due("b@x.com", date(2026, 2, 1))], cfg=cfg)
    assert target.snapshot()[key("a@x.com")] == before[key("a@x.com")]
    assert target.events[key("b@x.com")].start.date() == date(2026, 3, 3)


def test_text_changes_update_in_place(store: Store, target: MemTarget) -> None:
    run(store, target, [due("a@x.com", date(2026, 3, 4))])
    start = target.events[key("a@x.com")].start
    cfg = FollowupsConfig(timezone=BERLIN, reminder=timedelta(minutes=5), title="Call {name}")
    assert run(store, target, [due("a@x.com", date(2026, 3, 4))], cfg=cfg).updated == 1
    event = target.events[key("a@x.com")]
    assert (event.start, event.title, event.reminder_minutes) == (start, "Call A", 5)


def test_a_changed_due_date_in_the_same_cycle_is_placed_again(store: Store, target: MemTarget) -> None:
    run(store, target, [due("a@x.com", date(2026, 3, 10), every=90)])
    result = run(store, target, [due("a@x.com", date(2026, 3, 4), every=30)])  # the rhythm was shortened
    assert result.updated == 1 and target.events[key("a@x.com")].start.date() == date(2026, 3, 4)
    result = run(store, target, [due("a@x.com", date(2026, 6, 1), every=90)])
    assert result.deleted == 1 and target.events == {}  # back out past the horizon
    assert run(store, target, [due("a@x.com", date(2026, 6, 1))], now=datetime(2026, 5, 25, tzinfo=UTC)).created


def test_two_events_for_one_occasion_are_deduplicated(store: Store, target: MemTarget) -> None:
    run(store, target, [due("a@x.com", date(2026, 3, 4))])
    extra = target.events[key("a@x.com")]
    with store.transaction() as db:  # a second record and event for the same cycle (n = 1)
        db.execute("INSERT INTO followups SELECT ?, person, origin, due, planned_start, state, "
                   "'{\"cycle\": \"c1\", \"n\": 1}', updated FROM followups", (key("a@x.com", n=1),))
    target.user_restores(dataclasses.replace(extra, key=key("a@x.com", n=1)))
    dry = run(store, target, [due("a@x.com", date(2026, 3, 4))], dry_run=True)
    assert dry.deleted == 1 and "second event" in dry.plan.actions[0].reason
    assert dry.plan.actions[0].key == key("a@x.com")  # the newest in the chain stays
    target.user_moves(key("a@x.com"), timedelta(hours=2))
    result = run(store, target, [due("a@x.com", date(2026, 3, 4))])
    assert result.deleted == 1 and set(target.events) == {key("a@x.com")}  # the one the user moved stays
    assert quiet(run(store, target, [due("a@x.com", date(2026, 3, 4))]))


def test_an_undone_deletion_next_to_its_successor_leaves_one_event(store: Store, target: MemTarget) -> None:
    wanted = [due("a@x.com", date(2026, 3, 1), every=14)]
    run(store, target, wanted)
    gone = target.user_deletes(key("a@x.com"))
    run(store, target, wanted, now=MONDAY + timedelta(days=7))  # dismissed; the next one lands 16 March
    assert set(target.events) == {key("a@x.com", n=1)}
    target.user_restores(gone)
    result = run(store, target, [], now=MONDAY + timedelta(days=15))  # both past; the person dropped out
    assert result.deleted == 1 and len(target.events) == 1
    assert quiet(run(store, target, [], now=MONDAY + timedelta(days=15)))


def test_a_key_listed_twice_is_one_event_with_a_note(store: Store, target: MemTarget) -> None:
    run(store, target, [due("a@x.com", date(2026, 3, 4))])
    target.listed_twice.add(key("a@x.com"))
    result = run(store, target, [due("a@x.com", date(2026, 3, 4))])
    assert result.created == result.updated == result.deleted == 0
    assert any("twice" in line for line in result.describe())


# ---- safety rails and crashes ----------------------------------------------------------------------


def test_max_deletes_holds_back_the_rest_unless_forced(store: Store, target: MemTarget) -> None:
    cfg = FollowupsConfig(timezone=BERLIN, per_day=50, max_deletes=2)
    run(store, target, [due(f"p{i}@x.com", date(2026, 3, 4)) for i in range(5)], cfg=cfg)
    held = run(store, target, [], cfg=cfg)
    assert held.deleted == 2 and len(held.held_back_deletes) == 3
    assert "syncd pull --force" in held.describe()[-1] and len(target.events) == 3
    assert list(states(store).values()).count("active") == 3
    preview = run(store, target, [], cfg=cfg, dry_run=True, force=True)
    assert preview.deleted == 3 and not preview.held_back_deletes
    forced = run(store, target, [], cfg=cfg, force=True)
    assert forced.deleted == 3 and target.events == {}


def test_a_crash_before_commit_leaves_no_duplicate_and_no_false_dismissal(store: Store, target: MemTarget) -> None:
    target.fail_on_commit = True
    with pytest.raises(TargetCrash):
        run(store, target, [due("a@x.com", date(2026, 3, 1))])
    assert states(store) == {key("a@x.com"): "pending"} and target.events == {}
    target.fail_on_commit = False
    result = run(store, target, [due("a@x.com", date(2026, 3, 1))])
    assert result.created == 1 and result.dismissed == 0
    assert "interrupted run" in result.plan.actions[0].reason
    assert len(target.events) == 1 and states(store) == {key("a@x.com"): "active"}


def test_a_crash_after_commit_settles_without_rewriting(store: Store, target: MemTarget) -> None:
    target.fail_after_commit = True
    with pytest.raises(TargetCrash):
        run(store, target, [due("a@x.com", date(2026, 3, 1))])
    target.fail_after_commit = False
    writes = target.writes
    result = run(store, target, [due("a@x.com", date(2026, 3, 1))])
    assert (result.created, result.updated) == (0, 0) and target.writes == writes
    assert len(target.events) == 1 and states(store) == {key("a@x.com"): "active"}


def test_an_interrupted_deletion_is_finished(store: Store) -> None:
    target = MemTarget(staged=False)  # a network calendar: each write lands at once
    run(store, target, [due(f"p{i}@x.com", date(2026, 3, 4)) for i in range(3)])
    target.fail_after = target.writes + 1
    with pytest.raises(TargetCrash):
        run(store, target, [])
    assert sorted(states(store).values()) == ["deleting", "deleting", "deleting"] and len(target.events) == 2
    target.fail_after = None
    result = run(store, target, [])
    assert result.deleted == 2 and all("earlier run" in a.reason for a in result.plan.actions)
    assert target.events == {} and set(states(store).values()) == {"done"}


def test_an_interrupted_move_is_placed_again_not_taken_for_a_snooze(store: Store) -> None:
    target = MemTarget(staged=False)
    run(store, target, [due("a@x.com", date(2026, 3, 10))])
    target.fail_after = target.writes
    with pytest.raises(TargetCrash):
        run(store, target, [due("a@x.com", date(2026, 3, 4))])
    target.fail_after = None
    assert run(store, target, [due("a@x.com", date(2026, 3, 4))]).updated == 1
    assert target.events[key("a@x.com")].start.date() == date(2026, 3, 4)


def test_the_ics_target_round_trips_without_churn(store: Store, tmp_path: Path) -> None:
    path = tmp_path / "followups.ics"
    wanted = [due("a@x.com", date(2026, 3, 1)), due("b@x.com", date(2026, 3, 3), origin="series", cycle="s")]
    assert reconcile(wanted, store, IcsFileTarget("ics", {"path": path}), MONDAY, CFG).created == 2
    data = path.read_bytes()
    assert quiet(reconcile(wanted, store, IcsFileTarget("ics", {"path": path}), MONDAY, CFG))
    assert path.read_bytes() == data
    second = plan(wanted, store.followups.load(), IcsFileTarget("ics", {"path": path}).list_own(), MONDAY, CFG)
    assert not second.actions
    target = IcsFileTarget("ics", {"path": path})
    apply(second, target, store)
    assert path.read_bytes() == data
    assert {e.start.astimezone(BERLIN).time() for e in IcsFileTarget("ics", {"path": path}).list_own()} == {time(9, 30)}


def test_records_are_in_flight_before_the_target_is_touched(
    store: Store, target: MemTarget, monkeypatch: pytest.MonkeyPatch
) -> None:
    seen: list[tuple[str, str]] = []
    create, delete = target.create, target.delete

    def spy_create(event: FollowupEvent) -> None:
        seen.append(("create", states(store)[event.key]))
        create(event)

    def spy_delete(k: str) -> None:
        seen.append(("delete", states(store)[k]))
        delete(k)

    monkeypatch.setattr(target, "create", spy_create)
    monkeypatch.setattr(target, "delete", spy_delete)
    run(store, target, [due("a@x.com", date(2026, 3, 4))])
    run(store, target, [])
    assert seen == [("create", "pending"), ("delete", "deleting")]
    assert states(store) == {key("a@x.com"): "done"}


def test_a_move_made_in_the_ics_file_is_a_snooze(store: Store, tmp_path: Path) -> None:
    path = tmp_path / "followups.ics"
    wanted = [due("a@x.com", date(2026, 3, 4))]
    reconcile(wanted, store, IcsFileTarget("ics", {"path": path}), MONDAY, CFG)
    user = IcsFileTarget("ics", {"path": path})  # a calendar app changes DTSTART and keeps the X- properties
    [event] = user.list_own()
    user.update(dataclasses.replace(event, start=event.start + timedelta(days=2)))
    user.commit()
    result = reconcile([due("a@x.com", date(2026, 3, 4), description="new")], store, IcsFileTarget("ics", {"path": path}), MONDAY, CFG)
    assert result.updated == 1
    [after] = IcsFileTarget("ics", {"path": path}).list_own()
    assert after.start == event.start + timedelta(days=2) and after.description == "new"
