"""The user's decisions: finding a PERSON, merge / unmerge / set / remind, kept apart from synced data."""

from __future__ import annotations

from datetime import date, timedelta

import pytest

from connectors.base import Batch
from syncd.config import PersonConfig
from syncd.engine.due import due_followups
from syncd.engine.lookup import resolve
from syncd.errors import UsageError
from tests.support.world import ME, NOW, World, ago, config, mail

BOB, BOB_HOME, ANN = "bob@x.org", "bob@home.org", "ann@y.org"


def world() -> World:
    w = World().add(
        mail(ME, [BOB], ago(30)), mail(BOB, [ME], ago(20), name="Bob Smith"),
        mail(BOB_HOME, [ME], ago(3), name="Bob Smith"), mail(ME, [ANN], ago(5)), mail(ANN, [ME], ago(4), name="Ann Lee"),
    )
    w.refresh()
    return w


# ---- resolve -------------------------------------------------------------------------------------


def test_resolve_an_address_any_case() -> None:
    w = world()
    assert resolve(w.store, w.config, " Bob@X.org ") == BOB


def test_resolve_a_merged_address_gives_the_person() -> None:
    w = world()
    w.store.decisions.merge(BOB, BOB_HOME)
    w.refresh()
    assert resolve(w.store, w.config, BOB_HOME) == BOB


def test_resolve_a_config_address_gives_its_first_address() -> None:
    w = World(config(people=(PersonConfig((ANN, "ann@old.org"), "Ann", None, None, None),)))
    assert resolve(w.store, w.config, "ann@old.org") == ANN


def test_resolve_an_unambiguous_part_of_a_name_or_address() -> None:
    w = world()
    assert resolve(w.store, w.config, "ann") == ANN
    assert resolve(w.store, w.config, "LEE") == ANN
    assert resolve(w.store, w.config, "y.org") == ANN


def test_resolve_ambiguous_lists_the_candidates() -> None:
    w = world()
    with pytest.raises(UsageError) as info:
        resolve(w.store, w.config, "bob")
    assert BOB in str(info.value) and BOB_HOME in str(info.value)


def test_resolve_an_exact_name_wins_over_parts() -> None:
    w = world()
    w.store.decisions.set_person(BOB, name="Bob")
    w.refresh()
    assert resolve(w.store, w.config, "bob") == BOB


def test_resolve_nobody() -> None:
    w = world()
    with pytest.raises(UsageError):
        resolve(w.store, w.config, "zed")
    with pytest.raises(UsageError):
        resolve(w.store, w.config, "zed@nowhere.org")
    with pytest.raises(UsageError):
        resolve(w.store, w.config, "  ")


# ---- merge / unmerge ------------------------------------------------------------------------------


def test_merge_makes_one_person_keyed_by_the_target() -> None:
    w = world()
    w.store.decisions.merge(BOB, BOB_HOME)
    found = w.people()
    assert BOB_HOME not in found and set(found[BOB].addresses) == {BOB, BOB_HOME}
    assert found[BOB].name == "Bob Smith"
    last = found[BOB].last_contact
    assert last is not None and last.at == ago(3)


def test_merge_carries_decisions_and_reminders_over() -> None:
    w = world()
    w.store.decisions.set_person(BOB_HOME, every=timedelta(days=10), note="home")
    rid = w.store.decisions.add_reminder(BOB_HOME, date(2026, 5, 1), None)
    w.store.decisions.set_person(BOB, note="work")
    w.store.decisions.merge(BOB, BOB_HOME)
    bob = w.person(BOB)
    assert bob.every_days == 10 and bob.note == "work"  # the target's own decision wins where it has one
    assert w.store.db.execute("SELECT person FROM reminders WHERE id = ?", (rid,)).fetchone()[0] == BOB


def test_merging_a_merged_person_moves_all_its_addresses() -> None:
    w = world()
    w.store.decisions.merge(BOB_HOME, BOB)
    w.store.decisions.merge(ANN, BOB_HOME)
    found = w.people()
    assert set(found) == {ANN} and set(found[ANN].addresses) == {ANN, BOB, BOB_HOME}


def test_merge_into_oneself_is_refused() -> None:
    w = world()
    with pytest.raises(UsageError):
        w.store.decisions.merge(BOB, " BOB@x.org")


def test_unmerge_splits_the_address_off() -> None:
    w = world()
    w.store.decisions.merge(BOB, BOB_HOME)
    w.refresh()
    w.store.decisions.unmerge(BOB_HOME)
    found = w.people()
    assert set(found[BOB].addresses) == {BOB} and found[BOB_HOME].addresses == (BOB_HOME,)
    assert not found[BOB_HOME].relationship  # they only ever wrote to the owner from there
    assert found == w.full()


def test_unmerge_of_an_unmerged_or_invalid_address_is_refused() -> None:
    w = world()
    with pytest.raises(UsageError):
        w.store.decisions.unmerge(BOB_HOME)
    with pytest.raises(UsageError):
        w.store.decisions.unmerge("not an address")


# ---- set / remind -----------------------------------------------------------------------------------


def test_set_every_tier_note_ignore_are_kept_and_cleared() -> None:
    w = world()
    w.store.decisions.set_person(BOB, timedelta(days=12), None, "likes tea", None)
    row = w.store.db.execute("SELECT every_days, tier, note, ignored FROM person_settings WHERE person = ?",
                             (BOB,)).fetchone()
    assert row == (12, None, "likes tea", 0)
    w.store.decisions.set_person(BOB, note="", ignore=True)
    row = w.store.db.execute("SELECT every_days, note, ignored FROM person_settings WHERE person = ?",
                             (BOB,)).fetchone()
    assert row == (12, None, 1)


def test_set_rejects_a_rhythm_under_a_day() -> None:
    w = world()
    with pytest.raises(UsageError):
        w.store.decisions.set_person(BOB, every=timedelta(hours=3))


def test_a_decision_is_queued_and_recomputes_only_that_person() -> None:
    w = world()
    w.store.decisions.set_person(ANN, every=timedelta(days=7))
    assert w.store.db.execute("SELECT address FROM touched_addresses").fetchall() == [(ANN,)]
    stats = w.refresh()
    assert stats.persons == 1 and w.person(ANN).every_days == 7


def test_decisions_never_touch_synced_data() -> None:
    w = world()
    before = [w.store.count(t) for t in ("interactions", "participants", "contacts")]
    w.store.decisions.merge(BOB, BOB_HOME)
    w.store.decisions.set_person(BOB, every=timedelta(days=9), tier="x", note="n", ignore=True)
    w.store.decisions.add_reminder(BOB, date(2026, 4, 1), "n")
    w.refresh()
    assert [w.store.count(t) for t in ("interactions", "participants", "contacts")] == before


def test_add_reminder_returns_its_id() -> None:
    w = world()
    first = w.store.decisions.add_reminder(BOB, date(2026, 4, 1), "one")
    second = w.store.decisions.add_reminder(BOB, date(2026, 4, 2), None)
    assert second == first + 1
    assert w.store.count("reminders") == 2


# ---- a full resync ----------------------------------------------------------------------------------


def test_decisions_survive_a_full_resync_that_deletes_and_re_adds_everything() -> None:
    w = World()
    items = [mail(ME, [BOB], ago(30), pid="1"), mail(BOB_HOME, [ME], ago(3), pid="2"), mail(ME, [ANN], ago(9), pid="3")]
    w.add(*items, resource="inbox", full=True)
    w.store.decisions.merge(BOB, BOB_HOME)
    w.store.decisions.set_person(BOB, every=timedelta(days=11), note="golf")
    w.store.decisions.set_person(ANN, ignore=True)
    rid = w.store.decisions.add_reminder(ANN, date(2026, 6, 1), "wrap-up")
    before = w.people()
    # A full sync that sees nothing deletes every interaction of the resource ...
    w.store.synced.apply_batch("a", Batch("inbox", "c2", [], full=True, complete=True))
    assert w.store.count("interactions") == 0
    emptied = w.people()
    assert set(emptied) == {BOB, ANN} and emptied[BOB].last_contact is None  # decisions keep them listed
    # ... and the next one adds them back: every decision is still in force.
    again = [mail(ME, [BOB], ago(30), pid="1"), mail(BOB_HOME, [ME], ago(3), pid="2"), mail(ME, [ANN], ago(9), pid="3")]
    w.add(*again, resource="inbox", full=True)
    after = w.people()
    assert after[BOB].every_days == 11 and after[BOB].note == "golf" and set(after[BOB].addresses) == {BOB, BOB_HOME}
    assert after[ANN].ignored and not after[ANN].remind
    due = due_followups(list(after.values()), w.store, w.config, NOW)
    assert any(d.origin == "reminder" and d.cycle == str(rid) for d in due)
    assert [(s.key, s.every_days, s.note, s.ignored) for s in after.values()] == [
        (s.key, s.every_days, s.note, s.ignored) for s in before.values()
    ]
    assert after == w.full()
