"""A Hypothesis state machine for the reconciler against an in-memory calendar.

Random contacts (new cycles), time passing, user moves and deletes, foreign events, and crashes between
writes. Invariants: never two syncd events for one person and cycle; foreign events never changed; a
second run with no new input changes nothing; after contact, the old cycle's future event is gone.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule

from syncd.config import FollowupsConfig
from syncd.model import DueFollowup
from syncd.reconcile import load_records, reconcile
from syncd.store import Store
from tests.fake_target import FakeTarget, ForeignEvent, TargetCrash

PEOPLE = ["ann@x.com", "ben@x.com", "cat@x.com", "dev@x.com"]
CFG = FollowupsConfig(timezone=ZoneInfo("Europe/Berlin"), per_day=2, max_deletes=100)


class Reconciling(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.store = Store(":memory:")
        self.target = FakeTarget()
        self.now = datetime(2026, 3, 2, 6, 0, tzinfo=UTC)
        self.cycles: dict[str, tuple[str, date, int]] = {}  # person -> (cycle, due, every)
        self.foreign_before: dict[str, ForeignEvent] = {}
        self.dirty = True  # something changed since the last successful run
        self.moved: dict[str, datetime] = {}  # key -> where the user put it
        self.deleted: set[str] = set()  # keys the user deleted: dismissed, never recreated

    def wanted(self) -> list[DueFollowup]:
        return [
            DueFollowup(person, person[:3].title(), "cycle", cycle, due_day, every, 1, f"{person} {cycle}")
            for person, (cycle, due_day, every) in sorted(self.cycles.items())
        ]

    def run(self) -> None:
        reconcile(self.wanted(), self.store, self.target, self.now, CFG)
        self.dirty = False

    @rule(person=st.sampled_from(PEOPLE), due_in=st.integers(-40, 20), every=st.sampled_from([14, 30, 90]))
    def contact(self, person: str, due_in: int, every: int) -> None:
        """A new contact: the person's cycle restarts."""
        old = self.cycles.get(person)
        self.cycles[person] = (f"c{self.now.isoformat()}-{due_in}", self.now.date() + timedelta(days=due_in), every)
        self.dirty = True
        self.run()
        if old is not None:
            # The old cycle's future event must be gone after the run.
            today = self.now.date()
            for event in self.target.events.values():
                if event.person == person and event.start.date() >= today:
                    assert event.description.endswith(self.cycles[person][0])

    @rule(person=st.sampled_from(PEOPLE))
    def becomes_ignored(self, person: str) -> None:
        if self.cycles.pop(person, None) is not None:
            self.dirty = True

    @rule(days=st.integers(1, 20))
    def time_passes(self, days: int) -> None:
        self.now += timedelta(days=days)
        self.dirty = True

    @rule(data=st.data(), days=st.integers(-3, 10))
    def user_moves(self, data: st.DataObject, days: int) -> None:
        if self.target.events and days:
            key = data.draw(st.sampled_from(sorted(self.target.events)))
            self.target.user_moves(key, days)
            self.moved[key] = self.target.events[key].start
            self.dirty = True

    @rule(data=st.data())
    def user_deletes(self, data: st.DataObject) -> None:
        if self.target.events:
            key = data.draw(st.sampled_from(sorted(self.target.events)))
            self.target.user_deletes(key)
            self.deleted.add(key)
            self.dirty = True

    @rule(uid=st.sampled_from(["dentist", "standup"]), title=st.text(min_size=1, max_size=5))
    def user_adds_foreign(self, uid: str, title: str) -> None:
        self.target.foreign[uid] = ForeignEvent(uid, title)
        self.foreign_before = dict(self.target.foreign)

    @rule(after=st.integers(0, 3), at_commit=st.booleans())
    def crash(self, after: int, at_commit: bool) -> None:
        self.target.fail_after = None if at_commit else after
        self.target.fail_on_commit = at_commit
        try:
            self.run()
        except TargetCrash:
            self.dirty = True
        finally:
            self.target.fail_after = None
            self.target.fail_on_commit = False

    @rule()
    def sync(self) -> None:
        self.run()

    @precondition(lambda self: not self.dirty)
    @rule()
    def second_run_changes_nothing(self) -> None:
        before = {k: (e.start, e.title, e.description) for k, e in self.target.events.items()}
        writes = self.target.writes
        result = reconcile(self.wanted(), self.store, self.target, self.now, CFG)
        assert result.count("create") == result.count("update") == result.count("delete") == 0, result.actions
        assert self.target.writes == writes
        assert {k: (e.start, e.title, e.description) for k, e in self.target.events.items()} == before

    @invariant()
    def one_event_per_person_and_cycle(self) -> None:
        records = load_records(self.store)
        seen: set[tuple[str, str]] = set()
        for key in self.target.events:
            record = records.get(key)
            if record is None:
                continue
            ident = (record.person, record.cycle)
            assert ident not in seen, f"two events for {ident}"
            seen.add(ident)

    @invariant()
    def moves_are_never_undone(self) -> None:
        for key, start in self.moved.items():
            if key in self.target.events:
                assert self.target.events[key].start == start, "syncd moved a snoozed event back"

    @invariant()
    def deletions_are_never_undone(self) -> None:
        assert not self.deleted & set(self.target.events), "syncd recreated an event the user deleted"

    @invariant()
    def foreign_events_untouched(self) -> None:
        assert self.target.foreign == self.foreign_before


Reconciling.TestCase.settings = settings(max_examples=60, stateful_step_count=25, deadline=None)
TestReconciling = Reconciling.TestCase
