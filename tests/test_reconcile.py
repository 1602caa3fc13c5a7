"""The planner and reconciler: placement, and the calendar event as the user's control."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest

from syncd.config import FollowupsConfig
from syncd.model import DueFollowup
from syncd.planner import first_day, followup_key, next_working_day, place, slot_start
from syncd.reconcile import reconcile
from syncd.store import Store
from tests.fake_target import FakeTarget, ForeignEvent, TargetCrash

BERLIN = ZoneInfo("Europe/Berlin")
CFG = FollowupsConfig(timezone=BERLIN)
MONDAY = datetime(2026, 3, 2, 7, 0, tzinfo=UTC)  # 08:00 in Berlin, before the 09:30 slot


def due(person: str, day: date, cycle: str = "c1", strength: int = 1, every: int | None = 30,
        origin: str = "cycle") -> DueFollowup:
    return DueFollowup(person, person.split("@")[0].title(), origin, cycle, day, every, strength,  # type: ignore[arg-type]
                       f"about {person}")


# ---- placement -------------------------------------------------------------------------------------


def test_key_is_base32hex_and_stable() -> None:
    key = followup_key("a@x.com", "cycle", "2026-01-01", 0)
    assert key == followup_key("a@x.com", "cycle", "2026-01-01", 0)
    assert key != followup_key("a@x.com", "cycle", "2026-01-01", 1)
    assert len(key) == 26 and set(key) <= set("0123456789abcdefghijklmnopqrstuv")


def test_first_day_is_today_before_the_slot_and_tomorrow_after() -> None:
    assert first_day(MONDAY, CFG) == date(2026, 3, 2)
    assert first_day(MONDAY.replace(hour=9), CFG) == date(2026, 3, 3)  # 10:00 Berlin: slot passed


def test_weekends_are_skipped() -> None:
    assert next_working_day(date(2026, 3, 7), CFG) == date(2026, 3, 9)  # Saturday -> Monday
    weekend_worker = FollowupsConfig(timezone=BERLIN, working_days=frozenset({5, 6}))
    assert next_working_day(date(2026, 3, 2), weekend_worker) == date(2026, 3, 7)


def test_slot_is_local_time_across_dst() -> None:
    assert slot_start(date(2026, 3, 27), CFG).utcoffset() == timedelta(hours=1)
    after = slot_start(date(2026, 3, 30), CFG)  # Europe switched to summer time on 29 March
    assert after.utcoffset() == timedelta(hours=2)
    assert after.astimezone(UTC).time() == time(7, 30)


def test_overdue_people_are_spread_most_overdue_first() -> None:
    wanted = [due(f"p{i}@x.com", date(2026, 2, 1) + timedelta(days=i)) for i in range(7)]
    placed = place(wanted, Counter(), MONDAY, CFG)
    per_day = Counter(placed.values())
    assert max(per_day.values()) == CFG.per_day
    assert placed[("p0@x.com", "cycle", "c1")] == date(2026, 3, 2)
    assert placed[("p6@x.com", "cycle", "c1")] == date(2026, 3, 4)


def test_strength_breaks_ties_and_horizon_limits() -> None:
    wanted = [due("weak@x.com", date(2026, 2, 1), strength=1), due("strong@x.com", date(2026, 2, 1), strength=9),
              due("later@x.com", date(2026, 6, 1))]
    cfg = FollowupsConfig(timezone=BERLIN, per_day=1)
    placed = place(wanted, Counter(), MONDAY, cfg)
    assert placed[("strong@x.com", "cycle", "c1")] < placed[("weak@x.com", "cycle", "c1")]
    assert ("later@x.com", "cycle", "c1") not in placed


def test_days_already_full_are_respected() -> None:
    placed = place([due("a@x.com", date(2026, 3, 2))], Counter({date(2026, 3, 2): 3}), MONDAY, CFG)
    assert placed[("a@x.com", "cycle", "c1")] == date(2026, 3, 3)


# ---- reconciling -----------------------------------------------------------------------------------


@pytest.fixture
def store() -> Store:
    return Store(":memory:")


def run(store: Store, target: FakeTarget, wanted: list[DueFollowup], now: datetime = MONDAY, **kw: bool):
    return reconcile(wanted, store, target, now, CFG, **kw)


def test_creates_then_changes_nothing(store: Store) -> None:
    target = FakeTarget()
    first = run(store, target, [due("a@x.com", date(2026, 3, 1))])
    assert first.count("create") == 1
    event = next(iter(target.events.values()))
    assert event.title == "Reach out to A"
    assert event.start == slot_start(date(2026, 3, 2), CFG)
    second = run(store, target, [due("a@x.com", date(2026, 3, 1))])
    assert (second.count("create"), second.count("update"), second.count("delete")) == (0, 0, 0)
    assert target.writes == 1


def test_dry_run_writes_nothing(store: Store) -> None:
    target = FakeTarget()
    result = run(store, target, [due("a@x.com", date(2026, 3, 1))], dry_run=True)
    assert result.count("create") == 1
    assert target.events == {} and target.writes == 0
    assert store.count("followups") == 0
    assert "to create" in result.describe(dry_run=True)[0]


def test_contact_starts_a_new_cycle_and_removes_the_old_event(store: Store) -> None:
    target = FakeTarget()
    run(store, target, [due("a@x.com", date(2026, 3, 1), cycle="c1")])
    result = run(store, target, [due("a@x.com", date(2026, 5, 1), cycle="c2")])
    assert result.count("delete") == 1
    assert target.events == {}


def test_a_moved_event_is_a_snooze_and_only_its_text_is_refreshed(store: Store) -> None:
    target = FakeTarget()
    run(store, target, [due("a@x.com", date(2026, 3, 1))])
    key = next(iter(target.events))
    target.user_moves(key, 10)
    moved_to = target.events[key].start
    changed = DueFollowup("a@x.com", "A", "cycle", "c1", date(2026, 3, 1), 30, 1, "new notes")
    result = run(store, target, [changed])
    assert result.count("update") == 1
    assert target.events[key].start == moved_to
    assert target.events[key].description == "new notes"
    assert run(store, target, [changed]).count("update") == 0


def test_a_deleted_event_dismisses_the_cycle_until_one_cadence_later(store: Store) -> None:
    target = FakeTarget()
    run(store, target, [due("a@x.com", date(2026, 3, 1), every=30)])
    target.user_deletes(next(iter(target.events)))
    result = run(store, target, [due("a@x.com", date(2026, 3, 1), every=30)])
    assert result.count("dismissed") == 1
    assert target.events == {}  # the next one is due 2026-03-31: beyond the 14-day horizon
    later = run(store, target, [due("a@x.com", date(2026, 3, 1), every=30)], now=MONDAY + timedelta(days=25))
    assert later.count("create") == 1
    assert next(iter(target.events.values())).start.date() == date(2026, 3, 31)


def test_a_deleted_one_off_is_done(store: Store) -> None:
    target = FakeTarget()
    run(store, target, [due("a@x.com", date(2026, 3, 3), origin="reminder", cycle="7", every=None)])
    target.user_deletes(next(iter(target.events)))
    for _ in range(2):
        result = run(store, target, [due("a@x.com", date(2026, 3, 3), origin="reminder", cycle="7", every=None)])
        assert result.count("create") == 0
    assert target.events == {}


def test_a_person_no_longer_due_loses_the_event(store: Store) -> None:
    target = FakeTarget()
    run(store, target, [due("a@x.com", date(2026, 3, 1))])
    assert run(store, target, []).count("delete") == 1
    assert target.events == {}


def test_past_events_of_an_old_cycle_stay_as_history(store: Store) -> None:
    target = FakeTarget()
    run(store, target, [due("a@x.com", date(2026, 3, 1))])
    result = run(store, target, [], now=MONDAY + timedelta(days=3))
    assert result.count("delete") == 0
    assert len(target.events) == 1


def test_max_deletes_holds_back_the_rest_unless_forced(store: Store) -> None:
    target = FakeTarget()
    cfg = FollowupsConfig(timezone=BERLIN, per_day=50, max_deletes=2)
    people = [due(f"p{i}@x.com", date(2026, 3, 1)) for i in range(5)]
    reconcile(people, store, target, MONDAY, cfg)
    held = reconcile([], store, target, MONDAY, cfg)
    assert held.count("delete") == 2 and len(held.held_back) == 3
    assert "syncd pull --force" in held.describe()[-1]
    assert len(target.events) == 3
    forced = reconcile([], store, target, MONDAY, cfg, force=True)
    assert forced.count("delete") == 3 and target.events == {}


def test_foreign_events_are_never_touched(store: Store) -> None:
    target = FakeTarget()
    target.foreign["mine"] = target_foreign = ForeignEvent("mine", "Dentist")
    run(store, target, [due("a@x.com", date(2026, 3, 1))])
    run(store, target, [])
    assert target.foreign == {"mine": target_foreign}


def test_a_crash_before_commit_leaves_no_duplicate_and_no_false_dismissal(store: Store) -> None:
    target = FakeTarget()
    target.fail_on_commit = True
    with pytest.raises(TargetCrash):
        run(store, target, [due("a@x.com", date(2026, 3, 1))])
    target.fail_on_commit = False
    result = run(store, target, [due("a@x.com", date(2026, 3, 1))])
    assert result.count("create") == 1 and result.count("dismissed") == 0
    assert len(target.events) == 1


def test_a_crash_after_commit_settles_without_a_second_event(store: Store) -> None:
    target = FakeTarget()
    run(store, target, [due("a@x.com", date(2026, 3, 1))])
    with store.transaction() as db:  # as if the process died before marking the record active
        db.execute("UPDATE followups SET state = 'pending'")
    run(store, target, [due("a@x.com", date(2026, 3, 1))])
    assert len(target.events) == 1
    assert store.db.execute("SELECT state FROM followups").fetchall() == [("active",)]
