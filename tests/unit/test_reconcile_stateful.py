"""A Hypothesis state machine for the reconciler against the in-memory calendar.

Random contacts (new cycles), one-off reminders, people dropping out, time passing, the user moving,
deleting and restoring follow-ups and editing their own events, and crashes at every point of a run
(after k writes, before commit, after commit), against file-style and network-style targets.

Invariants: never two syncd events for one (person, origin, cycle); foreign events never changed; a
user's move is never undone and a dismissal never recreated; after a clean run no future event is left
for an occasion that is no longer wanted (after contact the old cycle's follow-up is gone), and no day
holds more than ``per_day`` regular events syncd placed; a one-off is in the calendar on its day whatever
the queue holds; a second run with no new input changes nothing.
"""

from __future__ import annotations

import itertools
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, precondition, rule

from connectors.base import FollowupEvent
from syncd.config import FollowupsConfig
from syncd.engine.due import DueFollowup
from syncd.plan.occasions import followup_key
from syncd.plan.placement import first_day, horizon_end, next_working_day
from syncd.plan.reconcile import reconcile
from syncd.store import Store
from tests.support.memtarget import ForeignEvent, MemTarget, TargetCrash

PEOPLE = ["ann@x.com", "ben@x.com", "cat@x.com", "dev@x.com", "eve@x.com"]
CFG = FollowupsConfig(timezone=ZoneInfo("Europe/Berlin"), per_day=2, max_deletes=100, horizon=timedelta(days=10))
Occasion = tuple[str, str, str]
MAX_N = 40  # dismissals per occasion the key map covers; far more than a run of steps can make


class Reconciling(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.store = Store(":memory:")
        self.target = MemTarget()
        self.now = datetime(2026, 3, 2, 6, 0, tzinfo=UTC)
        self.ids = itertools.count()
        self.cycles: dict[str, tuple[str, date, int]] = {}  # person -> (cycle, due, every)
        self.reminders: dict[str, tuple[str, date]] = {}  # person -> (reminder id, on)
        self.occasion_of: dict[str, Occasion] = {}  # every key any occasion could use
        self.foreign: dict[str, ForeignEvent] = {}  # what the user's own events must look like
        self.moved: dict[str, datetime] = {}  # key -> where the user put it
        self.dismissed: set[str] = set()  # keys the user deleted while syncd had them active
        self.trash: list[FollowupEvent] = []  # what the user deleted, for an undo
        self.restored: set[str] = set()  # keys the user brought back: placed by them, not by syncd
        self.user_duplicate = False  # an undo made a second event for an occasion, until a clean run
        self.dirty = True  # input changed, or a run failed, since the last clean run

    @initialize(staged=st.booleans(), keeps_planned=st.booleans())
    def choose_target(self, staged: bool, keeps_planned: bool) -> None:
        self.target = MemTarget(staged=staged, keeps_planned=keeps_planned)

    # ---- the world -----------------------------------------------------------------------------------

    def _known(self, occasion: Occasion) -> None:
        for n in range(MAX_N):
            self.occasion_of[followup_key(*occasion, n)] = occasion

    def wanted(self) -> list[DueFollowup]:
        out = [
            DueFollowup(p, p[:3].title(), "cycle", cycle, day, every, len(p), f"{p} {cycle}")
            for p, (cycle, day, every) in sorted(self.cycles.items())
        ]
        out += [
            DueFollowup(p, p[:3].title(), "reminder", rid, day, None, 0, f"reminder {rid}")
            for p, (rid, day) in sorted(self.reminders.items())
        ]
        return out

    def wanted_occasions(self) -> set[Occasion]:
        return {(d.person, d.origin, d.cycle) for d in self.wanted()}

    def run(self) -> None:
        reconcile(self.wanted(), self.store, self.target, self.now, CFG)
        self.dirty = False
        self.after_clean_run()

    @rule(person=st.sampled_from(PEOPLE), due_in=st.integers(-40, 15), every=st.sampled_from([14, 30, 90]))
    def contact(self, person: str, due_in: int, every: int) -> None:
        """A new contact: the person's cycle restarts (a new cycle value)."""
        cycle = f"c{next(self.ids)}"
        self.cycles[person] = (cycle, self.now.date() + timedelta(days=due_in), every)
        self._known((person, "cycle", cycle))
        self.dirty = True

    @rule(person=st.sampled_from(PEOPLE), on_in=st.integers(-5, 12))
    def reminder(self, person: str, on_in: int) -> None:
        rid = f"r{next(self.ids)}"
        self.reminders[person] = (rid, self.now.date() + timedelta(days=on_in))
        self._known((person, "reminder", rid))
        self.dirty = True

    @rule(person=st.sampled_from(PEOPLE), cycle=st.booleans())
    def drops_out(self, person: str, cycle: bool) -> None:
        """Ignored, directory tier, meeting booked (cycle), or the reminder withdrawn."""
        if (self.cycles if cycle else self.reminders).pop(person, None) is not None:
            self.dirty = True

    @rule(hours=st.integers(1, 24 * 12))
    def time_passes(self, hours: int) -> None:
        self.now += timedelta(hours=hours)
        self.dirty = True

    # ---- the user ------------------------------------------------------------------------------------

    def _pick(self, data: st.DataObject) -> str | None:
        return data.draw(st.sampled_from(sorted(self.target.events))) if self.target.events else None

    @rule(data=st.data(), hours=st.integers(-72, 240).filter(bool))
    def user_moves(self, data: st.DataObject, hours: int) -> None:
        key = self._pick(data)
        if key is not None:
            self.target.user_moves(key, timedelta(hours=hours))
            self.moved[key] = self.target.events[key].start
            self.dirty = True

    @rule(data=st.data())
    def user_deletes(self, data: st.DataObject) -> None:
        key = self._pick(data)
        if key is None:
            return
        row = self.store.db.execute("SELECT state FROM followups WHERE key = ?", (key,)).fetchone()
        # Only an event syncd knows it wrote counts as dismissed (so does one restored and deleted again
        # before syncd saw the restore); one whose write is still pending (a crash left it so) is
        # written again by design.
        if row is not None and row[0] in ("active", "dismissed"):
            self.dismissed.add(key)
        self.trash.append(self.target.user_deletes(key))
        self.moved.pop(key, None)  # if syncd writes it again (a pending create), it is a new placement
        self.restored.discard(key)
        self.dirty = True

    @rule()
    def user_restores(self) -> None:
        if self.trash:
            event = self.trash.pop()
            # Undo may bring back an event whose occasion has a newer one by now: the next clean run
            # must resolve that; until then the duplicate is the user's doing.
            occasion = self.occasion_of[event.key]
            self.user_duplicate |= any(self.occasion_of[k] == occasion for k in self.target.events)
            self.target.user_restores(event)
            self.restored.add(event.key)
            self.dismissed.discard(event.key)
            self.moved.pop(event.key, None)
            if event.start != event.planned_start:
                self.moved[event.key] = event.start
            self.dirty = True

    @rule(uid=st.sampled_from(["dentist", "standup"]), title=st.text(max_size=4), days=st.integers(0, 9))
    def user_edits_own_event(self, uid: str, title: str, days: int) -> None:
        self.target.user_edits_foreign(uid, title, self.now + timedelta(days=days))
        self.foreign = dict(self.target.foreign)

    # ---- runs ----------------------------------------------------------------------------------------

    @rule(mode=st.sampled_from(["writes", "commit", "after-commit"]), after=st.integers(0, 3))
    def crash(self, mode: str, after: int) -> None:
        self.target.fail_after = self.target.writes + after if mode == "writes" else None
        self.target.fail_on_commit = mode == "commit"
        self.target.fail_after_commit = mode == "after-commit"
        try:
            self.run()
        except TargetCrash:
            self.dirty = True
        finally:
            self.target.fail_after = None
            self.target.fail_on_commit = self.target.fail_after_commit = False

    @rule()
    def sync(self) -> None:
        self.run()

    @precondition(lambda self: not self.dirty)
    @rule()
    def second_run_changes_nothing(self) -> None:
        before, writes, rows = self.target.snapshot(), self.target.writes, self._rows()
        result = reconcile(self.wanted(), self.store, self.target, self.now, CFG)
        assert (result.created, result.updated, result.deleted) == (0, 0, 0), result.plan.lines()
        assert not result.plan.settles, result.plan.settles
        assert self.target.writes == writes and self.target.snapshot() == before and self._rows() == rows

    def _rows(self) -> list[Any]:
        return self.store.db.execute("SELECT * FROM followups ORDER BY key").fetchall()

    def after_clean_run(self) -> None:
        self.user_duplicate = False
        self.one_event_per_occasion()
        wanted = self.wanted_occasions()
        for key, event in self.target.events.items():
            if event.start > self.now:
                assert self.occasion_of[key] in wanted, f"a future event for an occasion no longer due: {key}"
        placed: dict[date, int] = {}
        for key, event in self.target.events.items():
            # One-offs land ahead of the cap; only the regular ones must fit within it.
            if (key not in self.moved and key not in self.restored and event.start == event.planned_start
                    and self.occasion_of[key][1] != "reminder"):
                day = event.start.astimezone(CFG.timezone).date()
                placed[day] = placed.get(day, 0) + 1
        assert all(count <= CFG.per_day for count in placed.values()), placed
        self.one_offs_land_on_their_day()

    def one_offs_land_on_their_day(self) -> None:
        """Whatever the queue holds (the cap, a backlog, stronger people): a one-off is in the calendar
        once its day is within the horizon, on its day (the next working day) unless that day had
        passed when it was placed."""
        for person, (rid, on) in self.reminders.items():
            keys = [k for k, occasion in self.occasion_of.items() if occasion == (person, "reminder", rid)]
            if any(k in self.dismissed for k in keys):
                continue  # the user deleted it: a dismissed one-off is over
            present = [self.target.events[k] for k in keys if k in self.target.events]
            its_day = next_working_day(on, CFG)
            if next_working_day(max(on, first_day(self.now, CFG)), CFG) <= horizon_end(self.now, CFG):
                assert present, f"the one-off for {person} on {on} is not in the calendar"
            for event in present:
                if event.key in self.moved or event.key in self.restored or event.start != event.planned_start:
                    continue  # where the user put it
                day = event.start.astimezone(CFG.timezone).date()
                assert day >= its_day, f"the one-off for {person} on {on} came early, on {day}"
                if its_day >= first_day(self.now, CFG):
                    assert day == its_day, f"the one-off for {person} on {on} is on {day}"

    # ---- always --------------------------------------------------------------------------------------

    @invariant()
    def one_event_per_occasion(self) -> None:
        if self.user_duplicate:
            return
        seen: set[Occasion] = set()
        for key in self.target.events:
            assert key in self.occasion_of, f"an event under a key no occasion has: {key}"
            occasion = self.occasion_of[key]
            assert occasion not in seen, f"two events for {occasion}"
            seen.add(occasion)

    @invariant()
    def moves_are_never_undone(self) -> None:
        for key, start in self.moved.items():
            if key in self.target.events:
                assert self.target.events[key].start == start, "syncd moved a snoozed event back"

    @invariant()
    def dismissals_are_never_undone(self) -> None:
        assert not self.dismissed & set(self.target.events), "syncd recreated an event the user deleted"

    @invariant()
    def foreign_events_untouched(self) -> None:
        assert self.target.foreign == self.foreign


Reconciling.TestCase.settings = settings(max_examples=200, stateful_step_count=40, deadline=None)
TestReconciling = Reconciling.TestCase
