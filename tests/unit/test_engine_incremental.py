"""The incremental refresh gives exactly the standing a full recompute gives, whatever happened in between:
new mail and meetings, deletions, full resyncs, events changed in place, user decisions, config
changes, and time passing (due dates, booked meetings starting, dormancy, mail dated ahead of the clock).

Two stores receive the same operations; one is only ever refreshed, the other fully recomputed.
"""

from __future__ import annotations

import contextlib
import dataclasses
import random
import sqlite3
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from connectors.base import Batch, Interaction
from syncd import engine
from syncd.config import PersonConfig, TierConfig
from syncd.errors import UsageError
from tests.support.paths import ROOT
from tests.support.world import ME, NOW, World, config, mail, meeting

ADDRESSES = [
    "ann@x.org", "bob@x.org", "bob@home.org", "cy@shop.example", "john.doe@gmail.com", "johndoe@googlemail.com",
    "noreply@x.org", "dee@y.org", "eve@y.org",
]
TIERS = (
    TierConfig("directory", remind=False, match=("shop.example",)),
    TierConfig("close", every=timedelta(days=20), match=("y.org",)),
)


class Twins:
    """The same world twice: ``inc`` is refreshed incrementally, ``ref`` recomputed from scratch."""

    def __init__(self, rng: random.Random) -> None:
        cfg = config(provider_equivalences=rng.random() < 0.5, tiers=TIERS if rng.random() < 0.7 else ())
        self.inc, self.ref = World(cfg), World(cfg)
        self.rng = rng
        self.now = NOW - timedelta(days=400)
        self.ids: list[tuple[str, str]] = []  # (resource, provider id) stored so far
        self.serial = 0

    def both(self, action: str, *args: object, **kwargs: object) -> None:
        for world in (self.inc, self.ref):
            decisions = world.store.decisions
            operation = {"merge": decisions.merge, "unmerge": decisions.unmerge, "set": decisions.set_person,
                         "remind": decisions.add_reminder}[action]
            operation(*args, **kwargs)  # type: ignore[operator]

    def batch(self, resource: str, items: list[Interaction], deleted: Sequence[str] = (), full: bool = False) -> None:
        for world in (self.inc, self.ref):
            # Interaction objects are mutable: each store gets its own copy.
            copies = [dataclasses.replace(item, participants=list(item.participants)) for item in items]
            world.store.synced.apply_batch("a", Batch(resource, "c", copies, list(deleted), full=full, complete=full))

    def interaction(self, resource: str, pid: str | None = None) -> Interaction:
        rng = self.rng
        self.serial += 1
        pid = pid or f"{resource}-{self.serial}"
        when = self.now + timedelta(days=rng.uniform(-1300, 5), hours=rng.randrange(24))
        who = rng.sample(ADDRESSES, rng.randint(1, 3))
        roll = rng.random()
        if roll < 0.35:
            crowd = [f"c{i}@crowd.org" for i in range(rng.choice([0, 0, 0, 19, 21]))]
            return mail(ME, who + crowd, when, pid=pid, subject=f"s{self.serial}")
        if roll < 0.65:
            bulk = "List-Id" if rng.random() < 0.2 else None
            return mail(who[0], [ME, *who[1:]], when, bulk=bulk, pid=pid)
        response = rng.choice([None, None, "accepted", "declined"])
        attendees: list[str | tuple[str, object]] = [(who[0], response), *who[1:]]
        return meeting(attendees, when, series=rng.choice([None, "s1", "s2"]), pid=pid,  # type: ignore[arg-type]
                       cancelled=rng.random() < 0.1, owner_response=rng.choice([None, None, "declined"]))

    def step(self) -> str:
        rng = self.rng
        roll = rng.random()
        if roll < 0.35:
            items = [self.interaction("inbox") for _ in range(rng.randint(1, 4))]
            self.batch("inbox", items)
            self.ids += [("inbox", item.provider_id) for item in items]
            return "add"
        if roll < 0.45 and self.ids:
            resource, pid = rng.choice(self.ids)
            self.ids.remove((resource, pid))
            self.batch(resource, [], [pid])
            return "delete"
        if roll < 0.52:
            # A full resync of the calendar: some old occurrences survive, changed in place; others go.
            kept = [pid for res, pid in self.ids if res == "cal" and rng.random() < 0.6]
            items = [self.interaction("cal", pid) for pid in kept] + [self.interaction("cal")]
            items = [i for i in items if i.kind == "event"] or [meeting(["ann@x.org"], self.now, pid="cal-x")]
            self.ids = [(r, p) for r, p in self.ids if r != "cal"] + [("cal", i.provider_id) for i in items]
            self.batch("cal", items, full=True)
            return "resync"
        if roll < 0.6:
            a, b = rng.sample(ADDRESSES[:6], 2)
            with contextlib.suppress(UsageError):  # a refused merge is refused in both worlds alike
                self.both("merge", a, b)
            return "merge"
        if roll < 0.65:
            linked = [r[0] for r in self.inc.store.db.execute("SELECT address FROM person_links")]
            if linked:
                self.both("unmerge", rng.choice(linked))
            return "unmerge"
        if roll < 0.75:
            who = rng.choice(ADDRESSES)
            options: list[dict[str, Any]] = [
                {"every": timedelta(days=rng.randint(5, 60))}, {"tier": rng.choice(["close", "directory"])},
                {"ignore": rng.random() < 0.5}, {"note": "n"},
            ]
            kwargs = options[rng.randrange(len(options))]
            self.both("set", who, **kwargs)
            return "set"
        if roll < 0.78:
            self.both("remind", rng.choice(ADDRESSES), self.now.date(), None)
            return "remind"
        if roll < 0.8:
            # Settings that change standings only (people, tiers: the contacts are kept) or the contacts too
            # (the caps, the blocklist: derived again).
            engine_now = self.inc.config.engine
            change: dict[str, Any] = rng.choice([
                {"people": (PersonConfig(("dee@y.org", "eve@y.org"), "D+E", None, None, None),)
                 if rng.random() < 0.5 else ()},
                {"tiers": TIERS if rng.random() < 0.5 else ()},
                {"engine": dataclasses.replace(engine_now, max_recipients=rng.choice([3, 20, 25]))},
                {"engine": dataclasses.replace(engine_now, blocklist=rng.choice([(), ("y.org",), ("ann@x.org",)]))},
            ])
            for world in (self.inc, self.ref):
                world.with_config(**change)
            return "config"
        self.now += timedelta(days=rng.choice([0.5, 3, 20, 80, 400]))
        return "time"

    def check(self, what: str) -> None:
        engine.refresh(self.inc.store, self.inc.config, self.now)
        engine.recompute(self.ref.store, self.ref.config, self.now)
        got = engine.people(self.inc.store, self.inc.config, self.now)
        want = engine.people(self.ref.store, self.ref.config, self.now)
        assert got == want, f"after {what} at {self.now}"


def run(seed: int, steps: int) -> None:
    twins = Twins(random.Random(seed))
    for _ in range(steps):
        twins.check(twins.step())


@pytest.mark.parametrize("seed", range(12))
def test_incremental_equals_full_over_random_histories(seed: int) -> None:
    run(seed, 40)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.integers(min_value=0, max_value=2**32))
def test_incremental_equals_full_hypothesis(seed: int) -> None:
    run(seed, 25)


# ---- what the incremental path recomputes, and why ---------------------------------------------------


def test_only_touched_persons_are_recomputed() -> None:
    world = World().add(*[mail(ME, [f"p{i}@x.org"], NOW - timedelta(days=i + 1)) for i in range(30)])
    assert world.refresh().persons == 30
    world.add(mail(ME, ["p3@x.org"], NOW - timedelta(hours=1)))
    stats = world.refresh()
    assert stats.persons == 1 and stats.interactions == 1 and not stats.full


def test_a_config_change_forces_a_full_recompute() -> None:
    world = World().add(mail(ME, ["ann@x.org"], NOW - timedelta(days=3)))
    world.refresh()
    assert not world.refresh().full
    world.with_config(tiers=TIERS)
    assert world.refresh().full


def test_a_tier_change_recomputes_everyone_from_the_contacts_kept() -> None:
    world = World().add(mail(ME, ["ann@x.org"], NOW - timedelta(days=3)), mail("dee@y.org", [ME], NOW - timedelta(days=9)))
    world.refresh()
    world.with_config(tiers=TIERS)
    world.add(mail(ME, ["eve@y.org"], NOW - timedelta(days=1)))
    stats = world.refresh()
    assert stats.full and stats.kept_contacts and stats.interactions == 1  # only the new mail derived
    assert "settings changed, 3 persons recomputed (1 new interaction)" in stats.describe()
    kept = {s.key: s for s in engine.people(world.store, world.config, NOW)}
    assert kept == world.full() and kept["dee@y.org"].tier == "close"


@pytest.mark.parametrize("change", [{"max_recipients": 2}, {"blocklist": ("x.org",)}])
def test_a_cap_or_blocklist_change_derives_the_contacts_again(change: dict[str, Any]) -> None:
    world = World().add(mail(ME, ["ann@x.org", "bob@x.org", "cy@x.org"], NOW - timedelta(days=3)))
    assert set(world.people()) == {"ann@x.org", "bob@x.org", "cy@x.org"}
    world.with_config(engine=dataclasses.replace(world.config.engine, **change))
    stats = world.refresh()
    assert stats.full and not stats.kept_contacts
    assert world.people() == {}


def test_a_new_release_of_the_rules_derives_the_contacts_again(monkeypatch: pytest.MonkeyPatch) -> None:
    from syncd.engine import qualifying

    world = World().add(mail(ME, ["ann@x.org"], NOW - timedelta(days=3)))
    world.refresh()
    monkeypatch.setattr(qualifying, "RULES_VERSION", qualifying.RULES_VERSION + 1)  # nothing else changed
    stats = world.refresh()
    assert stats.full and not stats.kept_contacts and stats.interactions == 1


def test_a_full_derive_gives_the_connection_its_own_cache_and_threads_back() -> None:
    # The indexes are sorted with a small cache and helper threads (docs/sqlite.md#the-engines-tables); what
    # runs after them, in this pull and the next, keeps the store's own settings.
    world = World().add(mail(ME, ["ann@x.org"], NOW - timedelta(days=3)))
    db = world.store.db
    before = (db.execute("PRAGMA cache_size").fetchone()[0], db.execute("PRAGMA threads").fetchone()[0])
    world.refresh()
    assert world.refresh().persons == 0  # and nothing left to do
    assert (db.execute("PRAGMA cache_size").fetchone()[0], db.execute("PRAGMA threads").fetchone()[0]) == before
    indexes = {r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE tbl_name = 'contacts' AND type = 'index'")}
    assert indexes == {"contacts_by_address", "contacts_by_interaction"}


def test_a_failed_index_build_keeps_the_contacts_and_the_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    from syncd.store import contacts

    world = World().add(mail(ME, ["ann@x.org"], NOW - timedelta(days=3)))
    world.refresh()
    db = world.store.db
    before = (db.execute("PRAGMA cache_size").fetchone()[0], db.execute("PRAGMA threads").fetchone()[0])
    world.with_config(engine=dataclasses.replace(world.config.engine, max_recipients=5))  # derive all again
    monkeypatch.setitem(contacts.INDEXES, "contacts_by_interaction", "CREATE INDEX broken ON nowhere(x)")
    with pytest.raises(sqlite3.OperationalError):
        world.refresh()
    assert (db.execute("PRAGMA cache_size").fetchone()[0], db.execute("PRAGMA threads").fetchone()[0]) == before
    assert db.execute("SELECT COUNT(*) FROM contacts").fetchone()[0] == 1  # rolled back whole
    monkeypatch.undo()
    assert world.refresh().full and set(world.people()) == {"ann@x.org"}


def test_new_owner_address_forces_a_full_recompute() -> None:
    world = World().add(mail("alias@example.com", ["ann@x.org"], NOW - timedelta(days=3)))
    assert world.people() == {}
    world.store.accounts.set_owner_addresses("a", [ME, "alias@example.com"])
    stats = world.refresh()
    assert stats.full and set(world.people()) == {"ann@x.org"}


def test_a_passed_due_date_and_a_started_meeting_are_noticed_without_new_data() -> None:
    world = World().add(mail(ME, ["ann@x.org"], NOW - timedelta(days=80)),
                        meeting(["ann@x.org"], NOW + timedelta(days=20)))
    ann = world.person("ann@x.org")
    assert ann.remind  # due in 10 days, the meeting is 10 days after that: beyond the grace
    later = NOW + timedelta(days=14)  # overdue now: the meeting is within today + grace
    stats = world.refresh(later)
    assert stats.persons == 1
    assert not world.person("ann@x.org", later).remind
    after = NOW + timedelta(days=21)
    last = world.person("ann@x.org", after).last_contact
    assert last is not None and last.kind == "meeting"


def test_nothing_to_do_recomputes_nobody() -> None:
    world = World().add(mail(ME, ["ann@x.org"], NOW - timedelta(days=3)))
    world.refresh()
    assert world.refresh(NOW + timedelta(hours=1)).persons == 0


def test_as_of_agrees_with_the_cache_when_nothing_is_booked() -> None:
    world = World().add(*[mail(ME, [a], NOW - timedelta(days=7 * i + 1)) for i, a in enumerate(ADDRESSES)])
    cached = world.people()
    fresh = {s.key: s for s in engine.people(world.store, world.config, NOW, historical=True)}
    assert cached == fresh


def test_refresh_and_people_accept_any_aware_now() -> None:
    from zoneinfo import ZoneInfo

    world = World().add(mail(ME, ["ann@x.org"], NOW - timedelta(days=3)))
    local = NOW.astimezone(ZoneInfo("Pacific/Auckland"))
    assert world.people(local) == world.people(NOW)
    assert isinstance(local, datetime)


def test_an_address_merged_out_of_an_equivalence_group_leaves_it() -> None:
    world = World(config(provider_equivalences=True))
    world.add(mail(ME, ["john.doe@gmail.com"], NOW - timedelta(days=9)),
              mail(ME, ["johndoe@googlemail.com"], NOW - timedelta(days=3)), mail(ME, ["bob@x.org"], NOW))
    assert world.people()["johndoe@gmail.com"].contact_days == 2
    world.store.decisions.merge("bob@x.org", "john.doe@gmail.com")
    found = world.people()
    assert found["johndoe@gmail.com"].addresses == ("johndoe@gmail.com", "johndoe@googlemail.com")
    assert found["bob@x.org"].addresses == ("bob@x.org", "john.doe@gmail.com")
    assert found == world.full()


def test_the_engine_benchmark_runs_small() -> None:
    """The benchmark itself (bench/bench_engine.py) on 2,000 interactions, so it cannot rot; no timing asserted."""
    import importlib.util

    path = ROOT / "bench" / "bench_engine.py"
    spec = importlib.util.spec_from_file_location("bench_engine", path)
    assert spec is not None and spec.loader is not None
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)
    figures = bench.main(["--interactions", "2000", "--addresses", "300"])
    assert figures["persons"] > 100 and 0 < figures["recomputed"] <= 100 and figures["kept_contacts"]
