"""Placement: keys, working days, the slot in local time across DST, the per-day cap, the horizon."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from hypothesis import given, settings
from hypothesis import strategies as st

from syncd.config import FollowupsConfig
from syncd.plan.occasions import followup_key
from syncd.plan.placement import (
    Request,
    first_day,
    horizon_end,
    next_working_day,
    place,
    slot_start,
)

BERLIN = ZoneInfo("Europe/Berlin")
CFG = FollowupsConfig(timezone=BERLIN)
MONDAY = datetime(2026, 3, 2, 7, 0, tzinfo=UTC)  # 08:00 in Berlin, before the 09:30 slot
BASE32HEX = set("0123456789abcdefghijklmnopqrstuv")


def req(key: str, due: date, strength: float = 1, every: int | None = None, *, lapsed: bool = False,
        pinned: bool = False) -> Request:
    return Request(key, due, strength, every_days=every, lapsed=lapsed, pinned=pinned)


def test_key_is_deterministic_base32hex_and_distinct_per_part() -> None:
    key = followup_key("a@x.com", "cycle", "2026-01-01T10:00:00+00:00", 0)
    assert key == followup_key("a@x.com", "cycle", "2026-01-01T10:00:00+00:00", 0)
    assert len(key) == 26 and set(key) <= BASE32HEX  # a valid Google Calendar event id
    others = {
        followup_key("a@x.com", "cycle", "2026-01-01T10:00:00+00:00", 1),
        followup_key("a@x.com", "reminder", "2026-01-01T10:00:00+00:00", 0),
        followup_key("b@x.com", "cycle", "2026-01-01T10:00:00+00:00", 0),
        followup_key("a@x.com", "cycle", "2026-02-01T10:00:00+00:00", 0),
    }
    assert key not in others and len(others) == 4


def test_first_day_is_today_before_the_slot_and_the_next_working_day_after() -> None:
    assert first_day(MONDAY, CFG) == date(2026, 3, 2)
    assert first_day(datetime(2026, 3, 2, 8, 30, tzinfo=UTC), CFG) == date(2026, 3, 3)  # 09:30 Berlin: passing
    friday_evening = datetime(2026, 3, 6, 18, 0, tzinfo=UTC)
    assert first_day(friday_evening, CFG) == date(2026, 3, 9)  # over the weekend to Monday
    saturday_morning = datetime(2026, 3, 7, 6, 0, tzinfo=UTC)
    assert first_day(saturday_morning, CFG) == date(2026, 3, 9)


def test_today_is_the_local_day_not_the_utc_day() -> None:
    # 23:30 UTC on Sunday is already Monday 00:30 in Berlin, well before the slot.
    assert first_day(datetime(2026, 3, 1, 23, 30, tzinfo=UTC), CFG) == date(2026, 3, 2)


def test_weekends_and_custom_working_days() -> None:
    assert next_working_day(date(2026, 3, 7), CFG) == date(2026, 3, 9)  # Saturday -> Monday
    assert next_working_day(date(2026, 3, 4), CFG) == date(2026, 3, 4)
    weekend_worker = FollowupsConfig(timezone=BERLIN, working_days=frozenset({5, 6}))
    assert next_working_day(date(2026, 3, 2), weekend_worker) == date(2026, 3, 7)


def test_slot_is_local_wall_time_across_dst() -> None:
    before = slot_start(date(2026, 3, 27), CFG)
    assert before.utcoffset() == timedelta(hours=1) and before.astimezone(UTC).time() == time(8, 30)
    on_the_day = slot_start(date(2026, 3, 29), CFG)  # Europe switches to summer time at 02:00 that day
    assert on_the_day.utcoffset() == timedelta(hours=2) and on_the_day.astimezone(UTC).time() == time(7, 30)
    autumn = slot_start(date(2026, 10, 25), CFG)
    assert autumn.utcoffset() == timedelta(hours=1) and autumn.time() == time(9, 30)


def test_a_slot_in_the_spring_gap_becomes_a_real_wall_time() -> None:
    night = FollowupsConfig(timezone=BERLIN, slot=time(2, 30))
    start = slot_start(date(2026, 3, 29), night)  # 02:30 does not exist that night
    assert start.time() == time(3, 30) and start.utcoffset() == timedelta(hours=2)
    assert start.astimezone(UTC).astimezone(BERLIN) == start


def test_due_on_a_weekend_lands_on_monday() -> None:
    placed = place([req("a", date(2026, 3, 7))], Counter(), MONDAY, CFG)
    assert placed == {"a": date(2026, 3, 9)}


def test_overdue_people_are_spread_most_overdue_first_never_on_one_day() -> None:
    wanted = [req(f"p{i}", date(2026, 2, 1) + timedelta(days=i)) for i in range(8)]
    placed = place(wanted, Counter(), MONDAY, CFG)
    assert Counter(placed.values()) == {date(2026, 3, 2): 3, date(2026, 3, 3): 3, date(2026, 3, 4): 2}
    assert [placed[f"p{i}"] for i in range(8)] == sorted(placed[f"p{i}"] for i in range(8))


def test_spreading_skips_the_weekend() -> None:
    thursday = datetime(2026, 3, 5, 7, 0, tzinfo=UTC)
    placed = place([req(f"p{i}", date(2026, 2, 1)) for i in range(9)], Counter(), thursday, CFG)
    assert sorted(set(placed.values())) == [date(2026, 3, 5), date(2026, 3, 6), date(2026, 3, 9)]


def test_after_the_slot_overdue_ones_start_tomorrow() -> None:
    late = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)
    placed = place([req("a", date(2026, 2, 1))], Counter(), late, CFG)
    assert placed == {"a": date(2026, 3, 3)}


def test_strength_breaks_ties_between_equally_overdue() -> None:
    cfg = FollowupsConfig(timezone=BERLIN, per_day=1)
    placed = place([req("weak", date(2026, 2, 1), 1), req("strong", date(2026, 2, 1), 9)], Counter(), MONDAY, cfg)
    assert placed == {"strong": date(2026, 3, 2), "weak": date(2026, 3, 3)}


def test_more_overdue_relative_to_their_own_rhythm_goes_first() -> None:
    cfg = FollowupsConfig(timezone=BERLIN, per_day=1)
    # A week late on a two-week rhythm (half a rhythm) beats a month late on a half-year one (a sixth).
    close = req("close", date(2026, 2, 23), 0.5, every=14)
    occasional = req("occasional", date(2026, 1, 31), 0.5, every=180)
    placed = place([occasional, close], Counter(), MONDAY, cfg)
    assert placed == {"close": date(2026, 3, 2), "occasional": date(2026, 3, 3)}


def test_a_strong_tie_due_today_beats_a_weak_contact_long_overdue() -> None:
    cfg = FollowupsConfig(timezone=BERLIN, per_day=1)
    strong = req("strong", date(2026, 3, 2), 0.8, every=30)
    weak = req("weak", date(2025, 12, 1), 0.2, every=90)  # a whole rhythm late: 0.2 × 2 = 0.4 < 0.8
    placed = place([weak, strong], Counter(), MONDAY, cfg)
    assert placed["strong"] < placed["weak"]


def test_a_one_off_lands_on_its_day_ahead_of_the_cap() -> None:
    cfg = FollowupsConfig(timezone=BERLIN, per_day=2)
    backlog = [req(f"p{i}", date(2026, 2, 1), 0.9, every=30) for i in range(6)]
    one_off = req("asked", date(2026, 3, 3), 0.0, pinned=True)
    placed = place([*backlog, one_off], Counter({date(2026, 3, 3): 2}), MONDAY, cfg)
    assert placed["asked"] == date(2026, 3, 3)  # the day was already full: it lands all the same
    assert date(2026, 3, 3) not in {placed[r.key] for r in backlog}  # and the rest go around it
    assert placed["asked"] == place([one_off], Counter(), MONDAY, cfg)["asked"]


def test_lapsed_ones_come_after_everyone_else_and_few_a_day() -> None:
    cfg = FollowupsConfig(timezone=BERLIN, per_day=3, lapsed_per_day=1)
    lapsed = [req(f"old{i}", date(2025, 1, 1), 0.9, every=30, lapsed=True) for i in range(4)]
    regular = [req(f"p{i}", date(2026, 2, 20), 0.3, every=30) for i in range(4)]
    placed = place([*lapsed, *regular], Counter(), MONDAY, cfg)
    by_day = Counter(placed[r.key] for r in lapsed)
    assert max(by_day.values()) == 1  # never more than one a day
    assert placed["old0"] == date(2026, 3, 3)  # Monday is full with regular ones; Tuesday has room
    assert all(placed[r.key] <= date(2026, 3, 3) for r in regular)
    none = FollowupsConfig(timezone=BERLIN, lapsed_per_day=0)
    assert place(lapsed, Counter(), MONDAY, none) == {}


def test_only_days_within_the_horizon_are_placed() -> None:
    assert horizon_end(MONDAY, CFG) == date(2026, 3, 16)
    placed = place([req("soon", date(2026, 3, 16)), req("later", date(2026, 3, 17))], Counter(), MONDAY, CFG)
    assert placed == {"soon": date(2026, 3, 16)}


def test_a_full_horizon_leaves_the_rest_waiting() -> None:
    cfg = FollowupsConfig(timezone=BERLIN, per_day=1, horizon=timedelta(days=2))
    placed = place([req(f"p{i}", date(2026, 2, 1)) for i in range(5)], Counter(), MONDAY, cfg)
    assert sorted(placed.values()) == [date(2026, 3, 2), date(2026, 3, 3), date(2026, 3, 4)]


def test_days_already_full_are_respected() -> None:
    placed = place([req("a", date(2026, 3, 2))], Counter({date(2026, 3, 2): 3}), MONDAY, CFG)
    assert placed == {"a": date(2026, 3, 3)}


@settings(max_examples=60, deadline=None)
@given(
    dues=st.lists(st.integers(-60, 20), max_size=25),
    per_day=st.integers(1, 4),
    hour=st.integers(0, 23),
    taken=st.dictionaries(st.integers(0, 14), st.integers(0, 4), max_size=5),
)
def test_placement_properties(dues: list[int], per_day: int, hour: int, taken: dict[int, int]) -> None:
    cfg = FollowupsConfig(timezone=BERLIN, per_day=per_day)
    now = datetime(2026, 3, 2, hour, 0, tzinfo=UTC)
    today = now.astimezone(BERLIN).date()
    already = Counter({today + timedelta(days=d): c for d, c in taken.items()})
    requests = [req(f"p{i}", today + timedelta(days=d)) for i, d in enumerate(dues)]
    placed = place(requests, already, now, cfg)
    load = Counter(placed.values())
    for day, count in load.items():
        assert day.weekday() in cfg.working_days
        assert first_day(now, cfg) <= day <= horizon_end(now, cfg)
        assert count + already[day] <= per_day or count == 0
    for request in requests:
        if request.key in placed:
            assert placed[request.key] >= request.due or request.due < first_day(now, cfg)
    # Most overdue first: an earlier due date never lands later, nor waits while a later one is placed.
    for a in requests:
        for b in requests:
            if a.due < b.due and b.key in placed:
                assert a.key in placed and placed[a.key] <= placed[b.key]
