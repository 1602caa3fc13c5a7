"""The store: schema versions, idempotent upserts, full-sync generations, decisions kept apart."""

from __future__ import annotations

import sqlite3
import stat
from datetime import UTC, datetime
from pathlib import Path

import pytest

from connectors.base import Batch, Interaction, Participant
from connectors.displaynames import shown_name
from syncd.errors import StateError
from syncd.store import Store
from syncd.store.schema import MIGRATIONS, SCHEMA_VERSION, statements


def mail(provider_id: str, message_id: str | None = None, to: str = "bob@example.org") -> Interaction:
    return Interaction(
        provider_id=provider_id,
        kind="mail",
        timestamp=datetime(2001, 5, 1, 12, tzinfo=UTC),
        participants=[Participant("Me@Example.com", "Me", "from"), Participant(to, "Bob", "to")],
        message_id=message_id,
        subject="hello",
    )


def event(provider_id: str, subject: str, attendee: str = "carol@example.org") -> Interaction:
    return Interaction(
        provider_id=provider_id,
        kind="event",
        timestamp=datetime(2001, 5, 2, 9, tzinfo=UTC),
        participants=[Participant("me@example.com", "", "organizer"), Participant(attendee, "", "attendee", "accepted")],
        subject=subject,
    )


@pytest.fixture
def store(tmp_path: Path) -> Store:
    s = Store(tmp_path / "state.sqlite3")
    s.accounts.ensure("a", "maildir")
    s.accounts.ensure("b", "mbox")
    return s


def test_new_database_is_private_and_current(tmp_path: Path) -> None:
    path = tmp_path / "sub" / "state.sqlite3"
    with Store(path) as s:
        assert s.version == SCHEMA_VERSION
        assert s.db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        assert s.db.execute("PRAGMA foreign_keys").fetchone()[0] == 1
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


@pytest.mark.parametrize("old_version", range(1, SCHEMA_VERSION))
def test_every_older_version_is_migrated_with_its_data(tmp_path: Path, old_version: int) -> None:
    path = tmp_path / "old.sqlite3"
    db = sqlite3.connect(path)
    db.create_function("shown_name", 2, shown_name, deterministic=True)  # as the store gives its migrations
    for script in MIGRATIONS[:old_version]:
        for statement in statements(script):
            db.execute(statement)
    db.execute(f"PRAGMA user_version = {old_version}")
    db.execute("INSERT INTO accounts(name, provider) VALUES ('a', 'maildir')")
    db.execute("INSERT INTO interactions(id, kind, message_id, ts) VALUES (7, 'mail', 'm7', 988718400)")
    db.execute("INSERT INTO sightings VALUES ('a', 'f/7', 'f', 7, 0)")
    db.execute("INSERT INTO person_settings(person, every_days) VALUES ('bob@example.org', 30)")
    db.commit()
    db.close()
    with Store(path) as s:
        assert s.version == SCHEMA_VERSION
        assert s.count("interactions") == 1
        assert s.db.execute("SELECT every_days FROM person_settings").fetchone()[0] == 30
        if old_version < 2:  # interactions from before the engine existed are queued for it
            assert s.db.execute("SELECT interaction_id FROM pending_interactions").fetchall() == [(7,)]
        if old_version < 3:  # v3: a mail's identity is its Message-ID and its sender (none stored here).
            assert s.db.execute("SELECT message_key, message_id FROM interactions").fetchall() == [("m7\n", None)]
        if old_version < 4:  # v4: contacts derived before they had a direction and a crowd size are derived again
            assert s.db.execute("SELECT 1 FROM engine_state WHERE key = 'fingerprint'").fetchone() is None
        # v5: address books, empty until one is pulled; no card splits the user never made.
        assert s.cards.count() == 0 and s.decisions.splits() == set()


def test_the_engines_tables_have_no_foreign_keys_and_empty_in_one_step(store: Store) -> None:
    # docs/sqlite.md#the-engines-tables: the store removes contacts itself; the keys only slowed emptying.
    for table in ("contacts", "pending_interactions"):
        assert store.db.execute(f"PRAGMA foreign_key_list({table})").fetchall() == []
    columns = [row[2] for row in store.db.execute("PRAGMA index_info(participants_by_interaction)")]
    assert columns == ["interaction_id", "role", "address"]


def test_v9_keeps_the_queue_of_interactions_to_derive(tmp_path: Path) -> None:
    path = tmp_path / "v8.sqlite3"
    db = sqlite3.connect(path)
    db.create_function("shown_name", 2, shown_name, deterministic=True)
    for script in MIGRATIONS[:8]:
        for statement in statements(script):
            db.execute(statement)
    db.execute("PRAGMA user_version = 8")
    db.executemany("INSERT INTO interactions(id, kind, message_id, ts) VALUES (?, 'mail', ?, 988718400)",
                   [(3, "m3"), (9, "m9")])
    db.execute("INSERT INTO pending_interactions VALUES (9)")
    db.execute("INSERT INTO person_status VALUES ('bob@example.org', NULL, 'null')")
    db.execute("INSERT INTO engine_state VALUES ('fingerprint', 'computed before v9')")
    db.commit()
    db.close()
    with Store(path) as s:
        assert s.contacts.pending() == [9]
        assert s.db.execute("SELECT COUNT(*) FROM person_status").fetchone()[0] == 0  # rebuilt by the recompute
        assert s.db.execute("SELECT 1 FROM engine_state WHERE key = 'fingerprint'").fetchone() is None


def test_a_newer_schema_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "new.sqlite3"
    db = sqlite3.connect(path)
    db.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    db.close()
    with pytest.raises(StateError, match="newer syncd"):
        Store(path)


def test_a_corrupt_database_is_one_sentence(tmp_path: Path) -> None:
    path = tmp_path / "junk.sqlite3"
    path.write_bytes(b"this is not a database" * 100)
    with pytest.raises(StateError, match="is not a database file"):
        Store(path)
    assert path.read_bytes() == b"this is not a database" * 100


def test_repull_adds_nothing_and_cursor_moves_with_rows(store: Store) -> None:
    batch = Batch("inbox", "c1", [mail("inbox/1", "m1"), mail("inbox/2", "m2")])
    assert store.synced.apply_batch("a", batch) == 2
    assert store.synced.apply_batch("a", batch) == 0
    assert store.count("interactions") == 2
    assert store.count("participants") == 4
    assert store.synced.cursors("a") == {"inbox": "c1"}
    assert store.synced.known_ids("a", "inbox") == {"inbox/1", "inbox/2"}


def test_one_message_in_two_folders_and_two_accounts_is_one_interaction(store: Store) -> None:
    store.synced.apply_batch("a", Batch("sent", "c", [mail("sent/1", "same")]))
    store.synced.apply_batch("a", Batch("all", "c", [mail("all/9", "same")]))
    store.synced.apply_batch("b", Batch("x.mbox", "c", [mail("sha", "same")]))
    assert store.count("interactions") == 1
    assert store.count("sightings") == 3
    # Gone from one place: still there; gone from all: removed.
    store.synced.apply_batch("a", Batch("sent", "c2", deleted=["sent/1"]))
    store.synced.apply_batch("a", Batch("all", "c2", deleted=["all/9"]))
    assert store.count("interactions") == 1
    store.synced.apply_batch("b", Batch("x.mbox", "c2", deleted=["sha"]))
    assert store.count("interactions") == 0
    assert store.count("participants") == 0


def test_failed_batch_leaves_neither_rows_nor_cursor(store: Store) -> None:
    bad = Interaction("inbox/2", "nonsense", None, [])  # type: ignore[arg-type]
    with pytest.raises(sqlite3.IntegrityError):
        store.synced.apply_batch("a", Batch("inbox", "c9", [mail("inbox/1", "m1"), bad]))
    assert store.count("interactions") == 0
    assert store.synced.cursors("a") == {}


def test_full_sync_removes_only_what_it_did_not_see_once_complete(store: Store) -> None:
    store.synced.apply_batch("a", Batch("cal", "v1", [event("e1", "one"), event("e2", "two")], full=True, complete=True))
    # A new full sync in two batches: e2 is gone at the provider, e1 changed in place.
    store.synced.apply_batch("a", Batch("cal", None, [event("e1", "one, moved", attendee="dan@example.org")], full=True))
    assert store.count("interactions") == 2  # nothing removed before the full sync is complete
    store.synced.apply_batch("a", Batch("cal", "v2", [], full=True, complete=True))
    rows = store.db.execute("SELECT subject FROM interactions").fetchall()
    assert rows == [("one, moved",)]
    addresses = {r[0] for r in store.db.execute("SELECT address FROM participants")}
    assert addresses == {"me@example.com", "dan@example.org"}
    assert store.synced.cursors("a") == {"cal": "v2"}


def test_interrupted_full_sync_is_restarted_without_losing_rows(store: Store) -> None:
    store.synced.apply_batch("a", Batch("cal", "v1", [event("e1", "one")], full=True, complete=True))
    store.synced.apply_batch("a", Batch("cal", None, [], full=True))  # killed after the first batch
    store.synced.apply_batch("a", Batch("cal", None, [event("e1", "one")], full=True))  # restarted
    store.synced.apply_batch("a", Batch("cal", "v2", [], full=True, complete=True))
    assert store.count("interactions") == 1


def test_a_full_sync_abandoned_after_an_expired_cursor_restarts_with_a_new_generation(store: Store) -> None:
    store.synced.apply_batch("a", Batch("cal", "v1", [event("e1", "one"), event("e2", "two")], full=True, complete=True))
    # A full round sees e2 (stamping it), then its cursor expires mid-round and e2 is deleted meanwhile.
    store.synced.apply_batch("a", Batch("cal", "next-link", [event("e2", "two")], full=True))
    store.synced.reset_cursor("a", "cal")
    store.synced.apply_batch("a", Batch("cal", "next-link", [event("e1", "one")], full=True))
    store.synced.apply_batch("a", Batch("cal", "v2", [], full=True, complete=True))
    assert [r[0] for r in store.db.execute("SELECT subject FROM interactions")] == ["one"]


def test_a_full_sync_may_re_sight_what_it_did_not_read_again(store: Store) -> None:
    store.synced.apply_batch("a", Batch("inbox", "c1", [mail("1", "m1"), mail("2", "m2"), mail("3", "m3")],
                                 full=True, complete=True))
    store.synced.apply_batch("a", Batch("inbox", None, [mail("4", "m4")], seen=["1", "2"], full=True))
    store.synced.apply_batch("a", Batch("inbox", "c2", [], full=True, complete=True))
    assert store.synced.known_ids("a", "inbox") == {"1", "2", "4"}  # 3 was neither read nor re-sighted: gone


def test_user_decisions_survive_a_full_resync(store: Store) -> None:
    store.synced.apply_batch("a", Batch("inbox", "c", [mail("inbox/1", "m1")], full=True, complete=True))
    with store.transaction() as db:
        db.execute("INSERT INTO person_settings(person, every_days, note) VALUES ('bob@example.org', 30, 'calls')")
        db.execute("INSERT INTO person_links VALUES ('bob@work.example', 'bob@example.org')")
        db.execute("INSERT INTO reminders(person, on_date, created) VALUES ('bob@example.org', '2001-06-01', 'x')")
    store.synced.apply_batch("a", Batch("inbox", "c2", [], full=True, complete=True))
    assert store.count("interactions") == 0
    assert store.db.execute("SELECT every_days, note FROM person_settings").fetchall() == [(30, "calls")]
    assert store.db.execute("SELECT COUNT(*) FROM person_links").fetchone()[0] == 1
    assert store.count("reminders") == 1


def test_invalid_addresses_are_not_stored(store: Store) -> None:
    item = mail("inbox/1", "m1", to="/O=ENRON/OU=NA/CN=RECIPIENTS/CN=JDOE")
    store.synced.apply_batch("a", Batch("inbox", "c", [item]))
    assert [r[0] for r in store.db.execute("SELECT address FROM participants")] == ["me@example.com"]


def test_pull_bookkeeping(store: Store) -> None:
    store.accounts.record_pull("a", started="2026-01-01T00:00:00+00:00")
    store.accounts.record_pull("a", error="boom")
    store.accounts.record_pull("a", success="2026-01-01T00:01:00+00:00", summary={"new": 1})
    store.accounts.set_owner_addresses("a", ["Me@Example.com", "junk"])
    record = {r.name: r for r in store.accounts.records()}["a"]
    assert record.last_error is None
    assert record.summary == {"new": 1}
    assert record.owner_addresses == ("me@example.com",)
    assert store.db.execute("SELECT last_summary, owner_addresses FROM accounts").fetchone() == (
        '{"new": 1}', '["me@example.com"]')
    store.synced.reset_cursor("a", "inbox")


def test_count_refuses_unknown_tables(store: Store) -> None:
    with pytest.raises(ValueError):
        store.count("sqlite_master")


def test_a_target_place_is_kept_per_target_and_what_it_looked_for(store: Store) -> None:
    mine, other = store.places.of("outlook"), store.places.of("work")
    assert mine.recall("calendar Follow-ups") is None
    mine.remember("calendar Follow-ups", "AAMk1=")
    other.remember("calendar Follow-ups", "AAMk2=")
    mine.remember("calendar Nudges", "AAMk3=")
    assert (mine.recall("calendar Follow-ups"), other.recall("calendar Follow-ups")) == ("AAMk1=", "AAMk2=")
    mine.remember("calendar Follow-ups", "AAMk4=")
    assert mine.recall("calendar Follow-ups") == "AAMk4=" and mine.recall("calendar Nudges") == "AAMk3="
    mine.remember("calendar Follow-ups", None)  # forgotten: the place was gone
    assert mine.recall("calendar Follow-ups") is None and other.recall("calendar Follow-ups") == "AAMk2="
    dry = store.places.of("outlook", read_only=True)  # a dry run recalls, and writes nothing
    dry.remember("calendar Nudges", None)
    dry.remember("calendar Other", "AAMk5=")
    assert dry.recall("calendar Nudges") == "AAMk3=" and dry.recall("calendar Other") is None
